"""Writing a round's bundle: deterministic files (the same inputs give byte-identical files and reuse the existing
manifest), the cumulative settlement tree built by the one leaf rule, the totals, and the manifest as the commit
point."""

from __future__ import annotations

import importlib.metadata
import os
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

import oracle
from oracle.bundle.manifest import ChainRef, FileEntry, Manifest, PayoutLimit, PreviousLink, Totals, canonical_json
from oracle.bundle.parquet import amount_text, parquet_bytes
from oracle.bundle.round_bundle import (
    PREDICTIONS,
    PREVIOUS_CUMULATIVE,
    SCORES,
    STAKES,
    TARGETS,
    TREE,
    previous_link,
)
from oracle.bundle.store import ArtifactStore, BundleError, as_store
from oracle.scoring.matrix import PredictionTable
from oracle.scoring.params import RoundParams

__all__ = ["amounts_by_model_id", "write_round_bundle"]


def _versions() -> dict[str, str]:
    """The code that scored the round: this package and numerai-tools."""
    return {"oracle": oracle.__version__, "numerai_tools": importlib.metadata.version("numerai-tools")}


def _stakes_frame(stakes: pd.DataFrame) -> pd.DataFrame:
    for column in ("model", "model_id", "stake_at_risk"):
        if column not in stakes.columns:
            raise BundleError(f"stakes: missing column {column!r} (have {list(stakes.columns)})")
    out = pd.DataFrame(
        {
            "model": [str(m) for m in stakes["model"]],
            "model_id": pd.Series([int(i) for i in stakes["model_id"]], dtype="int64"),
            "stake_at_risk": [amount_text(v, f"stakes: row {i}") for i, v in enumerate(stakes["stake_at_risk"])],
        }
    )
    for column in ("model", "model_id"):
        duplicated = out[column][out[column].duplicated()].tolist()
        if duplicated:
            raise BundleError(f"stakes: duplicate {column} {duplicated}")
    return out.sort_values("model_id", kind="stable").reset_index(drop=True)


def _scores_frame(scores: pd.DataFrame) -> pd.DataFrame:
    if "model" not in scores.columns:
        raise BundleError(f"scores: missing column 'model' (have {list(scores.columns)})")
    out = scores.reset_index(drop=True).copy()
    out["model"] = [str(m) for m in out["model"]]
    return out.sort_values("model", kind="stable").reset_index(drop=True)


def amounts_by_model_id(scores: pd.DataFrame, model_ids: Mapping[str, int]) -> tuple[dict[int, int], dict[int, int]]:
    """(payouts, burns) keyed by model id, for the models that have an id.

    A model that submitted without a stake row has no id and no leaf; that is only acceptable when
    it moves no money (otherwise tokens would vanish from the tree's totals).
    """
    payouts: dict[int, int] = {}
    burns: dict[int, int] = {}
    orphans = []
    for model, payout, burn in zip(scores["model"], scores["payout"], scores["burn"]):
        model = str(model)
        if model in model_ids:
            payouts[int(model_ids[model])] = int(payout)
            burns[int(model_ids[model])] = int(burn)
        elif int(payout) or int(burn):
            orphans.append(model)
    if orphans:
        raise BundleError(f"scores: models {sorted(orphans)} have a payout or burn but no row in stakes (no model id)")
    return payouts, burns


def _check_stakes_agree(scores: pd.DataFrame, stakes: pd.DataFrame) -> None:
    """The scores were computed from this stake table (else the bundle could never recompute)."""
    if "stake_at_risk" not in scores.columns:
        return
    table = dict(zip(stakes["model"], (int(v) for v in stakes["stake_at_risk"])))
    wrong = [
        f"{model} (scores {int(stake)}, stakes {table.get(model, 0)})"
        for model, stake in zip(scores["model"], scores["stake_at_risk"])
        if int(stake) != table.get(model, 0)
    ]
    if wrong:
        raise BundleError(f"scores: stake_at_risk disagrees with the stakes table for {', '.join(wrong)}")


def _cumulative_frame(previous: Mapping[int, tuple[int, int]]) -> pd.DataFrame:
    ids = sorted(previous)
    return pd.DataFrame(
        {
            "model_id": pd.Series(ids, dtype="int64"),
            "cumulative_payout": [str(int(previous[i][0])) for i in ids],
            "cumulative_burn": [str(int(previous[i][1])) for i in ids],
        }
    )


def _sum_amounts(values: Iterable[Any]) -> int:
    return sum(int(v) for v in values)


def write_round_bundle(
    store: ArtifactStore | str | os.PathLike[str],
    round: int,
    *,
    predictions: pd.DataFrame | PredictionTable,
    targets: pd.DataFrame,
    stakes: pd.DataFrame,
    scores: pd.DataFrame,
    params: RoundParams,
    previous_cumulative: Mapping[int, tuple[int, int]],
    leaves: Sequence[Any] | None = None,
    chain: ChainRef | None = None,
    previous: PreviousLink | str | None = None,
    extra_files: Mapping[str, bytes] | None = None,
    stored_files: Mapping[str, FileEntry] | None = None,
    payout_limit: PayoutLimit | None = None,
) -> tuple[Manifest, str, str]:
    """Write a round's bundle and commit its manifest; returns (manifest, manifest_uri, manifest_keccak).

    ``stakes`` has columns model, model_id, stake_at_risk; ``scores`` is ``RoundScores.scores``.
    ``leaves`` are this round's cumulative settlement leaves; when omitted they are derived from
    ``previous_cumulative`` and the scores' payouts and burns. ``previous`` links the previous round's
    manifest (a PreviousLink, or its URI, which is read to take its hash). ``extra_files`` adds named
    files (e.g. ``submissions.json``) to the bundle; ``stored_files`` adds files already in ``store``, by entry,
    neither hashed nor written again (committing the manifest still checks that their objects exist).
    ``payout_limit`` records the limit the scores' payouts were scaled to (the scores must already be scaled: see
    ``oracle.scoring.payouts.scale_payouts``).
    """
    from oracle.settlement.leaves import round_leaves, settlement_tree, totals

    store = as_store(store)
    if isinstance(round, bool) or not isinstance(round, int) or round < 0:
        raise BundleError(f"round must be a non-negative integer, got {round!r}")
    if params.round_number is not None and params.round_number != round:
        raise BundleError(f"params.round_number {params.round_number} does not match round {round}")
    stakes_df = _stakes_frame(stakes)
    scores_df = _scores_frame(scores)
    ids = dict(zip(stakes_df["model"], stakes_df["model_id"]))
    payouts, burns = amounts_by_model_id(scores_df, ids)
    _check_stakes_agree(scores_df, stakes_df)
    if leaves is None:
        leaves = round_leaves(previous_cumulative, payouts, burns, (int(i) for i in stakes_df["model_id"]))
    tree = settlement_tree(leaves)
    cumulative_payout, cumulative_burn = totals(leaves)

    files: dict[str, bytes] = {
        PREDICTIONS: parquet_bytes(predictions, PREDICTIONS, plain=True),
        TARGETS: parquet_bytes(targets, TARGETS),
        STAKES: parquet_bytes(stakes_df, STAKES),
        SCORES: parquet_bytes(scores_df, SCORES),
        TREE: canonical_json(tree.dump()),
        PREVIOUS_CUMULATIVE: parquet_bytes(_cumulative_frame(previous_cumulative), PREVIOUS_CUMULATIVE),
    }
    for name, data in (extra_files or {}).items():
        if name in files:
            raise BundleError(f"extra file {name!r} clashes with a standard bundle file")
        files[name] = bytes(data)
    for name, entry in (stored_files or {}).items():
        if name in files or entry.name != name:
            raise BundleError(f"stored file {name!r} clashes with another bundle file or is named {entry.name!r}")

    if isinstance(previous, str):
        previous = previous_link(previous, store)
    # Objects first, manifest last: the manifest is the commit point.
    names = sorted(files)
    entries = dict(zip(names, store.put_objects([(name, files[name]) for name in names])))
    entries = dict(sorted({**entries, **(stored_files or {})}.items()))
    manifest = Manifest(
        round=round,
        chain=chain,
        files=entries,
        params=params.to_dict(),
        totals=Totals(
            round_payout=_sum_amounts(scores_df["payout"]),
            round_burn=_sum_amounts(scores_df["burn"]),
            cumulative_payout=int(cumulative_payout),
            cumulative_burn=int(cumulative_burn),
            stake_at_risk=_sum_amounts(stakes_df["stake_at_risk"]),
        ),
        root=tree.root,
        versions=_versions(),
        previous=previous,
        payout_limit=payout_limit,
    )
    uri, digest = store.commit_manifest(manifest)
    return manifest, uri, digest
