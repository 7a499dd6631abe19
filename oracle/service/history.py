"""The events the web routes read (proposals, vetoes, activations, withdrawal requests), kept in memory from the
deployment block to the latest block and extended incrementally: one ``eth_getLogs`` over the new blocks at most
once per block, instead of one scan from the deployment per round and per request.

The newest :data:`REORG_MARGIN` blocks are read again on every extension (their events dropped first), so a short
reorganisation of the chain's head cannot leave an event that no longer exists.
"""

from __future__ import annotations

import threading
from typing import Callable

from oracle.chain.client import ChainEvent, Proposal, TournamentClient

__all__ = ["ChainHistory", "REORG_MARGIN"]

#: Blocks read again on every extension.
REORG_MARGIN = 12
_NAMES = ("RootProposed", "RootVetoed", "RootActivated", "WithdrawalRequested")


class ChainHistory:
    """Tournament events of the kinds in ``_NAMES``, in chain order, and block timestamps."""

    def __init__(self, client: Callable[[], TournamentClient], first_block: int) -> None:
        self._client = client
        self._first = int(first_block)
        self._events: list[ChainEvent] = []
        self._through = self._first - 1
        self._lock = threading.Lock()
        self._block_times: dict[int, int] = {}

    def sync(self, latest: int) -> None:
        """Extend the events through block ``latest`` (a no-op when already there)."""
        with self._lock:
            if latest <= self._through:
                return
            start = max(self._first, self._through + 1 - REORG_MARGIN)
            fresh = self._client().events(list(_NAMES), from_block=start, to_block=latest)
            self._events = [e for e in self._events if e.block < start] + fresh
            self._through = latest

    def _of(self, name: str, key: str, value: int) -> list[ChainEvent]:
        with self._lock:
            return [e for e in self._events if e.name == name and int(e.args[key]) == value]

    def proposals(self, round: int) -> list[Proposal]:
        """Every ``RootProposed`` of the round, oldest first."""
        return [Proposal.of(e) for e in self._of("RootProposed", "round", round)]

    def vetoes(self, round: int) -> list[ChainEvent]:
        return self._of("RootVetoed", "round", round)

    def activation(self, round: int) -> ChainEvent | None:
        found = self._of("RootActivated", "round", round)
        return found[0] if found else None

    def proposal_by_hash(self, manifest_hash: str) -> Proposal | None:
        """The latest ``RootProposed`` whose manifestHash is ``manifest_hash`` (0x + 64 lowercase hex)."""
        with self._lock:
            found = [Proposal.of(e) for e in self._events if e.name == "RootProposed"]
        matching = [p for p in found if p.manifest_hash == manifest_hash.lower()]
        return matching[-1] if matching else None

    def withdrawal_request(self, model_id: int) -> ChainEvent | None:
        """The model's latest ``WithdrawalRequested``."""
        found = self._of("WithdrawalRequested", "modelId", model_id)
        return found[-1] if found else None

    def block_time(self, block: int) -> int:
        """A block's timestamp (cached: a mined block's time never changes short of a reorganisation)."""
        if block not in self._block_times:
            self._block_times[block] = int(self._client().w3.eth.get_block(block)["timestamp"])
        return self._block_times[block]
