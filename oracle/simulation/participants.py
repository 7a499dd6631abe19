"""Example participants: how a data scientist uses the tournament (train, predict, submit, stake).

Each participant owns one model: a scikit-learn estimator trained on the history Parquet, a
``predict`` that turns one live era into a submission (ranks in (0, 1], Numerai's format), and a
stake policy that decides, before each round closes, how much to add or withdraw.

Kinds (the labels the report groups by):

* ``linear``      ridge regression on all features: learns the linear effects, risky ones included.
* ``gbt``         histogram gradient-boosted trees: also learns the pairwise interactions.
* ``neutral``     the gbt predictions neutralised against the features whose effect is least stable
                  across history eras (Numerai's "riskiest features"): p - F(FᵀF)⁻¹Fᵀp.
* ``consensus``   a copy of the consensus: the average rank of the public example models (a linear
                  and a gbt model), i.e. what the stake-weighted crowd already says.
* ``spam``        uniform random noise, a fresh draw every round, small stakes, many models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np
import pandas as pd
from numerai_tools.scoring import neutralize
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

__all__ = [
    "KINDS",
    "CompoundStake",
    "Participant",
    "StakePolicy",
    "TakeProfit",
    "default_population",
    "rank_submission",
    "riskiest_features",
]

KINDS: tuple[str, ...] = ("linear", "gbt", "neutral", "consensus", "spam")
TOKEN = 10**18


class StakePolicy(Protocol):
    """Decides the stake change before a round closes: > 0 deposits, < 0 requests a withdrawal."""

    def initial(self) -> int: ...

    def adjust(self, balance: int, round_number: int) -> int: ...


@dataclass(frozen=True)
class CompoundStake:
    """Deposit once and let payouts and burns compound: Δ = 0 every round."""

    amount: int

    def initial(self) -> int:
        return self.amount

    def adjust(self, balance: int, round_number: int) -> int:
        return 0


@dataclass(frozen=True)
class TakeProfit:
    """Deposit once; withdraw everything above ``amount·(1 + margin)``: Δ = -(balance - amount) then.

    A cautious participant's policy: profits leave the tournament, losses are not topped up.
    """

    amount: int
    margin: float = 0.10

    def initial(self) -> int:
        return self.amount

    def adjust(self, balance: int, round_number: int) -> int:
        ceiling = self.amount + int(self.amount * self.margin)
        return -(balance - self.amount) if balance > ceiling else 0


def rank_submission(values: np.ndarray) -> np.ndarray:
    """Average ranks scaled to (0, 1]: Numerai's submission format, and invariant to any monotone map."""
    return pd.Series(values).rank(method="average", pct=True).to_numpy()


def riskiest_features(history: pd.DataFrame, features: Sequence[str], k: int) -> list[str]:
    """The k features whose per-era correlation with the target is least stable.

    Instability = std over eras of corr(feature, target) minus |mean over eras|: large when the
    feature's effect is strong in some eras and flips in others.
    """
    per_era = history.groupby("era", sort=True)[list(features) + ["target"]].corr()["target"].unstack()
    per_era = per_era[list(features)]
    instability = per_era.std() - per_era.mean().abs()
    return list(instability.sort_values(ascending=False).index[:k])


@dataclass
class Participant:
    """One model, its owner's code and stake policy."""

    model_id: int
    name: str
    kind: str
    policy: StakePolicy
    seed: int = 0
    feature_share: float = 1.0
    neutralise_top: int = 0
    gbt_iter: int = 40
    _features: list[str] = field(default_factory=list, repr=False)
    _estimators: list[object] = field(default_factory=list, repr=False)
    _neutralisers: list[str] = field(default_factory=list, repr=False)
    _rng: np.random.Generator | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; one of {KINDS}")

    def train(self, history: pd.DataFrame, features: Sequence[str]) -> None:
        """Fit on history (id, era, feature_*, target); spammers skip it and only seed their noise."""
        # One thread: on these small fits OpenMP's spinning threads cost more than they give,
        # three times over when the machine is shared.
        with threadpool_limits(1):
            self._train(history, features)

    def _train(self, history: pd.DataFrame, features: Sequence[str]) -> None:
        rng = np.random.default_rng([self.seed, self.model_id])
        self._rng = rng
        if self.kind == "spam":
            return
        chosen = list(features)
        if self.feature_share < 1.0:
            keep = max(1, int(round(self.feature_share * len(chosen))))
            chosen = sorted(rng.choice(chosen, size=keep, replace=False).tolist())
        self._features = chosen
        x = history[chosen].to_numpy(np.float32)
        y = history["target"].to_numpy(np.float32)
        if self.kind in ("linear", "consensus"):
            self._estimators = [Ridge(alpha=10.0).fit(x, y)]
        if self.kind in ("gbt", "neutral", "consensus"):
            self._estimators.append(_gbt(self.gbt_iter, int(rng.integers(2**31))).fit(x, y))
        if self.kind == "neutral":
            self._neutralisers = riskiest_features(history, chosen, self.neutralise_top)

    def predict(self, live: pd.DataFrame) -> np.ndarray:
        """The submission for one live era: one value in (0, 1] per row, in row order."""
        with threadpool_limits(1):
            return self._predict(live)

    def _predict(self, live: pd.DataFrame) -> np.ndarray:
        if self.kind == "spam":
            assert self._rng is not None, "train() first"
            return rank_submission(self._rng.random(len(live)))
        if not self._estimators:
            raise RuntimeError(f"{self.name}: train() before predict()")
        x = live[self._features].to_numpy(np.float32)
        ranks = [rank_submission(est.predict(x)) for est in self._estimators]  # type: ignore[attr-defined]
        raw = np.mean(ranks, axis=0)
        if self.kind == "neutral" and self._neutralisers:
            frame = pd.DataFrame({"p": raw - raw.mean()})
            raw = neutralize(frame, live[self._neutralisers].reset_index(drop=True))["p"].to_numpy()
        return rank_submission(raw)


def _gbt(max_iter: int, seed: int) -> HistGradientBoostingRegressor:
    # Shallow trees, few iterations: a cheap but real learner of the pairwise interactions.
    return HistGradientBoostingRegressor(
        max_iter=max_iter, learning_rate=0.1, max_depth=3, min_samples_leaf=200, early_stopping=False, random_state=seed
    )


def default_population(
    n_models: int = 16,
    seed: int = 0,
    spam_share: float = 0.5,
    stake: int = 1000 * TOKEN,
    spam_stake: int = 20 * TOKEN,
    neutralise_top: int = 6,
    gbt_iter: int = 40,
) -> list[Participant]:
    """A tournament's worth of models: the four real kinds in turn, the rest random spammers.

    Model ids are 1..n_models. Variants of a kind differ by a random feature subset (the first of
    each kind sees every feature), so they are correlated but not identical, as real crowds are.
    Every real kind compounds its stake except the second linear model, which takes profits.
    """
    if n_models < len(KINDS):
        raise ValueError(f"need at least {len(KINDS)} models, one per kind")
    n_real = max(len(KINDS) - 1, int(round(n_models * (1.0 - spam_share))))
    real_kinds = KINDS[:-1]
    people: list[Participant] = []
    for i in range(n_real):
        kind = real_kinds[i % len(real_kinds)]
        variant = i // len(real_kinds)
        policy: StakePolicy = TakeProfit(stake) if (kind == "linear" and variant == 1) else CompoundStake(stake)
        people.append(
            Participant(
                model_id=len(people) + 1,
                name=f"{kind}_{variant}",
                kind=kind,
                policy=policy,
                seed=seed,
                feature_share=1.0 if variant == 0 else 0.7,
                neutralise_top=neutralise_top,
                gbt_iter=gbt_iter,
            )
        )
    for j in range(n_models - n_real):
        people.append(
            Participant(model_id=len(people) + 1, name=f"spam_{j}", kind="spam", policy=CompoundStake(spam_stake), seed=seed)
        )
    return people
