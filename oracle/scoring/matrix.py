"""Prediction tables as the scoring kernel wants them: one float64 matrix with a row per model and a column per id.

A predictions table is an ``id`` column plus one column per model. The kernel ranks each model's predictions, so it
wants them contiguous, models x ids. :mod:`oracle.scoring.tables` reads Parquet files straight into this form with
pyarrow (each column's values copied once into its row), which costs a fraction of building a pandas frame,
transposing and copying it again, and holds the values once. Columns that are not plain numbers (text, booleans,
decimals) are kept as pandas Series, so validation can name what is wrong with them exactly as for any frame.

What makes a table *valid* is :mod:`oracle.scoring.validation`'s business; this module only holds one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["PredictionTable", "is_number_dtype", "layout"]


@dataclass
class PredictionTable:
    """An id column and model columns, the numeric ones as rows of one float64 matrix.

    columns: every column name in file order (the id column included), as strings.
    raw_ids: the id column as read (None when the table has none); validation turns it into text.
    models: the model columns (every column but the id column), in file order.
    values: ``(len(row_of), len(raw_ids))`` float64, C order: row ``row_of[m]`` holds numeric model m (ints and
        floats; NaN where a cell is missing).
    other: every model column that is not numeric (text, booleans, decimals), as a pandas Series.
    integer: the numeric models whose column was of integers.
    """

    columns: list[str]
    raw_ids: pd.Series | None
    models: list[str]
    values: np.ndarray
    row_of: dict[str, int] = field(default_factory=dict)
    other: dict[str, pd.Series] = field(default_factory=dict)
    #: Numeric models whose column held integers (no gaps): written back as integers (see oracle.bundle.parquet).
    integer: set[str] = field(default_factory=set)

    @property
    def n_rows(self) -> int:
        return 0 if self.raw_ids is None else len(self.raw_ids)

    def column(self, model: str) -> pd.Series:
        """One model's column (positional index), numeric or not."""
        if model in self.row_of:
            return pd.Series(self.values[self.row_of[model]], copy=False)
        return self.other[model].reset_index(drop=True)

    def without(self, dropped: set[str]) -> "PredictionTable":
        """The same table without the ``dropped`` models (their rows and columns; the ids stay)."""
        kept = [m for m in self.models if m not in dropped]
        numeric = [m for m in kept if m in self.row_of]
        return PredictionTable(
            columns=[c for c in self.columns if c not in dropped],
            raw_ids=self.raw_ids,
            models=kept,
            values=self.values[[self.row_of[m] for m in numeric]],
            row_of={m: r for r, m in enumerate(numeric)},
            other={m: s for m, s in self.other.items() if m not in dropped},
            integer=self.integer - dropped,
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, id_column: str = "id") -> "PredictionTable":
        """From a pandas frame (``id_column`` + one column per model); numeric columns are copied into the matrix."""
        columns = [str(c) for c in frame.columns]
        raw_ids = frame[id_column].reset_index(drop=True) if id_column in frame.columns else None
        models = [str(c) for c in frame.columns if c != id_column]
        numeric = [i for i, c in enumerate(frame.columns) if c != id_column and is_number_dtype(frame.dtypes.iloc[i])]
        values = np.empty((len(numeric), len(frame)), dtype=np.float64)
        for row, position in enumerate(numeric):
            values[row] = frame.iloc[:, position].to_numpy(dtype=np.float64, na_value=np.nan)
        row_of = {str(frame.columns[p]): row for row, p in enumerate(numeric)}
        other = {
            str(frame.columns[i]): frame.iloc[:, i].reset_index(drop=True)
            for i, c in enumerate(frame.columns)
            if c != id_column and str(c) not in row_of
        }
        integer = {str(frame.columns[p]) for p in numeric if pd.api.types.is_integer_dtype(frame.dtypes.iloc[p])}
        return cls(
            columns=columns, raw_ids=raw_ids, models=models, values=values, row_of=row_of, other=other, integer=integer
        )


def is_number_dtype(dtype: Any) -> bool:
    """Integers and floats go into the matrix; booleans are not predictions."""
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def layout(
    table: PredictionTable,
    kept: list[str],
    good: Mapping[str, np.ndarray],
    keep: np.ndarray | None,
    file_ids: pd.Index,
    live: pd.Index,
) -> np.ndarray:
    """The ``kept`` models' values laid on the ``live`` ids, models x ids: from the table's matrix (its rows
    ``file_ids``, restricted to the positions ``keep`` when given) or from ``good`` (a model's values already laid
    out). When the file's rows are exactly the live ids in order and every kept model is a numeric row of the
    matrix, that is (a row selection of) the table's own matrix: no copy at all."""
    rows = [table.row_of[m] for m in kept if m not in good]
    same_ids = keep is None and file_ids.equals(live)
    if same_ids and not good:
        if rows == list(range(len(table.values))):
            return table.values
        return table.values[rows]
    out = np.full((len(kept), len(live)), np.nan)
    positions = live.get_indexer(file_ids)
    for i, model in enumerate(kept):
        if model in good:
            out[i] = good[model]
        else:
            source = table.values[table.row_of[model]]
            out[i, positions] = source if keep is None else source[keep]
    return out
