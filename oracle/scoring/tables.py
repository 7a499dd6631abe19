"""The one reader (and writer) of prediction, target, stake and score tables: CSV or Parquet, chosen by the
file name's extension (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``); any other extension is refused with the
name in the message, never guessed.

CSV columns named id/model/stake/stake_at_risk/payout/burn are read as text, so ids keep leading zeros and token
amounts beyond int64 stay exact (the validators parse them).

A round's predictions table (one column per model, the one big table) is read with :func:`read_predictions` straight
into the kernel's matrix (:class:`oracle.scoring.matrix.PredictionTable`): Parquet with pyarrow, a batch of columns at
a time, never as a pandas frame.
"""

from __future__ import annotations

import io
from os import PathLike
from typing import Any, Literal

import numpy as np
import pandas as pd

from oracle.scoring.matrix import PredictionTable
from oracle.scoring.validation import PredictionError, TableError

__all__ = ["TEXT_COLUMNS", "READ_BATCH", "load_table", "read_prediction_file", "read_table_bytes", "table_kind",
           "write_table", "read_predictions", "predictions_from_parquet"]

TEXT_COLUMNS = ("id", "model", "stake", "stake_at_risk", "payout", "burn")


def table_kind(name: str) -> Literal["csv", "parquet"]:
    """``parquet`` or ``csv`` from a file name or URL (query strings ignored); TableError for anything else."""
    lowered = str(name).split("?", 1)[0].lower()
    if lowered.endswith((".parquet", ".pq")):
        return "parquet"
    if lowered.endswith((".csv", ".csv.gz")):
        return "csv"
    raise TableError([PredictionError(None, "unknown_format", (),
                                      f"{name}: unknown table format; use .csv, .parquet or .pq")])


def _read(kind: str, handle: object, name: str) -> pd.DataFrame:
    try:
        if kind == "parquet":
            return pd.read_parquet(handle)
        return pd.read_csv(handle, dtype={c: str for c in TEXT_COLUMNS})
    except Exception as exc:  # noqa: BLE001 - pandas/pyarrow raise many types for a file that is not a table
        shown = "Parquet" if kind == "parquet" else "CSV"
        raise TableError([PredictionError(None, "unreadable", (), f"{name} is not a readable {shown} file "
                                          f"({type(exc).__name__}: {str(exc)[:200]})")]) from None


def read_table_bytes(name: str, data: bytes) -> pd.DataFrame:
    """A table from its bytes, the format chosen by ``name``."""
    return _read(table_kind(name), io.BytesIO(data), name)


def read_prediction_file(name: str, data: bytes) -> pd.DataFrame:
    """A model's prediction file (``id`` plus one prediction column), as the participant, the service, the operator
    and the auditor all read it."""
    return read_table_bytes(name, data)


def load_table(path_or_url: str | PathLike[str]) -> pd.DataFrame:
    """A table from a path or any fsspec URL (compressed CSV by extension too)."""
    import fsspec

    path = str(path_or_url)
    kind = table_kind(path)
    with fsspec.open(path, "rb", compression="infer") as handle:
        return _read(kind, handle, path)


def write_table(table: pd.DataFrame, path_or_url: str | PathLike[str]) -> None:
    """Write ``table`` as Parquet or CSV (by extension) to a path or fsspec URL."""
    import fsspec

    path = str(path_or_url)
    kind = table_kind(path)
    with fsspec.open(path, "wb") as handle:
        if kind == "parquet":
            table.to_parquet(handle, index=False)
        else:
            handle.write(table.to_csv(index=False).encode())


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
    try:
        parquet = pq.ParquetFile(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise TableError([PredictionError(None, "unreadable", (), f"not a readable Parquet file "
                                          f"({type(exc).__name__}: {str(exc)[:200]})")]) from None
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
    """A round's predictions table (``id`` + one column per model) from a path or any fsspec URL, as the scoring
    matrix: Parquet straight through pyarrow, CSV (ids as text) through pandas."""
    import fsspec

    path = str(path_or_url)
    kind = table_kind(path)
    with fsspec.open(path, "rb", compression="infer") as handle:
        if kind == "parquet":
            return predictions_from_parquet(handle, id_column)
        return PredictionTable.from_frame(_read(kind, handle, path), id_column)
