"""Re-derive a published round from its bundle alone and report every difference.

``recompute(manifest_uri)`` loads the bundle (collecting, not raising, integrity problems), re-runs
scoring on the bundle's predictions, targets and stakes with the manifest's parameters, rebuilds the
cumulative leaves from the bundle's previous-cumulative table, rebuilds the settlement tree, and
compares everything the operator published against the recomputation:

* files: every file's size, SHA-256 and keccak-256; the manifest's own hash (against its name and,
  when given, the on-chain ``manifestHash``) and canonical form;
* per model: corr, mmc (within a float tolerance), stake_at_risk, payout, burn (exact; payouts scaled to the
  payout limit the manifest records, by the manifest's rule);
* per leaf (model id): cumulative_payout, cumulative_burn in the published tree dump;
* the tree dump's internal consistency and root; the manifest's root and totals;
* optionally, the chain of bundles: the previous manifest's hash and its leaves against this
  bundle's previous-cumulative table.

A round passes only when the report has no differences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import pandas as pd

from oracle.auditor.differences import (
    AMOUNT_FIELDS,
    FLOAT_TOLERANCE,
    Difference,
    compare_leaves,
    compare_scores,
    dump_leaves,
)
from oracle.bundle.fetch import Reader
from oracle.bundle.manifest import TOTAL_FIELDS
from oracle.bundle.round_bundle import (
    PREVIOUS_CUMULATIVE,
    SCORES,
    STAKES,
    TREE,
    RoundBundle,
    load_bundle,
    resolve_previous_uri,
)
from oracle.bundle.store import BundleError
from oracle.bundle.write import amounts_by_model_id
from oracle.settlement.leaves import round_leaves, settlement_tree, totals
from oracle.settlement.standard import StandardMerkleTree

__all__ = ["RecomputeReport", "recompute", "recompute_bundle", "FLOAT_TOLERANCE"]


@dataclass
class RecomputeReport:
    """What recomputing a bundle found; ``ok`` only when nothing differs."""

    manifest_uri: str
    manifest_keccak: str
    round: int
    root: str | None = None
    totals: dict[str, int] = field(default_factory=dict)
    scores: pd.DataFrame | None = None
    prediction_errors: list[Any] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The recomputed payouts' sum before scaling to the manifest's payout limit.
    unscaled_payout: int = 0

    @property
    def ok(self) -> bool:
        """True when every published value matched its recomputation."""
        return not self.differences

    def subjects(self, scope: str) -> set[str]:
        """The subjects (models, files, ...) with a difference in ``scope``."""
        return {d.subject for d in self.differences if d.scope == scope}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "manifest_uri": self.manifest_uri,
            "manifest_keccak": self.manifest_keccak,
            "round": self.round,
            "ok": self.ok,
            "root": self.root,
            "totals": dict(self.totals),
            "differences": [d.to_dict() for d in self.differences],
            "prediction_errors": [_error_dict(e) for e in self.prediction_errors],
            "notes": list(self.notes),
        }


def _error_dict(error: Any) -> dict[str, Any]:
    fields = ("model", "rule", "ids", "message")
    return {name: getattr(error, name, None) for name in fields}


# ---------------------------------------------------------------------------------------- recomputation


def _guard(report: RecomputeReport, scope: str, subject: str, step: Callable[[], Any]) -> Any:
    """Run one step; a failure becomes a difference (the audit goes on with what it can check)."""
    try:
        return step()
    except (BundleError, ValueError, KeyError) as exc:
        report.differences.append(Difference(scope, subject, "readable", True, f"error: {exc}"))
        return None


def _score(bundle: RoundBundle) -> Any:
    from oracle.scoring.pipeline import score_round

    # The payouts are scaled to the limit the manifest records (the chain's free reserve; verify checks the limit
    # itself against the chain): the rule is recomputed here, not trusted.
    return score_round(
        bundle.prediction_table(),
        bundle.targets(),
        bundle.stake_map(),
        bundle.params(),
        payout_limit=bundle.payout_limit(),
    )


def recompute_bundle(  # noqa: C901 - one check after another into one report, in the order a reader follows
    bundle: RoundBundle,
    tolerance: float = FLOAT_TOLERANCE,
    check_previous: bool = True,
    reader: Reader | None = None,
) -> RecomputeReport:
    """Recompute ``bundle`` (loaded with ``verify=False`` so integrity problems are reported too). ``reader`` reads
    the previous bundle the manifest links to (pass the same bounded reader the bundle came through)."""
    manifest = bundle.manifest
    report = RecomputeReport(bundle.uri, bundle.keccak256, bundle.round)
    for problem in bundle.problems:
        report.differences.append(Difference("file", problem.file, "integrity", "as published", problem.message))

    result = _guard(report, "params", "manifest", bundle.params) and _guard(
        report, "scoring", "bundle", lambda: _score(bundle)
    )
    if result is None:
        return report
    report.scores = result.scores
    report.unscaled_payout = result.unscaled_payout
    report.prediction_errors = list(result.errors)
    recorded_scores = _guard(report, "file", SCORES, bundle.scores)
    # Amounts come from the PUBLISHED scores once they agree with ours within the tolerance: the last
    # bits of a float score depend on the BLAS kernel (an auditor on another CPU gets other bits), and
    # one bit can move a truncated amount by a wei. A published score further off is a difference.
    amount_scores = result.scores
    if recorded_scores is not None:
        floats_off = [
            d for d in compare_scores(recorded_scores, result.scores, tolerance) if d.field not in AMOUNT_FIELDS
        ]
        if not floats_off:
            derived = _guard(report, "file", SCORES, lambda: _amounts_from_published(result, recorded_scores, bundle))
            if derived is None:
                return report
            amount_scores = derived
        report.differences += compare_scores(recorded_scores, result.scores, tolerance, amounts=amount_scores)

    model_ids = _guard(report, "file", STAKES, bundle.model_ids)
    previous = _guard(report, "file", PREVIOUS_CUMULATIVE, bundle.previous_cumulative)
    if model_ids is None or previous is None:
        return report
    amounts = _guard(report, "file", STAKES, lambda: amounts_by_model_id(amount_scores, model_ids))
    if amounts is None:
        return report
    payouts, burns = amounts
    leaves = _guard(
        report,
        "leaves",
        "all",
        lambda: round_leaves(previous, payouts, burns, model_ids.values()),
    )
    if leaves is None:
        return report
    tree = settlement_tree(leaves)
    report.root = tree.root
    cumulative_payout, cumulative_burn = totals(leaves)
    report.totals = {
        "round_payout": sum(payouts.values()),
        "round_burn": sum(burns.values()),
        "cumulative_payout": cumulative_payout,
        "cumulative_burn": cumulative_burn,
        "stake_at_risk": sum(bundle.stake_map().values()),
    }

    dump = _guard(report, "file", TREE, bundle.tree_dump)
    if dump is not None:
        published, unreadable = dump_leaves(dump)
        report.differences += unreadable + compare_leaves(published, leaves)
        try:
            StandardMerkleTree.load(dump)
        except ValueError as exc:
            report.differences.append(Difference("tree", TREE, "consistency", "valid standard-v1 tree", str(exc)))
        dump_root = (dump.get("tree") or [None])[0]
        if dump_root != tree.root:
            report.differences.append(Difference("tree", TREE, "root", dump_root, tree.root))

    if manifest.root != tree.root:
        report.differences.append(Difference("root", "manifest", "root", manifest.root, tree.root))
    for name in TOTAL_FIELDS:
        if getattr(manifest.totals, name) != report.totals[name]:
            report.differences.append(
                Difference("total", "manifest", name, getattr(manifest.totals, name), report.totals[name])
            )

    if check_previous:
        report.differences += _check_previous(bundle, previous, reader)
    _note_versions(bundle, report)
    return report


def _amounts_from_published(result: Any, recorded: pd.DataFrame, bundle: RoundBundle) -> pd.DataFrame:
    """Our scores table with payout and burn recomputed from the published CORR and MMC (exact rationals).

    Only models we also found valid and finite are paid: a model we judged invalid stays at 0/0
    whatever the published table says.
    """
    from oracle.scoring.payouts import compute_payouts

    ours = result.scores
    published = recorded.set_index(recorded["model"].astype(str))
    stakes = {str(m): int(s) for m, s in zip(ours["model"], ours["stake_at_risk"])}
    corr: dict[str, float] = {}
    mmc: dict[str, float] = {}
    for model, valid, c, m in zip(ours["model"], ours["valid"], ours["corr"], ours["mmc"]):
        model = str(model)
        if valid and math.isfinite(c) and math.isfinite(m) and model in published.index:
            corr[model] = float(published.at[model, "corr"])
            mmc[model] = float(published.at[model, "mmc"])
    ineligible = [m for m in stakes if m not in corr]
    # The manifest's payout limit applies here too: the scaling rule is part of how amounts follow from scores.
    payouts = compute_payouts(
        stakes, corr, mmc, bundle.params(), ineligible=ineligible, payout_limit=bundle.payout_limit()
    )
    table = ours.copy()
    by_model = {p.model: p for p in payouts.models}
    table["payout"] = pd.Series([by_model[str(m)].payout for m in table["model"]], dtype=object, index=table.index)
    table["burn"] = pd.Series([by_model[str(m)].burn for m in table["model"]], dtype=object, index=table.index)
    return table


def _check_previous(
    bundle: RoundBundle,
    previous: Mapping[int, tuple[int, int]],
    reader: Reader | None,
) -> list[Difference]:
    """The previous bundle exists, hashes to the linked hash, and its leaves are our starting point."""
    link, uri = bundle.manifest.previous, resolve_previous_uri(bundle)
    if link is None or uri is None:  # both or neither: the URI is the link's
        return []
    try:
        before = load_bundle(uri, expected_keccak=link.keccak256, reader=reader, only=[TREE])  # its leaves only
        published, unreadable = dump_leaves(before.tree_dump())
    except (BundleError, ValueError) as exc:
        return [Difference("previous", uri, "bundle", link.keccak256, f"cannot be verified: {exc}")]
    out = list(unreadable)
    if before.round != link.round:
        out.append(Difference("previous", uri, "round", link.round, before.round))
    for model_id in sorted(set(published) | set(previous)):
        if published.get(model_id) != previous.get(model_id):
            out.append(
                Difference("previous", str(model_id), "cumulative", previous.get(model_id), published.get(model_id))
            )
    return out


def _note_versions(bundle: RoundBundle, report: RecomputeReport) -> None:
    """Scores come from a different numerai-tools or oracle version: worth knowing, not a failure."""
    import importlib.metadata

    import oracle

    here = {"oracle": oracle.__version__, "numerai_tools": importlib.metadata.version("numerai-tools")}
    for name, version in here.items():
        published = bundle.manifest.versions.get(name)
        if published != version:
            report.notes.append(f"published with {name} {published}, recomputed with {version}")


def recompute(
    manifest_uri: str,
    expected_keccak: str | None = None,
    tolerance: float = FLOAT_TOLERANCE,
    check_previous: bool = True,
    reader: Reader | None = None,
) -> RecomputeReport:
    """Load the bundle at ``manifest_uri`` without failing on integrity problems and recompute it.

    Raises BundleError only when the manifest itself cannot be read or parsed.
    """
    bundle = load_bundle(manifest_uri, expected_keccak=expected_keccak, verify=False, reader=reader)
    return recompute_bundle(bundle, tolerance=tolerance, check_previous=check_previous, reader=reader)
