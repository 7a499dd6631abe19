"""Exact integer payouts: rounding toward zero, clip, payout factor, huge stakes, exact totals."""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.scoring.params import RoundParams
from oracle.scoring.payouts import compute_payouts, model_amount, payout_factor, payout_score, scale_payouts

PARAMS = RoundParams(corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=10**30)


def decimal_amount(stake: int, score: float, factor: Fraction, clip: float) -> int:
    """Independent rule in 200-digit Decimal arithmetic (every float is exact in Decimal)."""
    with localcontext() as ctx:
        ctx.prec = 200
        x = Decimal(score) * Decimal(factor.numerator) / Decimal(factor.denominator)
        bound = Decimal(repr(clip))
        x = max(-bound, min(bound, x))
        return int((Decimal(stake) * x).quantize(Decimal(1), rounding=ROUND_DOWN))


def test_hand_computed_small_amounts() -> None:
    # 0.5*0.02 + 2*0.01 = 0.03 (as floats) on a stake of 1000 -> 29 or 30 depending on the float;
    # the exact value of the double nearest 0.03 is 0.0299999999999999988897..., so trunc gives 29.
    score = payout_score(0.02, 0.01, PARAMS)
    assert Fraction(score) < Fraction(3, 100)
    assert model_amount(1000, score, Fraction(1), 0.05) == 29
    assert model_amount(1000, -score, Fraction(1), 0.05) == -29  # toward zero, not floor (-30)


def test_clip_bounds_payout_and_burn() -> None:
    # clip 0.05 means exactly 1/20 (not the double 0.0500000000000000027...), so 5% of 10**20 is 5*10**18.
    assert model_amount(10**20, 0.9, Fraction(1), 0.05) == 5 * 10**18
    assert model_amount(10**20, -0.9, Fraction(1), 0.05) == -5 * 10**18
    # Unclipped: the double nearest 0.9 is 0.90000000000000002220..., times 10**20, truncated.
    assert model_amount(10**20, 0.9, Fraction(1), 1.0) == 90000000000000002220


def test_clip_of_exactly_one_allows_full_stake() -> None:
    assert model_amount(12345, 1.0, Fraction(1), 1.0) == 12345
    assert model_amount(12345, -3.0, Fraction(1), 1.0) == -12345


def test_payout_factor() -> None:
    assert payout_factor(100, 50) == 1
    assert payout_factor(100, 400) == Fraction(1, 4)
    assert payout_factor(100, 0) == 1
    # factor scales the score before the clip: 0.04 * 1/4 = 0.01 of the stake.
    assert model_amount(10**6, 0.04, Fraction(1, 4), 0.05) == int(Fraction(0.04) / 4 * 10**6)


def test_huge_stakes_exact_where_floats_fail() -> None:
    stake = 10**27 + 7
    score = 0.0123456789
    amount = model_amount(stake, score, Fraction(1), 0.05)
    assert amount == decimal_amount(stake, score, Fraction(1), 0.05)
    assert amount != int(stake * score)  # the float product loses the low digits


def test_zero_stake_gets_nothing_even_with_nan_score() -> None:
    assert model_amount(0, float("nan"), Fraction(1), 0.05) == 0
    r = compute_payouts({"1": 0}, {"1": float("nan")}, {"1": float("nan")}, PARAMS)
    assert (r.models[0].payout, r.models[0].burn) == (0, 0)


def test_ineligible_models_keep_stake_in_total_but_get_nothing() -> None:
    params = RoundParams(corr_weight=1.0, mmc_weight=0.0, clip=0.05, payout_threshold=10**6)
    stakes = {"1": 10**6, "2": 3 * 10**6}
    r = compute_payouts(stakes, {"1": 0.04, "2": -0.04}, {"1": 0.0, "2": 0.0}, params, ineligible=["2"])
    assert r.total_stake_at_risk == 4 * 10**6
    assert r.payout_factor == Fraction(1, 4)
    assert r.models[1].payout == 0 and r.models[1].burn == 0
    # 0.04 is the double 0.040000000000000000832..., a quarter of it on 10**6 units truncates to 10000.
    assert r.models[0].payout == 10000
    assert (r.total_payout, r.total_burn) == (10000, 0)


def test_nan_score_for_eligible_staked_model_is_an_error() -> None:
    with pytest.raises(ValueError, match="model 7"):
        compute_payouts({"7": 10}, {"7": float("nan")}, {"7": 0.0}, PARAMS)


def test_negative_or_non_int_stake_rejected() -> None:
    with pytest.raises(ValueError, match="model 3"):
        compute_payouts({"3": -1}, {"3": 0.0}, {"3": 0.0}, PARAMS)
    with pytest.raises(ValueError, match="model 3"):
        compute_payouts({"3": 1.5}, {"3": 0.0}, {"3": 0.0}, PARAMS)  # type: ignore[dict-item]


scores = st.floats(min_value=-2, max_value=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10**28), scores, scores), min_size=1, max_size=12),
    st.integers(0, 10**29),
    st.sampled_from([0.05, 0.25, 1.0, 1e-9]),
)
def test_amounts_match_independent_decimal_rule_and_totals_are_exact(
    rows: list[tuple[int, float, float]], threshold: int, clip: float
) -> None:
    params = RoundParams(corr_weight=0.5, mmc_weight=2.0, clip=clip, payout_threshold=threshold)
    stakes = {str(i): s for i, (s, _, _) in enumerate(rows)}
    corr = {str(i): c for i, (_, c, _) in enumerate(rows)}
    mmc = {str(i): m for i, (_, _, m) in enumerate(rows)}
    r = compute_payouts(stakes, corr, mmc, params)
    total = sum(stakes.values())
    factor = Fraction(1) if total == 0 else min(Fraction(1), Fraction(threshold, total))
    assert r.payout_factor == factor
    for p in r.models:
        expected = decimal_amount(p.stake_at_risk, 0.5 * corr[p.model] + 2.0 * mmc[p.model], factor, clip)
        assert p.payout - p.burn == expected
        assert p.payout >= 0 and p.burn >= 0 and min(p.payout, p.burn) == 0
        assert max(p.payout, p.burn) <= p.stake_at_risk * Fraction(repr(clip))
        assert type(p.payout) is int and type(p.burn) is int
    assert r.total_payout == sum(p.payout for p in r.models)
    assert r.total_burn == sum(p.burn for p in r.models)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.fractions(min_value=0, max_value=1, max_denominator=10**30),
    st.sampled_from([0.05, 0.25, 1.0, 1e-9, 0.1, 0.3]),
)
def test_integer_rule_is_the_rational_rule(stake: int, score: float, factor: Fraction, clip: float) -> None:
    """The integer arithmetic equals the rational formula it replaces, clip edges included."""
    bound = Fraction(repr(clip))
    expected = math.trunc(stake * max(-bound, min(bound, Fraction(score) * factor)))
    assert model_amount(stake, score, factor, clip) == expected
    at_edge = float(bound / factor) if factor else 0.0  # a score right at the clip, after the factor
    edge = math.trunc(stake * max(-bound, min(bound, Fraction(at_edge) * factor)))
    assert model_amount(stake, at_edge, factor, clip) == edge
    assert model_amount(stake, -at_edge, factor, clip) == -edge


def test_payouts_within_the_limit_are_unchanged_and_burns_never_scale() -> None:
    stakes = {"1": 10**21, "2": 10**21, "3": 10**21}
    corr = {"1": 0.04, "2": 0.02, "3": -0.04}
    mmc = {"1": 0.0, "2": 0.0, "3": 0.0}
    unscaled = compute_payouts(stakes, corr, mmc, PARAMS)
    roomy = compute_payouts(stakes, corr, mmc, PARAMS, payout_limit=unscaled.total_payout)
    assert [m.payout for m in roomy.models] == [m.payout for m in unscaled.models]
    tight = compute_payouts(stakes, corr, mmc, PARAMS, payout_limit=unscaled.total_payout // 3)
    assert tight.unscaled_payout == unscaled.total_payout
    assert tight.total_payout <= unscaled.total_payout // 3
    assert [m.burn for m in tight.models] == [m.burn for m in unscaled.models]
    # floor(payout * limit / total), model by model.
    for before, after in zip(unscaled.models, tight.models):
        assert after.payout == before.payout * (unscaled.total_payout // 3) // unscaled.total_payout


def test_a_zero_limit_pays_nothing_and_a_negative_one_is_refused() -> None:
    assert scale_payouts([5, 7], 0) == [0, 0]
    assert scale_payouts([5, 7], None) == [5, 7]
    with pytest.raises(ValueError, match="payout limit"):
        scale_payouts([5, 7], -1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10**27), min_size=1, max_size=30), st.integers(0, 10**28))
def test_scaled_payouts_fit_the_limit_and_are_the_exact_floor(payouts: list[int], limit: int) -> None:
    scaled = scale_payouts(payouts, limit)
    total = sum(payouts)
    assert sum(scaled) <= max(limit, 0) or total <= limit
    assert all(0 <= after <= before for before, after in zip(payouts, scaled))
    if total <= limit:
        assert scaled == payouts
    else:
        assert scaled == [Fraction(p * limit, total).__floor__() for p in payouts]
        assert sum(scaled) <= limit < total
