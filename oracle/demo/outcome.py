"""What a demo run produced: the per-model table, the operator's rejections per round, and the solvency claims
the end-to-end test checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from oracle.auditor.verify import Verdict
from oracle.bundle.round_bundle import load_bundle
from oracle.chain.client import TournamentClient
from oracle.demo.players import Player
from oracle.settlement.leaves import leaves_of_dump

if TYPE_CHECKING:
    from oracle.demo.agent import AgentOutcome

__all__ = ["DemoResult", "model_table", "rejections"]


@dataclass
class DemoResult:
    """What a demo run produced (the test checks it).

    ``stakes`` is ``stakeOf`` of every registered model; ``reserve`` the reward reserve (committed payouts not yet
    settled included); ``burn_due`` burns settled but not yet destroyed; ``token_supply`` bounds any real amount."""

    rounds: int
    vetoed_round: int | None
    verdicts: list[Verdict]
    models: pd.DataFrame
    token_balance: int
    stakes: dict[int, int]
    reserve: int
    burn_due: int
    token_supply: int
    withdrawn: int
    rejections: dict[int, list[str]]
    seconds: float
    agent: "AgentOutcome | None" = None

    @property
    def claims_sound(self) -> bool:
        """Every model's stake is a real amount: non-negative and within the supply (a negative ledger value read
        as uint would be near 2**256)."""
        return all(0 <= stake <= self.token_supply for stake in self.stakes.values())

    @property
    def solvent(self) -> bool:
        """The tokens held cover every claim: each model's stake, the reserve and the burns due."""
        return self.token_balance >= sum(self.stakes.values()) + self.reserve + self.burn_due

    @property
    def conserved(self) -> bool:
        """Per-claim solvency: every stake sound and all of them (with the reserve) covered by the balance."""
        return self.claims_sound and self.solvent


def model_table(
    client: TournamentClient, players: list[Player], agent_model: int | None, agent_owner: str
) -> pd.DataFrame:
    """One row per model (the players', then the agent's if it registered one): owner, stake, and the payout and
    burn of the newest active round's tree."""
    last = client.cursor().last_active
    proposal = client.current_proposal(last)
    leaves = leaves_of_dump(load_bundle(proposal.manifest_uri, proposal.manifest_hash).tree_dump()) if proposal else {}
    owners = [(model_id, player.name) for player in players for model_id in player.models]
    if agent_model is not None:
        owners.append((agent_model, agent_owner))
    rows = []
    for model_id, owner in owners:
        payout, burn = leaves.get(model_id, (0, 0))
        rows.append(
            {"model": model_id, "owner": owner, "stake": client.stake_of(model_id), "payout": payout, "burn": burn}
        )
    return pd.DataFrame(rows)


def rejections(client: TournamentClient, rounds: int) -> dict[int, list[str]]:
    """Round -> the operator's published rejections (``model M: reason``), for every round with a proposal."""
    out: dict[int, list[str]] = {}
    for round in range(1, rounds + 1):
        proposal = client.current_proposal(round)
        if proposal:
            found = load_bundle(proposal.manifest_uri, proposal.manifest_hash).json("rejections.json")
            out[round] = [f"model {r['model_id']}: {r['reason']}" for r in found]
    return out
