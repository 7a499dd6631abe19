"""What recomputing a round can find: one :class:`Difference` per published value that does not match, and the
comparisons of published score tables and tree leaves against their recomputation.

Floats (corr, mmc) match within a tolerance, since another machine's BLAS may differ in the last bits; amounts
(stake at risk, payout, burn, cumulative leaves) match exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from oracle.settlement.leaves import SettlementLeaf, read_dump_leaves

__all__ = ["AMOUNT_FIELDS", "FLOAT_TOLERANCE", "Difference", "compare_leaves", "compare_scores", "dump_leaves"]

#: corr and mmc are floats; recomputation on another machine may differ in the last bits.
FLOAT_TOLERANCE = 1e-9
AMOUNT_FIELDS = ("stake_at_risk", "payout", "burn")
FLOAT_FIELDS = ("corr", "mmc")


@dataclass(frozen=True)
class Difference:
    """One published value that does not match its recomputation.

    ``scope`` is what kind of thing differs (file, model, leaf, tree, total, root, previous, params),
    ``subject`` which one (a file name, model name, model id), ``field`` which attribute.
    """

    scope: str
    subject: str
    field: str
    recorded: Any
    recomputed: Any

    def describe(self) -> str:
        """One line for people."""
        return f"{self.scope} {self.subject}: {self.field} recorded {self.recorded!r}, recomputed {self.recomputed!r}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form. Integers (amounts, counts) are decimal strings on both sides, as the bundle records them,
        so a script never compares a string with a number for the same field; floats stay numbers."""
        return {
            "scope": self.scope,
            "subject": self.subject,
            "field": self.field,
            "recorded": _integer_text(self.recorded),
            "recomputed": _integer_text(self.recomputed),
        }


def _integer_text(value: Any) -> Any:
    """An int (not a bool) as its decimal string; anything else as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu":  # numpy integers
        return str(int(value))
    return value


def _floats_equal(a: Any, b: Any, tolerance: float) -> bool:
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def _as_int(value: Any) -> int | None:
    try:
        if isinstance(value, float) and not value.is_integer():
            return None
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def compare_scores(
    recorded: pd.DataFrame,
    recomputed: pd.DataFrame,
    tolerance: float = FLOAT_TOLERANCE,
    amounts: pd.DataFrame | None = None,
) -> list[Difference]:
    """Per-model differences between published and recomputed score tables (keyed by ``model``).

    Floats are compared with ``recomputed`` within ``tolerance``; amounts exactly with ``amounts``
    (default ``recomputed``): the auditor derives them from the published floats, see recompute_bundle.
    """
    out: list[Difference] = []
    rec = {str(row["model"]): row for row in recorded.to_dict("records")}
    new = {str(row["model"]): row for row in recomputed.to_dict("records")}
    exact = new if amounts is None else {str(row["model"]): row for row in amounts.to_dict("records")}
    for model in sorted(set(rec) | set(new)):
        if model not in new:
            out.append(Difference("model", model, "present", True, False))
            continue
        if model not in rec:
            out.append(Difference("model", model, "present", False, True))
            continue
        for name in FLOAT_FIELDS:
            if name in new[model] and not _floats_equal(rec[model].get(name, math.nan), new[model][name], tolerance):
                out.append(Difference("model", model, name, rec[model].get(name), float(new[model][name])))
        for name in AMOUNT_FIELDS:
            if name in exact[model] and _as_int(rec[model].get(name)) != int(exact[model][name]):
                out.append(Difference("model", model, name, rec[model].get(name), int(exact[model][name])))
    return out


def dump_leaves(dump: Mapping[str, Any]) -> tuple[dict[int, tuple[int, int]], list[Difference]]:
    """(model id -> (cumulative payout, cumulative burn)) from a tree dump, plus unreadable entries."""
    leaves, unreadable = read_dump_leaves(dump)
    return leaves, [Difference("tree", f"values[{i}]", "value", entry, why) for i, entry, why in unreadable]


def compare_leaves(recorded: Mapping[int, tuple[int, int]], recomputed: list[SettlementLeaf]) -> list[Difference]:
    """Per-leaf differences between a published tree's values and the recomputed leaves."""
    out: list[Difference] = []
    new = {leaf.model_id: (leaf.cumulative_payout, leaf.cumulative_burn) for leaf in recomputed}
    for model_id in sorted(set(recorded) | set(new)):
        if model_id not in new:
            out.append(Difference("leaf", str(model_id), "present", True, False))
        elif model_id not in recorded:
            out.append(Difference("leaf", str(model_id), "present", False, True))
        else:
            for k, name in enumerate(("cumulative_payout", "cumulative_burn")):
                if recorded[model_id][k] != new[model_id][k]:
                    out.append(Difference("leaf", str(model_id), name, recorded[model_id][k], new[model_id][k]))
    return out
