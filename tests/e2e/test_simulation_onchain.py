"""The simulation through the real contracts equals the off-chain ledger, to the last unit.

One small tournament (5 rounds, 10 models, 600 live rows) is prepared once; its rounds are then settled
twice from the same submissions: on :class:`OffChainLedger` and on :class:`OnChainLedger` (a fresh Anvil,
the deployed contracts, stakeWithPermit from each kind's own account, open/close/propose/activate, settleBatch
multiproofs, stakeOf read back). Half the models take any profit and half refill any loss every round, so
deposits and withdrawals go through stakeWithPermit / requestWithdrawal / withdraw on chain as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest
from click.testing import CliRunner

from oracle.chain.client import RoundStatus
from oracle.cli import main
from oracle.simulation.data import TournamentSpec
from oracle.simulation.engine import (
    OffChainLedger,
    PreparedTournament,
    RoundEvidence,
    SettlementBackend,
    SimulationResult,
    default_params,
    prepare,
    settle,
)
from oracle.simulation.onchain import OnChainLedger
from oracle.simulation.participants import TOKEN, TakeProfit, default_population

ROUNDS = 5
SPEC = TournamentSpec(seed=3, n_features=48, history_eras=8, history_rows_per_era=300, live_rows=600, regime_length=3)


@dataclass(frozen=True)
class KeepAtTarget:
    """Tops the stake back up to ``amount`` whenever burns took it below: a deposit most losing rounds."""

    amount: int

    def initial(self) -> int:
        return self.amount

    def adjust(self, balance: int, round_number: int) -> int:
        return self.amount - balance if balance < self.amount else 0


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> PreparedTournament:
    people = default_population(10, seed=SPEC.seed)
    # Every model either takes any profit at once (TakeProfit, margin 0) or refills every loss (KeepAtTarget),
    # alternating by id: over five rounds both policies act, so withdrawals and top-ups happen on chain.
    for i, person in enumerate(people):
        amount = person.policy.initial()
        person.policy = TakeProfit(amount, margin=0.0) if i % 2 == 0 else KeepAtTarget(amount)
    tournament = prepare(SPEC, ROUNDS, tmp_path_factory.mktemp("sim"), participants=people)
    tournament.memoise = True
    return tournament


@pytest.fixture(scope="module")
def offchain(prepared: PreparedTournament) -> tuple[OffChainLedger, SimulationResult]:
    ledger = OffChainLedger(build_roots=True)
    return ledger, settle(prepared, default_params(), backend=ledger)


@pytest.fixture(scope="module")
def onchain(
    prepared: PreparedTournament, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OnChainLedger, SimulationResult]]:
    owners = {p.model_id: p.kind for p in prepared.participants}
    with OnChainLedger.start(owners, tmp_path_factory.mktemp("manifests"), clip=default_params().clip) as ledger:
        assert isinstance(ledger, SettlementBackend)
        yield ledger, settle(prepared, default_params(), backend=ledger)


def test_policies_moved_money_both_ways(
    offchain: tuple[OffChainLedger, SimulationResult], onchain: tuple[OnChainLedger, SimulationResult]
) -> None:
    """The run exercises what it claims to: the chain saw top-ups and withdrawals, not only initial stakes."""
    ledger, _ = onchain
    events = ledger.client.events(["Staked", "Withdrawn"])
    staked = [e for e in events if e.name == "Staked"]
    withdrawn = [e for e in events if e.name == "Withdrawn"]
    assert len(staked) > len(ledger.owners), "no top-up after the initial stakes"
    assert withdrawn and all(int(e.args["amount"]) > 0 for e in withdrawn)
    # Each kind's models were staked from that kind's own account.
    owners = {int(e.args["modelId"]): e.args["owner"] for e in staked}
    assert all(owners[m] == ledger.owners[m].address for m in owners)
    assert len({a.address for a in ledger.owners.values()}) == offchain[1].models["kind"].nunique()


def test_same_balances_roots_and_totals(
    offchain: tuple[OffChainLedger, SimulationResult], onchain: tuple[OnChainLedger, SimulationResult]
) -> None:
    off, off_result = offchain
    on, on_result = onchain
    # Balances: stakeOf on chain == the in-memory ledger, exact integers, for every model.
    chain_balances = {m: on.client.stake_of(m) for m in sorted(on.owners)}
    assert chain_balances == off.balances() == off_result.final_balances == on_result.final_balances
    # Per round, what the chain recorded (roundInfo after activation) == the off-chain ledger's tree.
    for r in range(1, ROUNDS + 1):
        state = on.client.round_state(r)
        assert state.status is RoundStatus.ACTIVE
        assert state.root.lower() == off.roots[r].lower(), f"round {r} root"
        recorded = on.rounds[r]
        assert (recorded.cumulative_payout, recorded.cumulative_burn) == off.round_totals[r], f"round {r} totals"
        per_round = off_result.rounds[off_result.rounds["round"] == r]
        assert state.payout_total == recorded.payout_total == sum(int(v) for v in per_round["payout"])
        assert recorded.total_stake_at_risk == sum(int(v) for v in per_round["stake_at_risk"])
    # Every round's stakes at risk, payouts and burns agree model by model.
    columns = ["round", "model_id", "stake_at_risk", "payout", "burn", "balance"]
    assert off_result.rounds[columns].values.tolist() == on_result.rounds[columns].values.tolist()
    # Money moved at all (the equality above is not 0 == 0), and the chain conserved tokens.
    assert off.round_totals[ROUNDS][0] > 0 and off.round_totals[ROUNDS][1] > 0
    assert on.conserved()


def hand_evidence(at_risk: dict[int, int], payouts: dict[int, int], burns: dict[int, int]) -> RoundEvidence:
    """A round's evidence for amounts chosen by hand: a scores table that states them (the bundle is published and
    the chain settles it; it would not recompute, which is not what this test is about)."""
    ids = [f"row{i}" for i in range(4)]
    models = sorted(at_risk)
    predictions = pd.DataFrame({"id": ids, **{str(m): [0.2, 0.4, 0.6, 0.8] for m in models}})
    targets = pd.DataFrame({"id": ids, "target": [0.0, 0.25, 0.75, 1.0]})
    scores = pd.DataFrame(
        {
            "model": [str(m) for m in models],
            "corr": 0.0,
            "mmc": 0.0,
            "stake_at_risk": pd.Series([at_risk[m] for m in models], dtype=object),
            "payout": pd.Series([payouts.get(m, 0) for m in models], dtype=object),
            "burn": pd.Series([burns.get(m, 0) for m in models], dtype=object),
        }
    )
    return RoundEvidence(predictions, targets, default_params(), scores)


def test_the_chain_back_end_refuses_a_round_without_its_evidence(tmp_path: Path) -> None:
    """Every round settled on chain publishes its full bundle: without the evidence there is nothing to publish."""
    with OnChainLedger.start({1: "a"}, tmp_path) as on:
        on.stake(1, 5 * TOKEN)
        on.stakes_at_risk()
        with pytest.raises(ValueError, match="round 1: the on-chain back end publishes"):
            on.settle_round(1, {1: TOKEN // 10}, {})
        assert on.client.round_state(1).status is RoundStatus.CLOSED


def test_a_model_at_zero_stake_stays_out_of_the_round_on_both_sides(tmp_path: Path) -> None:
    """A model whose stake is 0 at the close and which never had a leaf is left out of the round and its tree
    (L-8), on chain as in the off-chain ledger; once it has a leaf it keeps it, at 0 at risk if its stake is 0."""
    off = OffChainLedger(build_roots=True)
    off.stake(1, 5 * TOKEN)
    off.stake(2, 3 * TOKEN)
    off.withdraw(2, 3 * TOKEN)
    with OnChainLedger.start({1: "a", 2: "b"}, tmp_path) as on:
        on.stake(1, 5 * TOKEN)
        on.stake(2, 3 * TOKEN)
        on.withdraw(2, 3 * TOKEN)
        assert on.stakes_at_risk() == off.stakes_at_risk() == {1: 5 * TOKEN}
        on.settle_round(1, {1: TOKEN // 10}, {}, hand_evidence({1: 5 * TOKEN}, {1: TOKEN // 10}, {}))
        off.settle_round(1, {1: TOKEN // 10}, {})
        assert on.rounds[1].root.lower() == off.roots[1].lower()
        assert on.balances() == off.balances() == {1: 5 * TOKEN + TOKEN // 10, 2: 0}
        # Model 1 leaves entirely and model 2 comes back: 1 keeps its leaf at 0 at risk, 2 gets one.
        on.withdraw(1, 5 * TOKEN + TOKEN // 10)
        off.withdraw(1, 5 * TOKEN + TOKEN // 10)
        on.stake(2, 2 * TOKEN)
        off.stake(2, 2 * TOKEN)
        assert on.stakes_at_risk() == off.stakes_at_risk() == {1: 0, 2: 2 * TOKEN}
        on.settle_round(2, {}, {2: TOKEN // 20}, hand_evidence({1: 0, 2: 2 * TOKEN}, {}, {2: TOKEN // 20}))
        off.settle_round(2, {}, {2: TOKEN // 20})
        assert on.rounds[2].root.lower() == off.roots[2].lower()
        assert on.balances() == off.balances() == {1: 0, 2: 2 * TOKEN - TOKEN // 20}
        assert on.conserved()


def test_cli_backends_agree(tmp_path: Path) -> None:
    """``tourney simulate --backend onchain`` runs the contracts and ends where ``--backend offchain`` does."""
    args = [
        "--rounds",
        "2",
        "--seed",
        "4",
        "--models",
        "6",
        "--live-rows",
        "300",
        "--features",
        "48",
        "--history-eras",
        "6",
        "--history-rows",
        "200",
    ]
    outputs = {}
    for backend in ("offchain", "onchain"):
        run = CliRunner().invoke(
            main,
            ["--json", "simulate", *args, "--backend", backend, "--out", str(tmp_path / backend)],
            catch_exceptions=False,
        )
        assert run.exit_code == 0, run.output
        outputs[backend] = json.loads(run.output)
    assert outputs["onchain"]["final_balances"] == outputs["offchain"]["final_balances"]
    chain = outputs["onchain"]["chain"]
    assert sorted(chain["roots"]) == ["1", "2"] and chain["gas"]["settle"] > 0
    assert outputs["offchain"]["chain"] == {}
    # Each round's full bundle is in the store under chain/, and the command audited both against the chain.
    store = tmp_path / "onchain" / "chain"
    assert sorted(p.name for p in (store / "rounds").iterdir()) == ["1", "2"]
    assert len(list((store / "rounds" / "2").glob("manifest-*.json"))) == 1
    assert chain["verified"] == {"proposals": 2, "ok": 2, "failed": []}
