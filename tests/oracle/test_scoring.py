"""score_round end to end: validation + numerai-tools metrics + exact payouts, and file round trips."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numerai_tools import scoring as nt

from oracle.scoring.params import RoundParams
from oracle.scoring.payouts import model_amount, payout_factor
from oracle.scoring.pipeline import score_round, scores_from_table
from oracle.scoring.tables import load_table
from oracle.scoring.validation import TableError, validate_predictions

PARAMS = RoundParams(corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=10**27)
rng = np.random.default_rng(99)


def make_round(n: int = 300, k: int = 6) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ids = [f"r{i:04d}" for i in range(n)]
    models = [str(100 + j) for j in range(k)]
    preds = pd.DataFrame(rng.random((n, k)), columns=models)
    preds.insert(0, "id", ids)
    targets = pd.DataFrame({"id": ids, "target": rng.integers(0, 5, n) / 4})
    stakes = pd.DataFrame({"model": models, "stake": [str(10**26 * (j + 1) + j) for j in range(k)]})
    return preds, targets, stakes


def test_scores_match_numerai_tools_and_payout_rule() -> None:
    preds, targets, stakes = make_round()
    preds.loc[5, "102"] = 1.7  # invalid model: not scored, not paid, not burned
    stakes.loc[4, "stake"] = "0"  # zero stake: scored, out of the meta model, 0/0
    result = score_round(preds, targets, stakes, PARAMS)

    assert [(e.model, e.rule) for e in result.errors] == [("102", "out_of_range")]
    s = result.scores.set_index("model")
    assert list(s.index) == [str(100 + j) for j in range(6)]
    assert not s.at["102", "valid"] and s.at["102", "payout"] == 0 and s.at["102", "burn"] == 0

    valid = [m for m in s.index if m != "102"]
    p = preds.set_index("id")[valid].sort_index()
    t = targets.set_index("id")["target"]
    stake_int = {m: int(v) for m, v in zip(stakes["model"], stakes["stake"])}
    weights = pd.Series({m: float(stake_int[m]) for m in valid if stake_int[m] > 0})
    meta = nt.stake_weight(nt.gaussian(nt.tie_kept_rank(p)), weights)
    corr = nt.numerai_corr(p, t)
    mmc = nt.correlation_contribution(p, meta, t)
    np.testing.assert_allclose(s.loc[valid, "corr"].astype(float), corr[valid], rtol=0, atol=1e-9)
    np.testing.assert_allclose(s.loc[valid, "mmc"].astype(float), mmc[valid], rtol=0, atol=1e-9)

    total = sum(stake_int.values())
    assert result.total_stake_at_risk == total
    assert result.payout_factor == payout_factor(PARAMS.payout_threshold, total) == Fraction(10**27, total)
    for m in valid:
        amount = model_amount(stake_int[m], 0.5 * s.at[m, "corr"] + 2.0 * s.at[m, "mmc"], result.payout_factor, 0.05)
        assert (s.at[m, "payout"], s.at[m, "burn"]) == (max(amount, 0), max(-amount, 0))
    assert s.at["104", "payout"] == 0 and s.at["104", "burn"] == 0
    assert result.total_payout == sum(s["payout"]) and result.total_burn == sum(s["burn"])
    assert result.total_payout + result.total_burn > 0


def test_amounts_beyond_int64_survive_parquet_and_csv(tmp_path: Path) -> None:
    preds, targets, stakes = make_round(80, 3)
    result = score_round(preds, targets, stakes, PARAMS)
    assert max(result.scores["stake_at_risk"]) > 2**63
    for name in ("scores.parquet", "scores.csv"):
        path = tmp_path / name
        result.save(path)
        back = scores_from_table(load_table(path))
        assert list(back["stake_at_risk"]) == list(result.scores["stake_at_risk"])
        assert list(back["payout"]) == list(result.scores["payout"])
        assert list(back["burn"]) == list(result.scores["burn"])
        assert all(type(v) is int for v in back["burn"])


def test_load_table_reads_csv_ids_and_stakes_as_text(tmp_path: Path) -> None:
    path = tmp_path / "stakes.csv"
    path.write_text("model,stake\n007,123456789012345678901234567890\n")
    frame = load_table(path)
    assert frame.at[0, "model"] == "007" and frame.at[0, "stake"] == "123456789012345678901234567890"
    with pytest.raises(ValueError, match="unknown table format"):
        load_table(tmp_path / "stakes.xlsx")


def test_bad_model_never_costs_valid_models_their_scores() -> None:
    preds, targets, stakes = make_round(120, 4)
    clean = score_round(preds, targets, stakes, PARAMS).scores.set_index("model")
    preds["999"] = "oops"
    stakes = pd.concat([stakes, pd.DataFrame({"model": ["999"], "stake": ["5"]})], ignore_index=True)
    dirty = score_round(preds, targets, stakes, PARAMS)
    assert [(e.model, e.rule) for e in dirty.errors] == [("999", "non_numeric")]
    d = dirty.scores.set_index("model")
    # The bad model is out of the meta model, so every valid score is unchanged.
    pd.testing.assert_series_equal(d.loc[clean.index, "mmc"], clean["mmc"])
    assert d.at["999", "payout"] == 0 and d.at["999", "burn"] == 0 and d.at["999", "stake_at_risk"] == 5


def test_staked_model_without_submission_keeps_stake_in_total() -> None:
    preds, targets, stakes = make_round(60, 2)
    stakes = pd.concat([stakes, pd.DataFrame({"model": ["777"], "stake": [10**26]})], ignore_index=True)
    result = score_round(preds, targets, stakes, PARAMS)
    row = result.scores.set_index("model").loc["777"]
    assert not row["valid"] and row["payout"] == 0 and row["burn"] == 0
    assert result.total_stake_at_risk == sum(int(v) for v in stakes["stake"])


def test_table_error_propagates() -> None:
    preds, targets, stakes = make_round(30, 2)
    with pytest.raises(TableError, match="missing_id_column"):
        score_round(preds.drop(columns=["id"]), targets, stakes, PARAMS)


def test_features_add_fnc_and_exposure() -> None:
    preds, targets, stakes = make_round(150, 3)
    feats = pd.DataFrame(rng.integers(0, 5, (150, 4)) / 4, columns=list("abcd"))
    feats.insert(0, "id", preds["id"])
    result = score_round(preds, targets, stakes, PARAMS, features=feats)
    s = result.scores.set_index("model")
    p = preds.set_index("id")
    f = feats.set_index("id")
    t = targets.set_index("id")["target"]
    np.testing.assert_allclose(s["fnc"].astype(float), nt.feature_neutral_corr(p, f, t), rtol=0, atol=1e-9)
    exposure = [nt.max_feature_correlation(p[m], f)[1] for m in p.columns]
    np.testing.assert_allclose(s["max_feature_exposure"].astype(float), exposure, rtol=0, atol=1e-9)


def test_score_round_is_deterministic() -> None:
    preds, targets, stakes = make_round(100, 5)
    a = score_round(preds, targets, stakes, PARAMS)
    b = score_round(preds.sample(frac=1, random_state=1), targets.iloc[::-1], stakes, PARAMS)
    pd.testing.assert_frame_equal(a.scores, b.scores, check_exact=True)
    assert (a.total_payout, a.total_burn) == (b.total_payout, b.total_burn)


def test_min_live_share_below_one_scores_partial_models_like_numerai_tools() -> None:
    preds, targets, stakes = make_round(200, 4)
    preds.loc[[3, 50, 77], "101"] = np.nan  # 98.5% coverage
    params = RoundParams(corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=10**27, min_live_share=0.95)
    result = score_round(preds, targets, stakes, params)
    assert result.errors == []
    s = result.scores.set_index("model")
    p = preds.set_index("id").sort_index()
    t = targets.set_index("id")["target"]
    weights = pd.Series({m: float(v) for m, v in zip(stakes["model"], stakes["stake"])})
    meta = nt.stake_weight(nt.gaussian(nt.tie_kept_rank(p)), weights)
    own = p[["101"]].dropna()
    assert abs(s.at["101", "corr"] - nt.numerai_corr(own, t)["101"]) <= 1e-9
    assert abs(s.at["101", "mmc"] - nt.correlation_contribution(own, meta, t)["101"]) <= 1e-9
    strict = score_round(preds, targets, stakes, PARAMS)
    assert [(e.model, e.rule) for e in strict.errors] == [("101", "nan")]


messy_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "x", "0.5", "1e400", "-0", "NaN", " 0.3 "]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.lists(messy_cells, min_size=3, max_size=3), min_size=1, max_size=8),
    st.sampled_from(["csv", "parquet"]),
    st.booleans(),
)
def test_fuzzed_files_load_and_validate_with_documented_errors_only(
    tmp_path: Path, rows: list[list[object]], kind: str, with_id: bool
) -> None:
    live = [f"r{i}" for i in range(len(rows))]
    frame = pd.DataFrame(rows, columns=["id", "7", "8"]).astype(str)
    frame["id"] = live if with_id else frame["id"]
    path = tmp_path / f"p.{kind}"
    if kind == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    loaded = load_table(path)
    try:
        result = validate_predictions(loaded, live, staked_models=["7", "8"])
    except TableError as exc:
        assert exc.errors
        return
    assert set(result.matrix.columns) | result.rejected == {"7", "8"}
    finite = result.matrix.to_numpy()
    assert ((finite >= 0) & (finite <= 1)).all()
