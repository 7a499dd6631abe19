"""The stake-at-risk replay: what each model had at risk in a round, from the chain's events alone.

A model's stake at risk in round r is ``max(0, netDeposits + cumulativePayout(r-1) - cumulativeBurn(r-1) -
pendingWithdrawal)``, with the deposits and the pending withdrawal replayed from ``Staked``, ``Withdrawn``,
``WithdrawalRequested`` and ``BurnShortfallCovered`` up to the round's ``RoundClosed`` log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Mapping

from web3 import Web3

if TYPE_CHECKING:
    from oracle.chain.client import ChainEvent

__all__ = ["replay_stakes_at_risk"]


@dataclass
class _ModelLedger:
    """What the replay tracks per model."""

    owner: str
    net_deposits: int = 0
    pending_withdrawal: int = 0


def replay_stakes_at_risk(
    events: Iterable["ChainEvent"],
    previous_cumulative: Mapping[int, tuple[int, int]],
) -> tuple[dict[int, int], dict[int, str]]:
    """(stake at risk per model id, owner per model id) from events already cut at the round's close.

    ``previous_cumulative`` maps model id to (cumulative payout, cumulative burn) through the previous round:
    results count towards the stake at risk whether or not a model has settled them on-chain."""
    ledger: dict[int, _ModelLedger] = {}
    for event in sorted(events, key=lambda e: e.position):
        a = event.args
        if event.name == "ModelRegistered":
            ledger[int(a["modelId"])] = _ModelLedger(owner=Web3.to_checksum_address(a["owner"]))
        elif event.name == "Staked":
            ledger[int(a["modelId"])].net_deposits += int(a["amount"])
        elif event.name == "Withdrawn":
            entry = ledger[int(a["modelId"])]
            entry.net_deposits -= int(a["amount"])
            entry.pending_withdrawal = 0  # a withdrawal pays and clears the whole pending request
        elif event.name == "WithdrawalRequested":
            ledger[int(a["modelId"])].pending_withdrawal = int(a["pendingAmount"])
        elif event.name == "BurnShortfallCovered":
            # The reserve covered what a wrong, activated root burned beyond the model's stake: on-chain this
            # raises the model's net deposits so its stake ends at zero.
            ledger[int(a["modelId"])].net_deposits += int(a["shortfall"])
    at_risk: dict[int, int] = {}
    for model_id, entry in ledger.items():
        payout, burn = previous_cumulative.get(model_id, (0, 0))
        at_risk[model_id] = max(0, entry.net_deposits + int(payout) - int(burn) - entry.pending_withdrawal)
    return dict(sorted(at_risk.items())), {m: ledger[m].owner for m in sorted(ledger)}
