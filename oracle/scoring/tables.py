"""The one reader (and writer) of prediction, target, stake and score tables: CSV or Parquet, chosen by the
file name's extension (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``); any other extension is refused with the
name in the message, never guessed.

CSV columns named id/model/stake/stake_at_risk/payout/burn are read as text, so ids keep leading zeros and token
amounts beyond int64 stay exact (the validators parse them).
"""

from __future__ import annotations

import io
from os import PathLike
from typing import Literal

import pandas as pd

from oracle.scoring.validation import PredictionError, TableError

__all__ = ["TEXT_COLUMNS", "load_table", "read_prediction_file", "read_table_bytes", "table_kind", "write_table"]

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
