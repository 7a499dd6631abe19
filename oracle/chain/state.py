"""The read model of the tournament: what ``TournamentClient`` returns, typed (a round's status, schedule and
caps; a proposal; a model's state; the cursor; the hard limits). Plain data, no chain access."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal, NamedTuple, Sequence

from hexbytes import HexBytes
from web3 import Web3

from oracle.chain.events import ChainEvent

__all__ = [
    "Cursor",
    "HardLimits",
    "ModelInfo",
    "ModelState",
    "Proposal",
    "RoundLabel",
    "RoundState",
    "RoundStatus",
    "hex32",
]

#: A round's status as the API, the MCP tools and the CLI spell it (:attr:`RoundStatus.label`).
RoundLabel = Literal["none", "open", "closed", "proposed", "vetoed", "active", "lapsed"]


class RoundStatus(IntEnum):
    """The contract's ``RoundStatus`` enum: the one model of a round's status (the service, CLI and participant
    print :attr:`label`). Resolved rounds are ``ACTIVE`` or ``LAPSED`` (not activated by its deadline: a zero
    result for every model)."""

    NONE = 0
    OPEN = 1
    CLOSED = 2
    PROPOSED = 3
    VETOED = 4
    ACTIVE = 5
    LAPSED = 6

    @property
    def label(self) -> RoundLabel:
        """The status as the API and the CLI spell it: ``open``, ``proposed``, ..."""
        return _LABELS[self]

    @property
    def phrase(self) -> str:
        """The status in a sentence, "round 3 is {phrase}": ``not opened yet`` rather than the enum's ``none``."""
        return "not opened yet" if self is RoundStatus.NONE else self.label

    @property
    def resolved(self) -> bool:
        return self in (RoundStatus.ACTIVE, RoundStatus.LAPSED)


# Indexed by the enum's value; the assertion keeps it the lower-cased member names.
_LABELS: tuple[RoundLabel, ...] = ("none", "open", "closed", "proposed", "vetoed", "active", "lapsed")
assert list(_LABELS) == [s.name.lower() for s in RoundStatus]


class Cursor(NamedTuple):
    """``roundCursor()``: the last closed, last resolved (active or lapsed) and last active round (0: none)."""

    last_closed: int
    last_resolved: int
    last_active: int


@dataclass(frozen=True)
class RoundState:
    """``roundInfo(r)``: status, schedule, the caps fixed when it opened and the standing (or active) proposal."""

    round: int
    status: RoundStatus
    closes_at: int
    closed_at: int
    activates_at: int
    lapses_at: int
    challenge_period: int
    payout_cap_bps: int
    burn_cap_bps: int
    payout_total: int
    root: str
    last_active_at_or_before: int


@dataclass(frozen=True)
class Proposal:
    """A ``RootProposed`` event: what the oracle committed to for a round (``payout_total`` and ``burn_total`` are
    the round's increases over the leaves it builds on)."""

    round: int
    root: str
    payout_total: int
    burn_total: int
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
            round=int(a["round"]),
            root=hex32(a["root"]),
            payout_total=int(a["payoutTotal"]),
            burn_total=int(a["burnTotal"]),
            manifest_hash=hex32(a["manifestHash"]),
            manifest_uri=str(a["manifestURI"]),
            activates_at=int(a["activatesAt"]),
            block=event.block,
            log_index=event.log_index,
            tx_hash=event.tx_hash,
        )


@dataclass(frozen=True)
class ModelState:
    """``modelState(id)``: owner, settled stake and cumulative values, the pending tranche and withdrawal.

    ``tranche`` (deposited after a close the model is not settled through) is at risk from ``tranche_from``; the
    pending ``withdrawal`` is not at risk in rounds after ``withdrawal_after``."""

    model_id: int
    owner: str
    stake: int
    net_deposits: int
    cumulative_payout: int
    cumulative_burn: int
    settled_round: int
    tranche: int
    tranche_from: int
    withdrawal: int
    withdrawal_after: int

    @property
    def registered(self) -> bool:
        return int(self.owner, 16) != 0

    @classmethod
    def of(cls, model_id: int, raw: Sequence[Any]) -> "ModelState":
        (owner, stake, net, payout, burn, settled, tranche, tranche_from, withdrawal, withdrawal_after) = raw
        return cls(
            model_id=int(model_id),
            owner=Web3.to_checksum_address(owner),
            stake=int(stake),
            net_deposits=int(net),
            cumulative_payout=int(payout),
            cumulative_burn=int(burn),
            settled_round=int(settled),
            tranche=int(tranche),
            tranche_from=int(tranche_from),
            withdrawal=int(withdrawal),
            withdrawal_after=int(withdrawal_after),
        )

    # The names the participant code used before the redesign.
    @property
    def pending_withdrawal(self) -> int:
        return self.withdrawal

    @property
    def withdrawal_after_round(self) -> int:
        return self.withdrawal_after


#: A model's on-chain record (the old name of :class:`ModelState`).
ModelInfo = ModelState


@dataclass(frozen=True)
class HardLimits:
    """The tournament's immutable limits (``ITournament.HardLimits``); ``lapse_period`` is the exit bound D."""

    min_stake: int
    min_round_length: int
    max_round_length: int
    min_close_spacing: int
    min_challenge_period: int
    max_payout_cap_bps: int
    max_burn_cap_bps: int
    lapse_period: int
    max_pause: int
    pause_cooldown: int
    admin_delay: int


def hex32(value: Any) -> str:
    """A bytes32 as 0x-prefixed lowercase hex."""
    return "0x" + bytes(HexBytes(value)).hex()
