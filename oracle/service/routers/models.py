"""Model routes: a model's owner, stake, settlement state and pending withdrawal, and its per-round history (its
submission with the operator's receipt, then its published result and leaf)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from oracle.chain.client import ModelState, RoundState
from oracle.chain.connection import Connection
from oracle.participant.stake import exit_status
from oracle.service.config import HISTORY_ROUNDS
from oracle.service.routers.deps import get_service
from oracle.service.schemas import ApiError, ModelOut, ModelRoundOut, error_responses
from oracle.service.state import Service
from oracle.service.web_schemas import WithdrawalOut
from oracle.service.web_state import WebState, get_web

__all__ = ["router"]

router = APIRouter()


@router.get("/models/{model_id}", response_model=ModelOut, responses=error_responses(404, 503), tags=["models"])
def model(model_id: int, service: Service = Depends(get_service), web: WebState = Depends(get_web)) -> ModelOut:
    """A model's owner, settled stake, settlement state, pending withdrawal and per-round history (oldest first)."""
    if model_id < 1 or model_id >= 2**64:
        raise ApiError(404, "unknown_model", f"model {model_id} does not exist: model ids start at 1")
    info: ModelState = service.read_chain(f"read model {model_id}", lambda: service.client.model_state(model_id))
    if not info.registered:
        raise ApiError(404, "unknown_model", f"model {model_id} is not registered on the tournament")
    web.sync()
    last_closed = service.read_chain("read the round cursor", service.client.cursor).last_closed
    states = web.round_states(last_closed + 1, HISTORY_ROUNDS + 1)
    history = [_model_round(service, web, state, model_id) for state in reversed(states)]
    return ModelOut(
        model_id=model_id,
        owner=info.owner,
        stake=str(info.stake),
        settled_through=info.settled_round,
        settled_payout=str(info.cumulative_payout),
        settled_burn=str(info.cumulative_burn),
        withdrawal=_withdrawal(service, web, info),
        rounds=[h for h in history if h],
    )


def _withdrawal(service: Service, web: WebState, info: ModelState) -> WithdrawalOut | None:
    """The pending withdrawal as ``tourney status`` sees it (oracle.participant.stake.exit_status): the time by
    which it can be taken at the latest is the close of its last round at risk plus the exit bound D."""
    if info.withdrawal == 0:
        return None
    client = service.client
    conn = Connection(w3=client.w3, deployment=service.config.deployment, _client=client)
    status = service.read_chain(f"read model {info.model_id}'s exit", lambda: exit_status(conn, info))
    assert status is not None  # a pending withdrawal has an exit status
    request = web.history.withdrawal_request(info.model_id)
    paused = service.read_chain("read whether the tournament is paused", service.client.paused)
    return WithdrawalOut(
        amount=str(info.withdrawal),
        after_round=info.withdrawal_after,
        requested_at=None
        if request is None
        else service.read_chain("read a block's time", lambda: web.history.block_time(request.block)),
        available_at_latest=status.deadline,
        # ready but behind: the app's Settle button (or settleAndWithdraw) does what the CLI does
        waiting_for=(
            f"the model to be settled through round {status.after_round}"
            if status.ready and status.waiting_for
            else status.waiting_for
        ),
        # withdraw() alone needs the settlement done; settleAndWithdraw does both at once
        withdrawable=not paused and status.ready and status.waiting_for is None,
    )


def _model_round(service: Service, web: WebState, state: RoundState, model_id: int) -> ModelRoundOut | None:
    """One round of a model's history: its current inbox record and receipt and, once proposed, its result."""
    # The receipt the service issued for it (stored beside the submission), not a fresh signature.
    stored = service.intake.ledger.current(state.round, model_id)
    sub = None if stored is None else stored.sub
    proposal = web.standing(state)
    row, leaf = None, None
    if proposal is not None:
        try:
            results = web.results(proposal)
        except ApiError:
            results = None  # an unreadable bundle: the round shows its submission only
        if results is not None:
            row, leaf = results.rows.get(model_id), results.leaves.get(model_id)
    if sub is None and row is None and leaf is None:
        return None
    result = row or {}
    return ModelRoundOut(
        round=state.round,
        submitted=sub is not None,
        predictions_hash=None if sub is None else sub.predictions_hash,
        received_at=None if sub is None else sub.received_at,
        stake_at_risk=result.get("stake_at_risk"),
        payout=result.get("payout"),
        burn=result.get("burn"),
        corr=result.get("corr"),
        mmc=result.get("mmc"),
        status=state.status.label,
        cumulative_payout=None if leaf is None else str(leaf[0]),
        cumulative_burn=None if leaf is None else str(leaf[1]),
        receipt=None if stored is None else service.intake.receipt_of(stored),
    )
