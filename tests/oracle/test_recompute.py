"""Recomputing a published round: a clean bundle passes; every kind of tampering is caught and named."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oracle.auditor.recompute import recompute
from oracle.bundle.manifest import Manifest, PayoutLimit, canonical_json
from oracle.bundle.parquet import parquet_bytes
from oracle.bundle.round_bundle import PREDICTIONS, SCORES, STAKES, TARGETS, TREE, load_bundle
from oracle.bundle.store import ArtifactStore, BundleError
from oracle.bundle.write import write_round_bundle
from oracle.scoring.params import RoundParams
from oracle.scoring.pipeline import score_round

E18 = 10**18
MODELS = ["m1", "m2", "m3", "m4", "m5", "m6"]
MODEL_IDS = {m: 11 + k for k, m in enumerate(MODELS)}
PARAMS = RoundParams(corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=100_000 * E18)


def round_inputs(seed: int = 7, n: int = 150, previous: dict | None = None) -> dict:
    """A scored round: models with varying skill, stakes beyond int64, a model carried from before."""
    rng = np.random.default_rng(seed)
    ids = [f"id{i:04d}" for i in range(n)]
    signal = rng.random(n)
    columns = {}
    for k, model in enumerate(MODELS):
        raw = signal * (k - 2) * 0.3 + rng.random(n)
        columns[model] = (pd.Series(raw).rank().to_numpy() - 0.5) / n  # in (0, 1), as the rules demand
    predictions = pd.DataFrame({"id": ids, **columns})
    targets = pd.DataFrame({"id": ids, "target": np.round(signal * 4) / 4})
    stakes = pd.DataFrame(
        {
            "model": MODELS,
            "model_id": [MODEL_IDS[m] for m in MODELS],
            "stake_at_risk": [(k + 1) * 100 * E18 for k in range(6)],
        }
    )
    stake_map = dict(zip(stakes["model"], stakes["stake_at_risk"]))
    result = score_round(predictions, targets, stake_map, PARAMS)
    return dict(
        predictions=predictions,
        targets=targets,
        stakes=stakes,
        scores=result.scores,
        params=PARAMS,
        previous_cumulative=previous if previous is not None else {11: (5 * E18, E18), 99: (1, 2)},
    )


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


@pytest.fixture
def published(store: ArtifactStore) -> str:
    _, uri, _ = write_round_bundle(store, 1, **round_inputs())
    return uri


def republish(store: ArtifactStore, uri: str, replace: dict[str, bytes] | None = None, **changes) -> str:
    """What a dishonest operator would publish: altered content, but every hash made consistent."""
    manifest = load_bundle(uri).manifest
    files = dict(manifest.files)
    for name, data in (replace or {}).items():
        files[name] = store.put_object(name, data)
    new_uri, _ = store.commit_manifest(dataclasses.replace(manifest, files=files, **changes))
    return new_uri


def found(report, scope: str, field: str) -> set[str]:
    return {d.subject for d in report.differences if d.scope == scope and d.field == field}


def test_inputs_move_money_both_ways():
    # Guards the tamper tests below: they are only meaningful if payouts and burns are non-trivial.
    scores = round_inputs()["scores"]
    assert scores["valid"].all()
    assert sum(scores["payout"]) > 0 and sum(scores["burn"]) > 0


def test_clean_bundle_recomputes_exactly(published: str):
    report = recompute(published)
    assert report.ok, [d.describe() for d in report.differences]
    manifest = load_bundle(published).manifest
    assert report.root == manifest.root
    assert report.totals["stake_at_risk"] == 2100 * E18
    assert report.totals["cumulative_payout"] == manifest.totals.cumulative_payout
    assert report.notes == []


def test_tampered_prediction_is_named(store: ArtifactStore, published: str):
    predictions = load_bundle(published).predictions()
    predictions.loc[3, "m4"] = 1 - predictions.loc[3, "m4"]
    report = recompute(republish(store, published, {PREDICTIONS: parquet_bytes(predictions)}))
    assert not report.ok
    assert "m4" in found(report, "model", "corr")
    # m4 is its own only difference in corr: the other models' predictions did not change.
    assert found(report, "model", "corr") == {"m4"}


def test_tampered_target_is_named(store: ArtifactStore, published: str):
    targets = load_bundle(published).targets()
    targets.loc[0, "target"] = 1.0 - targets.loc[0, "target"] if targets.loc[0, "target"] != 0.5 else 0.0
    report = recompute(republish(store, published, {TARGETS: parquet_bytes(targets)}))
    assert not report.ok
    assert found(report, "model", "corr") == set(MODELS)  # every model's correlation moves


def test_tampered_stake_is_named(store: ArtifactStore, published: str):
    stakes = load_bundle(published).stakes()
    stakes.loc[stakes["model"] == "m2", "stake_at_risk"] = 999 * E18
    report = recompute(republish(store, published, {STAKES: parquet_bytes(stakes)}))
    assert not report.ok
    assert "m2" in found(report, "model", "stake_at_risk")
    assert "manifest" in found(report, "total", "stake_at_risk")
    stake_diff = next(d for d in report.differences if d.scope == "model" and d.field == "stake_at_risk")
    assert (stake_diff.recorded, stake_diff.recomputed) == (200 * E18, 999 * E18)


def test_tampered_parameter_is_named(store: ArtifactStore, published: str):
    manifest = load_bundle(published).manifest
    params = {**manifest.params, "mmc_weight": 0.0}
    report = recompute(republish(store, published, params=params))
    assert not report.ok
    assert found(report, "model", "payout") | found(report, "model", "burn")
    assert "manifest" in found(report, "root", "root")


def test_tampered_leaf_is_named(store: ArtifactStore, published: str):
    dump = load_bundle(published).tree_dump()
    entry = next(v for v in dump["values"] if v["value"][0] == "13")
    entry["value"][1] = str(int(entry["value"][1]) + 1)
    report = recompute(republish(store, published, {TREE: canonical_json(dump)}))
    assert not report.ok
    assert found(report, "leaf", "cumulative_payout") == {"13"}
    assert found(report, "tree", "consistency") == {TREE}


def test_tree_with_a_consistent_but_wrong_root_is_named(store: ArtifactStore, published: str):
    # A forged tree that is internally valid (rebuilt from altered leaves) still fails against the recomputation.
    from oracle.settlement.leaves import SettlementLeaf, settlement_tree

    dump = load_bundle(published).tree_dump()
    leaves = [SettlementLeaf(*(int(x) for x in v["value"])) for v in dump["values"]]
    leaves[0] = dataclasses.replace(leaves[0], cumulative_burn=leaves[0].cumulative_burn + 5)
    forged = settlement_tree(leaves)
    report = recompute(republish(store, published, {TREE: canonical_json(forged.dump())}, root=forged.root))
    assert found(report, "leaf", "cumulative_burn") == {str(leaves[0].model_id)}
    assert found(report, "tree", "root") == {TREE}
    assert found(report, "root", "root") == {"manifest"}
    assert found(report, "tree", "consistency") == set()


def test_tampered_manifest_is_named(published: str):
    d = json.loads(Path(published).read_bytes())
    d["totals"]["round_burn"] = "1"
    Path(published).write_bytes(Manifest.from_dict(d).to_bytes())
    report = recompute(published)
    assert not report.ok
    assert found(report, "file", "integrity") == {"manifest.json"}
    assert found(report, "total", "round_burn") == {"manifest"}


def test_manifest_not_matching_the_chain_is_named(published: str):
    report = recompute(published, expected_keccak="0x" + "00" * 32)
    assert found(report, "file", "integrity") == {"manifest.json"}


def test_corrupted_object_is_named(store: ArtifactStore, published: str):
    entry = load_bundle(published).manifest.files[SCORES]
    path = Path(store.object_uri(entry))
    scores = pd.read_parquet(path)
    scores.loc[0, "payout"] = "12345"
    path.write_bytes(parquet_bytes(scores))
    report = recompute(published)
    assert found(report, "file", "integrity") == {SCORES}
    assert found(report, "model", "payout") == {str(scores.loc[0, "model"])}


def test_missing_object_is_named_and_the_rest_still_checked(store: ArtifactStore, published: str):
    entry = load_bundle(published).manifest.files[SCORES]
    Path(store.object_uri(entry)).unlink()
    report = recompute(published)
    assert found(report, "file", "integrity") == {SCORES}
    assert found(report, "file", "readable") == {SCORES}
    assert report.root == load_bundle(published, verify=False).manifest.root  # tree and root still verified


def test_chain_of_bundles(store: ArtifactStore, published: str):
    first = load_bundle(published)
    carried = {int(v["value"][0]): (int(v["value"][1]), int(v["value"][2])) for v in first.tree_dump()["values"]}
    _, uri2, _ = write_round_bundle(store, 2, previous=published, **round_inputs(seed=8, previous=carried))
    assert recompute(uri2).ok

    # The operator "forgets" a burn from round 1 when starting round 2: self-consistent, but not the chain.
    altered = {**carried, 12: (carried[12][0], 0)}
    _, uri3, _ = write_round_bundle(store, 3, previous=published, **round_inputs(seed=8, previous=altered))
    report = recompute(uri3)
    assert found(report, "previous", "cumulative") == {"12"}
    assert recompute(uri3, check_previous=False).ok


def test_broken_previous_link_is_named(store: ArtifactStore, published: str):
    _, uri2, _ = write_round_bundle(store, 2, previous=published, **round_inputs(seed=8))
    Path(published).unlink()
    report = recompute(uri2)
    assert [d.field for d in report.differences if d.scope == "previous"] == ["bundle"]


def test_unreadable_manifest_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "rounds" / "1" / "manifest.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{}")
    with pytest.raises(BundleError, match="schema is missing"):
        recompute(str(bad))
    with pytest.raises(BundleError, match="manifest not found"):
        recompute(str(tmp_path / "rounds" / "1" / "nope.json"))


def _scores_from_other_kernel(scores: pd.DataFrame, relative: float) -> pd.DataFrame:
    """The scores table an operator on another BLAS kernel would publish: floats off by ``relative``,
    amounts derived from those floats exactly as the operator does."""
    from oracle.scoring.payouts import compute_payouts

    other = scores.copy()
    other["corr"] = other["corr"] * (1 + relative)
    other["mmc"] = other["mmc"] * (1 - relative)
    stakes = {str(m): int(s) for m, s in zip(other["model"], other["stake_at_risk"])}
    paid = compute_payouts(
        stakes, dict(zip(other["model"], other["corr"])), dict(zip(other["model"], other["mmc"])), PARAMS
    )
    other["payout"] = pd.Series([p.payout for p in paid.models], dtype=object)
    other["burn"] = pd.Series([p.burn for p in paid.models], dtype=object)
    return other


def test_last_bit_float_differences_do_not_fail_an_honest_round(store: ArtifactStore):
    # A different CPU kernel moves the last bits of CORR/MMC; with stakes of 1e20 wei that moves the
    # truncated amounts. The auditor checks the floats within tolerance, then derives amounts from the
    # published floats, so it reaches the operator's exact root.
    inputs = round_inputs()
    inputs["scores"] = _scores_from_other_kernel(inputs["scores"], 1e-13)
    assert list(inputs["scores"]["payout"]) != list(round_inputs()["scores"]["payout"])  # the amounts really moved
    _, uri, _ = write_round_bundle(store, 1, **inputs)
    report = recompute(uri)
    assert report.ok, [d.describe() for d in report.differences]
    assert report.root == load_bundle(uri).manifest.root


def test_a_score_beyond_the_tolerance_is_still_named(store: ArtifactStore):
    inputs = round_inputs()
    inputs["scores"] = _scores_from_other_kernel(inputs["scores"], 1e-6)
    _, uri, _ = write_round_bundle(store, 1, **inputs)
    report = recompute(uri)
    assert not report.ok
    assert found(report, "model", "corr") == set(MODELS)


def _limited(fraction_of_total: tuple[int, int]) -> tuple[dict, PayoutLimit]:
    """Round inputs whose payouts exceed a payout limit of the given fraction of their total, scaled to it."""
    inputs = round_inputs()
    total = sum(int(v) for v in inputs["scores"]["payout"])
    limit = PayoutLimit(total * fraction_of_total[0] // fraction_of_total[1], block=42)
    stake_map = dict(zip(inputs["stakes"]["model"], inputs["stakes"]["stake_at_risk"]))
    scaled = score_round(inputs["predictions"], inputs["targets"], stake_map, PARAMS, payout_limit=limit.limit)
    assert scaled.unscaled_payout == total > scaled.total_payout
    return {**inputs, "scores": scaled.scores}, limit


def test_payouts_scaled_to_the_recorded_limit_recompute(store: ArtifactStore):
    inputs, limit = _limited((1, 3))
    _, uri, _ = write_round_bundle(store, 1, **inputs, payout_limit=limit)
    report = recompute(uri)
    assert report.ok, [d.describe() for d in report.differences]
    assert report.totals["round_payout"] <= limit.limit < report.unscaled_payout
    # Scores from another kernel: the amounts derived from the published floats are scaled by the same rule.
    other = {**inputs, "scores": _scores_from_other_kernel(inputs["scores"], 1e-13)}
    from oracle.scoring.payouts import scale_payouts

    other["scores"]["payout"] = pd.Series(
        scale_payouts([int(v) for v in other["scores"]["payout"]], limit.limit), dtype=object
    )
    _, uri, _ = write_round_bundle(store, 1, **other, payout_limit=limit)
    report = recompute(uri)
    assert report.ok, [d.describe() for d in report.differences]


def test_payouts_above_the_recorded_limit_are_named(store: ArtifactStore):
    inputs, limit = _limited((1, 2))
    unscaled = round_inputs()["scores"]
    _, uri, _ = write_round_bundle(store, 1, **{**inputs, "scores": unscaled}, payout_limit=limit)
    report = recompute(uri)
    paid = {m for m, p in zip(unscaled["model"], unscaled["payout"]) if int(p) > 0}
    assert paid and found(report, "model", "payout") == paid
    assert found(report, "total", "round_payout") == {"manifest"}
    assert found(report, "leaf", "cumulative_payout") == {str(MODEL_IDS[m]) for m in paid}
