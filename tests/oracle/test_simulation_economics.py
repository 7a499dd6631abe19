"""The simulation's machinery on a fixed seed, through the real scoring and settlement code.

One tournament (seed 0, the generator's default world, 16 models of which 8 spammers, 30 rounds)
is prepared once for the module. History eras 0-49 hold regimes +, -, + (20/20/10 eras), so the
models learn a net "+" exposure to the risky features; live rounds 1-10 continue the + regime,
rounds 11-30 are in the flipped - regime.

The mechanism's claims are not asserted here: they are measured across seeds and reported
(``oracle.simulation.claims``, ``tourney simulate --seeds``). These tests check that the money,
the scores and the replays are what the rules say.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pandas as pd
import pytest

from oracle.scoring.params import RoundParams
from oracle.simulation.baseline import leaderboard_rounds, winners_count
from oracle.simulation.claims import max_drawdown, seed_measures
from oracle.simulation.data import TournamentSpec
from oracle.simulation.engine import (
    OffChainLedger,
    PreparedTournament,
    SettlementBackend,
    SimulationResult,
    default_params,
    prepare,
    settle,
)
from oracle.simulation.participants import TOKEN, TakeProfit
from oracle.simulation.sweep import SweepGrid, outcome, run_sweep

ROUNDS = 30
SPEC = TournamentSpec(seed=0)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> PreparedTournament:
    tournament = prepare(SPEC, ROUNDS, tmp_path_factory.mktemp("sim"), n_models=16)
    tournament.memoise = True
    return tournament


@pytest.fixture(scope="module")
def result(prepared: PreparedTournament) -> SimulationResult:
    return settle(prepared, default_params())


@pytest.fixture(scope="module")
def rows(result: SimulationResult) -> pd.DataFrame:
    return result.rounds.merge(result.models, on="model_id")


def test_the_schedule_is_the_one_described(prepared: PreparedTournament) -> None:
    regimes = [SPEC.regime(SPEC.live_era_of(r)) for r in range(1, ROUNDS + 1)]
    assert regimes == [1] * 10 + [-1] * 20
    history = [SPEC.regime(e) for e in range(SPEC.history_eras)]
    assert history.count(1) == 30 and history.count(-1) == 20


def test_payouts_respect_the_clip_and_balances_add_up(
    result: SimulationResult, rows: pd.DataFrame, prepared: PreparedTournament
) -> None:
    clip = default_params().clip
    for at_risk, payout, burn in zip(rows["stake_at_risk"], rows["payout"], rows["burn"]):
        assert payout == 0 or burn == 0
        assert max(payout, burn) <= math.floor(at_risk * Fraction(clip))
    for person in prepared.participants:
        mine = rows[rows["model_id"] == person.model_id]
        earned = sum(int(v) for v in mine["payout"]) - sum(int(v) for v in mine["burn"])
        final = result.final_balances[person.model_id]
        if isinstance(person.policy, TakeProfit):
            # Withdrawals happened only above the ceiling, back down to the initial stake.
            ceiling = person.policy.amount + int(person.policy.amount * person.policy.margin)
            assert all(int(v) <= ceiling for v in mine["stake_at_risk"])
            assert final <= person.policy.initial() + earned
        else:
            assert final == person.policy.initial() + earned


def test_ledger_carries_cumulative_leaves_and_roots(prepared: PreparedTournament) -> None:
    ledger = OffChainLedger(build_roots=True)
    assert isinstance(ledger, SettlementBackend)
    short = PreparedTournament(
        prepared.spec, prepared.participants, 3, prepared.directory, memoise=True, _memo=prepared._memo
    )
    res = settle(short, default_params(), backend=ledger)
    assert sorted(ledger.roots) == [1, 2, 3] and len(set(ledger.roots.values())) == 3
    for model_id, (paid, burned) in ledger.cumulative().items():
        mine = res.rounds[res.rounds["model_id"] == model_id]
        assert paid == sum(int(v) for v in mine["payout"])
        assert burned == sum(int(v) for v in mine["burn"])
    with pytest.raises(ValueError, match="cannot withdraw"):
        ledger.withdraw(1, ledger.balances()[1] + 1)


def test_sweep_replays_under_each_rule(prepared: PreparedTournament, result: SimulationResult) -> None:
    grid = SweepGrid(clips=(0.02, 0.05), weights=((0.5, 2.0),), thresholds=(10**9 * TOKEN,))
    table = run_sweep(prepared, grid)
    assert table[["clip", "corr_weight", "mmc_weight"]].values.tolist() == [[0.02, 0.5, 2.0], [0.05, 0.5, 2.0]]
    # The default-rule point reproduces the main run exactly (replay is deterministic).
    same = outcome(result)
    assert table.iloc[1].to_dict() == pytest.approx(same, nan_ok=True)
    # A tighter clip moves less money in each direction.
    assert table.iloc[0]["total_paid_tokens"] < table.iloc[1]["total_paid_tokens"]
    assert table.iloc[0]["total_burned_tokens"] < table.iloc[1]["total_burned_tokens"]


def test_payout_threshold_scales_every_amount(prepared: PreparedTournament) -> None:
    """Threshold at a tenth of round 1's total stake at risk: payout_factor = 1/10 scales every score
    before the clip, so an unclipped payout becomes a tenth (to rounding) and none grows."""
    short = PreparedTournament(
        prepared.spec, prepared.participants, 1, prepared.directory, memoise=True, _memo=prepared._memo
    )
    full = settle(short, default_params()).rounds
    total = sum(int(v) for v in full["stake_at_risk"])
    capped = settle(short, RoundParams(corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=total // 10)).rounds
    unclipped = 0
    for at_risk, a, b in zip(full["stake_at_risk"], full["payout"], capped["payout"]):
        assert b <= a
        if 0 < a < int(at_risk * 0.05) - 1:
            unclipped += 1
            assert abs(b - a // 10) <= 2
    assert unclipped > 0 and sum(capped["payout"]) > 0


def test_the_score_column_is_what_the_staking_rule_pays_on(result: SimulationResult, rows: pd.DataFrame) -> None:
    """score = 0.5·CORR + 2·MMC, and an unclipped model's net result is stake at risk × score (payout factor 1)."""
    assert rows["score"].to_numpy() == pytest.approx((0.5 * rows["corr"] + 2.0 * rows["mmc"]).to_numpy())
    unclipped = 0
    for score, at_risk, payout, burn in zip(rows["score"], rows["stake_at_risk"], rows["payout"], rows["burn"]):
        if abs(score) < 0.049 and at_risk:
            unclipped += 1
            # Rounded down to the smallest unit, so within one unit of the exact product.
            assert abs((payout - burn) - at_risk * Fraction(score)) <= 1
    assert unclipped > 100


def test_the_leaderboard_baseline_pays_what_it_says(result: SimulationResult) -> None:
    """Each round: the pool is the round's staking payouts; the top ⌈10% of 16⌉ = 2 scores get pool // 2 each."""
    prizes = leaderboard_rounds(result.rounds, top_share=0.1)
    assert winners_count(16, 0.1) == 2
    merged = result.rounds.merge(prizes, on=["round", "model_id"], validate="one_to_one")
    for r, part in merged.groupby("round"):
        pool = sum(int(v) for v in part["payout"])
        assert set(part["pool"]) == {pool}
        winners = part[part["prize"] > 0]
        top = part.sort_values(["score", "model_id"], ascending=[False, True]).head(2)
        assert sorted(winners["model_id"]) == sorted(top["model_id"]), f"round {r}"
        assert set(winners["prize"]) == {pool // 2}
        assert 0 <= pool - sum(int(v) for v in part["prize"]) < 2
    assert sum(int(v) for v in prizes["prize"]) > 0


def test_spam_measures_by_hand(result: SimulationResult, rows: pd.DataFrame) -> None:
    """The spam measures recomputed from the rows with plain integer sums."""
    measures = seed_measures(result, top_share=0.1)
    spam = rows[rows["kind"] == "spam"]
    net = sum(int(p) - int(b) for p, b in zip(spam["payout"], spam["burn"]))
    at_risk = sum(int(v) for v in spam["stake_at_risk"])
    assert measures["spam_staking_net_pct"] == pytest.approx(100 * net / at_risk, rel=1e-12)
    assert measures["spam_staking_tokens"] == pytest.approx(net / TOKEN / len(spam), rel=1e-12)
    prizes = leaderboard_rounds(result.rounds, 0.1).merge(result.models, on="model_id")
    won = sum(int(v) for v, k in zip(prizes["prize"], prizes["kind"]) if k == "spam")
    pool = sum(int(v) for v in result.rounds["payout"])
    assert measures["spam_leaderboard_share_pct"] == pytest.approx(100 * won / pool, rel=1e-12)
    # The worst-case slope: each spammer's deepest balance fall, regressed through 0 on its stake.
    sx = sy = 0.0
    for _, mine in spam.sort_values("round").groupby("model_id"):
        start = int(mine["stake_at_risk"].iloc[0]) / TOKEN
        drop = max_drawdown([start] + [int(v) / TOKEN for v in mine["balance"]])
        sx, sy = sx + start * start, sy + start * drop
    assert measures["spam_worst_drawdown_per_token"] == pytest.approx(sy / sx, rel=1e-12)
    # The stake ladder the slope needs: 10, 20, 40, 80 tokens in turn.
    starts = [int(v) for v in spam[spam["round"] == 1].sort_values("model_id")["stake_at_risk"]]
    assert starts == [s * TOKEN for s in (10, 20, 40, 80, 10, 20, 40, 80)]


def test_twin_measures_by_hand(result: SimulationResult, rows: pd.DataFrame) -> None:
    """Neutral_i is compared with gbt_i: volatility, compounded drawdown and mean of (payout − burn) / at risk."""
    measures = seed_measures(result)
    vol, dd, mean = [], [], []
    for variant in (0, 1):
        returns = {}
        for kind in ("neutral", "gbt"):
            mine = rows[rows["name"] == f"{kind}_{variant}"].sort_values("round")
            returns[kind] = [
                (int(p) - int(b)) / int(a) for p, b, a in zip(mine["payout"], mine["burn"], mine["stake_at_risk"])
            ]
        wealth = {k: [1.0] for k in returns}
        for k, rs in returns.items():
            for x in rs:
                wealth[k].append(wealth[k][-1] * (1 + x))
        falls = {k: max(1 - w / max(ws[: i + 1]) for i, w in enumerate(ws)) for k, ws in wealth.items()}
        vol.append(100 * (pd.Series(returns["neutral"]).std() - pd.Series(returns["gbt"]).std()))
        dd.append(100 * (falls["neutral"] - falls["gbt"]))
        mean.append(100 * (sum(returns["neutral"]) - sum(returns["gbt"])) / ROUNDS)
    assert measures["neutral_vol_diff_pct"] == pytest.approx(sum(vol) / 2, rel=1e-9)
    assert measures["neutral_drawdown_diff_pct"] == pytest.approx(sum(dd) / 2, rel=1e-9, abs=1e-12)
    assert measures["neutral_mean_diff_pct"] == pytest.approx(sum(mean) / 2, rel=1e-9)
    # Meta model against the median non-spam model's mean CORR, and the regime schedule (one flip, at round 11).
    real = rows[rows["kind"] != "spam"].groupby("model_id")["corr"].mean().median()
    assert measures["meta_minus_median"] == pytest.approx(result.meta["meta_corr"].mean() - real)
    assert measures["regime_changes"] == 1.0


def test_meta_similarity_is_one_for_a_copy_and_small_for_noise(rows: pd.DataFrame) -> None:
    """The engine's correlation of each submission with the meta model: consensus copies sit close to it,
    random spam near zero (|ρ| of 2,000 independent rows is below 0.1 with overwhelming probability)."""
    assert rows.loc[rows["kind"] == "consensus", "meta_similarity"].min() > 0.8
    assert rows.loc[rows["kind"] == "spam", "meta_similarity"].abs().max() < 0.1
