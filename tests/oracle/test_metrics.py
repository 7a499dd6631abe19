"""oracle.scoring.metrics against numerai-tools itself, on random and adversarial inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numerai_tools import scoring as nt

from oracle.scoring.metrics import score_matrix, tie_kept_gaussian

TOL = 1e-9


def reference(preds: pd.DataFrame, targets: pd.Series, stakes: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """What a numerai-tools user writes: meta model by stake_weight, then each model on its own."""
    preds = preds.sort_index()
    staked = stakes[stakes > 0].astype(float)
    meta = nt.stake_weight(nt.gaussian(nt.tie_kept_rank(preds)), staked)
    rows = {}
    for model in preds.columns:
        own = preds[[model]].dropna()
        corr = nt.numerai_corr(own, targets)[model]
        mmc = nt.correlation_contribution(own, meta, targets)[model]
        rows[model] = (corr, mmc)
    return pd.DataFrame(rows, index=["corr", "mmc"]).T, meta


def assert_matches(preds: pd.DataFrame, targets: pd.Series, stakes: pd.Series, block: int = 7) -> None:
    ref, meta = reference(preds, targets, stakes)
    got = score_matrix(preds, targets, stakes, block=block)
    assert got.models == list(preds.columns)
    np.testing.assert_allclose(got.corr, ref["corr"].to_numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(got.mmc, ref["mmc"].to_numpy(), rtol=0, atol=TOL)
    np.testing.assert_array_equal(got.meta_model.reindex(meta.index).to_numpy(), meta.to_numpy())


def frame(values: np.ndarray, prefix: str = "m") -> pd.DataFrame:
    ids = [f"id{i:05d}" for i in range(values.shape[0])]
    return pd.DataFrame(values, index=ids, columns=[f"{prefix}{j}" for j in range(values.shape[1])])


def target(values: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(values, index=index, name="target")


rng = np.random.default_rng(20240601)


def test_tie_kept_gaussian_equals_numerai_tools_bitwise() -> None:
    x = frame(rng.integers(0, 7, (300, 5)) / 6)
    ours = tie_kept_gaussian(x.to_numpy().T).T
    theirs = nt.gaussian(nt.tie_kept_rank(x)).to_numpy()
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("n,k", [(5, 1), (5, 4), (60, 1), (400, 23)])
def test_random_continuous(n: int, k: int) -> None:
    p = frame(rng.random((n, k)))
    t = target(rng.integers(0, 5, n) / 4, p.index)
    s = pd.Series(rng.integers(1, 1000, k), index=p.columns)
    assert_matches(p, t, s)


def test_heavy_ties_and_all_but_one_equal() -> None:
    n = 250
    p = frame(rng.integers(0, 3, (n, 6)) / 2)
    p["m6"] = 0.5
    p.iloc[17, 6] = 0.7  # all but one equal
    p["m7"] = rng.random(n).round(1)
    t = target(rng.integers(0, 5, n) / 4, p.index)
    s = pd.Series([5, 0, 3, 9, 1, 2, 8, 4], index=p.columns)
    assert_matches(p, t, s)


def test_targets_outside_unit_interval_are_not_rescaled() -> None:
    p = frame(rng.random((120, 5)))
    t = target(rng.standard_normal(120) * 0.1, p.index)
    assert_matches(p, t, pd.Series([1, 2, 3, 4, 5], index=p.columns))


def test_80_percent_target_overlap() -> None:
    n = 500
    p = frame(rng.random((n, 9)).round(3))
    t = target(rng.integers(0, 5, n) / 4, p.index)
    t.iloc[rng.choice(n, n // 5, replace=False)] = np.nan
    assert_matches(p, t, pd.Series(rng.integers(0, 50, 9), index=p.columns))


def test_targets_for_ids_not_predicted_shift_only_the_corr_centring() -> None:
    p = frame(rng.random((200, 4)))
    extra = pd.Series(rng.integers(0, 5, 30) / 4, index=[f"x{i}" for i in range(30)])
    t = pd.concat([target(rng.integers(0, 5, 200) / 4, p.index), extra]).rename("target")
    assert_matches(p, t, pd.Series([3, 1, 0, 2], index=p.columns))


def test_partial_models_scored_over_their_own_ids() -> None:
    n = 300
    p = frame(rng.random((n, 6)))
    p.iloc[rng.choice(n, 25, replace=False), 2] = np.nan
    p.iloc[rng.choice(n, 40, replace=False), 4] = np.nan
    t = target(rng.integers(0, 5, n) / 4, p.index)
    t.iloc[:20] = np.nan
    assert_matches(p, t, pd.Series([1, 2, 3, 4, 0, 6], index=p.columns))


def test_zero_stake_models_stay_out_of_the_meta_model() -> None:
    p = frame(rng.random((150, 5)))
    t = target(rng.integers(0, 5, 150) / 4, p.index)
    s = pd.Series([0, 0, 7, 0, 0], index=p.columns)
    got = score_matrix(p, t, s)
    # With one staked model the meta model is that model, so its MMC is 0 (up to rounding).
    assert abs(got.mmc[2]) < 1e-12
    assert_matches(p, t, s)


def test_stake_order_defines_meta_model_summation() -> None:
    p = frame(rng.random((100, 6)))
    t = target(rng.integers(0, 5, 100) / 4, p.index)
    s = pd.Series([5, 1, 2, 9, 3, 4], index=p.columns[::-1])
    assert_matches(p, t, s)


def test_constant_column_gives_nan_corr_like_numerai_tools() -> None:
    p = frame(rng.random((50, 3)))
    p["m1"] = 0.5
    t = target(rng.integers(0, 5, 50) / 4, p.index)
    got = score_matrix(p, t, pd.Series([1, 1, 1], index=p.columns))
    ref = nt.numerai_corr(p[["m1"]], t)["m1"]
    assert np.isnan(ref) and np.isnan(got.corr[1])


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")  # numerai-tools' 0/0
def test_constant_meta_model_gives_zero_mmc_by_decision() -> None:
    # Only a constant model is staked, so the meta model is exactly 0 everywhere.
    p = frame(np.column_stack([np.full(80, 0.3), rng.random(80), rng.random(80)]))
    t = target(rng.integers(0, 5, 80) / 4, p.index)
    stakes = pd.Series([4, 0, 0], index=p.columns)
    got = score_matrix(p, t, stakes)
    np.testing.assert_array_equal(got.meta_model.to_numpy(), np.zeros(80))
    ref, _ = reference(p, t, stakes)
    assert ref["mmc"].isna().all()
    np.testing.assert_array_equal(got.mmc, [0.0, 0.0, 0.0])


def test_block_size_and_threads_do_not_change_results() -> None:
    p = frame(rng.random((120, 13)).round(2))
    t = target(rng.integers(0, 5, 120) / 4, p.index)
    s = pd.Series(rng.integers(0, 9, 13), index=p.columns)
    a = score_matrix(p, t, s, block=1, threads=1)
    b = score_matrix(p, t, s, block=64, threads=2)
    np.testing.assert_array_equal(a.corr, b.corr)
    np.testing.assert_array_equal(a.mmc, b.mmc)


def test_feature_metrics_match_numerai_tools() -> None:
    n = 300
    p = frame(rng.random((n, 4)))
    f = pd.DataFrame(rng.integers(0, 5, (n, 6)) / 4, index=p.index, columns=[f"f{i}" for i in range(6)])
    p["m0"] = (0.7 * f["f2"] + 0.3 * rng.random(n)).to_numpy()  # strongly exposed model
    t = target(rng.integers(0, 5, n) / 4, p.index)
    got = score_matrix(p, t, pd.Series([1, 2, 3, 4], index=p.columns), features=f)
    assert got.fnc is not None and got.max_feature_exposure is not None
    ref_fnc = nt.feature_neutral_corr(p, f, t)
    np.testing.assert_allclose(got.fnc, ref_fnc.to_numpy(), rtol=0, atol=TOL)
    ref_exp = [nt.max_feature_correlation(p[m], f)[1] for m in p.columns]
    np.testing.assert_allclose(got.max_feature_exposure, ref_exp, rtol=0, atol=TOL)
    assert got.max_feature_exposure[0] > 0.8


def test_missing_stakes_model_is_an_error() -> None:
    p = frame(rng.random((20, 2)))
    with pytest.raises(ValueError, match="nope"):
        score_matrix(p, target(rng.random(20), p.index), pd.Series({"nope": 1}))


@st.composite
def rounds(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    n = draw(st.integers(5, 60))
    k = draw(st.integers(1, 6))
    levels = draw(st.sampled_from([2, 3, 5, 1000]))
    seed = draw(st.integers(0, 2**32 - 1))
    r = np.random.default_rng(seed)
    values = r.integers(0, levels, (n, k)) / (levels - 1)
    # Guarantee no constant column: numerai-tools and we both give NaN there (tested above).
    values[0, :] = 0.0
    values[1, :] = 1.0
    stakes = pd.Series(r.integers(0, 4, k), index=[f"m{j}" for j in range(k)])
    if stakes.sum() == 0:
        stakes.iloc[0] = 1
    t_levels = draw(st.sampled_from(["unit", "normal"]))
    t = r.integers(0, 5, n) / 4 if t_levels == "unit" else r.standard_normal(n)
    t[0], t[1] = (0.0, 1.0) if t_levels == "unit" else (-1.0, 1.0)
    p = frame(values)
    return p, target(t, p.index), stakes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rounds())
def test_hypothesis_matches_numerai_tools(case: tuple[pd.DataFrame, pd.Series, pd.Series]) -> None:
    p, t, s = case
    ref, _ = reference(p, t, s)
    got = score_matrix(p, t, s, block=3)
    # Where numerai-tools is defined, we agree to 1e-9; where it is NaN (a constant target or
    # meta model over tiny data) we are NaN too for CORR.
    both = ~np.isnan(ref["corr"].to_numpy())
    np.testing.assert_allclose(got.corr[both], ref["corr"].to_numpy()[both], rtol=0, atol=TOL)
    ref_mmc = ref["mmc"].to_numpy()
    defined = ~np.isnan(ref_mmc)
    np.testing.assert_allclose(got.mmc[defined], ref_mmc[defined], rtol=0, atol=TOL)
    assert (got.mmc[~defined] == 0).all()


def test_no_target_overlap_is_an_error() -> None:
    p = frame(rng.random((10, 2)))
    t = pd.Series(0.5, index=[f"other{i}" for i in range(10)], name="target")
    with pytest.raises(ValueError, match="no prediction id has a target"):
        score_matrix(p, t, pd.Series({"m0": 1}))
