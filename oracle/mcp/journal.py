"""Idempotent value-moving calls: a ``request_id`` names one intended action, and the journal remembers its outcome.

An agent whose call timed out cannot tell whether the stake landed; retrying blindly could stake twice. With a
``request_id`` the retry is safe: the journal (one JSON file per chain, tournament and account, under the server's
workdir) holds, per ``(tool, request_id)``, the arguments and either ``pending`` (written *before* the transaction
is sent) or the result. A retry with the same id and arguments returns the stored result without sending anything;
with other arguments it is refused (``request_id_reused``); an entry still pending (a crash, or another server on
the same workdir, between sending and recording) is refused as ``outcome_unknown``, since only the chain can tell.

An entry is removed again only when the action certainly did not happen (refused before sending, or reverted).
Writes are atomic (temporary file, rename) under an exclusive ``flock`` so two server processes cannot interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Iterator

from oracle.mcp.errors import ToolFailure

__all__ = ["RequestJournal"]

_PENDING = "pending"


class RequestJournal:
    """Outcomes of value-moving calls by ``(tool, request_id)``, kept in ``path`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                entries = json.loads(self.path.read_text()) if self.path.exists() else {}
                before = json.dumps(entries, sort_keys=True)
                yield entries
                if json.dumps(entries, sort_keys=True) != before:
                    tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
                    tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))
                    os.replace(tmp, self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _key(tool: str, request_id: str) -> str:
        return f"{tool}:{request_id}"

    def begin(self, tool: str, request_id: str, arguments: dict[str, Any]) -> dict[str, Any] | None:
        """The stored result of this request, or None after recording it as pending (the caller then sends it)."""
        key = self._key(tool, request_id)
        with self._locked() as entries:
            entry = entries.get(key)
            if entry is None:
                entries[key] = {"arguments": arguments, "state": _PENDING}
                return None
            if entry["arguments"] != arguments:
                raise ToolFailure(
                    "request_id_reused",
                    f"request_id {request_id!r} was used for {tool} with other arguments ({entry['arguments']})",
                    request_id=request_id,
                )
            if entry["state"] == _PENDING:
                raise ToolFailure(
                    "outcome_unknown",
                    f"{tool} with request_id {request_id!r} was started before and its outcome was never recorded",
                    request_id=request_id,
                )
            return dict(entry["result"])

    def finish(self, tool: str, request_id: str, result: dict[str, Any]) -> None:
        """Record the outcome of a request that was sent."""
        with self._locked() as entries:
            entries[self._key(tool, request_id)]["state"] = "done"
            entries[self._key(tool, request_id)]["result"] = result

    def abandon(self, tool: str, request_id: str) -> None:
        """Forget a request that certainly did not happen, so the same id may be tried again."""
        with self._locked() as entries:
            entries.pop(self._key(tool, request_id), None)
