"""The no-stake baseline: a leaderboard prize, replayed on the scores of a staked simulation.

Under a leaderboard prize a model stakes nothing: each round, the ``k`` models with the highest payout
score (``corr_weight·CORR + mmc_weight·MMC``, the same score the staking rule pays on) share a prize pool
equally, and every other model gets nothing. Nobody is ever burned, so a model's result is never negative:
whoever submits many random models collects the lucky ones' prizes and pays nothing for the unlucky ones
(the free option that staking removes).

To compare like with like the pool of round ``r`` is what the staking rule paid out in that round (the same
money from the reserve, distributed by the other rule), and the scores are the staked round's, so the two
rules differ only in how they pay. The prize is ``⌊pool / k⌋`` per winner; the remainder, ``pool mod k``
(fewer than ``k`` smallest units), is not paid out. Ties in score are broken by the lower model id.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_TOP_SHARE", "leaderboard_prizes", "leaderboard_rounds", "winners_count"]

#: Share of the models a round's prize goes to: the top 10%, as many data-science leaderboards pay.
DEFAULT_TOP_SHARE = 0.10


def winners_count(n_models: int, top_share: float) -> int:
    """k = max(1, ⌈top_share·n_models⌉): at least one winner, never more than there are models."""
    if not 0.0 < top_share <= 1.0:
        raise ValueError(f"top_share must be in (0, 1], got {top_share!r}")
    if n_models < 1:
        raise ValueError(f"a leaderboard needs at least one model, got {n_models}")
    # The small epsilon keeps 0.1·50 from becoming 6 through floating-point error.
    return min(n_models, max(1, math.ceil(top_share * n_models - 1e-9)))


def leaderboard_prizes(scores: Mapping[int, float], pool: int, top: int) -> dict[int, int]:
    """Prize per model: ``pool // top`` to each of the ``top`` highest scores, 0 to everyone else.

    A model without a score (NaN: not scored) cannot win. Ties go to the lower model id.
    """
    if pool < 0:
        raise ValueError(f"prize pool must be >= 0, got {pool}")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    ranked = sorted((m for m, s in scores.items() if not np.isnan(s)), key=lambda m: (-scores[m], m))
    prize = pool // top
    winners = set(ranked[:top])
    return {m: (prize if m in winners else 0) for m in scores}


def leaderboard_rounds(rounds: pd.DataFrame, top_share: float = DEFAULT_TOP_SHARE) -> pd.DataFrame:
    """Replay ``SimulationResult.rounds`` (round, model_id, score, payout) under the leaderboard prize.

    Returns round, model_id, pool, prize (Python ints): the pool of a round is the sum of that round's
    staking payouts, and every model in the round is ranked.
    """
    out = []
    for r, part in rounds.groupby("round", sort=True):
        pool = sum(int(v) for v in part["payout"])
        scores = dict(zip((int(m) for m in part["model_id"]), (float(s) for s in part["score"])))
        prizes = leaderboard_prizes(scores, pool, winners_count(len(scores), top_share))
        out.extend({"round": int(r), "model_id": m, "pool": pool, "prize": prizes[m]} for m in scores)
    table = pd.DataFrame.from_records(out, columns=["round", "model_id", "pool", "prize"])
    for col in ("pool", "prize"):
        table[col] = pd.Series([int(v) for v in table[col]], dtype=object, index=table.index)
    return table
