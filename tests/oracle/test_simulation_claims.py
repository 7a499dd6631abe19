"""The claims' machinery without a simulation: intervals, conditions, verdicts, the baseline rule, seed lists."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from oracle.simulation.baseline import leaderboard_prizes, winners_count
from oracle.simulation.claims import (
    CLAIM_NAMES,
    CLAIMS,
    MEASURES,
    Condition,
    Interval,
    judge,
    judge_all,
    max_drawdown,
    mean_interval,
)
from oracle.simulation.engine import meta_similarity
from oracle.simulation.seeds import parse_seeds


def test_interval_by_hand() -> None:
    """[1, 2, 3, 4, 5]: mean 3, s = √2.5, t(0.975, 4) = 2.7764451…, half-width 2.7764451·√2.5/√5."""
    interval = mean_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert interval == Interval(3.0, pytest.approx(3.0 - half, rel=1e-12), pytest.approx(3.0 + half, rel=1e-12), 5)
    assert (interval.ci_low, interval.ci_high) == pytest.approx(
        stats.t.interval(0.95, 4, loc=3.0, scale=stats.sem([1, 2, 3, 4, 5])), rel=1e-12
    )


def test_interval_edge_cases() -> None:
    one = mean_interval([0.7])
    assert one.estimate == 0.7 and math.isnan(one.ci_low) and math.isnan(one.ci_high) and one.seeds == 1
    # NaN (a seed without the models a measure needs) is left out, and not counted.
    assert mean_interval([1.0, math.nan, 3.0]) == mean_interval([1.0, 3.0])
    assert mean_interval([1.0, math.nan, 3.0]).seeds == 2
    assert mean_interval([]).seeds == 0 and math.isnan(mean_interval([]).estimate)
    flat = mean_interval([2.0, 2.0, 2.0])
    assert (flat.ci_low, flat.estimate, flat.ci_high) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="level"):
        mean_interval([1.0, 2.0], level=1.0)


def test_interval_covers_the_true_mean_95_percent_of_the_time() -> None:
    """4,000 samples of 20 from N(0.3, 2²): the interval contains 0.3 in 95% of them (±1.1%, three standard errors)."""
    rng = np.random.default_rng(12345)
    samples = rng.normal(0.3, 2.0, size=(4000, 20))
    hits = 0
    for sample in samples:
        interval = mean_interval(sample.tolist())
        hits += interval.ci_low <= 0.3 <= interval.ci_high
    assert abs(hits / 4000 - 0.95) < 3 * math.sqrt(0.95 * 0.05 / 4000)


def test_conditions_are_one_sided_statements_about_the_interval() -> None:
    above, below, not_above = (
        Condition("meta_minus_median", t) for t in ("above_zero", "below_zero", "not_above_zero")
    )
    positive, straddling, negative = Interval(1, 0.5, 1.5, 5), Interval(0.2, -0.1, 0.5, 5), Interval(-1, -1.5, -0.5, 5)
    assert [above.met(i) for i in (positive, straddling, negative)] == [True, False, False]
    assert [below.met(i) for i in (positive, straddling, negative)] == [False, False, True]
    assert [not_above.met(i) for i in (positive, straddling, negative)] == [False, True, True]
    assert above.met(Interval(1.0, math.nan, math.nan, 1)) is None


def _seeds(**columns: list[float]) -> dict[int, dict[str, float]]:
    """Per-seed measures: every measure 0 unless given; seed i takes the i-th value of each given list."""
    n = len(next(iter(columns.values())))
    return {s: {m: (columns[m][s] if m in columns else 0.0) for m in MEASURES} for s in range(n)}


def test_judge_holds_only_when_every_condition_is_met() -> None:
    spam = next(c for c in CLAIMS if c.name == "spam_no_edge")
    good = _seeds(
        spam_staking_net_pct=[-0.2, 0.1, -0.1, 0.05],
        spam_leaderboard_share_pct=[20, 25, 18, 30],
        spam_worst_drawdown_per_token=[0.1, 0.2, 0.15, 0.12],
    )
    assert judge(spam, good).holds is True
    # Spammers clearly ahead under staking: the first condition fails, so the claim does not hold.
    ahead = _seeds(
        spam_staking_net_pct=[1.0, 1.2, 0.9, 1.1],
        spam_leaderboard_share_pct=[20, 25, 18, 30],
        spam_worst_drawdown_per_token=[0.1, 0.2, 0.15, 0.12],
    )
    verdict = judge(spam, ahead)
    assert verdict.holds is False and [m for _, m in verdict.conditions] == [False, True, True]
    assert judge(spam, {0: good[0]}).holds is None


def test_claims_json_entry_has_the_promised_shape() -> None:
    per_seed = _seeds(meta_minus_median=[0.01, 0.02, 0.015], meta_corr=[0.05, 0.06, 0.055])
    claims = judge_all(per_seed)
    assert (
        [c.name for c in claims]
        == list(CLAIM_NAMES)
        == ["spam_no_edge", "neutralisation_lowers_risk", "consensus_low_mmc", "meta_beats_median"]
    )
    entry = claims[-1].to_dict()
    assert {"name", "holds", "estimate", "ci_low", "ci_high", "seeds"} <= set(entry)
    assert entry["name"] == "meta_beats_median" and entry["holds"] is True and entry["seeds"] == 3
    assert entry["estimate"] == pytest.approx(0.015)
    assert entry["ci_low"] == pytest.approx(mean_interval([0.01, 0.02, 0.015]).ci_low)
    assert "+0.0150 (95% CI" in entry["statement"]
    with pytest.raises(ValueError, match="no seeds"):
        judge_all({})


def test_max_drawdown() -> None:
    assert max_drawdown([10, 12, 9, 11, 6, 8]) == 6  # 12 -> 6
    assert max_drawdown([1, 2, 3]) == 0
    assert max_drawdown([]) == 0


def test_leaderboard_prizes() -> None:
    scores = {1: 0.01, 2: 0.05, 3: 0.05, 4: -0.02, 5: math.nan, 6: 0.03}
    # Top 3: 2 and 3 (tied, both in), then 6; 100 // 3 = 33 each, one unit left in the pool.
    assert leaderboard_prizes(scores, 100, 3) == {1: 0, 2: 33, 3: 33, 4: 0, 5: 0, 6: 33}
    # A tie at the edge goes to the lower id; an unscored model never wins, even with room.
    assert leaderboard_prizes(scores, 10, 1) == {1: 0, 2: 10, 3: 0, 4: 0, 5: 0, 6: 0}
    assert sum(leaderboard_prizes(scores, 7, 10).values()) == 0  # 7 // 10 = 0 per winner
    assert leaderboard_prizes({1: 0.1}, 10**30 + 1, 1) == {1: 10**30 + 1}
    with pytest.raises(ValueError, match="pool"):
        leaderboard_prizes(scores, -1, 1)
    with pytest.raises(ValueError, match="top"):
        leaderboard_prizes(scores, 1, 0)
    assert [winners_count(n, 0.1) for n in (1, 9, 10, 11, 50, 51)] == [1, 1, 1, 2, 5, 6]
    with pytest.raises(ValueError, match="top_share"):
        winners_count(10, 0.0)


def test_meta_similarity_of_a_copy_and_its_reverse() -> None:
    ids = [f"id{i}" for i in range(50)]
    meta = pd.Series(np.linspace(0.1, 1.0, 50) ** 2, index=ids)
    predictions = pd.DataFrame({"id": ids[::-1], "1": meta[ids[::-1]].to_numpy(), "2": -meta[ids[::-1]].to_numpy()})
    similarity = meta_similarity(predictions, meta)
    assert similarity[1] == pytest.approx(1.0) and similarity[2] == pytest.approx(-1.0)


def test_parse_seeds() -> None:
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("7") == [7]
    assert parse_seeds("1, 5,7") == [1, 5, 7]
    assert parse_seeds("0-2,8,10-11") == [0, 1, 2, 8, 10, 11]
    for bad, message in (
        ("", "not a seed"),
        ("3-1", "ends before"),
        ("1,x", "'x' is not a seed"),
        ("-1", "not a seed"),
        ("1,0-2", "listed twice"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_seeds(bad)
