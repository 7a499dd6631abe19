"""Prediction files read straight into the scoring matrix (oracle.scoring.matrix) give what the pandas route gives,
value for value, error for error, score for score."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from oracle.scoring.matrix import PredictionTable
from oracle.scoring.params import RoundParams
from oracle.scoring.pipeline import score_round
from oracle.scoring.prediction_files import predictions_from_parquet, read_predictions
from oracle.scoring.validation import TableError, validate_predictions

PARAMS = RoundParams(corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=10**24)
rng = np.random.default_rng(11)


def messy_frame(n: int = 40) -> pd.DataFrame:
    """Every kind of column a participant may send: floats, ints, nulls, text numbers, words, booleans."""
    ids = [f"id{i:03d}" for i in range(n)]
    with_null = rng.random(n)
    with_null[3] = np.nan
    return pd.DataFrame(
        {
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
        }
    )


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
    pq.write_table(
        pa.Table.from_arrays([pa.array(frame[c]) for c in ("id", "m0", "m1")], names=["id", "m0", "m0"]), sink
    )
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


def _csv(ids: list[str], values: list[object], header: str = "id,prediction") -> bytes:
    return (header + "\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, values))).encode()


def test_combined_files_equal_the_frame_route() -> None:
    """combine_prediction_files gives the table, errors and validation result that reading each file into a frame
    and combine_model_files give, for clean files and every kind of broken one."""
    from oracle.scoring.prediction_files import combine_prediction_files
    from oracle.scoring.tables import combine_model_files, read_prediction_file

    live = [f"id{i:03d}" for i in range(40)]
    values = {m: list(rng.random(40).round(4)) for m in "abcdefghijk"}
    shuffled = rng.permutation(40)
    parquet = io.BytesIO()
    pd.DataFrame({"id": live, "p": values["k"]}).to_parquet(parquet, index=False)
    files = {
        "1": ("a.csv", _csv(live, values["a"])),
        "2": ("b.csv", _csv([live[i] for i in shuffled], [values["b"][i] for i in shuffled])),  # another order
        "3": ("c.csv", _csv(live[:-3], values["c"][:-3])),  # missing ids
        "4": ("d.csv", _csv(live + ["stranger"], values["d"] + [0.5])),  # an unknown id
        "5": ("e.csv", _csv(live, values["e"][:5] + ["NA"] + values["e"][6:])),  # a missing cell
        "6": ("f.csv", _csv(live, values["f"][:7] + ["abc"] + values["f"][8:])),  # text
        "7": ("g.csv", _csv(live, ["True", "False"] * 20)),  # booleans
        "8": ("h.csv", _csv(live[:2] + live[:38], values["h"])),  # repeated ids
        "9": ("i.csv", _csv(live, values["i"], header="id,p,q")),  # two columns
        "10": ("j.csv", b"\x00\x01not a table"),  # unreadable
        "11": ("k.parquet", parquet.getvalue()),
        "12": ("l.csv", _csv(live, [f" {v}" for v in values["a"]])),  # spaced numbers
    }
    table, errors = combine_prediction_files(files)
    frames, expected_errors = {}, []
    for model, (name, data) in files.items():
        try:
            frames[model] = read_prediction_file(name, data)
        except TableError as exc:
            expected_errors.append(exc.errors[0].__class__(model, "unreadable", (), exc.errors[0].message))
    merged, combine_errors = combine_model_files(frames)
    merged = merged.sort_values("id", kind="stable").reset_index(drop=True)
    assert sorted(map(str, errors)) == sorted(map(str, expected_errors + combine_errors))
    assert list(table.raw_ids) == list(merged["id"]) and table.models == [c for c in merged.columns if c != "id"]
    from oracle.bundle.parquet import parquet_bytes

    assert parquet_bytes(table, "predictions") == parquet_bytes(merged, "predictions")  # the bundle's file
    for shares in (1.0, 0.9):
        mine = validate_predictions(table, live, min_live_share=shares)
        theirs = validate_predictions(merged, live, min_live_share=shares)
        assert mine.errors == theirs.errors and mine.models == theirs.models
        np.testing.assert_array_equal(mine.values, theirs.values)


def test_parquet_bytes_of_the_matrix_equal_those_of_the_frame() -> None:
    """The bundle's predictions file written from the matrix is byte for byte the one written from the frame."""
    from oracle.bundle.parquet import parquet_bytes

    frame = messy_frame()
    frame.loc[[2, 5], "m1"] = np.nan
    table = PredictionTable.from_frame(frame)
    assert parquet_bytes(table, "predictions") == parquet_bytes(frame, "predictions")
    back = predictions_from_parquet(parquet_bytes(frame, "predictions"))
    assert back.integer == {"c"} and parquet_bytes(back, "p") == parquet_bytes(frame, "p")
    reordered = frame[["m0", "id", "m2", "d"]]
    assert parquet_bytes(PredictionTable.from_frame(reordered), "p") == parquet_bytes(reordered, "p")
