"""The stake-at-risk rule, replayed from the tournament's ledger events (pure: no chain access).

In round j a model has at risk

    R_j = max(0, N_j + P_{j-1} - B_{j-1} - W_j)

where, from the events up to and including round j's ``RoundClosed`` log:

* ``N_j`` is its net deposits: every ``Staked`` amount (a deposit counts from the next round that closes), minus every
  ``Withdrawn`` amount, plus what ``SettlementClamped`` folded in (a leaf that claimed more than its honest bound
  records the leaf's cumulative values on-chain and moves the difference into net deposits:
  ``N += (leafBurn - burn) - (leafPayout - payout)``, so that ``N + P - B`` stays the real stake);
* ``P_{j-1}``, ``B_{j-1}`` are its cumulative payout and burn in the leaves the round builds on (those of the last
  active round before j: a lapsed round's result is zero and it has no leaves), whether or not the model has
  settled them on-chain: results compound by round, whatever keepers do;
* ``W_j`` is its pending withdrawal at the close: ``WithdrawalRequested.pending`` (the whole pending amount),
  ``WithdrawalLowered.pending`` (lowered or cancelled: the difference is at risk again from the next close), zero
  after ``Withdrawn`` (a withdrawal pays and clears the whole request).

This is the contract's rule for an honest leaf (``Tournament._honestBounds``: the stake before round j, less the
pending tranche while j precedes its first round at risk and less the pending withdrawal after the round it was
requested in), so an honest round is never clamped on-chain.

Which models have a leaf in round j (L-8): every model with a leaf in the previous tree (a leaf, once given, is
carried forever so the newest root settles every earlier round), and every model registered by the close whose stake
at the close, ``N_j + P_{j-1} - B_{j-1}``, is positive. A model that never held stake has nothing at risk, can be
neither paid nor burned, and stays out of the tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from web3 import Web3

from oracle.chain.events import ChainEvent

__all__ = ["LEDGER_EVENTS", "ModelLedger", "RoundStakes", "replay_ledger", "replay_stakes_at_risk", "round_stakes"]

#: The events the rule reads, in the contract's ABI names.
LEDGER_EVENTS = (
    "ModelRegistered",
    "Staked",
    "WithdrawalRequested",
    "WithdrawalLowered",
    "Withdrawn",
    "SettlementClamped",
)


@dataclass
class ModelLedger:
    """One model's replayed ledger at a point of the chain."""

    owner: str
    net_deposits: int = 0
    pending_withdrawal: int = 0


@dataclass(frozen=True)
class RoundStakes:
    """A round's stakes, replayed: ``at_risk`` for every model with a leaf in the round, ``stake`` (at the close,
    before the pending withdrawal) and ``owner`` for every model registered by the close."""

    at_risk: dict[int, int]
    stake: dict[int, int] = field(default_factory=dict)
    owners: dict[int, str] = field(default_factory=dict)

    @property
    def total_at_risk(self) -> int:
        return sum(self.at_risk.values())


def replay_ledger(events: Iterable[ChainEvent]) -> dict[int, ModelLedger]:
    """Net deposits and pending withdrawal per model id after ``events`` (applied in chain order)."""
    ledger: dict[int, ModelLedger] = {}
    for event in sorted(events, key=lambda e: e.position):
        a = event.args
        name = event.name
        if name == "ModelRegistered":
            ledger[int(a["modelId"])] = ModelLedger(owner=Web3.to_checksum_address(a["owner"]))
            continue
        if name not in LEDGER_EVENTS:
            continue
        model_id = int(a["modelId"])
        entry = ledger.get(model_id)
        if entry is None:
            raise ValueError(
                f"{name} at block {event.block} for model {model_id}, which no ModelRegistered event "
                "before it registered: the events are incomplete"
            )
        if name == "Staked":
            entry.net_deposits += int(a["amount"])
        elif name in ("WithdrawalRequested", "WithdrawalLowered"):
            entry.pending_withdrawal = int(a["pending"])
        elif name == "Withdrawn":
            entry.net_deposits -= int(a["amount"])
            entry.pending_withdrawal = 0
        elif name == "SettlementClamped":
            entry.net_deposits += (int(a["leafBurn"]) - int(a["burn"])) - (int(a["leafPayout"]) - int(a["payout"]))
    return ledger


def round_stakes(events: Iterable[ChainEvent], previous: Mapping[int, tuple[int, int]]) -> RoundStakes:
    """The round's stakes from the ledger events up to its close and the leaves it builds on (``previous``: model
    id -> (cumulative payout, cumulative burn)); see the module docstring for the rule."""
    ledger = replay_ledger(events)
    # Leaves for ids nobody registered (only a bad root, activated, could hold them) are carried by the leaf rule
    # but have no stake: they are not part of the round's stakes.
    at_risk: dict[int, int] = {}
    stake: dict[int, int] = {}
    for model_id in sorted(ledger):
        entry = ledger[model_id]
        payout, burn = previous.get(model_id, (0, 0))
        held = max(0, entry.net_deposits + int(payout) - int(burn))
        stake[model_id] = held
        if model_id in previous or held > 0:
            at_risk[model_id] = max(0, held - entry.pending_withdrawal)
    return RoundStakes(at_risk=at_risk, stake=stake, owners={m: ledger[m].owner for m in sorted(ledger)})


def replay_stakes_at_risk(
    events: Iterable[ChainEvent], previous: Mapping[int, tuple[int, int]]
) -> tuple[dict[int, int], dict[int, str]]:
    """(stake at risk per model with a leaf in the round, owner per registered model): :func:`round_stakes` in the
    shape the operator and auditor use."""
    stakes = round_stakes(events, previous)
    return stakes.at_risk, stakes.owners
