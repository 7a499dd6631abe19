"""A round's predictions straight into the scoring matrix (:class:`oracle.scoring.matrix.PredictionTable`), never
as a pandas frame: the thousands of models' prediction files (:func:`combine_prediction_files`, each parsed by the one
parser of prediction files, :func:`oracle.scoring.tables.arrow_prediction_file`) and a predictions table with a
column per model (:func:`read_predictions`, :func:`predictions_from_parquet`, a batch of Parquet columns at a time).
At 10,000 models x 5,000 ids that matrix is 400 MB: it is made once and not copied.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from os import PathLike
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from oracle.scoring.matrix import PredictionTable
from oracle.scoring.tables import arrow_prediction_file, load_table, table_kind
from oracle.scoring.validation import PredictionError, TableError, id_strings

__all__ = ["READ_BATCH", "PARSE_BATCH", "combine_prediction_files", "predictions_from_parquet", "read_predictions"]


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
        raise TableError(
            [
                PredictionError(
                    None, "unreadable", (), f"not a readable Parquet file ({type(exc).__name__}: {str(exc)[:200]})"
                )
            ]
        ) from None
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
    integer = {
        n for n in numeric if pa.types.is_integer(schema.field(n).type) and not np.isnan(values[row_of[n]]).any()
    }
    return PredictionTable(
        columns=names, raw_ids=raw_ids, models=models, values=values, row_of=row_of, other=other, integer=integer
    )


def _is_arrow_number(arrow_type: Any, pa: Any) -> bool:
    return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type))


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
    if table_kind(path) == "csv":
        return PredictionTable.from_frame(load_table(path), id_column)
    with fsspec.open(path, "rb") as handle:
        return predictions_from_parquet(handle, id_column)


def _id_texts(ids: Any) -> Any:
    """A file's id column as an Arrow string array, spelt as validation spells ids (integer-valued floats without
    '.0'); text ids (every CSV file's) are taken as they are, without a copy."""
    import pyarrow as pa

    ids = ids.combine_chunks()
    if (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)) and not ids.null_count:
        return ids.cast(pa.string())
    return pa.array(id_strings(ids.to_pandas()).tolist(), type=pa.string())


#: Prediction files parsed at once (pyarrow parses without the GIL): a small batch keeps few Arrow tables alive.
PARSE_BATCH = 64


def _parsed(files: Mapping[str, tuple[str, bytes]], threads: int) -> Iterator[tuple[str, Any]]:
    """(model, Arrow table or the TableError that reading it raised) for every file, in order, ``threads`` files
    parsed at a time."""

    def parse(item: tuple[str, tuple[str, bytes]]) -> Any:
        try:
            return arrow_prediction_file(*item[1])
        except TableError as exc:
            return exc

    items = list(files.items())
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for start in range(0, len(items), PARSE_BATCH):
            batch = items[start : start + PARSE_BATCH]
            yield from zip((str(model) for model, _ in batch), pool.map(parse, batch))


def combine_prediction_files(
    files: Mapping[str, tuple[str, bytes]],
    id_column: str = "id",
    threads: int = 2,
    ids_of: dict[str, Any] | None = None,
) -> tuple[PredictionTable, list[PredictionError]]:
    """Each model's prediction file (``model -> (file name, bytes)``) read and laid into one table: the sorted union
    of the files' ids, a matrix row per model whose predictions are numbers (NaN where its file lacks an id), the
    other models' columns as pandas Series. The rules of
    :func:`~oracle.scoring.tables.combine_model_files`: a file that cannot be read (``unreadable``), has no id
    column, not exactly one prediction column, or repeats ids drops that model with an error. ``ids_of``, when
    given, receives each kept model's own ids (as text, one array shared by the files with the same id list)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    errors: list[PredictionError] = []
    # Files usually share one id list: each distinct list is kept once (found by its bytes), checked for duplicates
    # once and mapped onto the union once; per file only its list's number and its prediction column are kept.
    groups: list[Any] = []
    by_key: dict[tuple[int, int], list[int]] = {}
    unique: list[bool] = []
    read: dict[str, tuple[int, Any]] = {}
    for model, table in _parsed(files, threads):
        if isinstance(table, TableError):
            errors.append(PredictionError(model, "unreadable", (), table.errors[0].message))
            continue
        names = [str(c) for c in table.column_names]
        if id_column not in names:
            errors.append(PredictionError(model, "missing_id_column", (), f"file has no {id_column!r} column"))
            continue
        values = [c for c in names if c != id_column]
        if len(values) != 1:
            errors.append(
                PredictionError(
                    model, "non_numeric", (), f"file must have exactly one prediction column, has {values[:5]}"
                )
            )
            continue
        ids = _id_texts(table.column(names.index(id_column)))
        key = (len(ids), hash(ids.buffers()[2].to_pybytes() if len(ids) else b""))
        group = next((g for g in by_key.get(key, []) if groups[g].equals(ids)), None)
        if group is None:
            group = len(groups)
            groups.append(ids)
            by_key.setdefault(key, []).append(group)
            unique.append(len(pc.unique(ids)) == len(ids))
        if not unique[group]:
            series = pd.Series(ids.to_numpy(zero_copy_only=False))
            errors.append(
                PredictionError(
                    model,
                    "duplicate_ids",
                    tuple(str(i) for i in pd.unique(series[series.duplicated(keep=False)])[:5]),
                    "file repeats ids",
                )
            )
            continue
        column = table.column(names.index(values[0]))
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            # Numbers as a float64 array now (the Arrow table goes); integers noted, to be written back as such.
            keep: Any = (
                column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False),
                pa.types.is_integer(column.type) and not column.null_count,
            )
        else:
            keep = column.to_pandas().to_numpy()
        read[model] = (group, keep)
    used = sorted({group for group, _ in read.values()})
    texts = {g: groups[g].to_numpy(zero_copy_only=False) for g in used}
    if ids_of is not None:
        ids_of.update({model: texts[group] for model, (group, _) in read.items()})
    union = pd.Index(sorted(set().union(*texts.values()))) if used else pd.Index([], dtype=object)
    positions = {g: union.get_indexer(texts[g]) for g in used}
    numeric = [m for m, (_, keep) in read.items() if isinstance(keep, tuple)]
    matrix = np.full((len(numeric), len(union)), np.nan)
    integer = set()
    for row, model in enumerate(numeric):
        group, (values, whole_integers) = read[model]
        matrix[row, positions[group]] = values
        read[model] = (group, None)  # the row is in the matrix: its own copy goes
        if whole_integers and len(texts[group]) == len(union):
            integer.add(model)  # an integer column that fills every id stays integer, as a frame would keep it
    other = {}
    in_matrix = set(numeric)
    for model, (group, cells) in read.items():
        if model not in in_matrix:
            series = pd.Series(cells, index=texts[group])
            other[model] = (series if series.index.equals(union) else series.reindex(union)).reset_index(drop=True)
    raw_ids = pd.Series(union.to_numpy(), name=id_column)
    return PredictionTable(
        columns=[id_column, *read],
        raw_ids=raw_ids,
        models=list(read),
        values=matrix,
        row_of={m: r for r, m in enumerate(numeric)},
        other=other,
        integer=integer,
    ), errors
