"""A round's bundle: its standard files, how they are written (deterministically, so an honest re-run reproduces
the manifest and its hash) and how they are loaded back, every file checked against the manifest.

A bundle holds the round's predictions, targets, stakes at risk, scores, settlement tree and the cumulative leaves it
builds on (:data:`STANDARD_FILES`), plus the operator's record of the signed submissions it scored
(:data:`SUBMISSIONS_FILE`) and of those it refused with the reason (:data:`REJECTIONS_FILE`).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import fsspec
import pandas as pd

import oracle
from oracle.bundle.manifest import (
    ChainRef,
    Manifest,
    ManifestError,
    PreviousLink,
    Totals,
    canonical_json,
    keccak_hex,
)
from oracle.bundle.parquet import amount_text, parquet_bytes, read_parquet_bytes
from oracle.bundle.store import MANIFEST_NAME, ArtifactStore, BundleError, as_store, join_path
from oracle.scoring.matrix import PredictionTable
from oracle.scoring.params import RoundParams

__all__ = [
    "IntegrityProblem",
    "RoundBundle",
    "PREDICTIONS",
    "TARGETS",
    "STAKES",
    "SCORES",
    "TREE",
    "PREVIOUS_CUMULATIVE",
    "STANDARD_FILES",
    "SUBMISSIONS_FILE",
    "REJECTIONS_FILE",
    "write_round_bundle",
    "load_bundle",
    "latest_manifest",
    "previous_link",
    "resolve_previous_uri",
    "amounts_by_model_id",
]

PREDICTIONS = "predictions.parquet"
TARGETS = "targets.parquet"
STAKES = "stakes.parquet"
SCORES = "scores.parquet"
TREE = "tree.json"
PREVIOUS_CUMULATIVE = "previous_cumulative.parquet"
STANDARD_FILES = (PREDICTIONS, TARGETS, STAKES, SCORES, TREE, PREVIOUS_CUMULATIVE)
#: Files of a bundle read and hash-checked at once (reading and hashing leave the GIL).
LOAD_THREADS = 4
#: The signed submissions a bundle scored (each with its record, so an auditor re-checks every signature).
SUBMISSIONS_FILE = "submissions.json"
#: The submissions the operator refused, each with a reason code and the whole signed record.
REJECTIONS_FILE = "rejections.json"


@dataclass(frozen=True)
class IntegrityProblem:
    """One file of a bundle (or the manifest itself) that is missing or does not match its hash."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"



@dataclass
class RoundBundle:
    """A loaded round bundle: the manifest, its raw files, and parsers for each standard file.

    ``problems`` lists integrity failures (missing or mismatching files); it is empty whenever the
    bundle was loaded with ``verify=True``, since that raises instead.
    """

    manifest: Manifest
    uri: str
    keccak256: str
    files: dict[str, bytes]
    problems: list[IntegrityProblem] = field(default_factory=list)

    @property
    def round(self) -> int:
        """The round number."""
        return self.manifest.round

    def raw(self, name: str) -> bytes:
        """The bytes of file ``name``; a BundleError names it if the bundle lacks it."""
        if name not in self.files:
            raise BundleError(f"{self.uri}: bundle has no file {name!r} (has {sorted(self.files)})")
        return self.files[name]

    def table(self, name: str) -> pd.DataFrame:
        """A Parquet file of the bundle as a DataFrame (amounts as Python ints)."""
        return read_parquet_bytes(self.raw(name), f"{self.uri}: {name}")

    def json(self, name: str) -> Any:
        """A JSON file of the bundle, parsed."""
        try:
            return json.loads(self.raw(name))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{self.uri}: {name}: not valid JSON: {exc}") from exc

    def predictions(self) -> pd.DataFrame:
        """The round's predictions: an id column plus one column per model."""
        return self.table(PREDICTIONS)

    def prediction_table(self) -> PredictionTable:
        """The round's predictions as the scoring matrix, read straight from the Parquet file (no frame: the bundle's
        biggest table, one column per model)."""
        from oracle.scoring.tables import predictions_from_parquet
        from oracle.scoring.validation import TableError

        try:
            return predictions_from_parquet(self.raw(PREDICTIONS))
        except TableError as exc:
            raise BundleError(f"{self.uri}: {PREDICTIONS}: {exc}") from exc

    def targets(self) -> pd.DataFrame:
        """The round's resolved targets."""
        return self.table(TARGETS)

    def stakes(self) -> pd.DataFrame:
        """Stakes at risk: model, model_id, stake_at_risk (int)."""
        return self.table(STAKES)

    def scores(self) -> pd.DataFrame:
        """Recorded scores: model, corr, mmc, stake_at_risk, payout, burn (amounts as ints)."""
        return self.table(SCORES)

    def tree_dump(self) -> dict[str, Any]:
        """The settlement tree in OpenZeppelin ``standard-v1`` dump form."""
        return self.json(TREE)

    def previous_cumulative(self) -> dict[int, tuple[int, int]]:
        """Cumulative (payout, burn) per model id before this round."""
        df = self.table(PREVIOUS_CUMULATIVE)
        return {
            int(mid): (int(p), int(b))
            for mid, p, b in zip(df["model_id"], df["cumulative_payout"], df["cumulative_burn"])
        }

    def params(self) -> RoundParams:
        """The round's scoring parameters."""
        return RoundParams.from_dict(self.manifest.params)

    def stake_map(self) -> dict[str, int]:
        """Stake at risk per model name."""
        df = self.stakes()
        return {str(m): int(s) for m, s in zip(df["model"], df["stake_at_risk"])}

    def model_ids(self) -> dict[str, int]:
        """Model id per model name."""
        df = self.stakes()
        return {str(m): int(i) for m, i in zip(df["model"], df["model_id"])}


def _store_root_of(manifest_uri: str) -> str:
    """The store root of a manifest at ``<root>/rounds/<round>/<name>.json``."""
    parts = manifest_uri.rstrip("/").split("/")
    if len(parts) < 4 or parts[-3] != "rounds":
        raise BundleError(f"{manifest_uri}: not a store manifest path (expected <root>/rounds/<round>/<name>.json)")
    return "/".join(parts[:-3]) or "/"


def load_bundle(manifest_uri: str, expected_keccak: str | None = None, verify: bool = True,
                only: Iterable[str] | None = None) -> RoundBundle:
    """Load the bundle a manifest describes, checking every file's size, SHA-256 and keccak-256.

    With ``verify`` (the default) any problem raises a BundleError naming the file; with
    ``verify=False`` problems are collected in ``RoundBundle.problems`` (the auditor reports them all).
    ``expected_keccak`` is the ``manifestHash`` from the chain, when known. ``only`` loads just the named files
    (each still checked against the manifest, the manifest against its hash): a keeper settling a round needs its
    tree, not the thousands of prediction files beside it.
    """
    manifest_uri = str(manifest_uri)
    try:
        with fsspec.open(manifest_uri, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise BundleError(f"{manifest_uri}: manifest not found") from None
    digest = keccak_hex(data)
    problems: list[IntegrityProblem] = []
    match = MANIFEST_NAME.match(manifest_uri.rsplit("/", 1)[-1])
    if match and "0x" + match.group(2) != digest:
        problems.append(IntegrityProblem("manifest.json", f"content hashes to {digest} but its name claims 0x{match.group(2)}"))
    if expected_keccak is not None and expected_keccak.lower() != digest:
        problems.append(IntegrityProblem("manifest.json", f"content hashes to {digest}, expected {expected_keccak.lower()}"))
    try:
        manifest = Manifest.from_bytes(data, manifest_uri)
    except ManifestError as exc:
        raise BundleError(str(exc)) from exc
    if manifest.to_bytes() != data:
        problems.append(IntegrityProblem("manifest.json", "not in canonical JSON form (its hash would not be reproducible)"))
    store = ArtifactStore(_store_root_of(manifest_uri))

    def fetch(item: tuple[str, Any]) -> tuple[str, bytes | None, IntegrityProblem | None]:
        name, entry = item
        uri = store.object_uri(entry)
        try:
            with fsspec.open(uri, "rb") as handle:
                blob = handle.read()
        except FileNotFoundError:
            return name, None, IntegrityProblem(name, f"object {uri} is missing")
        mismatch = entry.mismatch(blob)
        problem = IntegrityProblem(name, f"object {uri} does not match the manifest: {mismatch}") if mismatch else None
        return name, blob, problem

    files: dict[str, bytes] = {}
    # A round's thousands of files are read and hashed a few at a time: hashing and reading leave the GIL.
    with ThreadPoolExecutor(LOAD_THREADS) as pool:
        wanted = None if only is None else set(only)
        chosen = [(name, entry) for name, entry in manifest.files.items() if wanted is None or name in wanted]
        for name, blob, problem in pool.map(fetch, chosen):
            if problem is not None:
                problems.append(problem)
            if blob is not None:
                files[name] = blob
    if verify and problems:
        raise BundleError(f"{manifest_uri}: bundle failed verification:\n  " + "\n  ".join(map(str, problems)))
    return RoundBundle(manifest=manifest, uri=manifest_uri, keccak256=digest, files=files, problems=problems)


# ---------------------------------------------------------------------------------------------- writing


def _versions() -> dict[str, str]:
    """The code that scored the round: this package and numerai-tools."""
    return {"oracle": oracle.__version__, "numerai_tools": importlib.metadata.version("numerai-tools")}


def previous_link(manifest_uri: str, store: ArtifactStore | None = None) -> PreviousLink:
    """Link to an existing manifest (read to take its round and hash, so the link cannot be wrong).

    When ``store`` is given and the manifest lives in it, the link is stored relative to the store
    root, so a store that is copied or moved elsewhere keeps valid links.
    """
    with fsspec.open(str(manifest_uri), "rb") as handle:
        data = handle.read()
    manifest = Manifest.from_bytes(data, str(manifest_uri))
    uri = str(manifest_uri)
    if store is not None and uri.startswith(store.url.rstrip("/") + "/"):
        uri = uri[len(store.url.rstrip("/")) + 1 :]
    return PreviousLink(round=manifest.round, uri=uri, keccak256=keccak_hex(data))


def resolve_previous_uri(bundle: RoundBundle) -> str | None:
    """The absolute URI of the previous manifest (relative links resolve against this bundle's store)."""
    link = bundle.manifest.previous
    if link is None:
        return None
    if "://" in link.uri or link.uri.startswith("/"):
        return link.uri
    return join_path(_store_root_of(bundle.uri), link.uri)


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
) -> tuple[Manifest, str, str]:
    """Write a round's bundle and commit its manifest; returns (manifest, manifest_uri, manifest_keccak).

    ``predictions`` is a frame or the scoring matrix (:class:`~oracle.scoring.matrix.PredictionTable`, written
    without a frame, to the same bytes). ``stakes`` has columns model, model_id, stake_at_risk; ``scores`` is
    ``RoundScores.scores``.
    ``leaves`` are this round's cumulative settlement leaves; when omitted they are derived from
    ``previous_cumulative`` and the scores' payouts and burns. ``previous`` links the previous round's
    manifest (a PreviousLink, or its URI, which is read to take its hash). ``extra_files`` adds named
    files (e.g. ``submissions.json``) to the bundle.
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

    if isinstance(previous, str):
        previous = previous_link(previous, store)
    # Objects first, manifest last: the manifest is the commit point.
    names = sorted(files)
    entries = dict(zip(names, store.put_objects([(name, files[name]) for name in names])))
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
    )
    uri, digest = store.commit_manifest(manifest)
    return manifest, uri, digest



def latest_manifest(store: ArtifactStore | str | os.PathLike[str], round: int) -> str | None:
    """URI of the newest complete manifest of ``round`` (all objects present and hash-checked), or None."""
    for _, digest, uri in reversed(as_store(store).list_manifests(round)):
        try:
            load_bundle(uri, expected_keccak=digest)
        except BundleError:
            continue
        return uri
    return None
