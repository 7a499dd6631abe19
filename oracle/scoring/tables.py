"""Prediction tables as the scoring kernel wants them: one float64 matrix with a row per model and a column per id.

A predictions file is an ``id`` column plus one column per model. The kernel ranks each model's predictions, so it
wants them contiguous, models x ids. Reading a Parquet file with pyarrow straight into that matrix (each column's
values copied once into its row) costs a fraction of building a pandas frame, transposing and copying it again, and
holds the values once. Columns that are not plain numbers (text, booleans, decimals) are kept as pandas Series, so
validation can name what is wrong with them exactly as it does for any frame.

What makes a table *valid* is :mod:`oracle.scoring.validation`'s business; this module only reads.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PredictionTable", "read_predictions", "predictions_from_parquet"]


@dataclass
class PredictionTable:
    """An id column and model columns, the numeric ones as rows of one float64 matrix.

    columns: every column name in file order (the id column included), as strings.
    raw_ids: the id column as read (None when the table has none); validation turns it into text.
    models: the model columns (every column but the id column), in file order.
    values: ``(len(row_of), len(raw_ids))`` float64, C order: row ``row_of[m]`` holds numeric model m (ints and
        floats; NaN where a cell is missing).
    other: every model column that is not numeric (text, booleans, decimals), as a pandas Series.
    """

    columns: list[str]
    raw_ids: pd.Series | None
    models: list[str]
    values: np.ndarray
    row_of: dict[str, int] = field(default_factory=dict)
    other: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return 0 if self.raw_ids is None else len(self.raw_ids)

    def column(self, model: str) -> pd.Series:
        """One model's column (positional index), numeric or not."""
        if model in self.row_of:
            return pd.Series(self.values[self.row_of[model]], copy=False)
        return self.other[model].reset_index(drop=True)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, id_column: str = "id") -> "PredictionTable":
        """From a pandas frame (``id_column`` + one column per model); numeric columns are copied into the matrix."""
        columns = [str(c) for c in frame.columns]
        raw_ids = frame[id_column].reset_index(drop=True) if id_column in frame.columns else None
        models = [str(c) for c in frame.columns if c != id_column]
        numeric = [i for i, c in enumerate(frame.columns) if c != id_column and _is_number_dtype(frame.dtypes.iloc[i])]
        values = np.empty((len(numeric), len(frame)), dtype=np.float64)
        for row, position in enumerate(numeric):
            values[row] = frame.iloc[:, position].to_numpy(dtype=np.float64, na_value=np.nan)
        row_of = {str(frame.columns[p]): row for row, p in enumerate(numeric)}
        other = {str(frame.columns[i]): frame.iloc[:, i].reset_index(drop=True)
                 for i, c in enumerate(frame.columns) if c != id_column and str(c) not in row_of}
        return cls(columns=columns, raw_ids=raw_ids, models=models, values=values, row_of=row_of, other=other)


def _is_number_dtype(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


#: Columns decoded per Parquet read: the Arrow buffers of one batch are all that is held beside the matrix.
READ_BATCH = 256


def predictions_from_parquet(source: Any, id_column: str = "id", batch: int = READ_BATCH) -> PredictionTable:
    """Read a Parquet predictions file (a path, a binary file object or bytes) into a :class:`PredictionTable`.

    Integer and floating columns go straight into the matrix (nulls become NaN), ``batch`` columns per read, so
    the Arrow copy of the file never exists whole; every other column is converted to pandas as
    ``pandas.read_parquet`` would."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    parquet = pq.ParquetFile(source)
    schema = parquet.schema_arrow
    names = [str(n) for n in schema.names]
    models = [n for n in names if n != id_column]
    raw_ids = parquet.read(columns=[id_column]).column(0).to_pandas() if id_column in names else None
    if len(set(names)) != len(names):
        # Validation refuses duplicate columns before it reads any value; a name cannot pick one of them.
        return PredictionTable(columns=names, raw_ids=raw_ids, models=models, values=np.empty((0, 0)))
    numeric = [n for n in models if _is_arrow_number(schema.field(n).type, pa)]
    values = np.empty((len(numeric), parquet.metadata.num_rows), dtype=np.float64)
    for start in range(0, len(numeric), batch):
        columns = parquet.read(columns=numeric[start : start + batch])
        for offset, column in enumerate(columns.columns):
            _fill_row(values[start + offset], column, pa)
        del columns  # its buffers are reused by the next batch
    row_of = {name: row for row, name in enumerate(numeric)}
    other = {n: parquet.read(columns=[n]).column(0).to_pandas() for n in models if n not in row_of}
    return PredictionTable(columns=names, raw_ids=raw_ids, models=models, values=values, row_of=row_of, other=other)


def _is_arrow_number(arrow_type: Any, pa: Any) -> bool:
    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)


def _fill_row(row: np.ndarray, column: Any, pa: Any) -> None:
    """Copy one Arrow column into ``row`` as float64, nulls as NaN, chunk by chunk (no intermediate array)."""
    start = 0
    for chunk in column.chunks:
        if not pa.types.is_float64(chunk.type):
            chunk = chunk.cast(pa.float64())
        if chunk.null_count:
            chunk = chunk.fill_null(np.nan)
        row[start : start + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
        start += len(chunk)


def read_predictions(path_or_url: str | PathLike[str], id_column: str = "id") -> PredictionTable:
    """Read a predictions file (Parquet or CSV by extension) from a path or any fsspec URL.

    CSV ids are read as text, so ids keep leading zeros."""
    import fsspec

    path = str(path_or_url)
    name = path.split("?", 1)[0].lower()
    if not name.endswith((".parquet", ".pq", ".csv", ".csv.gz")):
        raise ValueError(f"{path}: unknown table format; use .parquet or .csv")
    with fsspec.open(path, "rb", compression="infer") as handle:
        if name.endswith((".parquet", ".pq")):
            return predictions_from_parquet(handle, id_column)
        return PredictionTable.from_frame(pd.read_csv(handle, dtype={id_column: str}), id_column)
