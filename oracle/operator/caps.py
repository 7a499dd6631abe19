"""The operator's check that a round's scoring parameters fit the round's on-chain caps (issue 10, L-6).

The clip bounds every model's payout and burn to ``clip x stake at risk``; the contract bounds them to
``cap_bps / 10,000 x stake at risk``, with a payout cap and a burn cap fixed when the round opens. An honest round
therefore stays within the caps exactly when

    Fraction(repr(clip)) <= min(payout_cap_bps, burn_cap_bps) / 10,000

(the clip as the decimal it is written with, as ``oracle.scoring.payouts`` applies it). A clip above a cap is a
contradiction between what the oracle would compute and what the chain allows: the operator refuses to open or
resolve such a round rather than post results the contract would refuse or clamp.
"""

from __future__ import annotations

from fractions import Fraction

from oracle.operator.config import OperatorError
from oracle.scoring.params import RoundParams
from oracle.scoring.payouts import clip_fraction

__all__ = ["BPS", "check_clip_fits_caps"]

BPS = 10_000


def check_clip_fits_caps(params: RoundParams, payout_cap_bps: int, burn_cap_bps: int, where: str) -> None:
    """Raise :class:`OperatorError` (naming ``where``, the clip and the cap it breaks) when the clip exceeds a cap."""
    clip = clip_fraction(params.clip)
    for name, cap in (("payout", payout_cap_bps), ("burn", burn_cap_bps)):
        if clip > Fraction(int(cap), BPS):
            raise OperatorError(
                f"{where}: params.clip {params.clip!r} ({float(clip * BPS):g} bps) exceeds the {name} cap of {cap} bps "
                f"the chain holds for it, so an honest result could break the cap; lower the clip to at most "
                f"{int(cap) / BPS!r} or have the admin raise the caps"
            )
