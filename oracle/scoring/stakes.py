"""Validation of a round's stake table: stakes at risk as exact integers, a model's bad row dropping that model.

Every problem is a :class:`~oracle.scoring.validation.PredictionError` naming the model. Rules: stake_negative,
stake_non_integer, stake_duplicate (the model is dropped); stake_missing_column (fatal, TableError).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Mapping

import numpy as np
import pandas as pd

from oracle.scoring.validation import PredictionError, TableError

__all__ = ["validate_stakes"]


def _stake_int(value: object) -> int | None:
    """Exact integer value of a stake cell, or None when it is not a whole number."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        dec = Decimal(str(value).strip()) if not isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    if not dec.is_finite() or dec != dec.to_integral_value():
        return None
    return int(dec)


def validate_stakes(
    stakes: pd.DataFrame | pd.Series | Mapping[str, object],
    model_column: str = "model",
    stake_column: str = "stake",
) -> tuple[dict[str, int], list[PredictionError]]:
    """Stakes at risk as exact ints keyed by model string; bad rows drop that model with an error.

    Stake cells may be ints, integral floats, or decimal strings (amounts above int64 travel as text).
    """
    if isinstance(stakes, pd.DataFrame):
        for col in (model_column, stake_column):
            if col not in stakes.columns:
                raise TableError([PredictionError(None, "stake_missing_column", (), f"stakes have no {col!r} column")])
        pairs = list(zip(stakes[model_column].tolist(), stakes[stake_column].tolist()))
    elif isinstance(stakes, pd.Series):
        pairs = list(zip(stakes.index.tolist(), stakes.tolist()))
    else:
        pairs = list(stakes.items())
    keys = [str(m) for m, _ in pairs]
    counts = pd.Series(keys).value_counts() if keys else pd.Series(dtype=int)
    errors: list[PredictionError] = []
    out: dict[str, int] = {}
    for (_model, raw), key in zip(pairs, keys):
        if counts[key] > 1:
            if not any(e.model == key and e.rule == "stake_duplicate" for e in errors):
                errors.append(PredictionError(key, "stake_duplicate", (), f"model has {int(counts[key])} stake rows"))
            continue
        value = _stake_int(raw)
        if value is None:
            errors.append(
                PredictionError(key, "stake_non_integer", (), f"stake {raw!r} is not a whole number of token units")
            )
        elif value < 0:
            errors.append(PredictionError(key, "stake_negative", (), f"stake {value} is negative"))
        else:
            out[key] = value
    return out, errors
