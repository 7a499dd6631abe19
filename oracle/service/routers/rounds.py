"""Round routes: open rounds and deadlines (chain time), one round's state, its live data."""

from __future__ import annotations

import fsspec
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from oracle.chain.client import RoundStatus
from oracle.service.config import HISTORY_ROUNDS
from oracle.service.proposals import proposals_out
from oracle.service.routers.deps import check_round, get_service
from oracle.service.schemas import ApiError, RoundOut, RoundsOut, error_responses
from oracle.service.state import Service
from oracle.service.web_state import WebState, get_web

__all__ = ["router"]

router = APIRouter()


@router.get("/rounds", response_model=RoundsOut, responses=error_responses(422, 503), tags=["rounds"])
def rounds(
    limit: int = Query(6, ge=1, le=HISTORY_ROUNDS, description="How many of the newest rounds to list."),
    service: Service = Depends(get_service),
    web: WebState = Depends(get_web),
) -> RoundsOut:
    """Open rounds with their deadlines, and the ``limit`` newest rounds (newest first) with every proposal and
    the auditor's verdict on it."""
    block, now = web.sync()
    last_closed = service.read_chain("read the round cursor", service.client.cursor).last_closed
    states = [s for s in web.round_states(last_closed + 1, limit + 1) if s.status is not RoundStatus.NONE][:limit]
    recent = []
    for state in states:
        out = service.round_out(state.round, now, state)
        out.proposals = service.read_chain(
            f"read the proposals of round {state.round}", lambda s=state: proposals_out(web, s)
        )
        recent.append(out)
        service.metrics.set_round(state.round, int(state.status), state.status is RoundStatus.OPEN)
    return RoundsOut(chain_time=now, block=block, open=[r for r in recent if r.status == "open"], recent=recent)


@router.get("/rounds/{round}", response_model=RoundOut, responses=error_responses(404, 503), tags=["rounds"])
def round_info(round: int, service: Service = Depends(get_service)) -> RoundOut:
    """One round's on-chain state and deadline."""
    check_round(round)
    _, now = service.chain_clock()
    out = service.round_out(round, now)
    if out.status == "none":
        raise ApiError(404, "unknown_round", f"round {round} has not been opened")
    return out


@router.get(
    "/rounds/{round}/live",
    tags=["rounds"],
    response_class=Response,
    responses={
        200: {
            "content": {"application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The round's live data (Parquet: id + features).",
        },
        **error_responses(404),
    },
)
def live(round: int, service: Service = Depends(get_service)) -> Response:
    """The live data participants predict on (Parquet with ``id`` and the features)."""
    check_round(round)
    path = service.live_path(round)
    if path is None:
        raise ApiError(404, "no_live_data", f"round {round} has no published live data")
    with fsspec.open(path, "rb") as handle:
        data = handle.read()
    return Response(
        data,
        media_type="application/vnd.apache.parquet",
        headers={"Content-Disposition": f'attachment; filename="live_{round}.parquet"'},
    )
