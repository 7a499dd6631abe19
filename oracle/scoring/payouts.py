"""Integer payouts and burns from float scores, exactly reproducible by an auditor.

The rule, for a model with stake at risk S (an int, smallest token unit) and metrics CORR, MMC:

1. ``score = w_corr*CORR + w_mmc*MMC`` evaluated in IEEE-754 float64 exactly as Python writes it
   (two products, then one sum, each rounded to nearest).
2. ``factor = min(1, payout_threshold / total_stake_at_risk)`` as an exact rational
   (1 when the total is 0). ``total_stake_at_risk`` is the sum over every model in the round's
   stake table, scored or not: the chain knows it without trusting the oracle's validation.
3. ``x = clamp(Fraction(score) * factor, -c, +c)`` in exact rationals, where ``Fraction(score)`` is
   the exact binary value of the float score, and ``c = Fraction(repr(clip))`` is the clip as the
   decimal it is written with (0.05 -> exactly 1/20): the on-chain cap is a decimal fraction of
   stake, and the double nearest 0.05 is slightly above 1/20, which would overshoot it.
4. ``amount = trunc(S * x)``: rounded toward zero, exact for any size of S.
5. ``payout = max(amount, 0)``, ``burn = max(-amount, 0)``; totals are exact sums of those ints.
6. When a payout limit L is given (the tournament's free reserve, read from the chain, recorded in the round's
   manifest) and the payouts sum to T > L, every payout is scaled pro rata and rounded down:
   ``payout' = floor(payout * L / T)`` (:func:`scale_payouts`), so the round never declares more than L and an
   honest oracle never halts for lack of reserve. Burns are never scaled: they come out of each model's own stake.

Models marked ineligible (failed validation, did not submit) get payout 0 and burn 0: Numerai
does not burn a model that made no valid submission, and the caller makes that choice explicit.
Models with zero stake get 0/0 whatever their score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Collection, Mapping, Sequence

from oracle.scoring.params import RoundParams

__all__ = [
    "ModelPayout",
    "PayoutResult",
    "payout_factor",
    "payout_score",
    "clip_fraction",
    "model_amount",
    "compute_payouts",
    "scale_payouts",
]


@dataclass(frozen=True)
class ModelPayout:
    """One model's settlement for the round."""

    model: str
    stake_at_risk: int
    score: float
    payout: int
    burn: int


@dataclass(frozen=True)
class PayoutResult:
    """Per-model amounts and their exact totals."""

    models: list[ModelPayout]
    payout_factor: Fraction
    total_stake_at_risk: int
    total_payout: int
    total_burn: int
    #: The payouts' sum before :func:`scale_payouts` (equal to ``total_payout`` when the limit did not bind).
    unscaled_payout: int = 0


def payout_factor(payout_threshold: int, total_stake_at_risk: int) -> Fraction:
    """``min(1, threshold / total)`` exactly; 1 when nothing is at risk."""
    if total_stake_at_risk <= 0:
        return Fraction(1)
    return min(Fraction(1), Fraction(payout_threshold, total_stake_at_risk))


def payout_score(corr: float, mmc: float, params: RoundParams) -> float:
    """``w_corr*CORR + w_mmc*MMC`` in float64, in this exact evaluation order."""
    return params.corr_weight * float(corr) + params.mmc_weight * float(mmc)


def clip_fraction(clip: float) -> Fraction:
    """The clip as the exact decimal it is written with: ``Fraction(repr(clip))``."""
    return Fraction(repr(float(clip)))


def model_amount(stake_at_risk: int, score: float, factor: Fraction, clip: float) -> int:
    """``trunc(S * clamp(score*factor, -clip, clip))`` in exact rationals; positive = payout."""
    return _amount(stake_at_risk, score, factor.numerator, factor.denominator, clip_fraction(clip))


def _amount(stake_at_risk: int, score: float, factor_num: int, factor_den: int, bound: Fraction) -> int:
    """:func:`model_amount` in plain integers: with ``score = a/b`` exactly (``b`` a power of two) and
    ``factor = p/q``, ``x = ap/(bq)`` is clipped when ``|a|p * d > c * bq`` for ``bound = c/d``, and
    ``trunc(S*x) = sign(a) * (S*|a|*p // (b*q))`` since S >= 0. Same numbers as the rationals, without a gcd
    per operation (a round has thousands of models)."""
    if stake_at_risk == 0:
        return 0
    if not math.isfinite(score):
        raise ValueError(f"score {score!r} is not finite")
    a, b = score.as_integer_ratio()
    sign = -1 if a < 0 else 1
    numerator, denominator = abs(a) * factor_num, b * factor_den
    if numerator * bound.denominator > bound.numerator * denominator:
        numerator, denominator = bound.numerator, bound.denominator
    return sign * (stake_at_risk * numerator // denominator)


def scale_payouts(payouts: Sequence[int], limit: int | None) -> list[int]:
    """Payouts scaled to sum to at most ``limit``: unchanged when they already fit (or there is no limit), else
    ``floor(payout * limit / total)`` each, exactly (so the sum is at most ``limit``, and every payout at most what
    it was)."""
    total = sum(payouts)
    if limit is None or total <= limit:
        return list(payouts)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"payout limit must be a non-negative int, got {limit!r}")
    return [payout * limit // total for payout in payouts]


def compute_payouts(
    stakes: Mapping[str, int],
    corr: Mapping[str, float],
    mmc: Mapping[str, float],
    params: RoundParams,
    ineligible: Collection[str] = (),
    payout_limit: int | None = None,
) -> PayoutResult:
    """Payout and burn for every model in ``stakes`` (in its order).

    ``ineligible`` models keep their stake at risk in the total but get 0/0; every other model with
    a positive stake needs finite CORR and MMC, else ValueError naming the model. ``payout_limit`` scales the
    payouts down to it when they exceed it (rule 6).
    """
    excluded = set(ineligible)
    total = 0
    for model, stake in stakes.items():
        if isinstance(stake, bool) or not isinstance(stake, int) or stake < 0:
            raise ValueError(f"model {model}: stake at risk must be a non-negative int, got {stake!r}")
        total += stake
    factor = payout_factor(params.payout_threshold, total)
    bound = clip_fraction(params.clip)
    rows: list[ModelPayout] = []
    for model, stake in stakes.items():
        if model in excluded or stake == 0:
            score = payout_score(corr[model], mmc[model], params) if model in corr and model in mmc else math.nan
            rows.append(ModelPayout(model, stake, score, 0, 0))
            continue
        if model not in corr or model not in mmc:
            raise ValueError(f"model {model}: staked and eligible but has no CORR/MMC")
        score = payout_score(corr[model], mmc[model], params)
        if not math.isfinite(score):
            raise ValueError(
                f"model {model}: payout score is {score!r} (corr={corr[model]!r}, mmc={mmc[model]!r}); "
                "mark the model ineligible or fix its inputs"
            )
        amount = _amount(stake, score, factor.numerator, factor.denominator, bound)
        rows.append(ModelPayout(model, stake, score, max(amount, 0), max(-amount, 0)))
    unscaled = sum(r.payout for r in rows)
    scaled = scale_payouts([r.payout for r in rows], payout_limit)
    rows = [
        r if r.payout == p else ModelPayout(r.model, r.stake_at_risk, r.score, p, r.burn) for r, p in zip(rows, scaled)
    ]
    return PayoutResult(
        models=rows,
        payout_factor=factor,
        total_stake_at_risk=total,
        total_payout=sum(r.payout for r in rows),
        total_burn=sum(r.burn for r in rows),
        unscaled_payout=unscaled,
    )
