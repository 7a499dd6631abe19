"""Validation of a round's predictions, targets and stakes.

Every problem becomes a ``PredictionError(model, rule, ids, message)``. A problem with one model's
column drops that model only; the rest are scored. A problem that makes the whole table ambiguous
(no id column, duplicate ids, duplicate model columns, no live id at all) raises ``TableError``
carrying the same structured errors. ``model`` is None for problems that belong to the table.

Prediction rules (per model unless noted):
  non_numeric   a cell that is not a number (bool columns count as non-numeric)
  inf           a +/-inf cell
  out_of_range  a value outside [0, 1]
  nan           NaN cells leave the model below ``min_live_share`` of the live ids
  missing_ids   live ids absent from the table leave the model below ``min_live_share``
  constant      every prediction equal: ranks carry no information (numerai-tools gives NaN CORR)
  no_stake      the model has no row in the round's stake table
  unknown_ids   (table, not fatal) rows whose id is not live; those rows are dropped
  missing_id_column, duplicate_ids, duplicate_models, empty (table, fatal)
The targets' and the stakes' rules, which report through the same errors: :mod:`oracle.scoring.targets` and
:mod:`oracle.scoring.stakes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from oracle.errors import TourneyError
from oracle.scoring.matrix import PredictionTable, layout

__all__ = [
    "PredictionError",
    "TableError",
    "ValidPredictions",
    "validate_predictions",
    "first_ids",
    "id_strings",
    "numeric_column",
    "MAX_IDS_SHOWN",
]

MAX_IDS_SHOWN = 5


@dataclass(frozen=True)
class PredictionError:
    """One validation problem: which model (None = whole table), which rule, example ids, and why."""

    model: str | None
    rule: str
    ids: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        who = f"model {self.model}" if self.model is not None else "table"
        shown = f" (ids: {', '.join(self.ids)})" if self.ids else ""
        return f"{who}: [{self.rule}] {self.message}{shown}"

    def to_dict(self) -> dict[str, Any]:
        """As JSON: model (None for the whole table), rule, example ids, message."""
        return {"model": self.model, "rule": self.rule, "ids": list(self.ids), "message": self.message}


class TableError(TourneyError, ValueError):
    """A table cannot be used at all; ``errors`` says why, structured."""

    def __init__(self, errors: Sequence[PredictionError]):
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


@dataclass
class ValidPredictions:
    """Predictions of the models that passed: ``values`` is models x live ids (float64, C order, NaN = not
    predicted), a row per model of ``models``, a column per id of ``ids`` (the live ids, in the order given)."""

    values: np.ndarray
    models: list[str]
    ids: pd.Index
    errors: list[PredictionError] = field(default_factory=list)

    @property
    def matrix(self) -> pd.DataFrame:
        """The same values as a frame, ids x models (a view, not a copy)."""
        frame = pd.DataFrame(self.values.T, index=self.ids, columns=self.models, copy=False)
        frame.index.name = "id"
        return frame

    @property
    def rejected(self) -> set[str]:
        return {e.model for e in self.errors if e.model is not None}


def first_ids(ids: Iterable[object]) -> tuple[str, ...]:
    out: list[str] = []
    for i in ids:
        out.append(str(i))
        if len(out) == MAX_IDS_SHOWN:
            break
    return tuple(out)


def id_strings(column: pd.Series) -> pd.Series:
    """Ids as strings; integer-valued floats print without '.0' so 7 and 7.0 are one id."""
    if pd.api.types.is_float_dtype(column) and column.notna().all() and (column % 1 == 0).all():
        column = column.astype(np.int64)
    return column.astype(str)


def numeric_column(model: str, column: pd.Series) -> tuple[pd.Series | None, PredictionError | None]:
    """Float64 view of a column, or a non_numeric error naming the offending ids."""
    if pd.api.types.is_bool_dtype(column):
        return None, PredictionError(model, "non_numeric", first_ids(column.index), "column is boolean, not a number")
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(np.float64), None
    coerced = pd.to_numeric(column, errors="coerce")
    bad = coerced.isna() & column.notna()
    # pd.to_numeric turns Python bools into numbers; they are not predictions.
    bad |= column.map(lambda v: isinstance(v, (bool, np.bool_)))
    if bad.any():
        return None, PredictionError(
            model, "non_numeric", first_ids(column.index[bad]), f"{int(bad.sum())} cell(s) are not numbers"
        )
    return coerced.astype(np.float64), None


def _check_model(
    model: str,
    column: pd.Series,
    live: pd.Index,
    min_live_share: float,
    rows_absent: pd.Index,
) -> tuple[pd.Series | None, list[PredictionError]]:
    """All per-model rules for one column indexed by (live) id; returns (values, errors)."""
    values, error = numeric_column(model, column)
    if error is not None:
        return None, [error]
    assert values is not None
    errors: list[PredictionError] = []
    arr = values.to_numpy()
    inf = np.isinf(arr)
    if inf.any():
        errors.append(
            PredictionError(model, "inf", first_ids(values.index[inf]), f"{int(inf.sum())} infinite value(s)")
        )
    with np.errstate(invalid="ignore"):
        out = np.isfinite(arr) & ((arr < 0) | (arr > 1))
    if out.any():
        errors.append(
            PredictionError(
                model, "out_of_range", first_ids(values.index[out]), f"{int(out.sum())} value(s) outside [0, 1]"
            )
        )
    nan_ids = values.index[np.isnan(arr)]
    unpredicted = len(nan_ids) + len(rows_absent)
    share = 1.0 - unpredicted / len(live)
    if share < min_live_share:
        rule = "nan" if len(nan_ids) else "missing_ids"
        errors.append(
            PredictionError(
                model,
                rule,
                first_ids(list(nan_ids) + list(rows_absent)),
                f"predicts {share:.4%} of {len(live)} live ids ({len(nan_ids)} NaN, {len(rows_absent)} absent);"
                f" at least {min_live_share:.4%} required",
            )
        )
    finite = arr[np.isfinite(arr)]
    if len(finite) and not errors and (finite == finite[0]).all():
        errors.append(PredictionError(model, "constant", first_ids(values.index[:1]), "every prediction is equal"))
    if errors:
        return None, errors
    return values.reindex(live), []


#: Models checked at once by the vectorised rules: bounds the temporaries (a few bytes per cell of the block).
_RULE_BLOCK = 256


def _clean_rows(
    values: np.ndarray, rows: list[int], keep: np.ndarray | None, n_live: int, n_absent: int, min_live_share: float
) -> np.ndarray:
    """Which of ``values[rows]`` (restricted to the columns ``keep``) pass every per-model rule: one boolean each.

    The models that do not pass go through ``_check_model``, which produces the detailed errors; this only skips
    that per-model pandas work for the (usual) clean ones. Blocks of rows keep the temporaries small."""
    ok = np.zeros(len(rows), dtype=bool)
    for start in range(0, len(rows), _RULE_BLOCK):
        picked = rows[start : start + _RULE_BLOCK]
        block = values[picked] if keep is None else values[np.ix_(np.asarray(picked, dtype=np.intp), keep)]
        nan = np.isnan(block)
        n_nan = nan.sum(axis=1)
        with np.errstate(invalid="ignore"):
            bad_value = (np.isinf(block) | (block < 0) | (block > 1)).any(axis=1)
        share = 1.0 - (n_nan + n_absent) / n_live
        # fmin/fmax skip NaN without warnings; an all-NaN row already fails the share rule.
        constant = np.fmin.reduce(block, axis=1) == np.fmax.reduce(block, axis=1)
        ok[start : start + len(picked)] = ~bad_value & (share >= min_live_share) & ~constant & (n_nan < block.shape[1])
    return ok


def _usable_table(table: pd.DataFrame | PredictionTable, id_column: str) -> PredictionTable:
    """The table as a :class:`PredictionTable`, or TableError when it has no id column or a model column twice."""
    if isinstance(table, pd.DataFrame):
        table = PredictionTable.from_frame(table, id_column)
    elif not isinstance(table, PredictionTable):
        raise TableError([PredictionError(None, "empty", (), f"expected a DataFrame, got {type(table).__name__}")])
    if table.raw_ids is None:
        raise TableError(
            [PredictionError(None, "missing_id_column", (), f"no {id_column!r} column; columns: {table.columns[:10]}")]
        )
    names = table.models
    dup_models = sorted({m for m in names if names.count(m) > 1}) if len(set(names)) != len(names) else []
    if dup_models:
        raise TableError(
            [PredictionError(None, "duplicate_models", (), f"model column(s) appear twice: {dup_models[:5]}")]
        )
    return table


def validate_predictions(
    table: pd.DataFrame | PredictionTable,
    live_ids: Sequence[object],
    min_live_share: float = 1.0,
    staked_models: Iterable[str] | None = None,
    id_column: str = "id",
) -> ValidPredictions:
    """Check a predictions table (``id_column`` + one column per model) against the live ids.

    Returns the valid models' predictions laid out on the live ids (in the order given) and every problem found.
    Raises TableError when the table as a whole is unusable. A :class:`PredictionTable` (read straight from a file)
    is checked without a pandas frame; when its rows are the live ids in order, the result shares its matrix.
    """
    table = _usable_table(table, id_column)
    names = table.models
    live = pd.Index([str(i) for i in live_ids])
    if live.has_duplicates:
        raise TableError(
            [PredictionError(None, "duplicate_ids", first_ids(live[live.duplicated()]), "live id list has duplicates")]
        )
    if len(live) == 0:
        raise TableError([PredictionError(None, "empty", (), "the round has no live ids")])
    ids = id_strings(table.raw_ids)
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise TableError(
            [
                PredictionError(
                    None,
                    "duplicate_ids",
                    first_ids(pd.unique(ids[dup])),
                    f"{int(ids[dup].nunique())} id(s) appear more than once",
                )
            ]
        )
    file_ids = pd.Index(ids.to_numpy(), name=id_column)
    errors: list[PredictionError] = []
    is_live = file_ids.isin(live)
    keep: np.ndarray | None = None
    if not is_live.all():
        errors.append(
            PredictionError(
                None,
                "unknown_ids",
                first_ids(file_ids[~is_live]),
                f"{int((~is_live).sum())} row(s) with ids not live this round were ignored",
            )
        )
        keep = np.flatnonzero(is_live)
        file_ids = file_ids[keep]
    if len(file_ids) == 0:
        raise TableError(errors + [PredictionError(None, "empty", (), "no row has a live id")])
    rows_absent = live.difference(file_ids, sort=False)
    staked = None if staked_models is None else {str(m) for m in staked_models}
    candidates: list[str] = []
    for model in names:
        if staked is not None and model not in staked:
            errors.append(PredictionError(model, "no_stake", (), "model has no entry in the round's stake table"))
        else:
            candidates.append(model)
    numeric = [m for m in candidates if m in table.row_of]
    passed = _clean_rows(
        table.values, [table.row_of[m] for m in numeric], keep, len(live), len(rows_absent), min_live_share
    )
    clean = {m for m, good in zip(numeric, passed) if good}
    good: dict[str, np.ndarray] = {}
    for model in candidates:
        if model in clean:
            continue
        column = table.column(model)
        if keep is not None:
            column = column.iloc[keep]
        values, model_errors = _check_model(model, column.set_axis(file_ids), live, min_live_share, rows_absent)
        errors.extend(model_errors)
        if values is not None:
            good[model] = values.to_numpy()
    kept = [m for m in candidates if m in clean or m in good]
    return ValidPredictions(
        values=layout(table, kept, good, keep, file_ids, live), models=kept, ids=live, errors=errors
    )
