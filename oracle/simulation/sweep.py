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
from oracle.simulation.baseline import DEFAULT_TOP_SHARE
from oracle.simulation.claims import seed_measures
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


def outcome(result: SimulationResult, top_share: float = DEFAULT_TOP_SHARE) -> dict[str, float]:
    """One sweep row: the rule (clip, weights, threshold in tokens) and every per-seed measure of
    ``claims.seed_measures`` (money flows in tokens, the claims' measures in their own units)."""
    return {
        "clip": result.params.clip,
        "corr_weight": result.params.corr_weight,
        "mmc_weight": result.params.mmc_weight,
        "payout_threshold_tokens": result.params.payout_threshold / TOKEN,
        **seed_measures(result, top_share),
    }


def run_sweep(
    prepared: PreparedTournament,
    grid: SweepGrid,
    progress: Callable[[str, int, int], None] | None = None,
    top_share: float = DEFAULT_TOP_SHARE,
) -> pd.DataFrame:
    """One row of :func:`outcome` per grid point, in grid order (each replay on a fresh ledger)."""
    prepared.memoise = True
    rows = []
    points = grid.points()
    for i, params in enumerate(points):
        rows.append(outcome(settle(prepared, params), top_share))
        if progress:
            progress("sweep", i + 1, len(points))
    table = pd.DataFrame(rows)
    return table.replace([np.inf, -np.inf], np.nan)
