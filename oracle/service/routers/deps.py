"""What every route needs: the service behind the app, and the round numbers that can exist."""

from __future__ import annotations

from fastapi import Request

from oracle.service.schemas import ApiError
from oracle.service.state import Service

__all__ = ["check_round", "get_service"]


def get_service(request: Request) -> Service:
    """The :class:`Service` the app was created with (``app.state.service``)."""
    return request.app.state.service


def check_round(round: int) -> None:
    """404 for a round number that cannot exist (rounds are numbered from 1, uint64 on chain)."""
    if round < 1 or round >= 2**64:
        raise ApiError(404, "unknown_round", f"round {round} does not exist: rounds start at 1")
