"""Round artifacts: content-addressed bundles and their manifests, over any fsspec filesystem.

Store layout (``<root>`` is a local directory or any fsspec URL such as ``s3://bucket/tourney``)::

    <root>/objects/<sha256>.<ext>                        every file of every bundle, named by content
    <root>/rounds/<round>/manifest-<seq>-<keccak>.json   one manifest per published version of a round

``seq`` is a zero-padded counter per round (a round may be re-published, e.g. after a guardian veto);
``keccak`` is the manifest's keccak-256 without ``0x``, i.e. the ``manifestHash`` posted on-chain.

Atomicity: objects are written first, each to a temporary name and renamed into place where the
filesystem can rename atomically (local disks); on object stores (S3, GCS, memory) a single PUT is
already all-or-nothing. The manifest is written last and is the commit point: a reader finds a round
only through a manifest, and :func:`latest_manifest` only returns a manifest whose objects all exist and
hash-check. Objects never change once written (their name is their hash), and writing the same round
with the same inputs produces byte-identical files and reuses the existing manifest (idempotent). The
store assumes one writer per round at a time (the oracle operator).
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from oracle.errors import TourneyError
import oracle
from oracle.bundle.manifest import (
    ChainRef,
    FileEntry,
    Manifest,
    ManifestError,
    PreviousLink,
    Totals,
    canonical_json,
    keccak_hex,
)
from oracle.scoring.params import RoundParams

__all__ = [
    "ArtifactStore",
    "atomic_put",
    "BundleError",
    "IntegrityProblem",
    "RoundBundle",
    "PREDICTIONS",
    "TARGETS",
    "STAKES",
    "SCORES",
    "TREE",
    "PREVIOUS_CUMULATIVE",
    "AMOUNT_COLUMNS",
    "parquet_bytes",
    "read_parquet_bytes",
    "write_round_bundle",
    "load_bundle",
    "latest_manifest",
    "list_manifests",
    "list_rounds",
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

# Token amounts (smallest unit) may exceed int64: they are stored as decimal strings in every table.
AMOUNT_COLUMNS = frozenset({"stake_at_risk", "payout", "burn", "cumulative_payout", "cumulative_burn"})

_MANIFEST_NAME = re.compile(r"^manifest-(\d{6})-([0-9a-f]{64})\.json$")
_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]*)$")


class BundleError(TourneyError, ValueError):
    """A bundle is incomplete, corrupt or inconsistent; the message names the file and the problem."""


@dataclass(frozen=True)
class IntegrityProblem:
    """One file of a bundle (or the manifest itself) that is missing or does not match its hash."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


# ------------------------------------------------------------------------------------ deterministic Parquet


def _amount_to_str(value: Any, where: str) -> str:
    """A token amount as a decimal string; refuses floats with fractions, bools and junk."""
    if isinstance(value, bool):
        raise BundleError(f"{where}: {value!r} is not a token amount")
    if isinstance(value, str):
        if not _DECIMAL.match(value):
            raise BundleError(f"{where}: {value!r} is not a decimal integer")
        return value
    try:
        as_int = int(value)
    except (TypeError, ValueError, OverflowError):
        raise BundleError(f"{where}: {value!r} is not a token amount") from None
    if as_int != value:
        raise BundleError(f"{where}: {value!r} is not a whole number of token units")
    return str(as_int)


def _arrow_table(df: pd.DataFrame, where: str) -> pa.Table:
    """Convert to Arrow with amounts as strings and one fixed string type (no pandas metadata)."""
    df = df.reset_index(drop=True)
    columns = {}
    for name in df.columns:
        if not isinstance(name, str):
            raise BundleError(f"{where}: column name {name!r} is not a string")
        if name in AMOUNT_COLUMNS:
            columns[name] = [_amount_to_str(v, f"{where}: column {name!r} row {i}") for i, v in enumerate(df[name])]
        else:
            columns[name] = df[name]
    table = pa.Table.from_pandas(pd.DataFrame(columns, columns=list(df.columns)), preserve_index=False)
    # pandas may produce string or large_string depending on version and dtype: pin one.
    schema = pa.schema(
        [
            pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type)
            for f in table.schema
        ]
    )
    return table.cast(schema).replace_schema_metadata(None)


def parquet_bytes(df: pd.DataFrame, where: str = "table") -> bytes:
    """Serialise ``df`` to Parquet deterministically: same frame, same library versions, same bytes.

    Writer options are pinned (no Arrow schema blob, no pandas metadata, fixed compression and page
    format); Parquet itself records no timestamps. Columns named in AMOUNT_COLUMNS become decimal strings.
    """
    table = _arrow_table(df, where)
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        version="2.6",
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        data_page_version="1.0",
        store_schema=False,
        write_page_index=False,
        write_page_checksum=False,
        row_group_size=1 << 20,
    )
    return sink.getvalue()


def read_parquet_bytes(data: bytes, where: str = "table") -> pd.DataFrame:
    """Read Parquet bytes; amount columns come back as exact Python ints (object dtype)."""
    try:
        df = pq.read_table(io.BytesIO(data)).to_pandas()
    except (pa.ArrowInvalid, OSError) as exc:
        raise BundleError(f"{where}: not a readable Parquet file: {exc}") from exc
    for name in df.columns:
        if name in AMOUNT_COLUMNS:
            df[name] = pd.Series([_parse_amount(v, where, name, i) for i, v in enumerate(df[name])], dtype=object)
    return df


def _parse_amount(value: Any, where: str, column: str, row: int) -> int:
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise BundleError(f"{where}: column {column!r} row {row}: {value!r} is not a decimal integer string")
    return int(value)


# ----------------------------------------------------------------------------------------------- the store


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def atomic_put(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Write ``data`` at ``path`` so that no reader ever sees a partial file.

    Public because the inbox (oracle.protocol.submission) and the operator's snapshots (oracle.operator.rounds) need the same
    guarantee as the artifact store: a crash mid-write must never leave a truncated record behind."""
    parent = path.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    if isinstance(fs, LocalFileSystem):
        # Same directory, so os.replace is a rename within one filesystem: atomic on POSIX.
        local = fs._strip_protocol(path)
        tmp = f"{os.path.dirname(local)}/.tmp-{uuid.uuid4().hex}-{os.path.basename(local)}"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, local)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    else:
        # Object stores (and fsspec's memory filesystem) publish a single PUT all at once.
        fs.pipe_file(path, data)


class ArtifactStore:
    """A content-addressed store of round bundles rooted at ``url`` (a directory or any fsspec URL)."""

    def __init__(self, url: str | os.PathLike[str]):
        self.url = str(url).rstrip("/") or "/"
        self.fs, self.root = fsspec.core.url_to_fs(self.url)

    def __repr__(self) -> str:
        return f"ArtifactStore({self.url!r})"

    # -- objects ------------------------------------------------------------------------------

    def object_uri(self, entry: FileEntry) -> str:
        """Where the object for ``entry`` lives."""
        return _join(self.url, "objects", f"{entry.sha256}.{entry.extension}")

    def put_object(self, name: str, data: bytes) -> FileEntry:
        """Store ``data`` under its hash (skipped when an intact copy is already there)."""
        entry = FileEntry.of(name, data)
        path = _join(self.root, "objects", f"{entry.sha256}.{entry.extension}")
        if self.fs.exists(path):
            existing = self.fs.cat_file(path)
            if entry.mismatch(existing) is None:
                return entry
        atomic_put(self.fs, path, data)
        return entry

    # -- manifests ----------------------------------------------------------------------------

    def manifest_uri(self, round: int, seq: int, keccak256: str) -> str:
        """The URI of a round's manifest with sequence number ``seq`` and hash ``keccak256``."""
        return _join(self.url, "rounds", str(round), f"manifest-{seq:06d}-{keccak256[2:]}.json")

    def list_manifests(self, round: int) -> list[tuple[int, str, str]]:
        """(seq, keccak256, uri) for every manifest of ``round``, oldest first; temp files ignored."""
        directory = _join(self.root, "rounds", str(round))
        try:
            names = [p.rsplit("/", 1)[-1] for p in self.fs.ls(directory, detail=False)]
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            match = _MANIFEST_NAME.match(name)
            if match:
                seq, digest = int(match.group(1)), "0x" + match.group(2)
                found.append((seq, digest, self.manifest_uri(round, seq, digest)))
        return sorted(found)

    def list_rounds(self) -> list[int]:
        """Rounds with at least one manifest, ascending."""
        try:
            names = [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(_join(self.root, "rounds"), detail=False)]
        except FileNotFoundError:
            return []
        return sorted(int(n) for n in names if n.isdigit() and self.list_manifests(int(n)))

    def commit_manifest(self, manifest: Manifest) -> tuple[str, str]:
        """Publish ``manifest`` (the bundle's commit point); returns (uri, keccak256). Idempotent."""
        missing = [
            name for name, entry in manifest.files.items()
            if not self.fs.exists(_join(self.root, "objects", f"{entry.sha256}.{entry.extension}"))
        ]
        if missing:
            raise BundleError(f"{self.url}: cannot commit round {manifest.round}: objects missing for {missing}")
        data = manifest.to_bytes()
        digest = keccak_hex(data)
        existing = self.list_manifests(manifest.round)
        for _, known, uri in existing:
            if known == digest:
                return uri, digest
        seq = existing[-1][0] + 1 if existing else 1
        uri = self.manifest_uri(manifest.round, seq, digest)
        atomic_put(self.fs, _join(self.root, "rounds", str(manifest.round), uri.rsplit("/", 1)[-1]), data)
        return uri, digest


def _as_store(store: ArtifactStore | str | os.PathLike[str]) -> ArtifactStore:
    return store if isinstance(store, ArtifactStore) else ArtifactStore(store)


# ---------------------------------------------------------------------------------------------- bundles


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


def load_bundle(manifest_uri: str, expected_keccak: str | None = None, verify: bool = True) -> RoundBundle:
    """Load the bundle a manifest describes, checking every file's size, SHA-256 and keccak-256.

    With ``verify`` (the default) any problem raises a BundleError naming the file; with
    ``verify=False`` problems are collected in ``RoundBundle.problems`` (the auditor reports them all).
    ``expected_keccak`` is the ``manifestHash`` from the chain, when known.
    """
    manifest_uri = str(manifest_uri)
    try:
        with fsspec.open(manifest_uri, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise BundleError(f"{manifest_uri}: manifest not found") from None
    digest = keccak_hex(data)
    problems: list[IntegrityProblem] = []
    match = _MANIFEST_NAME.match(manifest_uri.rsplit("/", 1)[-1])
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
    files: dict[str, bytes] = {}
    for name, entry in manifest.files.items():
        uri = store.object_uri(entry)
        try:
            with fsspec.open(uri, "rb") as handle:
                blob = handle.read()
        except FileNotFoundError:
            problems.append(IntegrityProblem(name, f"object {uri} is missing"))
            continue
        mismatch = entry.mismatch(blob)
        if mismatch:
            problems.append(IntegrityProblem(name, f"object {uri} does not match the manifest: {mismatch}"))
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
    return _join(_store_root_of(bundle.uri), link.uri)


def _stakes_frame(stakes: pd.DataFrame) -> pd.DataFrame:
    for column in ("model", "model_id", "stake_at_risk"):
        if column not in stakes.columns:
            raise BundleError(f"stakes: missing column {column!r} (have {list(stakes.columns)})")
    out = pd.DataFrame(
        {
            "model": [str(m) for m in stakes["model"]],
            "model_id": pd.Series([int(i) for i in stakes["model_id"]], dtype="int64"),
            "stake_at_risk": [_amount_to_str(v, f"stakes: row {i}") for i, v in enumerate(stakes["stake_at_risk"])],
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
    predictions: pd.DataFrame,
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

    ``stakes`` has columns model, model_id, stake_at_risk; ``scores`` is ``RoundScores.scores``.
    ``leaves`` are this round's cumulative settlement leaves; when omitted they are derived from
    ``previous_cumulative`` and the scores' payouts and burns. ``previous`` links the previous round's
    manifest (a PreviousLink, or its URI, which is read to take its hash). ``extra_files`` adds named
    files (e.g. ``submissions.json``) to the bundle.
    """
    from oracle.settlement.leaves import cumulative_leaves, settlement_tree, totals

    store = _as_store(store)
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
        model_ids = sorted(set(previous_cumulative) | {int(i) for i in stakes_df["model_id"]})
        leaves = cumulative_leaves(previous_cumulative, payouts, burns, model_ids)
    tree = settlement_tree(leaves)
    cumulative_payout, cumulative_burn = totals(leaves)

    files: dict[str, bytes] = {
        PREDICTIONS: parquet_bytes(predictions, PREDICTIONS),
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
    entries = {name: store.put_object(name, data) for name, data in sorted(files.items())}
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


# ---------------------------------------------------------------------------------------------- reading


def list_rounds(store: ArtifactStore | str | os.PathLike[str]) -> list[int]:
    """Rounds with at least one manifest in ``store``."""
    return _as_store(store).list_rounds()


def list_manifests(store: ArtifactStore | str | os.PathLike[str], round: int) -> list[tuple[int, str, str]]:
    """(seq, keccak256, uri) of every manifest of ``round``, oldest first."""
    return _as_store(store).list_manifests(round)


def latest_manifest(store: ArtifactStore | str | os.PathLike[str], round: int) -> str | None:
    """URI of the newest complete manifest of ``round`` (all objects present and hash-checked), or None."""
    for _, digest, uri in reversed(_as_store(store).list_manifests(round)):
        try:
            load_bundle(uri, expected_keccak=digest)
        except BundleError:
            continue
        return uri
    return None
