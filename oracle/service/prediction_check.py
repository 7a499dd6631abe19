"""The intake's check of a prediction file against the round's live ids, fast for the usual clean file.

The rules are the scoring package's (:func:`oracle.scoring.validation.validate_predictions` over
:func:`oracle.scoring.tables.combine_model_files`), which build pandas frames: about 75 ms for 5,000 ids. Most
files break no rule, and for those the verdict is decided on the Arrow table directly (about 1 ms): exactly two
columns, ``id`` and a numeric prediction column with no missing value, ids unique and all live, every value in
[0, 1] and not all equal. Then the file passes every rule of the full check (the live share is
``len(ids) / len(live) >= min_live_share`` since every id is live and no value is missing). Anything else, or a
file Arrow reads differently, goes through the full check, which names every rule broken: the fast path can only
ever accept what the full check accepts.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from oracle.scoring.tables import NA_TEXTS, combine_model_files, read_prediction_file, table_kind
from oracle.scoring.validation import TableError, validate_predictions

__all__ = ["LiveIds", "prediction_problems"]

_NUMERIC = (pa.types.is_floating, pa.types.is_integer)
# The texts pandas reads as missing (the one list, beside the prediction file parser).
_PANDAS_NA = frozenset(NA_TEXTS)


class LiveIds:
    """A round's live ids, as the full check wants them (a sorted list) and as Arrow looks them up."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = sorted(str(i) for i in ids)
        self.array = pa.array(self.ids, pa.string())
        self.lookup = pc.SetLookupOptions(self.array)
        # pandas reads these id cells as missing, Arrow as text: with such a live id only the full check decides.
        self.fast = not _PANDAS_NA.intersection(self.ids)

    def __len__(self) -> int:
        return len(self.ids)


def _arrow_table(file_name: str, data: bytes) -> pa.Table | None:
    try:
        kind = table_kind(file_name)
        if kind == "parquet":
            return pq.read_table(pa.BufferReader(data), use_threads=False)
        if file_name.lower().endswith(".gz"):
            return None
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=pacsv.ConvertOptions(column_types={"id": pa.string()}),
        )
    except (pa.ArrowException, TableError, ValueError, OSError):
        return None


def _clean(table: pa.Table, live: LiveIds, min_live_share: float) -> bool:
    names = table.column_names
    if not live.fast or len(names) != 2 or names.count("id") != 1 or table.num_rows == 0:
        return False
    ids, values = table.column("id"), table.column(next(n for n in names if n != "id"))
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)) or ids.null_count:
        return False
    if not any(test(values.type) for test in _NUMERIC) or values.null_count:
        return False
    if table.num_rows / len(live) < min_live_share:
        return False
    # Each id's position among the live ids: a missing position is an id that is not live, a repeated one a
    # duplicate id (cheaper than counting distinct strings).
    positions = pc.index_in(ids, options=live.lookup)
    if positions.null_count:
        return False
    if np.bincount(positions.to_numpy(), minlength=len(live)).max() > 1:
        return False
    floats = pc.cast(values, pa.float64())
    if pc.any(pc.is_nan(floats)).as_py():
        return False
    bounds = pc.min_max(floats).as_py()
    low, high = bounds["min"], bounds["max"]
    return low is not None and 0.0 <= low < high <= 1.0


def prediction_problems(file_name: str, data: bytes, live: LiveIds, min_live_share: float, model: str) -> list[str]:
    """Every validation rule the file of ``model`` breaks (empty: it is valid). Raises :class:`TableError` when the
    file is not a readable table at all."""
    table = _arrow_table(file_name, data)
    if table is not None and _clean(table, live, min_live_share):
        return []
    frame = read_prediction_file(file_name, data)
    combined, errors = combine_model_files({model: frame})
    problems = [str(e) for e in errors]
    if not problems:
        try:
            result = validate_predictions(combined, live.ids, min_live_share=min_live_share)
            problems = [str(e) for e in result.errors]
        except TableError as exc:
            problems = [str(e) for e in exc.errors]
    return problems
