"""Reading the tournament's events: ``eth_getLogs`` in bounded block ranges, or a followed event log.

Events come from ``eth_getLogs`` over the tournament's address in windows of at most ``chunk`` blocks (public
endpoints cap a call's range), decoded by their first topic and ordered by (block number, log index), or from an
incremental :class:`~oracle.chain.event_log.EventLog` once the reader :meth:`~TournamentEvents.follow`-s one.
:class:`~oracle.chain.client.TournamentClient` adds the state reads and the replay on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from oracle.chain.artifacts import abi
from oracle.chain.codec import event_decoders
from oracle.chain.deploy import Deployment
from oracle.chain.event_log import DEFAULT_REORG_MARGIN, Anchor, EventLog
from oracle.chain.events import ChainEvent
from oracle.chain.state import Proposal, hex32
from oracle.chain.tx import RpcUnavailable

__all__ = ["DEFAULT_CHUNK", "TournamentEvents"]

#: Blocks per ``eth_getLogs`` call: small enough for hosted endpoints' range limits.
DEFAULT_CHUNK = 2_000


@dataclass
class TournamentEvents:
    """Read access to one deployed tournament over JSON-RPC: its contracts and its events."""

    w3: Web3
    deployment: Deployment
    chunk: int = DEFAULT_CHUNK
    #: When set, every event read comes from this log (see :meth:`follow`) instead of ``eth_getLogs``.
    event_log: EventLog | None = None
    _decoders: dict[bytes, tuple[str, Any]] = field(default_factory=dict, init=False, repr=False)
    _decoded: dict[tuple[int, int, str], "ChainEvent | None"] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.chunk < 1:
            raise ValueError(f"chunk must be at least one block, got {self.chunk}")
        self.tournament: Contract = self.deployment.tournament_contract(self.w3)
        self.token: Contract = self.deployment.token_contract(self.w3)
        # Events decoded with eth_abi from the ABI (web3's process_log cost ~1.4 ms an event: seconds a round).
        self._decoders.update(event_decoders(abi("Tournament"), self.tournament))

    # -------------------------------------------------------------- the connection

    def _rpc(self, what: str, call: Any) -> Any:
        try:
            return call()
        except (ConnectionError, OSError, TimeoutError) as exc:
            endpoint = getattr(self.w3.provider, "endpoint_uri", "?")
            raise RpcUnavailable(f"JSON-RPC endpoint {endpoint} does not answer ({what}): {exc}") from exc

    def block_number(self) -> int:
        return int(self._rpc("eth_blockNumber", lambda: self.w3.eth.block_number))

    # -------------------------------------------------------------- events

    def follow(
        self, path: str | None = None, reorg_margin: int = DEFAULT_REORG_MARGIN, on_rescan: Any = lambda reason: None
    ) -> EventLog:
        """Read events from an :class:`EventLog` of the tournament from now on (``path``: its SQLite file, kept
        across runs; None: in memory). Call :meth:`sync_events` to bring it up to date."""
        self.event_log = EventLog(
            self.w3,
            self.tournament.address,
            self.deployment.block,
            path,
            chunk=self.chunk,
            reorg_margin=reorg_margin,
            on_rescan=on_rescan,
        )
        self._decoded.clear()
        return self.event_log

    def sync_events(self) -> Anchor | None:
        """Bring the followed event log up to the latest block (None when the client follows none)."""
        return None if self.event_log is None else self.event_log.sync()

    def _scan(
        self, topics: list[Any] | None, from_block: int | None, to_block: int | None, what: str
    ) -> list[ChainEvent]:
        """The one event scanner: ``eth_getLogs`` over the tournament in windows of ``chunk`` blocks, decoded, in
        chain order; from the followed event log when there is one (synced first if it never was)."""
        if self.event_log is not None:
            found = [self._decode(log) for log in self.event_log.query(topics, from_block, to_block)]
            return [e for e in found if e is not None]
        start = self.deployment.block if from_block is None else from_block
        end = self.block_number() if to_block is None else to_block
        out: list[ChainEvent] = []
        for low in range(start, end + 1, self.chunk):
            high = min(end, low + self.chunk - 1)
            query: dict[str, Any] = {"address": self.tournament.address, "fromBlock": low, "toBlock": high}
            if topics is not None:
                query["topics"] = topics
            for log in self._rpc(f"eth_getLogs {what} {low}-{high}", lambda q=query: self.w3.eth.get_logs(q)):
                decoded = self._decode(log)
                if decoded is not None:
                    out.append(decoded)
        return sorted(out, key=lambda e: e.position)

    def has_event(self, name: str) -> bool:
        return any(known == name for known, _ in self._decoders.values())

    def _topic(self, name: str) -> str:
        for topic, (known, _) in self._decoders.items():
            if known == name:
                return "0x" + topic.hex()
        raise ValueError(f"the Tournament ABI has no event {name!r}")

    def events(
        self,
        names: Sequence[str] | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
        indexed: Any = None,
    ) -> list[ChainEvent]:
        """Tournament events (only ``names`` when given), in chain order. ``indexed`` filters on the events' first
        indexed argument (an int such as a round or model id, or an address) on the node."""
        topics: list[Any] | None = None
        if names is not None:
            topics = [[self._topic(name) for name in names]]
        if indexed is not None:
            word = (
                bytes(HexBytes(Web3.to_checksum_address(indexed))).rjust(32, b"\0")
                if isinstance(indexed, str)
                else int(indexed).to_bytes(32, "big")
            )
            topics = (topics or [None]) + ["0x" + word.hex()]
        return self._scan(topics, from_block, to_block, ",".join(names or ["all"]))

    def _decode(self, log: Any) -> ChainEvent | None:
        if not log["topics"]:
            return None
        # A followed log is read many times per poll: decode once (a log a reorg replaced has another block hash).
        key = (int(log["blockNumber"]), int(log["logIndex"]), hex32(log["blockHash"]))
        if key in self._decoded:
            return self._decoded[key]
        known = self._decoders.get(bytes(log["topics"][0]))
        decoded = None
        if known is not None:
            name, decode = known
            decoded = ChainEvent(
                name=name,
                args=decode(log),
                block=int(log["blockNumber"]),
                log_index=int(log["logIndex"]),
                tx_hash=hex32(log["transactionHash"]),
            )
        if self.event_log is not None:
            self._decoded[key] = decoded
        return decoded

    def round_events(self, name: str, round: int) -> list[ChainEvent]:
        """Events ``name`` whose indexed ``round`` is ``round`` (filtered by topic on the node)."""
        return self.events([name], indexed=int(round))

    def proposals(self, round: int) -> list[Proposal]:
        """Every ``RootProposed`` of a round, oldest first (more than one only after vetoes)."""
        return [Proposal.of(e) for e in self.round_events("RootProposed", round)]

    def close_event(self, round: int) -> ChainEvent | None:
        found = self.round_events("RoundClosed", round)
        return found[0] if found else None

    def activation_event(self, round: int) -> ChainEvent | None:
        found = self.round_events("RootActivated", round)
        return found[0] if found else None
