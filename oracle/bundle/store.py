"""Round artifacts: content-addressed bundles and their manifests, over any fsspec filesystem.

Store layout (``<root>`` is a local directory or any fsspec URL such as ``s3://bucket/tourney``)::

    <root>/objects/<sha256>.<ext>                        every file of every bundle, named by content
    <root>/rounds/<round>/manifest-<seq>-<keccak>.json   one manifest per published version of a round
    <root>/snapshots/round-<round>.json                  named records beside the bundles (the operator's inbox
                                                         snapshots), written and read through the store's API

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

import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

import fsspec
from fsspec.implementations.local import LocalFileSystem

from oracle.bundle.manifest import FileEntry, Manifest, keccak_hex
from oracle.errors import TourneyError

__all__ = [
    "ArtifactStore",
    "BundleError",
    "MANIFEST_NAME",
    "as_store",
    "atomic_put",
    "join_path",
    "list_manifests",
    "list_rounds",
]

MANIFEST_NAME = re.compile(r"^manifest-(\d{6})-([0-9a-f]{64})\.json$")


class BundleError(TourneyError, ValueError):
    """A bundle is incomplete, corrupt or inconsistent; the message names the file and the problem."""


def join_path(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def atomic_put(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Write ``data`` at ``path`` so that no reader ever sees a partial file.

    Public because the inbox (oracle.protocol) needs the same guarantee as the artifact store: a crash mid-write
    must never leave a truncated record behind."""
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
        return join_path(self.url, "objects", f"{entry.sha256}.{entry.extension}")

    def put_object(self, name: str, data: bytes, keccak256: str | None = None) -> FileEntry:
        """Store ``data`` under its hash (skipped when an intact copy is already there); ``keccak256`` as in
        :meth:`FileEntry.of`."""
        entry = FileEntry.of(name, data, keccak256)
        path = join_path(self.root, "objects", f"{entry.sha256}.{entry.extension}")
        if self.fs.exists(path) and self.fs.cat_file(path) == data:  # the same bytes: intact, nothing to write
            return entry
        atomic_put(self.fs, path, data)
        return entry

    def put_objects(self, items: Iterable[tuple[Any, ...]], threads: int = 8) -> list[FileEntry]:
        """:meth:`put_object` of many (name, data[, keccak256]) items, in order, several at a time: each write waits
        for its ``fsync``, and the disk commits concurrent ones together (a round's thousands of submission files)."""
        items = list(items)
        if len(items) < 2 or threads < 2:
            return [self.put_object(*item) for item in items]
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(lambda item: self.put_object(*item), items))

    # -- records -------------------------------------------------------------------------------

    def record_path(self, name: str) -> str:
        """The path (inside ``fs``) of a named record such as ``snapshots/round-3.json``: mutable files the operator
        keeps beside the bundles. Names are relative, without ``..``, and never inside the bundles' own folders."""
        parts = name.split("/")
        if (
            not name
            or name.startswith("/")
            or any(p in ("", ".", "..") for p in parts)
            or parts[0] in ("objects", "rounds")
        ):
            raise BundleError(f"{self.url}: {name!r} is not a record name (relative, no '..', not objects/ or rounds/)")
        return join_path(self.root, name)

    def put_record(self, name: str, data: bytes) -> None:
        """Write (or replace) a named record atomically."""
        atomic_put(self.fs, self.record_path(name), data)

    def get_record(self, name: str) -> bytes | None:
        """A named record's bytes, or None when there is none."""
        path = self.record_path(name)
        return self.fs.cat_file(path) if self.fs.exists(path) else None

    # -- manifests ----------------------------------------------------------------------------

    def manifest_uri(self, round: int, seq: int, keccak256: str) -> str:
        """The URI of a round's manifest with sequence number ``seq`` and hash ``keccak256``."""
        return join_path(self.url, "rounds", str(round), f"manifest-{seq:06d}-{keccak256[2:]}.json")

    def list_manifests(self, round: int) -> list[tuple[int, str, str]]:
        """(seq, keccak256, uri) for every manifest of ``round``, oldest first; temp files ignored."""
        directory = join_path(self.root, "rounds", str(round))
        try:
            names = [p.rsplit("/", 1)[-1] for p in self.fs.ls(directory, detail=False)]
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            match = MANIFEST_NAME.match(name)
            if match:
                seq, digest = int(match.group(1)), "0x" + match.group(2)
                found.append((seq, digest, self.manifest_uri(round, seq, digest)))
        return sorted(found)

    def list_rounds(self) -> list[int]:
        """Rounds with at least one manifest, ascending."""
        try:
            names = [p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(join_path(self.root, "rounds"), detail=False)]
        except FileNotFoundError:
            return []
        return sorted(int(n) for n in names if n.isdigit() and self.list_manifests(int(n)))

    def commit_manifest(self, manifest: Manifest) -> tuple[str, str]:
        """Publish ``manifest`` (the bundle's commit point); returns (uri, keccak256). Idempotent."""
        missing = [
            name
            for name, entry in manifest.files.items()
            if not self.fs.exists(join_path(self.root, "objects", f"{entry.sha256}.{entry.extension}"))
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
        atomic_put(self.fs, join_path(self.root, "rounds", str(manifest.round), uri.rsplit("/", 1)[-1]), data)
        return uri, digest


def as_store(store: ArtifactStore | str | os.PathLike[str]) -> ArtifactStore:
    return store if isinstance(store, ArtifactStore) else ArtifactStore(store)


def list_rounds(store: ArtifactStore | str | os.PathLike[str]) -> list[int]:
    """Rounds with at least one manifest in ``store``."""
    return as_store(store).list_rounds()


def list_manifests(store: ArtifactStore | str | os.PathLike[str], round: int) -> list[tuple[int, str, str]]:
    """(seq, keccak256, uri) of every manifest of ``round``, oldest first."""
    return as_store(store).list_manifests(round)
