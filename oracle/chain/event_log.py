"""The event log: every log of one contract, kept in SQLite and brought up to date incrementally.

Reading the whole history with ``eth_getLogs`` on every poll costs a call per ``chunk`` blocks each time (after a
year on mainnet, over a thousand calls per poll). The event log keeps what it has read, with a cursor, in one
SQLite file beside the reader's state (or in memory), so a poll reads only what is new:

* ``cursor``: the last block read, with its hash; ``anchor``: a block ``reorg_margin`` blocks below the cursor, with
  its hash, which the log treats as final.
* :meth:`EventLog.sync` reads the latest block. Unchanged head (same number and hash): nothing else to read. Else it
  checks that the anchor still has its hash and re-reads every log above the anchor: logs of blocks a shallow reorg
  replaced are dropped, those of the new blocks are added, in one transaction. An anchor whose hash changed (a reorg
  deeper than the margin) or a chain shorter than the anchor makes it read everything again from the start block.
* A steady poll costs one call; a poll with new blocks four (latest block, anchor, ``eth_getLogs`` over the new
  range in ``chunk``-block windows, the new anchor) whatever the length of the history.

Logs are stored as the node returned them (hex fields) and decoded by the reader (``TournamentClient``), so the
file does not depend on an ABI.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

from hexbytes import HexBytes
from web3 import Web3
from web3.types import FilterParams

from oracle.chain.tx import ChainError, RpcUnavailable

__all__ = ["Anchor", "EventLog", "EventLogError", "DEFAULT_REORG_MARGIN"]

#: Blocks below the head that a reorg may still replace; the log re-reads them on every sync with new blocks.
DEFAULT_REORG_MARGIN = 64
_SCHEMA = 1


class EventLogError(ChainError):
    """The event log's file cannot be used (another contract's, or a newer schema); the message says which."""


@dataclass(frozen=True)
class Anchor:
    """A block the log has read, by number and hash."""

    number: int
    hash: str


def _hex(value: Any) -> str:
    return "0x" + bytes(HexBytes(value)).hex()


class EventLog:
    """Every log of ``address`` from ``start_block`` on, synced incrementally (see the module docstring).

    ``path`` is the SQLite file (created if missing) or None for memory. ``on_rescan`` is told why the log had to
    read everything again (a reorg deeper than the margin)."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        start_block: int,
        path: str | Path | None = None,
        chunk: int = 2_000,
        reorg_margin: int = DEFAULT_REORG_MARGIN,
        on_rescan: Callable[[str], None] = lambda reason: None,
    ) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be at least one block, got {chunk}")
        if reorg_margin < 0:
            raise ValueError(f"reorg_margin must be >= 0 blocks, got {reorg_margin}")
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.start_block = int(start_block)
        self.chunk = chunk
        self.reorg_margin = reorg_margin
        self.on_rescan = on_rescan
        self.path = str(path) if path is not None else ":memory:"
        #: Timestamp of the latest block the last sync saw (the chain's clock then), None before the first sync.
        self.head_timestamp: int | None = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One connection, used under a lock: the log may be read from a thread other than the one that made it.
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL" if path is not None else "PRAGMA journal_mode=MEMORY")
        self._init_schema()

    # -------------------------------------------------------------- storage

    def _init_schema(self) -> None:
        with self._lock:
            self._db.executescript(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS logs (block INTEGER NOT NULL, log_index INTEGER NOT NULL,"
                " topic0 TEXT, topic1 TEXT, raw TEXT NOT NULL, PRIMARY KEY (block, log_index));"
                "CREATE INDEX IF NOT EXISTS logs_topics ON logs (topic0, topic1);"
            )
            meta = self._meta()
            expected = {"schema": str(_SCHEMA), "address": self.address, "start_block": str(self.start_block)}
            if not meta:
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", list(expected.items()))
                return
            for key, value in expected.items():
                if meta.get(key) != value:
                    raise EventLogError(
                        f"event log {self.path} was written for {key} {meta.get(key)!r}, not "
                        f"{value!r}: use another state directory for this deployment"
                    )

    def _meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def _block_ref(self, name: str) -> Anchor | None:
        meta = self._meta()
        if name not in meta:
            return None
        number, block_hash = meta[name].split(":")
        return Anchor(int(number), block_hash)

    @property
    def cursor(self) -> Anchor | None:
        """The last block read (None before the first sync)."""
        with self._lock:
            return self._block_ref("cursor")

    @property
    def anchor(self) -> Anchor | None:
        """The block the log treats as final (``reorg_margin`` below the cursor)."""
        with self._lock:
            return self._block_ref("anchor")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -------------------------------------------------------------- syncing

    def _rpc(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (ConnectionError, OSError, TimeoutError) as exc:
            endpoint = getattr(self.w3.provider, "endpoint_uri", "?")
            raise RpcUnavailable(f"JSON-RPC endpoint {endpoint} does not answer ({what}): {exc}") from exc

    def _block(self, number: int | Literal["latest"]) -> Any:
        from web3.exceptions import BlockNotFound

        try:
            return self._rpc(f"block {number}", lambda: self.w3.eth.get_block(number))
        except BlockNotFound:
            return None

    def sync(self) -> Anchor:
        """Read what is new up to the latest block; returns the new cursor. Raises RpcUnavailable when the node
        does not answer (nothing is changed then)."""
        head = self._block("latest")
        head_ref = Anchor(int(head["number"]), _hex(head["hash"]))
        self.head_timestamp = int(head["timestamp"])
        with self._lock:
            cursor, anchor = self.cursor, self.anchor
        if cursor == head_ref:
            return head_ref
        start = self.start_block
        if anchor is not None:
            block = self._block(anchor.number) if anchor.number <= head_ref.number else None
            if block is not None and _hex(block["hash"]) == anchor.hash:
                start = anchor.number + 1
            else:
                self.on_rescan(
                    f"block {anchor.number} is no longer {anchor.hash} (a reorg deeper than "
                    f"{self.reorg_margin} blocks): reading every log again from block {self.start_block}"
                )
        logs: list[Any] = []
        for low in range(start, head_ref.number + 1, self.chunk):
            high = min(head_ref.number, low + self.chunk - 1)
            query: FilterParams = {"address": self.address, "fromBlock": low, "toBlock": high}
            logs += self._rpc(f"eth_getLogs {low}-{high}", partial(self.w3.eth.get_logs, query))
        new_anchor_number = max(self.start_block, head_ref.number - self.reorg_margin)
        if new_anchor_number == head_ref.number:
            new_anchor = head_ref
        else:
            block = self._block(new_anchor_number)
            if block is None:
                raise RpcUnavailable(f"block {new_anchor_number} vanished while syncing: the chain is reorganising")
            new_anchor = Anchor(new_anchor_number, _hex(block["hash"]))
        rows = [self._row(log) for log in logs if Web3.to_checksum_address(log["address"]) == self.address]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM logs WHERE block >= ?", (start,))
                self._db.executemany("INSERT OR REPLACE INTO logs VALUES (?, ?, ?, ?, ?)", rows)
                self._db.executemany(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [
                        ("cursor", f"{head_ref.number}:{head_ref.hash}"),
                        ("anchor", f"{new_anchor.number}:{new_anchor.hash}"),
                    ],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return head_ref

    @staticmethod
    def _row(log: Any) -> tuple[int, int, str | None, str | None, str]:
        topics = [_hex(t) for t in log["topics"]]
        raw: dict[str, Any] = {
            "address": Web3.to_checksum_address(log["address"]),
            "topics": topics,
            "data": _hex(log["data"]),
            "blockNumber": int(log["blockNumber"]),
            "blockHash": _hex(log["blockHash"]),
            "transactionHash": _hex(log["transactionHash"]),
            "transactionIndex": int(log["transactionIndex"]),
            "logIndex": int(log["logIndex"]),
        }
        return (
            raw["blockNumber"],
            raw["logIndex"],
            topics[0] if topics else None,
            topics[1] if len(topics) > 1 else None,
            json.dumps(raw, separators=(",", ":")),
        )

    # -------------------------------------------------------------- reading

    def logs(
        self,
        topic0: Sequence[str] | None = None,
        topic1: str | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
    ) -> list[dict[str, Any]]:
        """Stored logs in chain order, as web3 returns them (topics and data as bytes), filtered on the first topic
        (any of ``topic0``), the second topic, and a block range."""
        where, params = [], []  # type: list[str], list[Any]
        if topic0 is not None:
            where.append(f"topic0 IN ({','.join('?' * len(topic0))})")
            params += [t.lower() for t in topic0]
        if topic1 is not None:
            where.append("topic1 = ?")
            params.append(topic1.lower())
        if from_block is not None:
            where.append("block >= ?")
            params.append(int(from_block))
        if to_block is not None:
            where.append("block <= ?")
            params.append(int(to_block))
        sql = "SELECT raw FROM logs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY block, log_index"
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_as_web3_log(json.loads(raw)) for (raw,) in rows]

    def query(
        self, topics: Sequence[Any] | None, from_block: int | None = None, to_block: int | None = None
    ) -> list[dict[str, Any]]:
        """:meth:`logs` for an ``eth_getLogs``-style topic filter ([[first topics...], second topic]); a log never
        synced is synced first."""
        if self.cursor is None:
            self.sync()
        topic0 = topics[0] if topics else None
        topic1 = topics[1] if topics and len(topics) > 1 else None
        return self.logs(topic0, topic1, from_block, to_block)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM logs").fetchone()[0])


def _as_web3_log(raw: dict[str, Any]) -> dict[str, Any]:
    out = dict(raw)
    out["topics"] = [HexBytes(t) for t in raw["topics"]]
    out["data"] = HexBytes(raw["data"])
    out["blockHash"] = HexBytes(raw["blockHash"])
    out["transactionHash"] = HexBytes(raw["transactionHash"])
    return out
