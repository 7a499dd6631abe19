"""Round routes: open rounds and deadlines (chain time), one round's state, its live data."""

from __future__ import annotations

import fsspec
from fastapi import APIRouter, Depends
from fastapi.responses import Response

from oracle.chain.client import RoundStatus
from oracle.service.routers.deps import check_round, get_service
from oracle.service.schemas import ApiError, RoundOut, RoundsOut, error_responses
from oracle.service.state import Service

__all__ = ["router"]

router = APIRouter()


@router.get("/rounds", response_model=RoundsOut, responses=error_responses(503), tags=["rounds"])
def rounds(service: Service = Depends(get_service)) -> RoundsOut:
    """Open rounds with their deadlines, and the most recent rounds."""
    block, now = service.chain_clock()
    last_closed = service.read_chain("read the round cursor", service.client.cursor).last_closed
    recent = [service.round_out(r, now) for r in range(max(1, last_closed - 4), last_closed + 2)]
    recent = [r for r in recent if r.status != "none"]
    for r in recent:
        service.metrics.set_round(r.round, int(RoundStatus[r.status.upper()]), r.status == "open")
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


@router.get("/rounds/{round}/live", tags=["rounds"], response_class=Response,
             responses={200: {"content": {"application/vnd.apache.parquet": {"schema": {"type": "string",
                                                                                      "format": "binary"}}},
                              "description": "The round's live data (Parquet: id + features)."},
                        **error_responses(404)})
def live(round: int, service: Service = Depends(get_service)) -> Response:
    """The live data participants predict on (Parquet with ``id`` and the features)."""
    check_round(round)
    path = service.live_path(round)
    if path is None:
        raise ApiError(404, "no_live_data", f"round {round} has no published live data")
    with fsspec.open(path, "rb") as handle:
        data = handle.read()
    return Response(data, media_type="application/vnd.apache.parquet",
                    headers={"Content-Disposition": f'attachment; filename="live_{round}.parquet"'})
