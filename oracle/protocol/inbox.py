"""The inbox: where participants deliver signed submissions and the operator collects them.

Layout (``<root>`` is a directory or any fsspec URL)::

    <root>/objects/<keccak of the file, no 0x>.<ext>   prediction files, named by content (never rewritten)
    <root>/round-<r>/model-<id>.json                   the current submission record of a model in a round

The file goes first, the record last (each written atomically where the filesystem can rename), so a record
always points at a complete file. A re-submission replaces the record; the older file stays (content-addressed,
harmless) but is no longer referenced.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import replace
from typing import Iterator

import fsspec

from oracle.bundle.store import atomic_put
from oracle.protocol.submission import Submission, SubmissionError, predictions_hash

__all__ = ["Collected", "Inbox"]

_RECORD_RE = re.compile(r"^model-(\d+)\.json$")

_EXT_RE = re.compile(r"^[A-Za-z0-9]{1,10}$")


class Collected(list[tuple[Submission, bytes]]):
    """The valid (Submission, file bytes) pairs of a round, with ``problems`` naming every entry skipped."""

    def __init__(self, items: list[tuple[Submission, bytes]] | None = None, problems: list[str] | None = None):
        super().__init__(items or [])
        self.problems: list[str] = problems or []


def _extension(file_name: str) -> str:
    ext = file_name.rsplit(".", 1)[-1] if "." in file_name else "bin"
    return ext.lower() if _EXT_RE.match(ext) else "bin"


class Inbox:
    """Where participants deliver signed submissions and the operator collects them (a directory or fsspec URL)."""

    def __init__(self, url: str | os.PathLike[str]):
        self.url = str(url).rstrip("/") or "/"
        self.fs, self.root = fsspec.core.url_to_fs(self.url)

    def __repr__(self) -> str:
        return f"Inbox({self.url!r})"

    def _path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def object_path(self, sub: Submission) -> str:
        return self._path("objects", f"{sub.predictions_hash[2:]}.{_extension(sub.file_name)}")

    def record_path(self, round: int, model_id: int) -> str:
        return self._path(f"round-{int(round)}", f"model-{int(model_id)}.json")

    def put(self, sub: Submission, data: bytes) -> Submission:
        """Deliver ``sub`` and its file; replaces any earlier record of the same (round, model).

        Refuses a file whose hash is not the signed one (nothing is written then). Returns the stored record,
        with ``received_at`` set to now when the caller left it empty."""
        actual = predictions_hash(data)
        if actual != sub.predictions_hash:
            raise SubmissionError(
                f"round {sub.round} model {sub.model_id}: file hash {actual} is not the signed "
                f"predictions hash {sub.predictions_hash}; nothing delivered"
            )
        stored = sub if sub.received_at is not None else replace(sub, received_at=int(time.time()))
        object_path = self.object_path(stored)
        if not (self.fs.exists(object_path) and predictions_hash(self.fs.cat_file(object_path)) == actual):
            atomic_put(self.fs, object_path, bytes(data))
        atomic_put(self.fs, self.record_path(stored.round, stored.model_id), stored.to_bytes())
        return stored

    def _load(self, record_path: str, round: int, model_id: int | None) -> tuple[Submission, bytes]:
        where = f"{self.url}: {record_path.rsplit('/', 2)[-2]}/{record_path.rsplit('/', 1)[-1]}"
        sub = Submission.from_bytes(self.fs.cat_file(record_path), where)
        if sub.round != round or (model_id is not None and sub.model_id != model_id):
            raise SubmissionError(
                f"{where}: record is for round {sub.round} model {sub.model_id}, not what its name says"
            )
        object_path = self.object_path(sub)
        try:
            data = self.fs.cat_file(object_path)
        except FileNotFoundError:
            raise SubmissionError(f"{where}: prediction file {object_path} is missing") from None
        if predictions_hash(data) != sub.predictions_hash:
            raise SubmissionError(f"{where}: prediction file {object_path} does not hash to the signed hash")
        return sub, data

    def get(self, round: int, model_id: int) -> tuple[Submission, bytes] | None:
        """The current submission of ``model_id`` in ``round`` (None when there is none).

        Raises :class:`SubmissionError` when the entry exists but is corrupt."""
        path = self.record_path(round, model_id)
        if not self.fs.exists(path):
            return None
        return self._load(path, int(round), int(model_id))

    def _record_names(self, round: int) -> Iterator[tuple[int, str]]:
        try:
            paths = self.fs.ls(self._path(f"round-{int(round)}"), detail=False)
        except FileNotFoundError:
            return
        for path in sorted(paths):
            match = _RECORD_RE.match(path.rstrip("/").rsplit("/", 1)[-1])
            if match:  # temp files and stray names are not records
                yield int(match.group(1)), path

    def receipted_elsewhere(self) -> bool:
        """True when the inbox holds prediction files but not one round's records: the layout `tourney serve`
        leaves (its records are in its database), which this class alone would read as no submissions at all."""
        try:
            names = [path.rstrip("/").rsplit("/", 1)[-1] for path in self.fs.ls(self.root, detail=False)]
            if "objects" not in names or any(name.startswith("round-") for name in names):
                return False  # a file inbox (its records are here), or nothing delivered yet
            return bool(self.fs.ls(self._path("objects"), detail=False))
        except FileNotFoundError:
            return False

    def records(self, round: int) -> list[Submission]:
        """The submission records of ``round`` whose file is there, ordered by model id, without reading the files:
        what a record says (who, which hash, when) is all some callers need (the operator's late arrivals)."""
        found = []
        for model_id, path in sorted(self._record_names(round)):
            where = f"{self.url}: {path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}"
            try:
                sub = Submission.from_bytes(self.fs.cat_file(path), where)
            except (SubmissionError, OSError):
                continue  # corrupt entries are collect()'s to report
            if sub.round == round and sub.model_id == model_id and self.fs.exists(self.object_path(sub)):
                found.append(sub)
        return found

    def collect(self, round: int) -> Collected:
        """Every intact submission of ``round``, ordered by model id; corrupt entries land in ``.problems``.

        Only checks that each record parses and points at its file; signatures and ownership are the caller's
        (``verify_submission``), since they need the chain."""
        found = Collected()
        for batch in self.collect_batches(round):
            found.extend(batch)
            found.problems.extend(batch.problems)
        return found

    def collect_batches(self, round: int, size: int = 256, threads: int = 4) -> Iterator[Collected]:
        """:meth:`collect` a batch of ``size`` entries at a time, each batch read and hash-checked by ``threads``
        threads (reading and hashing leave the GIL): a round's thousands of files, never all in memory at once."""
        from concurrent.futures import ThreadPoolExecutor

        def load(item: tuple[int, str]) -> tuple[Submission, bytes] | str:
            try:
                return self._load(item[1], int(round), item[0])
            except (SubmissionError, OSError) as exc:
                return str(exc)

        names = sorted(self._record_names(round))
        with ThreadPoolExecutor(max(1, threads)) as pool:
            for start in range(0, len(names), size):
                batch = Collected()
                for outcome in pool.map(load, names[start : start + size]):
                    if isinstance(outcome, str):
                        batch.problems.append(outcome)
                    else:
                        batch.append(outcome)
                yield batch
