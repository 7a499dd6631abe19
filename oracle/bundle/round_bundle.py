"""A round's bundle: its standard files, how they are written (deterministically, so an honest re-run reproduces
the manifest and its hash) and how they are loaded back, every file checked against the manifest.

A bundle holds the round's predictions, targets, stakes at risk, scores, settlement tree and the cumulative leaves it
builds on (:data:`STANDARD_FILES`), plus the operator's record of the signed submissions it scored
(:data:`SUBMISSIONS_FILE`) and of those it refused with the reason (:data:`REJECTIONS_FILE`).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from oracle.bundle.fetch import FetchError, FetchNotFound, Reader, TrustedReader
from oracle.bundle.manifest import (
    Manifest,
    ManifestError,
    PreviousLink,
    keccak_hex,
)
from oracle.bundle.mirrors import local_uri, mirror_uris
from oracle.bundle.parquet import read_parquet_bytes
from oracle.bundle.store import MANIFEST_NAME, ArtifactStore, BundleError, as_store, join_path
from oracle.scoring.params import RoundParams

if TYPE_CHECKING:
    from oracle.scoring.matrix import PredictionTable

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
    "load_bundle",
    "latest_manifest",
    "previous_link",
    "read_manifest",
    "resolve_previous_uri",
    "store_root_of",
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
        from oracle.scoring.prediction_files import predictions_from_parquet
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
        result: dict[str, Any] = self.json(TREE)
        return result

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

    def payout_limit(self) -> int | None:
        """The limit the round's payouts were scaled to (None: none recorded, payouts unscaled)."""
        return None if self.manifest.payout_limit is None else self.manifest.payout_limit.limit

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


def store_root_of(manifest_uri: str) -> str:
    """The root of the store a manifest at ``<root>/rounds/<round>/<name>.json`` lives in (its objects are there)."""
    return _store_root_of(manifest_uri)


def _read_manifest(manifest_uri: str, reader: Reader) -> tuple[str, bytes]:
    """(the URI it was read from, its bytes), read with ``reader``: an alias of one's own public URI in one's own
    store first, then ``manifest_uri`` itself, then each bundle mirror (oracle.bundle.mirrors) that has it. The
    content proves itself whatever the place (its keccak is on-chain)."""
    alias = local_uri(manifest_uri)
    candidates = [*([alias] if alias else []), manifest_uri, *mirror_uris(manifest_uri)]
    tried: list[str] = []
    for uri in candidates:
        try:
            return uri, reader.read(uri)
        except FetchNotFound:
            tried.append(f"{uri} (not found)")
        except (FetchError, OSError) as exc:
            if len(candidates) == 1:
                raise
            tried.append(f"{uri} ({exc})")
    if len(candidates) == 1:
        raise BundleError(
            f"{manifest_uri}: manifest not found (an auditor elsewhere reads it from the operator's "
            "service: --service URL)"
        )
    raise BundleError(f"{manifest_uri}: manifest not found; tried " + "; ".join(tried))


def read_manifest(manifest_uri: str, reader: Reader) -> tuple[str, bytes]:
    """(the URI it was read from, its bytes): the manifest read as :func:`load_bundle` reads it (alias, the URI,
    then mirrors); its objects are under :func:`store_root_of` of the URI it was read from."""
    return _read_manifest(manifest_uri, reader)


def load_bundle(
    manifest_uri: str,
    expected_keccak: str | None = None,
    verify: bool = True,
    reader: Reader | None = None,
    only: Iterable[str] | None = None,
) -> RoundBundle:
    """Load the bundle a manifest describes, checking every file's size, SHA-256 and keccak-256.

    With ``verify`` (the default) any problem raises a BundleError naming the file; with
    ``verify=False`` problems are collected in ``RoundBundle.problems`` (the auditor reports them all).
    ``expected_keccak`` is the ``manifestHash`` from the chain, when known. ``reader`` reads the manifest and
    its files: a :class:`~oracle.bundle.fetch.Fetcher` (bounded, allow-listed) for a URI taken from the chain;
    by default a :class:`~oracle.bundle.fetch.TrustedReader` (any fsspec URL, no limits) for one's own store.
    ``only`` loads just the named files (each still checked against the manifest, the manifest against its hash):
    a keeper settling a round needs its tree, not the thousands of prediction files beside it.
    """
    manifest_uri = str(manifest_uri)
    reader = reader or TrustedReader()
    read_from, data = _read_manifest(manifest_uri, reader)  # the URI itself, or where a mirror or alias has it
    digest = keccak_hex(data)
    problems: list[IntegrityProblem] = []
    match = MANIFEST_NAME.match(manifest_uri.rsplit("/", 1)[-1])
    if match and "0x" + match.group(2) != digest:
        problems.append(
            IntegrityProblem("manifest.json", f"content hashes to {digest} but its name claims 0x{match.group(2)}")
        )
    if expected_keccak is not None and expected_keccak.lower() != digest:
        problems.append(
            IntegrityProblem("manifest.json", f"content hashes to {digest}, expected {expected_keccak.lower()}")
        )
    try:
        manifest = Manifest.from_bytes(data, manifest_uri)
    except ManifestError as exc:
        raise BundleError(str(exc)) from exc
    if manifest.to_bytes() != data:
        problems.append(
            IntegrityProblem("manifest.json", "not in canonical JSON form (its hash would not be reproducible)")
        )
    # The object URIs are computed, not opened through a filesystem: only ``reader`` touches anything. They sit
    # beside the manifest where it was found.
    root = _store_root_of(read_from)

    def fetch(item: tuple[str, Any]) -> tuple[str, bytes | None, IntegrityProblem | None]:
        name, entry = item
        uri = join_path(root, "objects", f"{entry.sha256}.{entry.extension}")
        try:
            blob = reader.read(uri, entry.size)
        except FetchNotFound:
            return name, None, IntegrityProblem(name, f"object {uri} is missing")
        except FetchError as exc:
            return name, None, IntegrityProblem(name, f"object {uri} cannot be read: {exc}")
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


def previous_link(manifest_uri: str, store: ArtifactStore | None = None) -> PreviousLink:
    """Link to an existing manifest (read to take its round and hash, so the link cannot be wrong).

    When ``store`` is given and the manifest lives in it, the link is stored relative to the store
    root, so a store that is copied or moved elsewhere keeps valid links.
    """
    _, data = _read_manifest(str(manifest_uri), TrustedReader())
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


def latest_manifest(store: ArtifactStore | str | os.PathLike[str], round: int) -> str | None:
    """URI of the newest complete manifest of ``round`` (all objects present and hash-checked), or None."""
    for _, digest, uri in reversed(as_store(store).list_manifests(round)):
        try:
            load_bundle(uri, expected_keccak=digest)
        except BundleError:
            continue
        return uri
    return None
