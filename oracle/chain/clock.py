"""The chain's clock as people read it, and the check that it moves.

Every deadline of the tournament (a round's ``closesAt``, a root's ``activatesAt``) is judged by the timestamp of
the latest block, not by the wall clock. A chain that mines only when a transaction arrives (a plain ``anvil``
without ``--block-time``) keeps the timestamp of its last block for as long as nobody sends anything: rounds then
never fall due. :func:`stale_clock_warning` says so, and what to do.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["STALE_AFTER", "format_duration", "format_time", "stale_clock_warning"]

#: A latest block older than this (seconds, by the wall clock) means the chain's clock is not moving.
STALE_AFTER = 30


def format_duration(seconds: int | float) -> str:
    """``75`` -> ``1 min 15 s``; ``7200`` -> ``2 h``; ``90000`` -> ``1 d 1 h`` (two largest units, rounded down)."""
    seconds = int(abs(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts[:2])


def format_time(timestamp: int, now: int | None = None) -> str:
    """A Unix time as ``2025-01-31 12:00:00 UTC``, with ``(in 3 min)`` or ``(2 h ago)`` relative to ``now``
    (the chain's clock when given; nothing relative otherwise). Zero means "not set": ``-``."""
    if not timestamp:
        return "-"
    text = datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if now is None:
        return text
    delta = int(timestamp) - int(now)
    if delta == 0:
        return f"{text} (now)"
    return f"{text} (in {format_duration(delta)})" if delta > 0 else f"{text} ({format_duration(delta)} ago)"


def stale_clock_warning(latest_timestamp: int, wall: float | None = None, threshold: float = STALE_AFTER) -> str | None:
    """A warning when the latest block is older than ``threshold`` seconds by the wall clock, else None."""
    wall = time.time() if wall is None else wall
    age = wall - int(latest_timestamp)
    if age <= threshold:
        return None
    return (
        f"the chain's latest block is {format_duration(age)} old: its clock stands still between transactions, "
        "so rounds do not close or activate on time. On a local Anvil start it with `anvil --block-time 1` "
        "(see docs/operator-guide.md); on a real network check that the RPC endpoint is synced"
    )
