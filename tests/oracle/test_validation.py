"""Every validation rule names the model, the ids and the rule; valid models are never lost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracle.scoring.params import ParamsError, RoundParams
from oracle.scoring.stakes import validate_stakes
from oracle.scoring.tables import combine_model_files
from oracle.scoring.targets import validate_targets
from oracle.scoring.validation import PredictionError, TableError, validate_predictions

LIVE = [f"id{i}" for i in range(20)]
rng = np.random.default_rng(7)


def table(**models: object) -> pd.DataFrame:
    data = {"id": LIVE}
    data.update({"good": rng.random(len(LIVE))})
    data.update(models)  # type: ignore[arg-type]
    return pd.DataFrame(data)


def only(errors: list[PredictionError], model: str | None) -> PredictionError:
    hits = [e for e in errors if e.model == model]
    assert len(hits) == 1, errors
    return hits[0]


def column(**cells: float) -> list[float]:
    values = list(rng.random(len(LIVE)))
    for key, v in cells.items():
        values[int(key[1:])] = v
    return values


@pytest.mark.parametrize(
    "cells,rule,bad_id",
    [
        ({"i3": np.nan}, "nan", "id3"),
        ({"i4": np.inf}, "inf", "id4"),
        ({"i5": -np.inf}, "inf", "id5"),
        ({"i6": 1.5}, "out_of_range", "id6"),
        ({"i7": -0.01}, "out_of_range", "id7"),
    ],
)
def test_bad_cells_drop_only_that_model(cells: dict[str, float], rule: str, bad_id: str) -> None:
    result = validate_predictions(table(bad=column(**cells)), LIVE)
    err = only(result.errors, "bad")
    assert err.rule == rule and bad_id in err.ids
    assert "bad" in str(err) and rule in str(err) and bad_id in str(err)
    assert list(result.matrix.columns) == ["good"]
    assert result.matrix["good"].notna().all()


def test_constant_column() -> None:
    result = validate_predictions(table(flat=[0.5] * len(LIVE)), LIVE)
    assert only(result.errors, "flat").rule == "constant"
    assert list(result.matrix.columns) == ["good"]


def test_non_numeric_and_boolean_columns() -> None:
    words = column()
    words[2] = "high"  # type: ignore[call-overload]
    result = validate_predictions(table(words=words, flags=[True, False] * 10), LIVE)
    assert only(result.errors, "words").rule == "non_numeric"
    assert "id2" in only(result.errors, "words").ids
    assert only(result.errors, "flags").rule == "non_numeric"
    assert list(result.matrix.columns) == ["good"]


def test_numeric_strings_are_accepted() -> None:
    result = validate_predictions(table(text=[str(v) for v in column()]), LIVE)
    assert result.errors == []
    assert result.matrix["text"].dtype == np.float64


def test_missing_ids_and_min_live_share() -> None:
    t = table(other=column()).iloc[2:]  # ids 0 and 1 absent for every model
    strict = validate_predictions(t, LIVE, min_live_share=1.0)
    assert {e.rule for e in strict.errors} == {"missing_ids"}
    assert {"id0", "id1"} <= set(only(strict.errors, "other").ids)
    assert strict.matrix.shape[1] == 0
    lenient = validate_predictions(t, LIVE, min_live_share=0.9)
    assert lenient.errors == []
    assert lenient.matrix.loc[["id0", "id1"]].isna().all().all()  # not predicted -> NaN


def test_nan_allowed_above_min_live_share() -> None:
    result = validate_predictions(table(part=column(i0=np.nan)), LIVE, min_live_share=0.9)
    assert result.errors == []
    assert np.isnan(result.matrix.at["id0", "part"])


def test_unknown_ids_are_reported_and_dropped() -> None:
    t = pd.concat([table(), pd.DataFrame({"id": ["zz"], "good": [0.3]})], ignore_index=True)
    result = validate_predictions(t, LIVE)
    err = only(result.errors, None)
    assert err.rule == "unknown_ids" and err.ids == ("zz",)
    assert "zz" not in result.matrix.index and list(result.matrix.columns) == ["good"]


def test_no_stake() -> None:
    result = validate_predictions(table(ghost=column()), LIVE, staked_models=["good"])
    assert only(result.errors, "ghost").rule == "no_stake"
    assert list(result.matrix.columns) == ["good"]


@pytest.mark.parametrize(
    "frame,rule",
    [
        (pd.DataFrame({"ident": LIVE, "m": np.linspace(0, 1, 20)}), "missing_id_column"),
        (pd.DataFrame({"id": LIVE[:19] + ["id0"], "m": np.linspace(0, 1, 20)}), "duplicate_ids"),
        (pd.DataFrame({"id": ["a", "b"], "m": [0.1, 0.2]}), "empty"),
    ],
)
def test_table_level_errors(frame: pd.DataFrame, rule: str) -> None:
    with pytest.raises(TableError) as info:
        validate_predictions(frame, LIVE)
    assert rule in {e.rule for e in info.value.errors}
    assert rule in str(info.value)


def test_duplicate_model_columns() -> None:
    frame = pd.DataFrame([[LIVE[i], 0.1 * (i % 9), 0.2] for i in range(20)], columns=["id", "m", "m"])
    with pytest.raises(TableError, match="duplicate_models"):
        validate_predictions(frame, LIVE)


def test_duplicate_ids_error_names_the_id() -> None:
    with pytest.raises(TableError) as info:
        validate_predictions(pd.DataFrame({"id": LIVE[:19] + ["id4"], "m": np.linspace(0, 1, 20)}), LIVE)
    assert info.value.errors[0].ids == ("id4",)


def test_per_model_files() -> None:
    files = {
        "a": pd.DataFrame({"id": LIVE, "prediction": column()}),
        "b": pd.DataFrame({"id": LIVE[:19] + ["id0"], "prediction": column()}),
        "c": pd.DataFrame({"row": LIVE, "prediction": column()}),
    }
    merged, errors = combine_model_files(files)
    assert {(e.model, e.rule) for e in errors} == {("b", "duplicate_ids"), ("c", "missing_id_column")}
    result = validate_predictions(merged, LIVE)
    assert list(result.matrix.columns) == ["a"] and result.errors == []


def test_targets_rules() -> None:
    t = pd.DataFrame({"id": LIVE + ["stranger"], "target": [0.5] * 19 + [np.nan, 0.25]})
    values, errors = validate_targets(t, LIVE)
    assert {e.rule for e in errors} == {"target_nan", "target_unknown_ids"}
    assert next(e for e in errors if e.rule == "target_nan").ids == ("id19",)
    assert list(values.index) == LIVE and np.isnan(values["id19"])


@pytest.mark.parametrize(
    "frame,rule",
    [
        (pd.DataFrame({"id": LIVE, "round": 5, "target": 0.5}), "target_round_mismatch"),
        (pd.DataFrame({"id": [f"other{i}" for i in range(20)], "target": 0.5}), "target_ids_mismatch"),
        (pd.DataFrame({"id": LIVE + ["id1"], "target": 0.5}), "target_duplicate_ids"),
        (pd.DataFrame({"id": LIVE, "y": 0.5}), "target_missing_column"),
        (pd.DataFrame({"id": LIVE, "target": ["x"] * 20}), "target_non_numeric"),
        (pd.DataFrame({"id": LIVE, "target": np.nan}), "target_nan"),
    ],
)
def test_targets_table_errors(frame: pd.DataFrame, rule: str) -> None:
    with pytest.raises(TableError) as info:
        validate_targets(frame, LIVE, round_number=4)
    assert rule in {e.rule for e in info.value.errors}


def test_stakes_rules() -> None:
    frame = pd.DataFrame(
        {
            "model": ["1", "2", "3", "4", "4", "5", "6"],
            "stake": [10, -1, "1.5", 3, 4, "123456789012345678901234567890", np.nan],
        }
    )
    stakes, errors = validate_stakes(frame)
    assert stakes == {"1": 10, "5": 123456789012345678901234567890}
    assert {(e.model, e.rule) for e in errors} == {
        ("2", "stake_negative"),
        ("3", "stake_non_integer"),
        ("4", "stake_duplicate"),
        ("6", "stake_non_integer"),
    }


def test_stakes_missing_column() -> None:
    with pytest.raises(TableError, match="stake_missing_column"):
        validate_stakes(pd.DataFrame({"model": ["1"]}))


@pytest.mark.parametrize(
    "data,match",
    [
        ({"corr_weight": 1, "mmc_weight": 1, "clip": 0.05}, "missing key.*payout_threshold"),
        ({"corr_weight": "1", "mmc_weight": 1, "clip": 0.05, "payout_threshold": 1}, "corr_weight: must be a number"),
        ({"corr_weight": -1, "mmc_weight": 1, "clip": 0.05, "payout_threshold": 1}, "corr_weight: must be >= 0"),
        ({"corr_weight": 1, "mmc_weight": 1, "clip": 0, "payout_threshold": 1}, r"clip: must be in \(0, 1\]"),
        ({"corr_weight": 1, "mmc_weight": 1, "clip": 1.5, "payout_threshold": 1}, r"clip: must be in \(0, 1\]"),
        ({"corr_weight": 1, "mmc_weight": 1, "clip": 0.05, "payout_threshold": -3}, "payout_threshold: must be >= 0"),
        (
            {"corr_weight": 1, "mmc_weight": 1, "clip": 0.05, "payout_threshold": 1.5},
            "payout_threshold: must be an integer",
        ),
        ({"corr_weight": 1, "mmc_weight": 1, "clip": 0.05, "payout_threshold": 1, "x": 1}, "unknown key"),
        (
            {"corr_weight": 1, "mmc_weight": 1, "clip": 0.05, "payout_threshold": 1, "min_live_share": 0},
            "min_live_share",
        ),
    ],
)
def test_params_errors(data: dict[str, object], match: str) -> None:
    with pytest.raises(ParamsError, match=match):
        RoundParams.from_dict(data)


def test_params_round_trip_json(tmp_path: object) -> None:
    import json
    from pathlib import Path

    p = RoundParams(
        corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=10**30, min_live_share=0.9, round_number=3
    )
    path = Path(str(tmp_path)) / "params.json"
    path.write_text(json.dumps(p.to_dict()))
    assert RoundParams.from_json(path) == p
    assert p.to_dict()["payout_threshold"] == str(10**30)


bad_cells = st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 2.0, "x", None, True, 0.5, 0.0, 1.0])


@st.composite
def messy_tables(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 12))
    k = draw(st.integers(0, 4))
    seed = draw(st.integers(0, 2**31))
    r = np.random.default_rng(seed)
    ids: list[object] = [LIVE[i] for i in r.choice(len(LIVE), n, replace=False)]
    if draw(st.booleans()):
        ids[0] = draw(st.sampled_from(["stranger", LIVE[0], 17, None]))
    data: dict[str, list[object]] = {"id": ids}
    for j in range(k):
        col: list[object] = list(r.random(n))
        for _ in range(draw(st.integers(0, 3))):
            col[draw(st.integers(0, n - 1))] = draw(bad_cells)
        data[f"m{j}"] = col
    frame = pd.DataFrame(data)
    if draw(st.booleans()):
        frame = frame.drop(columns=["id"]) if draw(st.booleans()) else frame
    return frame


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_tables(), st.sampled_from([1.0, 0.5]))
def test_fuzzed_tables_only_raise_documented_errors(frame: pd.DataFrame, share: float) -> None:
    try:
        result = validate_predictions(frame, LIVE, min_live_share=share)
    except TableError as exc:
        assert exc.errors and all(isinstance(e, PredictionError) for e in exc.errors)
        return
    rejected = result.rejected
    model_cols = [c for c in frame.columns if c != "id"]
    assert set(result.matrix.columns) | rejected == set(model_cols)
    assert not set(result.matrix.columns) & rejected
    values = result.matrix.to_numpy()
    finite = values[~np.isnan(values)]
    assert ((finite >= 0) & (finite <= 1)).all()
    for e in result.errors:
        assert e.rule and e.message


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["1", "2", "3", 4]), st.one_of(bad_cells, st.integers(-5, 10**30), st.text(max_size=4))
        ),
        max_size=6,
    )
)
def test_fuzzed_stakes_only_raise_documented_errors(rows: list[tuple[object, object]]) -> None:
    frame = pd.DataFrame(rows, columns=["model", "stake"]) if rows else pd.DataFrame({"model": [], "stake": []})
    stakes, errors = validate_stakes(frame)
    assert all(type(v) is int and v >= 0 for v in stakes.values())
    assert not set(stakes) & {e.model for e in errors}
