"""How far a round has come, and what it waits for next: what ``tourney round wait`` reports while it waits.

A round goes none -> open -> closed -> proposed -> active (a veto sends it back to closed-like ``vetoed``; on the
redesigned contract an unactivated round ends ``lapsed``, which counts as resolved)."""

from __future__ import annotations

from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.clock import format_time

__all__ = ["STAGES", "round_progress"]

#: How far each status is along the way; ``until`` names a stage.
STAGES = {"none": 0, "open": 1, "closed": 2, "vetoed": 2, "proposed": 3, "active": 4, "lapsed": 4}


def round_progress(client: TournamentClient, round: int, until: str) -> tuple[bool, str, str]:
    """(reached ``until``, the status now, what it waits for, by the chain's clock)."""
    state = client.round_state(round)
    status = state.status.label
    if STAGES.get(status, 0) >= STAGES[until]:
        return True, status, f"round {round} is {status}"
    now = client.now()
    if state.status is RoundStatus.NONE:
        open_round = client.open_round()
        if open_round == round:  # it opened between the two reads
            return (STAGES["open"] >= STAGES[until]), "open", f"round {round} is open"
        waits = (
            f"round {round} opens when round {open_round} closes "
            f"{format_time(client.round_state(open_round).closes_at, now)}"
            if open_round
            else f"round {round} is not opened yet (the operator opens it once its live data is published)"
        )
    elif state.status is RoundStatus.OPEN:
        waits = f"round {round} is open; it closes {format_time(state.closes_at, now)}"
    elif state.status is RoundStatus.PROPOSED:
        waits = f"round {round} is proposed; its challenge window ends {format_time(state.activates_at, now)}"
    else:
        waits = f"round {round} is {status}; the operator resolves it once its targets are published"
    return False, status, waits
