"""Validation of a round's targets file.

Every problem is a :class:`~oracle.scoring.validation.PredictionError` with ``model`` None. Rules:
  target_nan          ids without a (finite) target are not scored; fatal when no id has one
  target_unknown_ids  rows whose id is not live are dropped
  target_non_numeric, target_duplicate_ids, target_missing_column, target_round_mismatch,
  target_ids_mismatch (fewer than MIN_TARGET_COVERAGE of the live ids have a row)   fatal (TableError)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from oracle.scoring.validation import PredictionError, TableError, first_ids, id_strings, numeric_column

__all__ = ["MIN_TARGET_COVERAGE", "validate_targets"]

# numerai-tools refuses to score when more than 20% of ids are filtered out
# (DEFAULT_MAX_FILTERED_INDEX_RATIO); a targets file matching fewer live ids is the wrong file.
MIN_TARGET_COVERAGE = 0.8


def validate_targets(
    targets: pd.DataFrame | pd.Series,
    live_ids: Sequence[object] | None = None,
    round_number: int | None = None,
    id_column: str = "id",
    target_column: str = "target",
) -> tuple[pd.Series, list[PredictionError]]:
    """Targets as a float Series indexed by id (NaN = unresolved, not scored) plus non-fatal errors.

    Accepts a frame with ``id``, ``target`` and optionally ``round``, or a Series indexed by id.
    Fatal (TableError): missing columns, duplicate ids, non-numeric targets, a ``round`` column that
    disagrees with ``round_number``, or live ids of which fewer than MIN_TARGET_COVERAGE have a row.
    """
    if isinstance(targets, pd.Series):
        frame = pd.DataFrame({id_column: targets.index, target_column: targets.to_numpy()})
    else:
        frame = targets
    for col in (id_column, target_column):
        if col not in frame.columns:
            raise TableError([PredictionError(None, "target_missing_column", (), f"targets have no {col!r} column")])
    if round_number is not None and "round" in frame.columns:
        rounds = pd.unique(frame["round"])
        if len(rounds) != 1 or str(rounds[0]) != str(round_number):
            raise TableError(
                [
                    PredictionError(
                        None,
                        "target_round_mismatch",
                        (),
                        f"targets are for round(s) {list(rounds)[:5]}, expected {round_number}",
                    )
                ]
            )
    ids = id_strings(frame[id_column])
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise TableError(
            [PredictionError(None, "target_duplicate_ids", first_ids(pd.unique(ids[dup])), "ids appear more than once")]
        )
    values, error = numeric_column("targets", pd.Series(frame[target_column].to_numpy(), index=ids.to_numpy()))
    if error is not None:
        raise TableError([PredictionError(None, "target_non_numeric", error.ids, error.message)])
    assert values is not None
    errors: list[PredictionError] = []
    inf = np.isinf(values.to_numpy())
    if inf.any():
        errors.append(
            PredictionError(
                None, "target_nan", first_ids(values.index[inf]), "infinite targets are treated as unresolved"
            )
        )
        values = values.mask(np.isinf(values))
    if live_ids is not None:
        live = pd.Index([str(i) for i in live_ids])
        unknown = ~values.index.isin(live)
        if unknown.any():
            errors.append(
                PredictionError(
                    None,
                    "target_unknown_ids",
                    first_ids(values.index[unknown]),
                    f"{int(unknown.sum())} target(s) for ids not live were ignored",
                )
            )
            values = values[~unknown]
        covered = live.isin(values.index).mean() if len(live) else 0.0
        if covered < MIN_TARGET_COVERAGE:
            raise TableError(
                [
                    PredictionError(
                        None,
                        "target_ids_mismatch",
                        first_ids(live[~live.isin(values.index)]),
                        f"targets cover {covered:.2%} of live ids; is this the round's targets file?",
                    )
                ]
            )
        values = values.reindex(live)
    nan = values.isna()
    if nan.any():
        errors.append(
            PredictionError(
                None,
                "target_nan",
                first_ids(values.index[nan]),
                f"{int(nan.sum())} id(s) have no target and are not scored",
            )
        )
    if nan.all():
        raise TableError(errors + [PredictionError(None, "target_nan", (), "no id has a target")])
    values.name = target_column
    values.index.name = id_column
    return values, errors
