"""A closed round's inbox snapshot: its on-time submissions, copied into the artifact store.

The snapshot keeps exactly the records stamped ``received_at < closes_at`` (chain time) and their files. It is a
pure function of the inbox's content and ``closes_at``, so an operator that dies between the close and the
snapshot takes the same one on resume, and the bundle built from it stays byte-identical.
"""

from __future__ import annotations

import json
from typing import Any

from oracle.bundle.manifest import canonical_json
from oracle.bundle.store import ArtifactStore
from oracle.operator.intake import submission_file_name

__all__ = ["load_snapshot", "snapshot_name", "take_snapshot"]


def snapshot_name(round: int) -> str:
    """The store record holding a round's inbox snapshot."""
    return f"snapshots/round-{round}.json"


def take_snapshot(store: ArtifactStore, inbox: Any, round: int, closes_at: int) -> dict[str, Any]:
    """Copy the round's on-time submissions (records stamped ``received_at < closes_at``, and their files) from
    ``inbox`` (anything with the file inbox's ``collect_batches(round)``) into ``store``.

    Deliberately a pure function of the inbox's content and ``closes_at`` (no "taken at" clock): re-taking it
    after a crash gives the same snapshot, and the bundle built from it stays byte-identical. Records without a
    stamp cannot show they were on time and are left out (reported late at resolve)."""
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    # A batch of files at a time (read, hash-checked and stored several at once): never all of them in memory.
    for batch in inbox.collect_batches(round):
        problems += batch.problems
        on_time = [(sub, data) for sub, data in batch if sub.received_at is not None and sub.received_at < closes_at]
        # collect() checked each file's keccak against its record: it is not computed again.
        entries = store.put_objects(
            [(submission_file_name(sub.model_id, sub.file_name), data, sub.predictions_hash) for sub, data in on_time]
        )
        records += [
            {"record": sub.to_json(), "object": store.object_uri(entry)} for (sub, _), entry in zip(on_time, entries)
        ]
    snapshot = {"round": round, "closes_at": closes_at, "submissions": records, "problems": problems}
    store.put_record(snapshot_name(round), canonical_json(snapshot))
    return snapshot


def load_snapshot(store: ArtifactStore, round: int) -> dict[str, Any] | None:
    """The round's snapshot as :func:`take_snapshot` stored it, or None when it was never taken."""
    data = store.get_record(snapshot_name(round))
    return None if data is None else json.loads(data)
