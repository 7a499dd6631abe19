"""The leaderboard: every registered model with its owner, stake, pending withdrawal, latest and rolling scores and
cumulative results, built at most once per block and kept as JSON and gzipped JSON (10,000 models are about
3 MB of JSON; the app sorts, searches and pages locally).

For each model, over the rounds with a standing (proposed or active) proposal among the last
:data:`~oracle.service.config.HISTORY_ROUNDS`:

* ``corr``, ``mmc``: its scores in the newest such round in which it was scored (``scored_round``);
* ``corr_rolling``, ``mmc_rolling``: the mean of its scores over the rounds it was scored in among the newest
  :data:`ROLLING_WINDOW` such rounds; ``rounds_scored`` counts those rounds;
* ``cumulative_payout``, ``cumulative_burn``: its leaf in the newest active round's tree (final, settled or not).

Stakes and withdrawals come from the chain client's ``modelStates`` (one read per 100 models), every page at the
same block.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from web3 import Web3

from oracle.chain.client import RoundStatus
from oracle.service.config import HISTORY_ROUNDS

if TYPE_CHECKING:
    from oracle.service.web_state import WebState

__all__ = ["Board", "BoardSnapshot", "ROLLING_WINDOW", "SCORE_DIGITS"]

#: Rounds with a standing proposal that the rolling means look back over.
ROLLING_WINDOW = 20
#: Scores are rounded to this many decimals (a third of the bytes; the model page keeps full precision).
SCORE_DIGITS = 6


@dataclass(frozen=True)
class BoardSnapshot:
    """One build: the document's header fields, its rows, and the whole document as JSON and gzipped JSON."""

    block: int
    header: dict[str, Any]
    rows: list[dict[str, Any]]
    body: bytes
    gzipped: bytes

    def for_owner(self, owner: str) -> bytes:
        """The document with only ``owner``'s models (a checksummed address)."""
        mine = [r for r in self.rows if r["owner"] == owner]
        return json.dumps({**self.header, "models": mine}, separators=(",", ":")).encode()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, SCORE_DIGITS)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


class Board:
    """Builds the leaderboard on demand, at most once per block (concurrent requests share one build)."""

    def __init__(self, web: "WebState") -> None:
        self.web = web
        self._snapshot: BoardSnapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> BoardSnapshot:
        block, now = self.web.sync()
        with self._lock:
            if self._snapshot is None or self._snapshot.block != block:
                self._snapshot = self._build(block, now)
            return self._snapshot

    def _build(self, block: int, now: int) -> BoardSnapshot:
        service = self.web.service
        client = service.client
        count = service.read_chain(
            "read the model count", lambda: int(client.tournament.functions.modelCount().call(block_identifier=block))
        )
        infos = service.read_chain(
            f"read {count} models", lambda: list(client.model_states(range(1, count + 1), block=block).values())
        )
        last_closed = service.read_chain("read the round cursor", client.cursor).last_closed
        standing, latest_active = [], None
        for state in self.web.round_states(last_closed, HISTORY_ROUNDS):
            proposal = self.web.standing(state)
            if proposal is None:
                continue
            results = self.web.results(proposal)
            standing.append((state.round, results))
            if latest_active is None and state.status is RoundStatus.ACTIVE:
                latest_active = (state.round, results.leaves)
        rows = []
        for info in infos:
            latest: tuple[int, float | None, float | None] | None = None
            corrs: list[float] = []
            mmcs: list[float] = []
            scored = 0
            for index, (round, results) in enumerate(standing):  # newest first
                pair = results.scores.get(info.model_id)
                if pair is None or (pair[0] is None and pair[1] is None):
                    continue
                if latest is None:
                    latest = (round, pair[0], pair[1])
                if index < ROLLING_WINDOW:
                    scored += 1
                    corrs += [pair[0]] if pair[0] is not None else []
                    mmcs += [pair[1]] if pair[1] is not None else []
            leaf = latest_active[1].get(info.model_id) if latest_active else None
            rows.append(
                {
                    "model_id": info.model_id,
                    "owner": Web3.to_checksum_address(info.owner),
                    "stake": str(info.stake),
                    "pending_withdrawal": str(info.withdrawal),
                    "corr": _round(latest[1]) if latest else None,
                    "mmc": _round(latest[2]) if latest else None,
                    "scored_round": latest[0] if latest else None,
                    "corr_rolling": _round(_mean(corrs)),
                    "mmc_rolling": _round(_mean(mmcs)),
                    "rounds_scored": scored,
                    "cumulative_payout": str(leaf[0]) if leaf else None,
                    "cumulative_burn": str(leaf[1]) if leaf else None,
                }
            )
        header = {
            "chain_time": now,
            "block": block,
            "latest_round": standing[0][0] if standing else None,
            "rolling_window": ROLLING_WINDOW,
            "cumulative_through": latest_active[0] if latest_active else None,
        }
        body = json.dumps({**header, "models": rows}, separators=(",", ":")).encode()
        return BoardSnapshot(block, header, rows, body, gzip.compress(body, compresslevel=6, mtime=0))
