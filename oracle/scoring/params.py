"""Per-round scoring parameters, recorded in each round's manifest.

Numerai changed these many times, so every round carries its own copy; nothing here is global.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, dataclass, fields
from os import PathLike
from typing import Any, Mapping

from oracle.errors import TourneyError

__all__ = ["RoundParams", "ParamsError"]


class ParamsError(TourneyError, ValueError):
    """A round's parameter set is malformed; the message names the key and the rule."""


@dataclass(frozen=True)
class RoundParams:
    """Scoring and payout parameters for one round.

    corr_weight, mmc_weight: the payout score is ``corr_weight*CORR + mmc_weight*MMC``.
    clip: the per-model cap on |payout| and |burn| per round, as a fraction of stake at risk, in (0, 1].
    payout_threshold: total stake at risk (smallest token unit) up to which the score is paid in full;
        above it every score is scaled by ``payout_threshold / total_stake_at_risk``.
    min_live_share: share of the round's live ids a model must predict to be scored, in (0, 1].
        The default 1.0 follows Numerai's submission rule (a submission must cover every live id),
        so every valid model is ranked over the same ids and no model can pick its universe.
    round_number: optional round the parameters belong to; checked against a targets table
        that carries a ``round`` column.
    """

    corr_weight: float
    mmc_weight: float
    clip: float
    payout_threshold: int
    min_live_share: float = 1.0
    round_number: int | None = None

    @classmethod
    def numerai_default(cls, payout_threshold: int = 10**6 * 10**18) -> "RoundParams":
        """Numerai's payout rule since 2024, the project's one default: ``0.5*CORR + 2*MMC``, clipped at 5% of the
        stake at risk per round; paid in full up to ``payout_threshold`` (smallest units) of total stake at risk."""
        return cls(corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=payout_threshold)

    def __post_init__(self) -> None:
        for name in ("corr_weight", "mmc_weight", "clip", "min_live_share"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamsError(f"{name}: must be a number, got {type(value).__name__} {value!r}")
            if not math.isfinite(value):
                raise ParamsError(f"{name}: must be finite, got {value!r}")
            # Stored as float so the manifest and the auditor see one canonical type.
            object.__setattr__(self, name, float(value))
        for name in ("corr_weight", "mmc_weight"):
            if getattr(self, name) < 0:
                raise ParamsError(f"{name}: must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 < self.clip <= 1.0:
            raise ParamsError(f"clip: must be in (0, 1], got {self.clip!r}")
        if not 0.0 < self.min_live_share <= 1.0:
            raise ParamsError(f"min_live_share: must be in (0, 1], got {self.min_live_share!r}")
        if isinstance(self.payout_threshold, bool) or not isinstance(self.payout_threshold, int):
            raise ParamsError(
                f"payout_threshold: must be an integer number of smallest token units, "
                f"got {type(self.payout_threshold).__name__} {self.payout_threshold!r}"
            )
        if self.payout_threshold < 0:
            raise ParamsError(f"payout_threshold: must be >= 0, got {self.payout_threshold!r}")
        if self.round_number is not None:
            if isinstance(self.round_number, bool) or not isinstance(self.round_number, int):
                raise ParamsError(f"round_number: must be an integer or null, got {self.round_number!r}")
            if self.round_number < 0:
                raise ParamsError(f"round_number: must be >= 0, got {self.round_number!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RoundParams":
        """Build from a mapping; unknown keys and missing required keys are errors.

        payout_threshold may be given as a decimal string (JSON numbers above 2**53 lose precision
        in many JSON tools, and token amounts routinely exceed it).
        """
        if not isinstance(data, Mapping):
            raise ParamsError(f"params: expected a JSON object, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ParamsError(f"unknown key(s): {', '.join(unknown)}; allowed: {', '.join(known)}")
        required = [n for n, f in known.items() if f.default is MISSING]
        missing = [n for n in required if n not in data]
        if missing:
            raise ParamsError(f"missing key(s): {', '.join(missing)}")
        kwargs = dict(data)
        threshold = kwargs.get("payout_threshold")
        if isinstance(threshold, str):
            if not threshold.strip().isdigit():
                raise ParamsError(f"payout_threshold: not a non-negative decimal integer: {threshold!r}")
            kwargs["payout_threshold"] = int(threshold)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping; payout_threshold as a decimal string so it survives any JSON reader."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["payout_threshold"] = str(self.payout_threshold)
        return out

    @classmethod
    def from_json(cls, path: str | PathLike[str]) -> "RoundParams":
        """Read a JSON object from a local path (or any fsspec URL)."""
        import fsspec

        try:
            with fsspec.open(str(path), "r") as handle:
                data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise ParamsError(f"{path}: not valid JSON: {exc}") from exc
        return cls.from_dict(data)
