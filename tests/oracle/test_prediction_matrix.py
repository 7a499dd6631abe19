"""Prediction files read straight into the scoring matrix (oracle.scoring.matrix) give what the pandas route gives,
value for value, error for error, score for score."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from oracle.scoring.params import RoundParams
from oracle.scoring.pipeline import score_round
from oracle.scoring.matrix import PredictionTable
from oracle.scoring.tables import predictions_from_parquet, read_predictions
from oracle.scoring.validation import TableError, validate_predictions

PARAMS = RoundParams(corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=10**24)
rng = np.random.default_rng(11)


def messy_frame(n: int = 40) -> pd.DataFrame:
    """Every kind of column a participant may send: floats, ints, nulls, text numbers, words, booleans."""
    ids = [f"id{i:03d}" for i in range(n)]
    with_null = rng.random(n)
    with_null[3] = np.nan
    return pd.DataFrame({
        "id": ids,
        "a": rng.random(n).round(2),
        "b": with_null,
        "c": rng.integers(0, 2, n),
        "d": [str(v) for v in rng.random(n)],
        "e": ["x"] * n,
        "f": rng.integers(0, 2, n).astype(bool),
        "g": rng.random(n) * 2,
        "k": [0.5] * n,
        **{f"m{j}": rng.random(n) for j in range(7)},
    })


def parquet_of(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.to_parquet(sink, index=False)
    return sink.getvalue()


@pytest.mark.parametrize("batch", [1, 3, 256])
def test_parquet_read_equals_the_frame_read(batch: int) -> None:
    frame = messy_frame()
    read = predictions_from_parquet(parquet_of(frame), batch=batch)
    expected = PredictionTable.from_frame(pd.read_parquet(io.BytesIO(parquet_of(frame))))
    assert read.columns == expected.columns and read.models == expected.models
    assert list(read.raw_ids) == list(expected.raw_ids)
    assert read.row_of == expected.row_of
    np.testing.assert_array_equal(read.values, expected.values)  # NaN where NaN
    assert set(read.other) == set(expected.other) == {"d", "e", "f"}
    for name in read.other:
        pd.testing.assert_series_equal(read.other[name], expected.other[name], check_names=False)


def test_validation_and_scores_are_the_same_from_either_form() -> None:
    frame = messy_frame()
    live = list(frame["id"])
    from_file = validate_predictions(predictions_from_parquet(parquet_of(frame)), live, min_live_share=0.9)
    from_frame = validate_predictions(frame, live, min_live_share=0.9)
    assert from_file.errors == from_frame.errors
    assert {e.rule for e in from_file.errors} >= {"non_numeric", "out_of_range", "constant"}
    assert from_file.models == from_frame.models
    np.testing.assert_array_equal(from_file.values, from_frame.values)

    targets = pd.DataFrame({"id": live, "target": rng.integers(0, 5, len(live)) / 4})
    stakes = {m: 10**21 * (k + 1) for k, m in enumerate(frame.columns[1:])}
    a = score_round(predictions_from_parquet(parquet_of(frame)), targets, stakes, PARAMS)
    b = score_round(frame, targets, stakes, PARAMS)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert a.errors == b.errors and (a.total_payout, a.total_burn) == (b.total_payout, b.total_burn)


def test_rows_in_live_order_share_the_matrix_and_other_orders_are_laid_out() -> None:
    frame = messy_frame()[["id", "m0", "m1", "m2"]]
    live = list(frame["id"])
    table = predictions_from_parquet(parquet_of(frame))
    assert validate_predictions(table, live).values is table.values  # no copy: the file is the live ids in order
    shuffled = frame.sample(frac=1, random_state=3)
    laid_out = validate_predictions(predictions_from_parquet(parquet_of(shuffled)), live)
    np.testing.assert_array_equal(laid_out.values, table.values)
    fewer = validate_predictions(predictions_from_parquet(parquet_of(frame.iloc[2:])), live, min_live_share=0.9)
    assert np.isnan(fewer.values[:, :2]).all() and not np.isnan(fewer.values[:, 2:]).any()


def test_duplicate_columns_and_a_missing_id_column_are_table_errors() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = messy_frame()
    sink = io.BytesIO()  # pandas refuses to write duplicate names; Arrow and Parquet allow them
    pq.write_table(pa.Table.from_arrays([pa.array(frame[c]) for c in ("id", "m0", "m1")], names=["id", "m0", "m0"]),
                   sink)
    with pytest.raises(TableError, match="duplicate_models"):
        validate_predictions(predictions_from_parquet(sink.getvalue()), list(frame["id"]))
    with pytest.raises(TableError, match="missing_id_column"):
        validate_predictions(predictions_from_parquet(parquet_of(messy_frame().drop(columns=["id"]))), ["id000"])


def test_read_predictions_by_extension(tmp_path) -> None:
    frame = messy_frame()[["id", "m0", "m1"]].assign(id=[f"{i:05d}" for i in range(40)])
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    from_csv, from_parquet = read_predictions(tmp_path / "p.csv"), read_predictions(tmp_path / "p.parquet")
    assert list(from_csv.raw_ids) == list(from_parquet.raw_ids) == list(frame["id"])  # leading zeros kept
    np.testing.assert_array_equal(from_csv.values, from_parquet.values)
    with pytest.raises(ValueError, match="unknown table format"):
        read_predictions(tmp_path / "p.xlsx")
