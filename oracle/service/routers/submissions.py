"""The submission route: deliver a signed submission, get the operator's signed receipt."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from oracle.protocol.receipt import Receipt
from oracle.service.routers.deps import check_round, get_service
from oracle.service.schemas import ErrorBody, SubmissionIn, error_responses
from oracle.service.state import Service

__all__ = ["router"]

router = APIRouter()


@router.post(
    "/rounds/{round}/submissions",
    response_model=Receipt,
    status_code=201,
    responses=error_responses(400, 404, 409, 413, 422, 429, 503)
    | {
        401: {"model": ErrorBody, "description": "Bad signature"},
        403: {"model": ErrorBody, "description": "Signer does not own the model"},
    },
    tags=["submissions"],
)
async def submit(round: int, body: SubmissionIn, service: Service = Depends(get_service)) -> JSONResponse:
    """Deliver a signed submission; the answer is the operator's signed receipt.

    Re-submitting before the deadline replaces the earlier file and gets a new receipt. Re-sending the
    current request is a ``duplicate`` (409, the original receipt attached); re-sending a replaced one is
    ``replayed`` (409). Nothing is stored unless a receipt is returned."""
    check_round(round)
    # The checks hash, parse and sign, and the receipt waits on the database: all of it off the event loop.
    receipt = await asyncio.get_running_loop().run_in_executor(service.executor, service.intake.submit, round, body)
    # The receipt as its own JSON (the response_model above documents it): re-validating a receipt the intake has
    # just built and checked would only cost the event loop time on every submission.
    return JSONResponse(receipt.to_json(), status_code=201)
