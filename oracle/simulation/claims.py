# size: one idea, the four claims (each a measure per seed plus its verdict across seeds, 424 lines); they share
# the interval and the per-seed table, and a module per claim would repeat both.
"""The mechanism's four claims, measured on each seed and judged across seeds with 95% intervals.

The claims, as the mechanism promises them (``docs/economics.md``), each against its baseline in the same
simulation:

* ``spam_no_edge``: random models have no positive expected result under staking (a symmetric clipped
  payout gives noise zero expectation), while the same spammers collect a positive share of a no-stake
  leaderboard prize (``oracle.simulation.baseline``); under staking their worst case grows with their stake.
* ``neutralisation_lowers_risk``: neutralised models' per-round results are less volatile, and their
  maximum drawdown smaller, than their unneutralised twins' (same booster); the mean is reported, not claimed.
* ``consensus_low_mmc``: copies of the consensus earn MMC near zero or below; the neutralised models,
  whose exposure differs from the crowd's, earn positive MMC.
* ``meta_beats_median``: the stake-weighted meta model's CORR is above the median single (non-spam) model's.

Each seed gives one number per measure (:func:`seed_measures`); a claim is judged on the seeds' numbers
(:func:`judge`): every condition is a one-sided statement about a measure's 95% t-interval across seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from oracle.simulation.baseline import DEFAULT_TOP_SHARE, leaderboard_rounds
from oracle.simulation.engine import SimulationResult
from oracle.simulation.participants import TOKEN

__all__ = [
    "CLAIMS",
    "CLAIM_NAMES",
    "MEASURES",
    "ClaimResult",
    "ClaimSpec",
    "Condition",
    "Interval",
    "judge",
    "judge_all",
    "max_drawdown",
    "mean_interval",
    "seed_measures",
]

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """Mean of per-seed values with its two-sided t-interval; bounds are NaN with fewer than two values."""

    estimate: float
    ci_low: float
    ci_high: float
    seeds: int

    def to_dict(self) -> dict[str, float | int]:
        return {"estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high, "seeds": self.seeds}


def mean_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """x̄ ± t_{(1+level)/2, n−1} · s/√n, with s the sample standard deviation (ddof = 1).

    Seeds are independent replicates of the same configuration, so the per-seed values are i.i.d. and the
    t-interval is the textbook interval for their mean. NaN values (a seed without the models a measure
    needs) are left out and not counted. With n < 2 there is no spread to estimate: bounds are NaN.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=np.float64)
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, 1)
    half = float(stats.t.ppf((1.0 + level) / 2.0, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


# --------------------------------------------------------------------------------------------------
# Per-seed measures


def max_drawdown(path: Sequence[float]) -> float:
    """max_t (max_{s≤t} v_s − v_t): the largest fall from a running peak, in the path's own units (≥ 0)."""
    v = np.asarray(path, dtype=np.float64)
    if len(v) == 0:
        return 0.0
    return float((np.maximum.accumulate(v) - v).max())


def _tokens(values: pd.Series) -> int:
    return sum(int(v) for v in values)


def _returns(rows: pd.DataFrame) -> pd.DataFrame:
    """Per model-round result as a fraction of the stake at risk: r = (payout − burn) / stake at risk."""
    at_risk = np.array([int(v) for v in rows["stake_at_risk"]], dtype=object)
    net = np.array([int(p) - int(b) for p, b in zip(rows["payout"], rows["burn"])], dtype=object)
    # int / int is correctly rounded by Python whatever the size; float(amount) first would not be.
    ret = [n / a if a else math.nan for n, a in zip(net, at_risk)]
    return rows.assign(ret=ret)


def _spam_measures(rows: pd.DataFrame, top_share: float) -> dict[str, float]:
    spam = rows[rows["kind"] == "spam"]
    if spam.empty:
        return dict.fromkeys(
            (
                "spam_staking_net_pct",
                "spam_staking_tokens",
                "spam_leaderboard_share_pct",
                "spam_leaderboard_tokens",
                "spam_worst_drawdown_per_token",
            ),
            math.nan,
        )
    model_rounds = len(spam)
    net = _tokens(spam["payout"]) - _tokens(spam["burn"])
    at_risk = _tokens(spam["stake_at_risk"])
    prizes = leaderboard_rounds(rows, top_share).merge(rows[["round", "model_id", "kind"]], on=["round", "model_id"])
    pool = sum(int(v) for v in prizes.drop_duplicates("round")["pool"])
    won = _tokens(prizes.loc[prizes["kind"] == "spam", "prize"])
    # Worst case against stake: each spammer's deepest fall of its balance (tokens, the initial stake as
    # the first point), regressed through the origin on its initial stake: Σ s·d / Σ s² tokens per token.
    # Through the origin because a model with nothing at risk can be neither paid nor burned.
    stakes, drops = [], []
    for _, mine in spam.sort_values("round").groupby("model_id"):
        start = int(mine["stake_at_risk"].iloc[0])
        path = [start] + [int(v) for v in mine["balance"]]
        stakes.append(start / TOKEN)
        drops.append(max_drawdown([v / TOKEN for v in path]))
    s, d = np.array(stakes), np.array(drops)
    return {
        "spam_staking_net_pct": 100.0 * net / at_risk if at_risk else math.nan,
        "spam_staking_tokens": net / TOKEN / model_rounds,
        "spam_leaderboard_share_pct": 100.0 * won / pool if pool else math.nan,
        "spam_leaderboard_tokens": won / TOKEN / model_rounds,
        "spam_worst_drawdown_per_token": float((s * d).sum() / (s * s).sum()) if (s * s).sum() else math.nan,
    }


def _twins(rows: pd.DataFrame) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """(neutral_i, gbt_i) per variant i: the same booster with and without its exposure removed."""
    by_name = {name: part.sort_values("round") for name, part in rows.groupby("name")}
    pairs = []
    for name, part in sorted(by_name.items()):
        if part["kind"].iloc[0] == "neutral":
            twin = "gbt_" + name.rsplit("_", 1)[-1]
            if twin in by_name:
                pairs.append((part, by_name[twin]))
    return pairs


def _neutral_measures(rows: pd.DataFrame) -> dict[str, float]:
    pairs = _twins(rows)
    keys = (
        "neutral_vol_diff_pct",
        "neutral_drawdown_diff_pct",
        "neutral_mean_diff_pct",
        "neutral_corr_vol_diff",
        "neutral_mmc_vol_diff",
    )
    if not pairs:
        return dict.fromkeys(keys, math.nan)

    def wealth_drawdown(ret: pd.Series) -> float:
        # Drawdown of compounded wealth Π(1 + r) from 1, as a fraction of its running peak.
        wealth = np.concatenate([[1.0], np.cumprod(1.0 + ret.fillna(0.0).to_numpy())])
        return float((1.0 - wealth / np.maximum.accumulate(wealth)).max())

    diffs: dict[str, list[float]] = {k: [] for k in keys}
    for neutral, gbt in pairs:
        diffs["neutral_vol_diff_pct"].append(100.0 * (neutral["ret"].std() - gbt["ret"].std()))
        diffs["neutral_drawdown_diff_pct"].append(
            100.0 * (wealth_drawdown(neutral["ret"]) - wealth_drawdown(gbt["ret"]))
        )
        diffs["neutral_mean_diff_pct"].append(100.0 * (neutral["ret"].mean() - gbt["ret"].mean()))
        diffs["neutral_corr_vol_diff"].append(neutral["corr"].std() - gbt["corr"].std())
        diffs["neutral_mmc_vol_diff"].append(neutral["mmc"].std() - gbt["mmc"].std())
    return {k: float(np.mean(v)) for k, v in diffs.items()}


def _mmc_measures(rows: pd.DataFrame) -> dict[str, float]:
    mean = lambda kind, col: float(rows.loc[rows["kind"] == kind, col].mean())  # noqa: E731
    return {
        "consensus_mmc": mean("consensus", "mmc"),
        "orthogonal_mmc": mean("neutral", "mmc"),
        "mmc_gap": mean("neutral", "mmc") - mean("consensus", "mmc"),
        "consensus_meta_similarity": mean("consensus", "meta_similarity"),
        "orthogonal_meta_similarity": mean("neutral", "meta_similarity"),
    }


def _meta_measures(rows: pd.DataFrame, meta: pd.DataFrame) -> dict[str, float]:
    meta_corr = float(meta["meta_corr"].mean())
    per_model = rows.groupby("model_id")["corr"].mean()
    real = rows.loc[rows["kind"] != "spam"].groupby("model_id")["corr"].mean()
    median = float(real.median()) if len(real) else math.nan
    return {
        "meta_corr": meta_corr,
        "median_model_corr": median,
        "meta_minus_median": meta_corr - median,
        "meta_minus_median_all": meta_corr - float(per_model.median()),
    }


def seed_measures(result: SimulationResult, top_share: float = DEFAULT_TOP_SHARE) -> dict[str, float]:
    """Every measure of :data:`MEASURES` on one seed's run (floats; NaN when a kind is missing)."""
    rows = _returns(result.rounds.merge(result.models, on="model_id", validate="many_to_one"))
    regimes = result.meta.sort_values("round")["regime"].to_numpy()
    out = {
        **_spam_measures(rows, top_share),
        **_neutral_measures(rows),
        **_mmc_measures(rows),
        **_meta_measures(rows, result.meta),
        "regime_changes": float((regimes[1:] != regimes[:-1]).sum()),
        "total_paid_tokens": _tokens(rows["payout"]) / TOKEN,
        "total_burned_tokens": _tokens(rows["burn"]) / TOKEN,
    }
    return {k: float(v) for k, v in out.items()}


@dataclass(frozen=True)
class Measure:
    label: str
    unit: str
    digits: int
    suffix: str = ""  # printed after each number: "%" or "" (the sentence names the unit)


#: What each per-seed measure is, for the report and the JSON.
MEASURES: dict[str, Measure] = {
    "spam_staking_net_pct": Measure("spammers' net result under staking", "% of stake at risk per round", 3, "%"),
    "spam_staking_tokens": Measure("spammers' net result under staking", "tokens per spam model per round", 4),
    "spam_leaderboard_share_pct": Measure("spammers' share of the no-stake prize", "% of the prize pool", 1, "%"),
    "spam_leaderboard_tokens": Measure("spammers' no-stake prize", "tokens per spam model per round", 2),
    "spam_worst_drawdown_per_token": Measure("spammers' worst drawdown per token staked", "tokens per token", 3),
    "neutral_vol_diff_pct": Measure("volatility of per-round results, neutral − twin", "points of stake", 2),
    "neutral_drawdown_diff_pct": Measure("maximum drawdown, neutral − twin", "points of peak stake", 1),
    "neutral_mean_diff_pct": Measure("mean per-round result, neutral − twin", "points of stake", 3),
    "neutral_corr_vol_diff": Measure("volatility of CORR, neutral − twin", "CORR", 4),
    "neutral_mmc_vol_diff": Measure("volatility of MMC, neutral − twin", "MMC", 4),
    "consensus_mmc": Measure("MMC of the consensus copies", "MMC per round", 4),
    "orthogonal_mmc": Measure("MMC of the neutralised models", "MMC per round", 4),
    "mmc_gap": Measure("MMC, neutralised − consensus copies", "MMC per round", 4),
    "consensus_meta_similarity": Measure("consensus copies' correlation with the meta model", "Pearson", 3),
    "orthogonal_meta_similarity": Measure("neutralised models' correlation with the meta model", "Pearson", 3),
    "meta_corr": Measure("meta model CORR", "CORR per round", 4),
    "median_model_corr": Measure("median non-spam model's CORR", "CORR per round", 4),
    "meta_minus_median": Measure("meta model CORR − median non-spam model's", "CORR per round", 4),
    "meta_minus_median_all": Measure("meta model CORR − median model's, spammers included", "CORR per round", 4),
    "regime_changes": Measure("regime changes during the live rounds", "count", 0),
    "total_paid_tokens": Measure("total paid out", "tokens", 1),
    "total_burned_tokens": Measure("total burned", "tokens", 1),
}


# --------------------------------------------------------------------------------------------------
# Claims

Test = Literal["above_zero", "below_zero", "not_above_zero"]

_TEST_TEXT = {
    "above_zero": "whole interval above 0",
    "below_zero": "whole interval below 0",
    "not_above_zero": "interval reaches 0 or below (not shown above 0)",
}


@dataclass(frozen=True)
class Condition:
    """A one-sided statement about a measure's 95% interval across seeds."""

    measure: str
    test: Test

    def met(self, interval: Interval) -> bool | None:
        """None when the interval is undefined (fewer than two seeds)."""
        if math.isnan(interval.ci_low) or math.isnan(interval.ci_high):
            return None
        if self.test == "above_zero":
            return interval.ci_low > 0.0
        if self.test == "below_zero":
            return interval.ci_high < 0.0
        return interval.ci_low <= 0.0

    def describe(self) -> str:
        return f"{MEASURES[self.measure].label}: {_TEST_TEXT[self.test]}"


@dataclass(frozen=True)
class ClaimSpec:
    """A claim: its headline measure, the conditions that make it hold, and what else the report shows."""

    name: str
    title: str
    primary: str
    conditions: tuple[Condition, ...]
    context: tuple[str, ...]
    sentence: str  # str.format template over formatted measures, plus {top_pct}
    charted: tuple[str, ...] = ()  # measures the report's chart shows besides the conditions'

    @property
    def chart(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*(c.measure for c in self.conditions), *self.charted]))

    @property
    def measures(self) -> tuple[str, ...]:
        seen = [self.primary, *(c.measure for c in self.conditions), *self.context]
        return tuple(dict.fromkeys(seen))


CLAIMS: tuple[ClaimSpec, ...] = (
    ClaimSpec(
        "spam_no_edge",
        "Spam has no edge under staking",
        "spam_staking_net_pct",
        (
            Condition("spam_staking_net_pct", "not_above_zero"),
            Condition("spam_leaderboard_share_pct", "above_zero"),
            Condition("spam_worst_drawdown_per_token", "above_zero"),
        ),
        ("spam_staking_tokens", "spam_leaderboard_tokens"),
        "Under staking the spammers' net result is {spam_staking_net_pct} of their stake per round; paid instead "
        "by a no-stake prize for the top {top_pct} of models, the same spammers take {spam_leaderboard_share_pct} "
        "of the prize pool; under staking their worst drawdown is {spam_worst_drawdown_per_token} tokens per token "
        "staked.",
    ),
    ClaimSpec(
        "neutralisation_lowers_risk",
        "Neutralisation lowers risk",
        "neutral_vol_diff_pct",
        (Condition("neutral_vol_diff_pct", "below_zero"), Condition("neutral_drawdown_diff_pct", "below_zero")),
        ("neutral_mean_diff_pct", "neutral_corr_vol_diff", "neutral_mmc_vol_diff"),
        "Neutralised minus unneutralised twin: volatility of per-round results {neutral_vol_diff_pct} points of "
        "stake, maximum drawdown {neutral_drawdown_diff_pct} points, mean per-round result "
        "{neutral_mean_diff_pct} points (volatility of CORR {neutral_corr_vol_diff}, of MMC {neutral_mmc_vol_diff}).",
        ("neutral_mean_diff_pct", "neutral_corr_vol_diff", "neutral_mmc_vol_diff"),
    ),
    ClaimSpec(
        "consensus_low_mmc",
        "Copies of the consensus earn little MMC",
        "consensus_mmc",
        (Condition("consensus_mmc", "not_above_zero"), Condition("orthogonal_mmc", "above_zero")),
        ("mmc_gap", "consensus_meta_similarity", "orthogonal_meta_similarity"),
        "Copies of the consensus (correlation {consensus_meta_similarity} with the meta model) average an MMC of "
        "{consensus_mmc}; the neutralised models (correlation {orthogonal_meta_similarity}) average {orthogonal_mmc}.",
    ),
    ClaimSpec(
        "meta_beats_median",
        "The meta model beats the median single model",
        "meta_minus_median",
        (Condition("meta_minus_median", "above_zero"),),
        ("meta_corr", "median_model_corr", "meta_minus_median_all"),
        "The stake-weighted meta model's mean CORR ({meta_corr}) is {meta_minus_median} above the median non-spam "
        "model's ({median_model_corr}).",
    ),
)
CLAIM_NAMES: tuple[str, ...] = tuple(c.name for c in CLAIMS)


def format_interval(measure: str, interval: Interval) -> str:
    """'+0.012 (95% CI −0.010 to +0.034)' in the measure's precision; one seed has no interval."""
    d = MEASURES[measure].digits
    if math.isnan(interval.estimate):
        return "n/a"
    u = MEASURES[measure].suffix
    text = f"{interval.estimate:+.{d}f}{u}"
    if math.isnan(interval.ci_low):
        return f"{text} (one seed: no interval)"
    return f"{text} (95% CI {interval.ci_low:+.{d}f}{u} to {interval.ci_high:+.{d}f}{u})"


@dataclass
class ClaimResult:
    """A claim judged across seeds. ``holds`` is None when an interval is undefined (fewer than two seeds)."""

    spec: ClaimSpec
    holds: bool | None
    intervals: dict[str, Interval]
    conditions: list[tuple[Condition, bool | None]]
    per_seed: dict[int, dict[str, float]] = field(default_factory=dict)
    top_share: float = DEFAULT_TOP_SHARE

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def primary(self) -> Interval:
        return self.intervals[self.spec.primary]

    def sentence(self) -> str:
        values = {m: format_interval(m, i) for m, i in self.intervals.items()}
        return self.spec.sentence.format(top_pct=f"{100 * self.top_share:g}%", **values)

    def verdict(self) -> str:
        return {True: "holds", False: "does not hold", None: "undecided (needs at least two seeds)"}[self.holds]

    def to_dict(self) -> dict[str, Any]:
        """The JSON entry: name, holds, estimate, ci_low, ci_high, seeds (the primary measure), and detail."""
        primary = self.primary
        return {
            "name": self.name,
            "holds": self.holds,
            "estimate": primary.estimate,
            "ci_low": primary.ci_low,
            "ci_high": primary.ci_high,
            "seeds": primary.seeds,
            "measure": self.spec.primary,
            "unit": MEASURES[self.spec.primary].unit,
            "statement": self.sentence(),
            "conditions": [
                {"measure": c.measure, "test": c.test, "met": met, **self.intervals[c.measure].to_dict()}
                for c, met in self.conditions
            ],
            "measures": {m: i.to_dict() for m, i in self.intervals.items()},
        }


def judge(
    spec: ClaimSpec, per_seed: Mapping[int, Mapping[str, float]], top_share: float = DEFAULT_TOP_SHARE
) -> ClaimResult:
    """The claim across seeds: each measure's mean and 95% interval, and whether every condition is met."""
    seeds = sorted(per_seed)
    intervals = {m: mean_interval([per_seed[s][m] for s in seeds]) for m in spec.measures}
    conditions = [(c, c.met(intervals[c.measure])) for c in spec.conditions]
    verdicts = [met for _, met in conditions]
    holds = None if any(v is None for v in verdicts) else all(verdicts)
    detail = {s: {m: float(per_seed[s][m]) for m in spec.measures} for s in seeds}
    return ClaimResult(spec, holds, intervals, conditions, detail, top_share)


def judge_all(per_seed: Mapping[int, Mapping[str, float]], top_share: float = DEFAULT_TOP_SHARE) -> list[ClaimResult]:
    """The four claims, in the order of :data:`CLAIMS`."""
    if not per_seed:
        raise ValueError("no seeds to judge the claims on")
    return [judge(spec, per_seed, top_share) for spec in CLAIMS]
