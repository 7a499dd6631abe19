"""Reading the tournament: events in bounded block ranges, round state, and the stake-at-risk replay.

Everything the operator and the auditor decide is derived here from the chain alone, so two parties reading
the same chain reach the same answer:

* events come from ``eth_getLogs`` over the tournament's address in windows of at most ``chunk`` blocks (public
  endpoints cap a call's range), decoded by their first topic and ordered by (block number, log index);
* a round's model set is every ``ModelRegistered`` up to and including the round's ``RoundClosed`` log;
* a model's stake at risk in round r is ``max(0, netDeposits + cumulativePayout(r-1) - cumulativeBurn(r-1) -
  pendingWithdrawal)`` with the deposits and the pending withdrawal replayed from ``Staked``, ``Withdrawn`` and
  ``WithdrawalRequested`` up to the same point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Iterable, Mapping, Sequence

from eth_utils import event_abi_to_log_topic, keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

from oracle.chain.artifacts import abi
from oracle.chain.codec import EventCodec, FunctionCodec
from oracle.chain.deploy import Deployment
from oracle.chain.replay import replay_stakes_at_risk
from oracle.chain.tx import RpcUnavailable

__all__ = [
    "DEFAULT_CHUNK",
    "ChainEvent",
    "ModelInfo",
    "Proposal",
    "RoundState",
    "RoundStatus",
    "TournamentClient",
]

#: Blocks per ``eth_getLogs`` call: small enough for hosted endpoints' range limits.
DEFAULT_CHUNK = 2_000


class RoundStatus(IntEnum):
    """The contract's ``RoundStatus`` enum: the one model of a round's status (the service, CLI and participant
    print :attr:`label`)."""

    NONE = 0
    OPEN = 1
    CLOSED = 2
    PROPOSED = 3
    VETOED = 4
    ACTIVE = 5

    @property
    def label(self) -> str:
        """The status as the API and the CLI spell it: ``open``, ``proposed``, ..."""
        return self.name.lower()


@dataclass(frozen=True)
class ChainEvent:
    """One decoded tournament event; ``position`` orders events as the chain applied them."""

    name: str
    args: Mapping[str, Any]
    block: int
    log_index: int
    tx_hash: str

    @property
    def position(self) -> tuple[int, int]:
        return (self.block, self.log_index)


@dataclass(frozen=True)
class RoundState:
    """``roundInfo(r)``: totals, status, schedule, bounds and the stake snapshot of a round."""

    round: int
    cumulative_payout: int
    cumulative_burn: int
    activates_at: int
    status: RoundStatus
    closes_at: int
    closed_at: int
    net_deposits_at_close: int
    payout_cap_bps: int
    burn_cap_bps: int
    challenge_period: int
    root: str


@dataclass(frozen=True)
class Proposal:
    """A ``RootProposed`` event: what the oracle committed to for a round."""

    round: int
    root: str
    cumulative_payout: int
    cumulative_burn: int
    total_stake_at_risk: int
    manifest_hash: str
    manifest_uri: str
    activates_at: int
    block: int
    log_index: int
    tx_hash: str

    def position_key(self) -> tuple[int, int]:
        """Where the proposal sits in the chain: (block, log index), unique per proposal."""
        return (self.block, self.log_index)

    @classmethod
    def of(cls, event: ChainEvent) -> "Proposal":
        a = event.args
        return cls(
            round=int(a["round"]), root=_hex32(a["root"]), cumulative_payout=int(a["cumulativePayout"]),
            cumulative_burn=int(a["cumulativeBurn"]), total_stake_at_risk=int(a["totalStakeAtRisk"]),
            manifest_hash=_hex32(a["manifestHash"]), manifest_uri=str(a["manifestURI"]),
            activates_at=int(a["activatesAt"]), block=event.block, log_index=event.log_index, tx_hash=event.tx_hash,
        )


@dataclass(frozen=True)
class ModelInfo:
    """``modelInfo(id)``: owner and net deposits, settlement progress, pending withdrawal."""

    model_id: int
    owner: str
    net_deposits: int
    settled_round: int
    first_round: int
    pending_withdrawal: int
    withdrawal_after_round: int

    @property
    def registered(self) -> bool:
        # firstRound is nonzero for every registered model.
        return self.first_round != 0


def _model_info(model_id: int, model: Any, settlement: Any, withdrawal: Any) -> ModelInfo:
    """``modelInfo``'s three structs (Model, Settlement, Withdrawal) as a :class:`ModelInfo`."""
    return ModelInfo(
        model_id=model_id, owner=Web3.to_checksum_address(model[0]), net_deposits=int(model[1]),
        settled_round=int(settlement[2]), first_round=int(settlement[3]), pending_withdrawal=int(withdrawal[0]),
        withdrawal_after_round=int(withdrawal[1]),
    )


def _hex32(value: Any) -> str:
    return "0x" + bytes(HexBytes(value)).hex()


@dataclass
class TournamentClient:
    """Read access to one deployed tournament over JSON-RPC."""

    w3: Web3
    deployment: Deployment
    chunk: int = DEFAULT_CHUNK
    _decoders: dict[bytes, tuple[str, Any]] = field(default_factory=dict, init=False, repr=False)
    #: Whether Multicall3 answers on this chain (None: not looked yet).
    _multicall: bool | None = field(default=None, init=False, repr=False)
    #: Checksummed spelling of the addresses seen in events (thousands of models, far fewer owners).
    _checksums: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.chunk < 1:
            raise ValueError(f"chunk must be at least one block, got {self.chunk}")
        self.tournament: Contract = self.deployment.tournament_contract(self.w3)
        self.token: Contract = self.deployment.token_contract(self.w3)
        for item in abi("Tournament"):
            if item.get("type") == "event":
                self._decoders[bytes(event_abi_to_log_topic(item))] = (item["name"], EventCodec.of(item))
        self._model_info_call = FunctionCodec.of(abi("Tournament"), "modelInfo")

    # -------------------------------------------------------------- plain reads

    def _rpc(self, what: str, call: Any) -> Any:
        try:
            return call()
        except (ConnectionError, OSError, TimeoutError) as exc:
            endpoint = getattr(self.w3.provider, "endpoint_uri", "?")
            raise RpcUnavailable(f"JSON-RPC endpoint {endpoint} does not answer ({what}): {exc}") from exc

    def block_number(self) -> int:
        return int(self._rpc("eth_blockNumber", lambda: self.w3.eth.block_number))

    def now(self) -> int:
        """The latest block's timestamp: the clock the contract checks windows against."""
        return int(self._rpc("latest block", lambda: self.w3.eth.get_block("latest"))["timestamp"])

    def cursor(self) -> tuple[int, int]:
        """(last closed round, last activated round)."""
        closed, activated = self._rpc("roundCursor", self.tournament.functions.roundCursor().call)
        return int(closed), int(activated)

    def round_state(self, round: int, block: int | str = "latest") -> RoundState:
        info, root = self._rpc(
            f"roundInfo({round})", lambda: self.tournament.functions.roundInfo(round).call(block_identifier=block)
        )
        (payout, burn, activates_at, status, closes_at, closed_at, net_deposits, payout_cap, burn_cap, period) = info
        return RoundState(
            round=round, cumulative_payout=int(payout), cumulative_burn=int(burn), activates_at=int(activates_at),
            status=RoundStatus(int(status)), closes_at=int(closes_at), closed_at=int(closed_at),
            net_deposits_at_close=int(net_deposits), payout_cap_bps=int(payout_cap), burn_cap_bps=int(burn_cap),
            challenge_period=int(period), root=_hex32(root),
        )

    def open_round(self) -> int | None:
        """The round open for submissions right now, if any (at most one: round = last closed + 1)."""
        last_closed, _ = self.cursor()
        state = self.round_state(last_closed + 1)
        return state.round if state.status is RoundStatus.OPEN else None

    def model_count(self) -> int:
        return int(self._rpc("modelCount", self.tournament.functions.modelCount().call))

    def model_info(self, model_id: int) -> ModelInfo:
        """A model's on-chain record (all zero for an id never registered: see :attr:`ModelInfo.registered`)."""
        model_id = int(model_id)
        call = {"to": self.tournament.address, "data": "0x" + self._model_info_call.calldata(model_id).hex()}
        raw = self._rpc(f"modelInfo({model_id})", lambda: self.w3.eth.call(call))
        return _model_info(model_id, *self._model_info_call.decode(bytes(raw)))

    def model_infos(self, model_ids: Iterable[int]) -> dict[int, ModelInfo]:
        """:meth:`model_info` of many models, read :data:`~oracle.chain.multicall.MAX_CALLS` per ``eth_call``
        through Multicall3 when the chain has it (else one call each): a keeper settling every model of a large
        round reads their state in a few calls."""
        from oracle.chain.multicall import MAX_CALLS, aggregate3, has_multicall

        ids = [int(m) for m in model_ids]
        if self._multicall is None and ids:
            self._multicall = bool(self._rpc("eth_getCode Multicall3", lambda: has_multicall(self.w3)))
        if not self._multicall:
            return {m: self.model_info(m) for m in ids}
        address, codec = self.tournament.address, self._model_info_call
        out: dict[int, ModelInfo] = {}
        for start in range(0, len(ids), MAX_CALLS):
            chunk = ids[start : start + MAX_CALLS]
            calls = [(address, codec.calldata(m)) for m in chunk]
            results = self._rpc(f"modelInfo of {len(chunk)} models (Multicall3)", lambda c=calls: aggregate3(self.w3, c))
            for model_id, (ok, data) in zip(chunk, results):
                if not ok:
                    raise RpcUnavailable(f"modelInfo({model_id}) failed inside Multicall3's aggregate3 at "
                                         f"{self.tournament.address}")
                out[model_id] = _model_info(model_id, *codec.decode(data))
        return out

    def owner_of(self, model_id: int) -> str | None:
        """The owner of a model, or None for an id never registered."""
        owner = self.model_info(model_id).owner
        return None if int(owner, 16) == 0 else owner

    def settled_round(self, model_id: int) -> int:
        """The round a model is settled through on-chain."""
        return self.model_info(model_id).settled_round

    def stake_of(self, model_id: int) -> int:
        return int(self._rpc(f"stakeOf({model_id})", self.tournament.functions.stakeOf(model_id).call))

    def reserve_funded(self) -> int:
        return int(self._rpc("reserveFunded", self.tournament.functions.reserveFunded().call))

    def chain_id(self) -> int:
        return int(self._rpc("eth_chainId", lambda: self.w3.eth.chain_id))

    def total_supply(self, block: int | str = "latest") -> int:
        return int(self._rpc("totalSupply", lambda: self.token.functions.totalSupply().call(block_identifier=block)))

    # -------------------------------------------------------------- events

    def _scan(self, topics: list[Any] | None, from_block: int | None, to_block: int | None,
              what: str) -> list[ChainEvent]:
        """The one event scanner: ``eth_getLogs`` over the tournament in windows of ``chunk`` blocks, decoded, in
        chain order."""
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

    def _topic(self, name: str) -> str:
        for topic, (known, _) in self._decoders.items():
            if known == name:
                return "0x" + topic.hex()
        raise ValueError(f"the Tournament ABI has no event {name!r}")

    def events(self, names: Sequence[str] | None = None, from_block: int | None = None,
               to_block: int | None = None, indexed: Any = None) -> list[ChainEvent]:
        """Tournament events (only ``names`` when given), in chain order. ``indexed`` filters on the events' first
        indexed argument (an int such as a round or model id, or an address) on the node."""
        topics: list[Any] | None = None
        if names is not None:
            topics = [[self._topic(name) for name in names]]
        if indexed is not None:
            word = (bytes(HexBytes(Web3.to_checksum_address(indexed))).rjust(32, b"\0") if isinstance(indexed, str)
                    else int(indexed).to_bytes(32, "big"))
            topics = (topics or [None]) + ["0x" + word.hex()]
        return self._scan(topics, from_block, to_block, ",".join(names or ["all"]))

    def _decode(self, log: Any) -> ChainEvent | None:
        if not log["topics"]:
            return None
        known = self._decoders.get(bytes(log["topics"][0]))
        if known is None:
            return None
        name, codec = known
        return ChainEvent(
            name=name, args=codec.decode(log["topics"], log["data"], self._checksums),
            block=int(log["blockNumber"]), log_index=int(log["logIndex"]), tx_hash=_hex32(log["transactionHash"]),
        )

    def round_events(self, name: str, round: int) -> list[ChainEvent]:
        """Events ``name`` whose indexed ``round`` is ``round`` (filtered by topic on the node)."""
        return self.events([name], indexed=int(round))

    def proposals(self, round: int) -> list[Proposal]:
        """Every ``RootProposed`` of a round, oldest first (more than one only after vetoes)."""
        return [Proposal.of(e) for e in self.round_events("RootProposed", round)]

    def standing_proposal(self, round: int) -> tuple[RoundState, Proposal | None]:
        """The round's state and the proposal standing for it (pending or active), or None when there is none
        (never proposed, or vetoed and not proposed again): the one reading of "the round's proposal" for
        participants, operator, auditor and service."""
        state = self.round_state(round)
        if state.status not in (RoundStatus.PROPOSED, RoundStatus.ACTIVE):
            return state, None
        found = self.proposals(round)
        return state, (found[-1] if found else None)

    def current_proposal(self, round: int) -> Proposal | None:
        """The proposal standing for a round (see :meth:`standing_proposal`)."""
        return self.standing_proposal(round)[1]

    def close_event(self, round: int) -> ChainEvent | None:
        found = self.round_events("RoundClosed", round)
        return found[0] if found else None

    def activation_event(self, round: int) -> ChainEvent | None:
        found = self.round_events("RootActivated", round)
        return found[0] if found else None

    # -------------------------------------------------------------- roles

    def role_holders(self, role: str) -> list[str]:
        """Current holders of ``role`` (e.g. ``"ORACLE_ROLE"``), from the chain alone, in order of first grant.

        The contract is plain AccessControl (not enumerable), so holders are replayed from ``RoleGranted`` and
        ``RoleRevoked`` and then confirmed with ``hasRole``; the deployment file's ``roles`` only name extra
        candidates to confirm (a grant made before the deployment's recorded block would not be in the scan)."""
        role_id = keccak(text=role)
        candidates: dict[str, None] = {}
        for event in self.events(["RoleGranted", "RoleRevoked"]):
            if bytes(event.args["role"]) == role_id:
                candidates.setdefault(Web3.to_checksum_address(event.args["account"]), None)
        for holder in self.deployment.roles.get(role, []):
            candidates.setdefault(Web3.to_checksum_address(holder), None)
        has_role = self.tournament.functions.hasRole
        return [a for a in candidates if self._rpc(f"hasRole({role}, {a})", has_role(role_id, a).call)]

    def oracle_address(self) -> str:
        """The tournament's oracle: the one current ORACLE_ROLE holder, whose key must sign operator receipts.

        Read from the chain, never from the service, so a service cannot vouch for its own receipts."""
        holders = self.role_holders("ORACLE_ROLE")
        if len(holders) != 1:
            raise ValueError(f"the tournament {self.tournament.address} has {len(holders)} ORACLE_ROLE holder(s) "
                             f"({', '.join(holders) or 'none'}): cannot tell which one signs receipts")
        return holders[0]

    # -------------------------------------------------------------- the replay

    def ledger_events_through_close(self, round: int) -> list[ChainEvent]:
        """Registrations, stakes and withdrawals up to and including the round's ``RoundClosed`` log."""
        close = self.close_event(round)
        if close is None:
            raise ValueError(f"round {round} is not closed on-chain: its stakes at risk are not fixed yet")
        events = self.events(
            ["ModelRegistered", "Staked", "Withdrawn", "WithdrawalRequested", "BurnShortfallCovered"],
            to_block=close.block,
        )
        return [e for e in events if e.position <= close.position]

    def stakes_at_risk(self, round: int, previous_cumulative: Mapping[int, tuple[int, int]]) -> tuple[dict[int, int], dict[int, str]]:
        """(stake at risk per model id, owner per model id) of every model registered before the round closed."""
        return replay_stakes_at_risk(self.ledger_events_through_close(round), previous_cumulative)
