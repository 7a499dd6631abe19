"""Example participants: how a data scientist uses the tournament (train, predict, submit, stake).

Each participant owns one model and a stake policy that decides, before each round closes, how
much to add or withdraw. Models come in *families*: a family is one feature subset with the fits
its members need (a ridge regression, a gradient-boosted model), and a member is a post-processing
of its family's fits. In the default population ``gbt_i`` and ``neutral_i`` share one booster, so
the neutralised model is exactly the unneutralised one with its feature exposure removed — the
comparison the economics are about, with one fit instead of two.

Kinds (the labels the report groups by):

* ``linear``      the family's ridge regression on its features: learns the linear effects, risky ones included.
* ``gbt``         the family's histogram gradient-boosted trees: also learns the pairwise interactions.
* ``neutral``     the same gbt predictions neutralised against the features whose effect is least stable
                  across the training eras (Numerai's "riskiest features"): p - F(FᵀF)⁻¹Fᵀp.
* ``consensus``   a copy of the consensus: the average rank of the family's public example models (its
                  linear and its gbt model), i.e. what the stake-weighted crowd already says.
* ``spam``        uniform random noise, a fresh draw every round, small stakes, many models. Their stakes
                  form a ladder (10, 20, 40, 80 tokens in turn) so the report can show how a spammer's
                  worst case grows with what it stakes.

Training and prediction go through :class:`Crowd`: it fits each family once per training call and
predicts any number of rounds with one call per fitted estimator (the rounds' rows stacked), which
is what makes a 100-round, 50-model simulation cheap. Numerai participants retrain rarely; how often
the crowd retrains is the engine's ``retrain_every`` (see ``oracle.simulation.engine.prepare``).
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
    "Crowd",
    "Family",
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
    if k <= 0:
        return []
    per_era = history.groupby("era", sort=True)[list(features) + ["target"]].corr()["target"].unstack()
    per_era = per_era[list(features)]
    instability = per_era.std() - per_era.mean().abs()
    return list(instability.sort_values(ascending=False).index[:k])


@dataclass
class Participant:
    """One model, its owner's stake policy, and which family's fits it post-processes.

    ``family`` names the fitted models the participant uses; participants with equal
    :meth:`family_key` share them (default: the model id, i.e. a family of its own).
    ``feature_share`` < 1 gives the family a random feature subset drawn from ``(seed, family)``.
    """

    model_id: int
    name: str
    kind: str
    policy: StakePolicy
    seed: int = 0
    feature_share: float = 1.0
    neutralise_top: int = 0
    gbt_iter: int = 40
    family: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; one of {KINDS}")

    def family_key(self) -> tuple[int, int, float, int, int]:
        """Everything a family's fits depend on: (seed, family, feature_share, gbt_iter, neutralise_top)."""
        family = self.model_id if self.family is None else self.family
        return (self.seed, family, self.feature_share, self.gbt_iter, self.neutralise_top)


@dataclass
class Family:
    """One feature subset, its fitted ridge and booster, and its riskiest features (for neutralising)."""

    seed: int
    family: int
    feature_share: float
    gbt_iter: int
    neutralise_top: int
    needs: frozenset[str]  # which fits the members use: subset of {"ridge", "gbt", "risky"}
    features: list[str] = field(default_factory=list)
    ridge: Ridge | None = field(default=None, repr=False)
    gbt: HistGradientBoostingRegressor | None = field(default=None, repr=False)
    risky: list[str] = field(default_factory=list)

    def fit(self, history: pd.DataFrame, features: Sequence[str]) -> None:
        """Fit what the members need on ``history`` (id, era, feature_*, target)."""
        rng = np.random.default_rng([self.seed, self.family])
        chosen = list(features)
        if self.feature_share < 1.0:
            keep = max(1, round(self.feature_share * len(chosen)))
            chosen = sorted(rng.choice(chosen, size=keep, replace=False).tolist())
        self.features = chosen
        x = history[chosen].to_numpy(np.float32)
        y = history["target"].to_numpy(np.float32)
        gbt_seed = int(rng.integers(2**31))
        self.ridge = Ridge(alpha=10.0).fit(x, y) if "ridge" in self.needs else None
        self.gbt = _gbt(self.gbt_iter, gbt_seed).fit(x, y) if "gbt" in self.needs else None
        self.risky = riskiest_features(history, chosen, self.neutralise_top) if "risky" in self.needs else []

    def raw(self, live: pd.DataFrame) -> dict[str, np.ndarray]:
        """Raw ridge and booster outputs for every row of ``live`` (many rounds' rows at once is fine)."""
        if not self.features:
            raise RuntimeError(f"family {self.family}: fit() before predicting")
        x = live[self.features].to_numpy(np.float32)
        out: dict[str, np.ndarray] = {}
        if self.ridge is not None:
            out["ridge"] = self.ridge.predict(x)
        if self.gbt is not None:
            out["gbt"] = self.gbt.predict(x)
        return out


_NEEDS: dict[str, frozenset[str]] = {
    "linear": frozenset({"ridge"}),
    "gbt": frozenset({"gbt"}),
    "neutral": frozenset({"gbt", "risky"}),
    "consensus": frozenset({"ridge", "gbt"}),
    "spam": frozenset(),
}


class Crowd:
    """Every participant's model: each family fitted once per :meth:`train`, rounds predicted in bulk."""

    def __init__(self, people: Sequence[Participant]) -> None:
        self.people = list(people)
        # Spammers draw round after round from one stream per model, seeded by (seed, model id):
        # the n-th round predicted gets the n-th block of draws, whatever the batching.
        self._spam: dict[int, tuple[np.random.Generator, int]] = {}
        needs: dict[tuple[int, int, float, int, int], set[str]] = {}
        for p in self.people:
            if p.kind != "spam":
                needs.setdefault(p.family_key(), set()).update(_NEEDS[p.kind])
        self.families = {key: Family(*key, needs=frozenset(n)) for key, n in needs.items()}

    def train(self, history: pd.DataFrame, features: Sequence[str]) -> None:
        """Fit every family on ``history``; spammers need nothing."""
        # One thread: on these small fits OpenMP's spinning threads cost more than they give, all the
        # more when the machine is shared. One context for all fits: entering it scans the loaded libraries.
        with threadpool_limits(1):
            for family in self.families.values():
                family.fit(history, features)

    def predict(self, lives: Sequence[pd.DataFrame], rounds: Sequence[int]) -> list[dict[int, np.ndarray]]:
        """Each round's submissions (model id -> values in (0, 1], in the live frame's row order).

        The rounds' rows are stacked so each fitted estimator is called once for all of them; each
        round is then ranked (and neutralised) on its own, exactly as if predicted alone.
        """
        if len(lives) != len(rounds):
            raise ValueError("one live frame per round")
        if not lives:
            return []
        sizes = [len(live) for live in lives]
        bounds = np.cumsum([0, *sizes])
        with threadpool_limits(1):
            stacked = pd.concat(lives, ignore_index=True) if len(lives) > 1 else lives[0].reset_index(drop=True)
            raw = {key: family.raw(stacked) for key, family in self.families.items()}
            out: list[dict[int, np.ndarray]] = []
            for i, round_number in enumerate(rounds):
                lo, hi = int(bounds[i]), int(bounds[i + 1])
                # Ranks of each family's raw outputs in this round, computed once and shared by its members.
                ranks = {
                    key: {name: rank_submission(v[lo:hi]) for name, v in outs.items()} for key, outs in raw.items()
                }
                live = stacked.iloc[lo:hi].reset_index(drop=True)
                out.append({p.model_id: self._post(p, ranks, live, round_number, hi - lo) for p in self.people})
        return out

    def _post(self, p: Participant, ranks: dict, live: pd.DataFrame, round_number: int, rows: int) -> np.ndarray:
        """One participant's post-processing of its family's ranked outputs for one round."""
        if p.kind == "spam":
            return rank_submission(self._spam_draw(p, round_number, rows))
        family = self.families[p.family_key()]
        mine = ranks[p.family_key()]
        if p.kind == "linear":
            return mine["ridge"]
        if p.kind == "gbt":
            return mine["gbt"]
        if p.kind == "consensus":
            return rank_submission((mine["ridge"] + mine["gbt"]) / 2.0)
        raw = mine["gbt"]
        if family.risky:
            frame = pd.DataFrame({"p": raw - raw.mean()})
            raw = neutralize(frame, live[family.risky])["p"].to_numpy()
        return rank_submission(raw)

    def _spam_draw(self, p: Participant, round_number: int, rows: int) -> np.ndarray:
        """Block ``round_number`` of the spammer's stream (every round has the same number of rows)."""
        rng, next_round = self._spam.get(p.model_id, (None, 1))
        if rng is None or round_number < next_round:
            rng, next_round = np.random.default_rng([p.seed, p.model_id]), 1
        if round_number > next_round:
            rng.random((round_number - next_round) * rows)  # skip the rounds not asked for
        self._spam[p.model_id] = (rng, round_number + 1)
        return rng.random(rows)


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
    spam_stakes: Sequence[int] = (10 * TOKEN, 20 * TOKEN, 40 * TOKEN, 80 * TOKEN),
    neutralise_top: int = 6,
    gbt_iter: int = 40,
) -> list[Participant]:
    """A tournament's worth of models: the four real kinds in turn, the rest random spammers.

    Model ids are 1..n_models. ``neutral_i`` neutralises ``gbt_i``'s booster (they form one family,
    named by ``gbt_i``'s id); ``linear_i`` and ``consensus_i`` fit their own models. Variants differ by
    a random feature subset (variant 0 sees every feature), so they are correlated but not identical,
    as real crowds are. Every real kind compounds its stake except the second linear model, which
    takes profits. Spammer ``j`` stakes ``spam_stakes[j % len(spam_stakes)]``.
    """
    if n_models < len(KINDS):
        raise ValueError(f"need at least {len(KINDS)} models, one per kind")
    if not spam_stakes or min(spam_stakes) <= 0:
        raise ValueError(f"spam_stakes must be positive amounts, got {list(spam_stakes)}")
    n_real = max(len(KINDS) - 1, round(n_models * (1.0 - spam_share)))
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
                # The neutralised model post-processes the gbt model of its variant (listed before it).
                family=variant * len(real_kinds) + real_kinds.index("gbt") + 1 if kind in ("gbt", "neutral") else None,
            )
        )
    for j in range(n_models - n_real):
        people.append(
            Participant(
                model_id=len(people) + 1,
                name=f"spam_{j}",
                kind="spam",
                policy=CompoundStake(spam_stakes[j % len(spam_stakes)]),
                seed=seed,
            )
        )
    return people
