"""The chain reads every submission repeats, served from memory: the latest block (the clock deadlines are judged
by), model owners and each round's ``closesAt``. One thread keeps them fresh: every ``poll`` seconds it reads the
latest block and, when new blocks came, scans them for ``ModelRegistered`` and ``RoundOpened`` events from a cursor
kept in the database (owners are stored there too, so a restarted worker does not rescan the chain).

A miss (a model registered, or a round opened, in a block not scanned yet) falls back to one chain read, whose
answer is kept once it is final (an owner, a deadline: neither ever changes once set). Close to a deadline the
clock is read from the chain rather than from memory, so "late" is decided on the chain's latest block; the memory
is only ever ``poll`` seconds behind otherwise.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from oracle.chain.client import RoundStatus, TournamentClient
from oracle.service.config import LOGGER_NAME
from oracle.service.db.engine import Database
from oracle.service.db.registry import load_owners, save_owners

__all__ = ["ChainView"]

log = logging.getLogger(LOGGER_NAME)

#: Within this many seconds of a round's deadline, the clock is read from the chain itself.
NEAR_DEADLINE = 30


class ChainView:
    """Cached chain reads for one tournament; ``client()`` gives this thread's chain client."""

    def __init__(
        self, client: Callable[[], TournamentClient], db: Database, deployment_block: int, poll: float = 0.25
    ) -> None:
        self.client, self.db, self.poll = client, db, poll
        self.deployment_block = deployment_block
        self._lock = threading.Lock()
        self._owners: dict[int, str] = {}
        self._closes_at: dict[int, int] = {}
        self._block: tuple[int, int] | None = None
        self._scanned: int | None = None
        self.last_error: str | None = None
        self.last_refresh = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- the refresher

    def start(self) -> None:
        owners, scanned = load_owners(self.db)
        with self._lock:
            self._owners.update(owners)
            self._scanned = scanned
        self._thread = threading.Thread(target=self._run, name="chain-view", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - an unreachable chain is retried next tick; /health shows it
                self.last_error = f"{type(exc).__name__}: {exc}"
            self._stop.wait(self.poll)

    def refresh(self) -> tuple[int, int]:
        """Read the latest block; scan the blocks since the cursor for owners and deadlines."""
        client = self.client()
        block = client.w3.eth.get_block("latest")
        number, timestamp = int(block["number"]), int(block["timestamp"])
        start = self.deployment_block if self._scanned is None else self._scanned + 1
        if number >= start:
            owners: dict[int, str] = {}
            closes: dict[int, int] = {}
            for event in client.events(["ModelRegistered", "RoundOpened"], from_block=start, to_block=number):
                if event.name == "ModelRegistered":
                    owners[int(event.args["modelId"])] = str(event.args["owner"])
                else:
                    closes[int(event.args["round"])] = int(event.args["closesAt"])
            save_owners(self.db, owners, number)
            with self._lock:
                self._owners.update(owners)
                self._closes_at.update(closes)
                self._scanned = number
        with self._lock:
            if self._block is None or number >= self._block[0]:
                self._block = (number, timestamp)
        self.last_refresh = time.time()
        return number, timestamp

    # -------------------------------------------------------------- reads

    def seen_block(self) -> int | None:
        with self._lock:
            return None if self._block is None else self._block[0]

    def clock(self) -> tuple[int, int]:
        """(block number, timestamp) of the latest block seen (read now when none was seen yet)."""
        with self._lock:
            seen = self._block
        return seen if seen is not None else self.fresh_clock()

    def fresh_clock(self) -> tuple[int, int]:
        """(block number, timestamp) of the chain's latest block, read now."""
        block = self.client().w3.eth.get_block("latest")
        seen = int(block["number"]), int(block["timestamp"])
        with self._lock:
            if self._block is None or seen[0] >= self._block[0]:
                self._block = seen
        return seen

    def now_for(self, closes_at: int) -> int:
        """The chain's time for judging a deadline ``closes_at``: from memory, or read now when close to it."""
        _, now = self.clock()
        if now + NEAR_DEADLINE + self.poll >= closes_at:
            _, now = self.fresh_clock()
        return now

    def owner_of(self, model_id: int) -> str | None:
        with self._lock:
            owner = self._owners.get(model_id)
        if owner is None:
            owner = self.client().owner_of(model_id)
            if owner is not None:
                with self._lock:
                    self._owners[model_id] = owner
        return owner

    def closes_at(self, round: int) -> int | None:
        with self._lock:
            closes = self._closes_at.get(round)
        if closes is None:
            state = self.client().round_state(round)
            if state.status is RoundStatus.NONE:
                return None
            closes = state.closes_at
            with self._lock:
                self._closes_at[round] = closes
        return closes
