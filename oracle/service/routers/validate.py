"""The validation route: a prediction file checked against an open round's rules before it is signed."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends, Request

from oracle.chain.client import RoundStatus
from oracle.protocol.submission import predictions_hash
from oracle.scoring.validation import TableError
from oracle.service.routers.deps import check_round, get_service
from oracle.service.schemas import ApiError, error_responses
from oracle.service.state import Service
from oracle.service.web_schemas import MAX_PROBLEMS, ValidateIn, ValidationOut
from oracle.service.web_state import WebState, get_web

__all__ = ["router"]

router = APIRouter()


@router.post(
    "/rounds/{round}/validate",
    response_model=ValidationOut,
    responses=error_responses(400, 404, 409, 413, 422, 429, 503),
    tags=["web"],
)
def validate(
    round: int,
    body: ValidateIn,
    request: Request,
    service: Service = Depends(get_service),
    web: WebState = Depends(get_web),
) -> ValidationOut:
    """Run a submission's file checks (parse, one prediction column, the round's live ids and min_live_share) with
    no signature, owner or clock check; nothing is stored. ``problems`` lists every rule the file breaks."""
    check_round(round)
    client = request.client.host if request.client else "unknown"
    wait = web.validate_limiter.take(client)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"too many files checked from {client}; retry in {wait:.1f}s",
            retry_after=round_up(wait),
        )
    try:
        data = base64.b64decode(body.file, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "malformed_file", "the 'file' field is not valid base64") from None
    if len(data) > service.config.max_file_bytes:
        raise ApiError(
            413,
            "file_too_large",
            f"the prediction file is {len(data)} bytes; the limit is {service.config.max_file_bytes}",
        )
    state = service.read_chain(f"read round {round}", lambda: service.client.round_state(round))
    if state.status is RoundStatus.NONE:
        raise ApiError(404, "unknown_round", f"round {round} has not been opened; see GET /rounds")
    if state.status is not RoundStatus.OPEN:
        raise ApiError(
            409,
            "round_not_open",
            f"round {round} is {state.status.label}: it takes no more "
            "submissions, so there is nothing to validate against",
        )
    live = service.live_ids(round)
    if live is None:
        raise ApiError(409, "no_live_data", f"round {round} has no published live data yet")
    model = str(body.model_id) if body.model_id is not None else "predictions"
    try:
        rows, problems = service.intake.file_problems(body.file_name, data, live, model)
    except TableError as exc:
        rows, problems = None, [f"{body.file_name}: {exc}"]
    return ValidationOut(
        round=round,
        ok=not problems,
        rows=rows,
        live_ids=len(live),
        predictions_hash=predictions_hash(data),
        problems=problems[:MAX_PROBLEMS],
    )


def round_up(seconds: float) -> float:
    """Seconds to wait, rounded up to a tenth."""
    return float(int(seconds * 10 + 0.999)) / 10
