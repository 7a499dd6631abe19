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
    after the close is mined), so no submission is receipted after the snapshot."""

    def __init__(self, ledger: Ledger, inbox: Inbox) -> None:
        self.ledger, self.inbox = ledger, inbox

    def __repr__(self) -> str:
        return f"LedgerInbox({self.ledger.db.url!r}, {self.inbox.url!r})"

    def collect(self, round: int) -> Collected:
        """Close the round's gate, then :meth:`current` (what the operator snapshots once the close is mined)."""
        self.ledger.close(round)
        return self.current(round)

    def collect_batches(self, round: int, size: int = 256) -> Iterator[Collected]:
        """:meth:`collect` ``size`` submissions at a time (the shape the operator's snapshot reads, so a round's
        thousands of files are never all in memory): the round's gate is closed before the first batch."""
        self.ledger.close(round)
        batch = Collected()
        for stored in self.ledger.latest(round):
            try:
                batch.append((stored.sub, self._file(stored)))
            except SubmissionError as exc:
                batch.problems.append(str(exc))
            if len(batch) + len(batch.problems) >= size:
                yield batch
                batch = Collected()
        if batch or batch.problems:
            yield batch

    def records(self, round: int) -> list[Submission]:
        """The current submission record of every model of ``round``, without reading the files (like
        :meth:`Inbox.records`: the operator's late arrivals are found from the records alone)."""
        return [stored.sub for stored in self.ledger.latest(round)]

    def current(self, round: int) -> Collected:
        """The current submission of every model of ``round`` with its file, by model id; a missing or altered
        file lands in ``.problems``. Reads only: the round stays open."""
        found = Collected()
        for stored in self.ledger.latest(round):
            try:
                found.append((stored.sub, self._file(stored)))
            except SubmissionError as exc:
                found.problems.append(str(exc))
        return found

    def get(self, round: int, model_id: int) -> tuple[Submission, bytes] | None:
        """The model's current submission and its file (None when it has none), like :meth:`Inbox.get`."""
        stored = self.ledger.current(round, model_id)
        return None if stored is None else (stored.sub, self._file(stored))

    def _file(self, stored: Stored) -> bytes:
        where = f"round {stored.sub.round} model {stored.sub.model_id}"
        try:
            data = self.inbox.fs.cat_file(stored.object_path)
        except OSError as exc:
            raise SubmissionError(f"{where}: prediction file {stored.object_path} cannot be read ({exc})") from None
        if predictions_hash(data) != stored.sub.predictions_hash:
            raise SubmissionError(f"{where}: prediction file {stored.object_path} does not hash to the signed hash")
        return data
