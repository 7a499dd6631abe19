"""The one reader (and writer) of prediction, target, stake and score tables: CSV or Parquet, chosen by the
file name's extension (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``); any other extension is refused with the
name in the message, never guessed.

CSV columns named id/model/stake/stake_at_risk/payout/burn are read as text, so ids keep leading zeros and token
amounts beyond int64 stay exact (the validators parse them).

A model's prediction file is parsed by pyarrow (CSV: ids as text, pandas' missing-value texts), whoever reads it: the
participant's check, the service's intake, the operator and the auditor see the same numbers. A round's thousands of
them go straight into the scoring matrix through :mod:`oracle.scoring.prediction_files`.
"""

from __future__ import annotations

import io
from dataclasses import replace
from os import PathLike
from typing import Any, Literal, Mapping, Sequence

import pandas as pd

from oracle.scoring.validation import PredictionError, TableError, first_ids, id_strings, validate_predictions

__all__ = [
    "TEXT_COLUMNS",
    "NA_TEXTS",
    "arrow_prediction_file",
    "check_model_file",
    "combine_model_files",
    "load_table",
    "read_prediction_file",
    "read_table_bytes",
    "table_kind",
    "write_table",
]

TEXT_COLUMNS = ("id", "model", "stake", "stake_at_risk", "payout", "burn")
#: Cell texts read as missing: pandas' defaults, so a prediction file means what it meant when pandas parsed it.
NA_TEXTS = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)


def table_kind(name: str) -> Literal["csv", "parquet"]:
    """``parquet`` or ``csv`` from a file name or URL (query strings ignored); TableError for anything else."""
    lowered = str(name).split("?", 1)[0].lower()
    if lowered.endswith((".parquet", ".pq")):
        return "parquet"
    if lowered.endswith((".csv", ".csv.gz")):
        return "csv"
    raise TableError(
        [PredictionError(None, "unknown_format", (), f"{name}: unknown table format; use .csv, .parquet or .pq")]
    )


def _read(kind: str, handle: object, name: str) -> pd.DataFrame:
    try:
        if kind == "parquet":
            return pd.read_parquet(handle)
        return pd.read_csv(handle, dtype=dict.fromkeys(TEXT_COLUMNS, str))
    except Exception as exc:  # noqa: BLE001 - pandas/pyarrow raise many types for a file that is not a table
        shown = "Parquet" if kind == "parquet" else "CSV"
        raise TableError(
            [
                PredictionError(
                    None,
                    "unreadable",
                    (),
                    f"{name} is not a readable {shown} file ({type(exc).__name__}: {str(exc)[:200]})",
                )
            ]
        ) from None


def read_table_bytes(name: str, data: bytes) -> pd.DataFrame:
    """A table from its bytes, the format chosen by ``name``."""
    return _read(table_kind(name), io.BytesIO(data), name)


def arrow_prediction_file(name: str, data: bytes) -> Any:
    """A prediction file as an Arrow table (the one parser of prediction files): Parquet, or CSV with the text
    columns (ids) as strings and :data:`NA_TEXTS` as missing; TableError ``unreadable`` when it is neither."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    kind = table_kind(name)
    try:
        if kind == "parquet":
            return pq.read_table(io.BytesIO(data))
        return pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(use_threads=False),
            convert_options=pa_csv.ConvertOptions(
                column_types={c: pa.string() for c in TEXT_COLUMNS},
                null_values=list(NA_TEXTS),
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowException, OSError, ValueError) as exc:
        shown = "Parquet" if kind == "parquet" else "CSV"
        raise TableError(
            [
                PredictionError(
                    None,
                    "unreadable",
                    (),
                    f"{name} is not a readable {shown} file ({type(exc).__name__}: {str(exc)[:200]})",
                )
            ]
        ) from None


def read_prediction_file(name: str, data: bytes) -> pd.DataFrame:
    """A model's prediction file (``id`` plus one prediction column), as the participant, the service, the operator
    and the auditor all read it."""
    return arrow_prediction_file(name, data).to_pandas()


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


def combine_model_files(
    files: Mapping[str, pd.DataFrame], id_column: str = "id"
) -> tuple[pd.DataFrame, list[PredictionError]]:
    """Merge per-model files (``id`` + one prediction column each) into one table.

    A file with no id column, not exactly one prediction column, or duplicate ids drops that model.
    """
    errors: list[PredictionError] = []
    columns: dict[str, pd.Series] = {}
    for model, frame in files.items():
        model = str(model)
        if id_column not in frame.columns:
            errors.append(PredictionError(model, "missing_id_column", (), f"file has no {id_column!r} column"))
            continue
        value_cols = [c for c in frame.columns if c != id_column]
        if len(value_cols) != 1:
            errors.append(
                PredictionError(
                    model, "non_numeric", (), f"file must have exactly one prediction column, has {value_cols[:5]}"
                )
            )
            continue
        ids = id_strings(frame[id_column])
        dup = ids.duplicated(keep=False)
        if dup.any():
            errors.append(PredictionError(model, "duplicate_ids", first_ids(pd.unique(ids[dup])), "file repeats ids"))
            continue
        columns[model] = pd.Series(frame[value_cols[0]].to_numpy(), index=ids.to_numpy())
    table = pd.DataFrame(columns)
    table.index.name = id_column
    return table.reset_index(), errors


def check_model_file(
    model: str, frame: pd.DataFrame, live_ids: Sequence[object], min_live_share: float
) -> list[PredictionError]:
    """Every problem that keeps one model's file (``id`` plus one prediction column) from being scored against the
    round's live ids, each attributed to ``model``: the one check the participant's client, the service and the
    operator apply alike. Rows whose id is not live count too (``unknown_ids``): such a file was made from other
    live data, and the service refuses it."""
    table, errors = combine_model_files({model: frame})
    if errors:
        return errors
    try:
        found = validate_predictions(table, live_ids, min_live_share=min_live_share).errors
    except TableError as exc:
        found = exc.errors
    return [_as_refusal(e, model) for e in found]


def _as_refusal(error: PredictionError, model: str) -> PredictionError:
    """A table-level problem of one model's file, worded as the reason the file is refused."""
    if error.model is not None:
        return error
    if error.rule == "unknown_ids":
        return replace(
            error,
            model=model,
            message=error.message.replace(" were ignored", ": the file was not made from this round's live data"),
        )
    return replace(error, model=model)
