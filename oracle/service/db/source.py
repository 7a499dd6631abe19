"""The operator's view of a database-backed service's submissions: what :class:`oracle.operator.rounds.Operator`
collects a round from instead of the inbox's record files (the prediction files stay in the inbox, named by
content). Same shape as :meth:`oracle.protocol.inbox.Inbox.collect`, so the snapshot, and the bundle built from
it, are byte for byte what they would be had the same submissions been delivered to the inbox."""

from __future__ import annotations

from collections.abc import Iterator

from oracle.protocol.inbox import Collected, Inbox
from oracle.protocol.submission import Submission, SubmissionError, predictions_hash
from oracle.service.db.ledger import Ledger, Stored

__all__ = ["LedgerInbox"]


class LedgerInbox:
    """Collects a round from the ledger; collecting closes the round's gate first (the operator collects only
    after the close is mined), so no submission is receipted after the snapshot.

    Participants may also deliver straight to the inbox (a shared directory or bucket, beside the service): those
    records count too, as they did when the service kept its records in the inbox. Per model the later stamp
    (``received_at``) is current, the ledger's on a tie; the operator judges every record alike."""

    def __init__(self, ledger: Ledger, inbox: Inbox) -> None:
        self.ledger, self.inbox = ledger, inbox

    def __repr__(self) -> str:
        return f"LedgerInbox({self.ledger.db.url!r}, {self.inbox.url!r})"

    def collect(self, round: int) -> Collected:
        """Close the round's gate, then :meth:`current` (what the operator snapshots once the close is mined)."""
        self.ledger.close(round)
        return self.current(round)

    def collect_batches(self, round: int, size: int = 256) -> Iterator[Collected]:
        """:meth:`collect` in batches of ``size`` (the shape the operator's snapshot reads). Unlike the file inbox's
        batches these are cut from one collected round: choosing each model's later of the ledger's and the inbox's
        submission needs both whole."""
        found = self.collect(round)
        for start in range(0, max(len(found), 1), size):
            yield Collected(found[start : start + size], found.problems if start == 0 else [])

    def records(self, round: int) -> list[Submission]:
        """Every model's current record of ``round`` (the later of the ledger's and the inbox's), by model id,
        without reading the files (like :meth:`Inbox.records`: the operator's late arrivals)."""
        current = {stored.sub.model_id: stored.sub for stored in self.ledger.latest(round)}
        for sub in self.inbox.records(round):
            if sub.model_id not in current or _stamp(sub) > _stamp(current[sub.model_id]):
                current[sub.model_id] = sub
        return [current[m] for m in sorted(current)]

    def current(self, round: int) -> Collected:
        """The current submission of every model of ``round`` with its file, by model id; a missing or altered
        file lands in ``.problems``. Reads only: the round stays open."""
        found = Collected()
        for stored in self.ledger.latest(round):
            try:
                found.append((stored.sub, self._file(stored)))
            except SubmissionError as exc:
                found.problems.append(str(exc))
        delivered = self.inbox.collect(round)
        return _later_of(found, delivered)

    def get(self, round: int, model_id: int) -> tuple[Submission, bytes] | None:
        """The model's current submission and its file (None when it has none), like :meth:`Inbox.get`."""
        stored = self.ledger.current(round, model_id)
        received = None if stored is None else (stored.sub, self._file(stored))
        delivered = self.inbox.get(round, model_id)
        if delivered is not None and (received is None or _stamp(delivered[0]) > _stamp(received[0])):
            return delivered
        return received

    def _file(self, stored: Stored) -> bytes:
        where = f"round {stored.sub.round} model {stored.sub.model_id}"
        try:
            data = self.inbox.fs.cat_file(stored.object_path)
        except OSError as exc:
            raise SubmissionError(f"{where}: prediction file {stored.object_path} cannot be read ({exc})") from None
        if predictions_hash(data) != stored.sub.predictions_hash:
            raise SubmissionError(f"{where}: prediction file {stored.object_path} does not hash to the signed hash")
        return data


def _stamp(sub: Submission) -> int:
    return -1 if sub.received_at is None else int(sub.received_at)


def _later_of(received: Collected, delivered: Collected) -> Collected:
    """Per model the submission with the later stamp (the service's on a tie), ordered by model id."""
    current = {sub.model_id: (sub, data) for sub, data in received}
    for sub, data in delivered:
        if sub.model_id not in current or _stamp(sub) > _stamp(current[sub.model_id][0]):
            current[sub.model_id] = (sub, data)
    return Collected([current[m] for m in sorted(current)], received.problems + delivered.problems)
