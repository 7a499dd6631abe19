"""oracle.scoring.tables: one reader of prediction and target files, the format chosen by extension, never guessed."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from oracle.scoring.tables import load_table, read_prediction_file, table_kind, write_table
from oracle.scoring.validation import TableError

FRAME = pd.DataFrame({"id": ["001", "002"], "prediction": [0.25, 0.75]})


def _parquet() -> bytes:
    buffer = io.BytesIO()
    FRAME.to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["p.parquet", "P.PQ", "p.pq"])
def test_parquet_by_extension_whatever_the_spelling(name: str) -> None:
    assert table_kind(name) == "parquet"
    pd.testing.assert_frame_equal(read_prediction_file(name, _parquet()), FRAME)


def test_csv_keeps_ids_as_text() -> None:
    frame = read_prediction_file("p.csv", b"id,prediction\n001,0.25\n002,0.75\n")
    pd.testing.assert_frame_equal(frame, FRAME)


@pytest.mark.parametrize("name", ["p.txt", "predictions", "p.xlsx", "p.csv.zip"])
def test_other_extensions_are_refused_with_the_name(name: str) -> None:
    with pytest.raises(TableError, match="unknown table format") as raised:
        read_prediction_file(name, b"id,prediction\n1,0.5\n")
    assert name in str(raised.value) and raised.value.errors[0].rule == "unknown_format"


def test_a_parquet_name_on_csv_bytes_is_unreadable_not_guessed() -> None:
    with pytest.raises(TableError, match="not a readable Parquet file") as raised:
        read_prediction_file("p.pq", b"id,prediction\n1,0.5\n")
    assert raised.value.errors[0].rule == "unreadable"


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    for name in ("t.csv", "t.parquet"):
        write_table(FRAME, tmp_path / name)
        pd.testing.assert_frame_equal(load_table(tmp_path / name), FRAME)
