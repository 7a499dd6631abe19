"""The leaderboard route: every model's stake and results, built at most once per block (oracle.service.board)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from web3 import Web3

from oracle.service.schemas import ApiError, error_responses
from oracle.service.web_schemas import LeaderboardOut
from oracle.service.web_state import WebState, get_web

__all__ = ["router"]

router = APIRouter()


@router.get("/leaderboard", response_model=LeaderboardOut, responses=error_responses(400, 503), tags=["web"])
def leaderboard(
    request: Request,
    owner: str | None = Query(None, max_length=64, description="Only this address's models."),
    web: WebState = Depends(get_web),
) -> Response:
    """Every registered model ordered by id: owner, stake, pending withdrawal, latest and rolling CORR and MMC,
    cumulative payout and burn through the newest active round. Gzipped when the client accepts it."""
    if owner is not None and not Web3.is_address(owner):
        raise ApiError(400, "bad_address", f"owner {owner!r} is not an Ethereum address (0x and 40 hex digits)")
    snapshot = web.board.snapshot()
    if owner is not None:
        return Response(snapshot.for_owner(Web3.to_checksum_address(owner)), media_type="application/json")
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(
            snapshot.gzipped,
            media_type="application/json",
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    return Response(snapshot.body, media_type="application/json", headers={"Vary": "Accept-Encoding"})
