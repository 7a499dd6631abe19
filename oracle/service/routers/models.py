"""Model routes: a model's owner, stake and per-round history (its submission, then its published result)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter, Depends

from oracle.service.config import HISTORY_ROUNDS
from oracle.service.routers.deps import get_service
from oracle.service.schemas import ApiError, ModelOut, ModelRoundOut, error_responses
from oracle.service.state import Service

__all__ = ["router"]

router = APIRouter()


@router.get("/models/{model_id}", response_model=ModelOut, responses=error_responses(404, 503), tags=["models"])
def model(model_id: int, service: Service = Depends(get_service)) -> ModelOut:
    """A model's owner, settled stake and per-round history (its submission, then its published result)."""
    if model_id < 1 or model_id >= 2**64:
        raise ApiError(404, "unknown_model", f"model {model_id} does not exist: model ids start at 1")
    owner = service.owner_of(model_id)
    if owner is None:
        raise ApiError(404, "unknown_model", f"model {model_id} is not registered on the tournament")
    stake = service.read_chain(f"read model {model_id}", lambda: service.client.stake_of(model_id))
    last_closed = service.read_chain("read the round cursor", service.client.cursor).last_closed
    history = []
    for round in range(max(1, last_closed + 1 - HISTORY_ROUNDS), last_closed + 2):
        history.append(_model_round(service, round, model_id))
    return ModelOut(model_id=model_id, owner=owner, stake=str(stake), rounds=[h for h in history if h])


def _amount_text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(int(value))


def _model_round(service: Service, round: int, model_id: int) -> ModelRoundOut | None:
    """One round of a model's history: its current inbox record and, once proposed, its published result."""
    sub = service.intake.current(round, model_id)
    result: dict[str, Any] = {}
    try:
        bundle, _ = service.bundle(round)
    except ApiError:
        bundle = None
    if bundle is not None:
        scores = bundle.scores()
        row = scores[scores["model"].astype(str) == str(model_id)]
        if len(row):
            first = row.iloc[0]
            result = {"stake_at_risk": _amount_text(first.get("stake_at_risk")),
                      "payout": _amount_text(first.get("payout")), "burn": _amount_text(first.get("burn")),
                      "corr": None if pd.isna(first.get("corr")) else float(first.get("corr")),
                      "mmc": None if pd.isna(first.get("mmc")) else float(first.get("mmc"))}
    if sub is None and not result:
        return None
    return ModelRoundOut(round=round, submitted=sub is not None,
                         predictions_hash=None if sub is None else sub.predictions_hash,
                         received_at=None if sub is None else sub.received_at,
                         stake_at_risk=result.get("stake_at_risk"), payout=result.get("payout"),
                         burn=result.get("burn"), corr=result.get("corr"), mmc=result.get("mmc"))
