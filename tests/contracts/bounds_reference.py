"""The honest bounds of a settlement, computed exactly (rationals) from the rule in ITournament's NatSpec.

In round j a model has at risk max(0, V_j - O_j), where V_j is its stake before round j and the offset O_j is its
pending tranche (if j is before the tranche's first round) plus its pending withdrawal (if j is after the request's
round). An honest round pays at most payoutCap_j and burns at most burnCap_j of that (basis points). The worst
honest trajectory burns the cap every active round; the best pays it every active round. The contract must never
clamp a leaf within these bounds, and must clamp anything beyond them (up to its stated rounding slack).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

BPS = 10_000


@dataclass(frozen=True)
class RoundCaps:
    round: int
    active: bool
    payout_bps: int
    burn_bps: int


def offset(j: int, tranche: tuple[int, int] | None, withdrawal: tuple[int, int] | None) -> int:
    o = 0
    if tranche and j < tranche[1]:
        o += tranche[0]
    if withdrawal and j > withdrawal[1]:
        o += withdrawal[0]
    return o


def honest_bounds(stake: int, rounds: list[RoundCaps], tranche=None, withdrawal=None) -> tuple[Fraction, Fraction]:
    """(most an honest leaf pays, least stake it leaves) over `rounds` (the model's unsettled span, in order).

    `tranche` = (amount, first round at risk); `withdrawal` = (amount, last round at risk)."""
    lo = hi = Fraction(stake)
    for rc in rounds:
        if not rc.active:
            continue
        o = offset(rc.round, tranche, withdrawal)
        lo -= max(Fraction(0), lo - o) * rc.burn_bps / BPS
        hi += max(Fraction(0), hi - o) * rc.payout_bps / BPS
    return hi - stake, lo


def single_round_bounds(stake: int, rc: RoundCaps, tranche=None, withdrawal=None) -> tuple[int, int]:
    """The exact integer bounds for a span with one active round (what the oracle's truncation can reach)."""
    x = max(0, stake - offset(rc.round, tranche, withdrawal))
    return x * rc.payout_bps // BPS, stake - x * rc.burn_bps // BPS
