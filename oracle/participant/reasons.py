"""Why a model has no score in a round, from the round's published bundle: the operator's refusal (its reason code
and detail, as written in ``rejections.json``), or no submission at all."""

from __future__ import annotations

from oracle.bundle.round_bundle import REJECTIONS_FILE, SUBMISSIONS_FILE, RoundBundle
from oracle.bundle.store import BundleError

__all__ = ["NO_SUBMISSION", "unscored_reason"]

NO_SUBMISSION = "no_submission"


def unscored_reason(bundle: RoundBundle, model_id: int) -> tuple[str, str]:
    """(reason code, sentence) for a model the round did not score."""
    try:
        refused = [r for r in bundle.json(REJECTIONS_FILE) if r.get("model_id") == int(model_id)]
        accepted = [e for e in bundle.json(SUBMISSIONS_FILE) if int(e.get("model_id", -1)) == int(model_id)]
    except BundleError as exc:
        return "unknown", f"the bundle's records cannot be read: {exc}"
    # A late re-delivery is refused while the on-time file is scored: the scoring's own verdict comes first then.
    on_time = [r for r in refused if r.get("reason") != "late"]
    if on_time:
        last = on_time[-1]
        return str(last["reason"]), f"refused by the operator: {last['reason']}: {last.get('detail', '')}"
    if refused:
        return "late", f"refused by the operator: late: {refused[-1].get('detail', '')}"
    if accepted:
        return "invalid", (
            "the signed file was accepted but broke a scoring rule: `tourney round recompute` on the "
            "round's manifest lists the validation errors"
        )
    return NO_SUBMISSION, "no submission from this model reached the operator before the round closed"
