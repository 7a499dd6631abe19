"""Which leaves a round builds on: those of the last active round before it.

A lapsed round has a zero result and no tree, so round r's cumulative leaves start from the active proposal of the
last round before r that was activated (none: every model starts at zero). Rounds resolve strictly in order: while
round r-1 is unresolved, round r cannot know its base and waits.
"""

from __future__ import annotations

from oracle.bundle.round_bundle import TREE, load_bundle
from oracle.bundle.store import BundleError
from oracle.chain.client import Proposal, TournamentClient
from oracle.operator.config import OperatorError
from oracle.settlement.leaves import leaves_of_dump

__all__ = ["base_round_of", "previous_cumulative_of"]


def base_round_of(client: TournamentClient, round: int) -> int:
    """The round whose leaves round ``round`` builds on: the last active round before it (0: none).

    Raises OperatorError while round r-1 is not resolved (one pending round at a time: r waits for r-1)."""
    if round == 1:
        return 0
    before = client.round_state(round - 1)
    if not before.status.resolved:
        raise OperatorError(
            f"round {round}: round {round - 1} is {before.status.phrase}, not resolved yet (active "
            f"or lapsed): round {round} builds on it and waits"
        )
    return before.last_active_at_or_before


def previous_cumulative_of(client: TournamentClient, round: int) -> tuple[dict[int, tuple[int, int]], Proposal | None]:
    """The leaves round ``round`` builds on: those of the active proposal of the last active round before it
    (lapsed rounds have a zero result and no leaves), with that proposal; ({}, None) when no round before it is
    active. Raises OperatorError while round r-1 is unresolved or the base bundle does not load."""
    base = base_round_of(client, round)
    if base == 0:
        return {}, None
    proposal = client.current_proposal(base)
    if proposal is None:
        raise OperatorError(f"round {round}: round {base} is active but has no RootProposed event on this chain")
    try:
        bundle = load_bundle(proposal.manifest_uri, expected_keccak=proposal.manifest_hash, only=[TREE])
    except BundleError as exc:
        raise OperatorError(
            f"round {round}: the bundle of round {base} (the last active round) does not load: {exc}"
        ) from exc
    return leaves_of_dump(bundle.tree_dump()), proposal
