"""The round-scoring pipeline: validate, score, pay. Every other component calls ``score_round``.

Model keys are strings (column names of the predictions table; the chain layer uses decimal model
ids). Payout and burn are exact Python ints (they can exceed int64); in files they are written as
decimal strings (``RoundScores.to_table``), which survive Parquet and CSV bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from os import PathLike
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from oracle.scoring.matrix import PredictionTable
from oracle.scoring.metrics import score_rows
from oracle.scoring.params import RoundParams
from oracle.scoring.payouts import compute_payouts
from oracle.scoring.stakes import validate_stakes
from oracle.scoring.tables import write_table
from oracle.scoring.targets import validate_targets
from oracle.scoring.validation import PredictionError, validate_predictions

__all__ = ["RoundScores", "score_round", "scores_from_table", "AMOUNT_COLUMNS"]

AMOUNT_COLUMNS = ("stake_at_risk", "payout", "burn")


@dataclass
class RoundScores:
    """A scored round.

    scores: one row per model in the stake table or the predictions table, sorted by model key
        (numerically when every key is a decimal integer). Columns: model (str), valid (bool),
        corr, mmc (float, NaN when not scored), fnc and max_feature_exposure when features were
        given, stake_at_risk, payout, burn (Python ints, object dtype).
    meta_model: stake-weighted meta model indexed by live id.
    errors: every validation problem; models named there were not scored and get 0/0.
    payout_factor: exact ``min(1, threshold / total_stake_at_risk)``.
    """

    scores: pd.DataFrame
    meta_model: pd.Series
    errors: list[PredictionError] = field(default_factory=list)
    total_payout: int = 0
    total_burn: int = 0
    total_stake_at_risk: int = 0
    payout_factor: Fraction = Fraction(1)
    #: The payouts' sum before scaling to the payout limit (equal to ``total_payout`` when it did not bind).
    unscaled_payout: int = 0

    def to_table(self) -> pd.DataFrame:
        """Scores with integer amounts as decimal strings: safe for Parquet/CSV at any size."""
        table = self.scores.copy()
        for col in AMOUNT_COLUMNS:
            table[col] = table[col].map(str).astype(object)
        return table

    def save(self, path: str | PathLike[str]) -> None:
        """Write ``to_table()`` as Parquet or CSV (by extension) to a path or fsspec URL."""
        write_table(self.to_table(), path)


def scores_from_table(table: pd.DataFrame) -> pd.DataFrame:
    """Inverse of ``RoundScores.to_table``: decimal-string amounts back to exact Python ints."""
    out = table.copy()
    out["model"] = out["model"].astype(str)
    for col in AMOUNT_COLUMNS:
        if col in out.columns:
            out[col] = pd.Series([int(v) for v in out[col]], index=out.index, dtype=object)
    return out


def _model_order(models: list[str]) -> list[str]:
    if all(m.isdigit() for m in models):
        return sorted(models, key=int)
    return sorted(models)


def score_round(
    predictions: pd.DataFrame | PredictionTable,
    targets: pd.DataFrame | pd.Series,
    stakes: pd.DataFrame | pd.Series | Mapping[str, object],
    params: RoundParams,
    features: pd.DataFrame | None = None,
    live_ids: Sequence[str] | None = None,
    payout_limit: int | None = None,
) -> RoundScores:
    """Validate and score one round; pay every valid staked model, 0/0 for the rest.

    predictions: ``id`` column + one column per model (a frame, or a :class:`PredictionTable` read straight from a
    file, which is scored without copying its matrix). targets: ``id``, ``target`` (optional
    ``round``) or a Series by id. stakes: ``model``, ``stake`` (ints or decimal strings) or a Series.
    features: optional, indexed by id (or with an ``id`` column), adds fnc and max_feature_exposure.
    live_ids: the round's live ids; default every id in the targets table (NaN targets included).
    Ids are scored in sorted (string) order and models in key order, so results do not depend on
    the order of rows in any input; the meta model sums stakes in that model order.
    Table-level problems raise ``TableError``; per-model problems land in ``errors``.
    payout_limit: when the payouts sum to more, they are scaled down to it (``payouts.scale_payouts``).
    """
    if live_ids is None:
        raw = targets.index if isinstance(targets, pd.Series) else targets["id"] if "id" in targets.columns else None
        if raw is None:
            target_series, _ = validate_targets(targets, None, params.round_number)
            raw = target_series.index
        live_ids = [str(i) for i in pd.Series(raw).astype(str)]
    # Canonical orders (ids sorted as strings, models by key) make every float bit-reproducible
    # from the data alone, whatever order the files list rows in: the last bits of a score decide
    # the last digits of a payout.
    live_ids = sorted(str(i) for i in live_ids)
    target_series, target_errors = validate_targets(targets, live_ids, params.round_number)
    stake_map, stake_errors = validate_stakes(stakes)
    if isinstance(predictions, pd.DataFrame):
        predictions = PredictionTable.from_frame(predictions)
    valid = validate_predictions(predictions, live_ids, params.min_live_share, staked_models=stake_map.keys())
    errors = [*target_errors, *stake_errors, *valid.errors]

    feats = None
    if features is not None:
        feats = features.set_index("id") if "id" in features.columns else features
        feats = feats.copy()
        feats.index = feats.index.astype(str)

    scored = _model_order(valid.models)
    values = valid.values
    if scored != valid.models:
        position = {m: i for i, m in enumerate(valid.models)}
        values = values[[position[m] for m in scored]]
    weights = pd.Series({m: float(stake_map[m]) for m in scored if stake_map[m] > 0}, dtype=np.float64)
    if scored:
        metrics = score_rows(values, valid.ids, scored, target_series, weights, features=feats)
        metric_frame = metrics.to_frame().set_index("model")
        meta = metrics.meta_model
    else:
        metric_frame = pd.DataFrame(columns=["corr", "mmc"], dtype=np.float64)
        meta = pd.Series(np.nan, index=pd.Index(live_ids, name="id"), name="meta_model")

    all_models = _model_order(sorted(set(stake_map) | set(predictions.models)))
    in_round = {m: stake_map.get(m, 0) for m in all_models}
    corr = metric_frame["corr"].to_dict()
    mmc = metric_frame["mmc"].to_dict()
    ineligible = [m for m in all_models if m not in corr]
    # Scored models whose score is undefined (e.g. no staked model at all, so no meta model) are
    # not paid; that can only happen when nothing is at risk among scored models.
    ineligible += [m for m in corr if not (math.isfinite(corr[m]) and math.isfinite(mmc[m]))]
    result = compute_payouts(in_round, corr, mmc, params, ineligible=ineligible, payout_limit=payout_limit)

    by_model = metric_frame.to_dict("index")
    rows = []
    for p in result.models:
        row: dict[str, object] = {"model": p.model, "valid": p.model in corr}
        metrics_row = by_model.get(p.model, {})
        for col in metric_frame.columns:
            row[col] = float(metrics_row.get(col, math.nan))
        row.update(stake_at_risk=p.stake_at_risk, payout=p.payout, burn=p.burn)
        rows.append(row)
    columns = ["model", "valid", *metric_frame.columns, *AMOUNT_COLUMNS]
    scores = pd.DataFrame(rows, columns=columns)
    for col in AMOUNT_COLUMNS:
        scores[col] = pd.Series([int(v) for v in scores[col]], dtype=object)
    return RoundScores(
        scores=scores,
        meta_model=meta,
        errors=errors,
        total_payout=result.total_payout,
        total_burn=result.total_burn,
        total_stake_at_risk=result.total_stake_at_risk,
        payout_factor=result.payout_factor,
        unscaled_payout=result.unscaled_payout,
    )
