"""Parameter sweep: the same tournament replayed under different payout rules.

Submissions do not depend on the payout rules, so the rounds are prepared once and only the
stake policies, scoring and settlement are replayed for each point of the grid
``clip × (corr_weight, mmc_weight) × payout_threshold``. Stakes do depend on the rules (they
compound), and so do the meta model's weights and every MMC: each point is a full replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from oracle.scoring.params import RoundParams
from oracle.simulation.engine import PreparedTournament, SimulationResult, settle
from oracle.simulation.participants import TOKEN

__all__ = ["SweepGrid", "outcome", "run_sweep"]


@dataclass(frozen=True)
class SweepGrid:
    """The points to replay; ``weights`` are (corr_weight, mmc_weight) pairs."""

    clips: Sequence[float] = (0.02, 0.05, 0.10)
    weights: Sequence[tuple[float, float]] = ((1.0, 0.0), (0.5, 2.0), (0.0, 3.0))
    thresholds: Sequence[int] = (10**9 * TOKEN,)

    def points(self) -> list[RoundParams]:
        return [
            RoundParams(corr_weight=w[0], mmc_weight=w[1], clip=c, payout_threshold=t)
            for c, w, t in product(self.clips, self.weights, self.thresholds)
        ]


def _net_by_kind(result: SimulationResult) -> dict[str, float]:
    """Σ(payout − burn) per kind over every round, in tokens: what the kind earned."""
    rounds = result.rounds.merge(result.models, on="model_id")
    exact = lambda v: sum(int(x) for x in v)  # noqa: E731
    paid = rounds.groupby("kind")["payout"].agg(exact)
    burned = rounds.groupby("kind")["burn"].agg(exact)
    return {k: float(int(paid[k]) - int(burned[k])) / TOKEN for k in paid.index}


def outcome(result: SimulationResult) -> dict[str, float]:
    """One sweep row: the four economic effects and the money flows, all in tokens or scores.

    spam_net_pct = 100·Σ_spam(payout − burn) / Σ_spam initial stake; neutral_minus_gbt = final stake
    of the neutralised models minus the unneutralised gbt models; consensus_mmc and
    orthogonal_mmc are mean MMC of the consensus copies and of the linear + neutral models;
    meta_minus_median = mean over rounds of meta CORR − median CORR of the non-spam models.
    """
    rounds = result.rounds.merge(result.models, on="model_id")
    last = rounds[rounds["round"] == rounds["round"].max()]
    first = rounds[rounds["round"] == 1]
    spam_start = sum(int(v) for v in first.loc[first["kind"] == "spam", "stake_at_risk"])
    net = _net_by_kind(result)
    final = last.groupby("kind")["balance"].agg(lambda v: sum(int(x) for x in v))
    real = rounds[rounds["kind"] != "spam"]
    median_corr = real.groupby("round")["corr"].median()
    meta = result.meta.set_index("round")["meta_corr"]
    return {
        "clip": result.params.clip,
        "corr_weight": result.params.corr_weight,
        "mmc_weight": result.params.mmc_weight,
        "payout_threshold_tokens": result.params.payout_threshold / TOKEN,
        "total_paid": float(sum(int(v) for v in rounds["payout"])) / TOKEN,
        "total_burned": float(sum(int(v) for v in rounds["burn"])) / TOKEN,
        "spam_net_pct": 100.0 * net.get("spam", 0.0) * TOKEN / spam_start if spam_start else float("nan"),
        "neutral_minus_gbt": float(int(final.get("neutral", 0)) - int(final.get("gbt", 0))) / TOKEN,
        "consensus_mmc": float(rounds.loc[rounds["kind"] == "consensus", "mmc"].mean()),
        "orthogonal_mmc": float(rounds.loc[rounds["kind"].isin(["linear", "neutral"]), "mmc"].mean()),
        "meta_minus_median": float((meta - median_corr).mean()),
    }


def run_sweep(
    prepared: PreparedTournament,
    grid: SweepGrid,
    progress: Callable[[str, int, int], None] | None = None,
) -> pd.DataFrame:
    """One row of :func:`outcome` per grid point, in grid order (each replay on a fresh ledger)."""
    prepared.memoise = True
    rows = []
    points = grid.points()
    for i, params in enumerate(points):
        rows.append(outcome(settle(prepared, params)))
        if progress:
            progress("sweep", i + 1, len(points))
    table = pd.DataFrame(rows)
    return table.replace([np.inf, -np.inf], np.nan)
