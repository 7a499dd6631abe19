"""The submission ledger: receipts are issued from one database transaction each, so that any number of workers
(processes, or hosts sharing one PostgreSQL) never issue two receipts for one signed request, never let an old
request roll a model back, and never receipt a submission that the round's snapshot will miss.

One submission's transaction (:meth:`Ledger.commit`):

1. the round's **close gate**: the ``rounds`` row, read ``FOR SHARE`` on PostgreSQL (SQLite serialises every
   transaction with ``BEGIN IMMEDIATE``). Closing a round (:meth:`Ledger.close`) updates that row, so it waits for
   every submission already past the gate and every later one sees ``closed``: a receipted submission is always in
   the snapshot, and one that is not was told it was late;
2. the **replay key** of the signed request (:func:`oracle.protocol.submission.replay_key`, the EIP-712 digest
   of the signed content, never the signature bytes): the current submission's key means a duplicate
   (the original receipt goes back with the refusal, so a client whose answer was lost gets it again); any older
   key of the model means a replay (a signature carries no nonce: an old request must not roll predictions back);
3. the clock: the chain's time must be before ``closesAt`` and the signed deadline; the stamp strictly increases
   per (round, model), so a model's latest receipt is never ambiguous;
4. the receipt is signed and the row inserted with ``seq`` = the current one + 1.

Two workers racing for the same model both compute the same ``seq`` (or insert the same replay key): the unique
constraints let one commit and make the other fail, and the loser runs its transaction again, where it sees the
winner's row. (On PostgreSQL the submissions of one model also take turns on an advisory lock, so such races are
rare; SQLite runs one write transaction at a time anyway.) Nothing is receipted unless its row is committed; the
prediction file is stored (content-addressed) before the transaction, so a committed row always points at a
complete file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from sqlalchemy import Connection, Row, and_, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError

from oracle.errors import TourneyError
from oracle.protocol.submission import Submission, replay_key
from oracle.service.db.engine import Database
from oracle.service.db.schema import rejections, rounds, submissions

__all__ = ["Ledger", "Refusal", "Stored"]

#: Transactions a submission may lose to concurrent ones for the same model before it gives up (503).
ATTEMPTS = 16


# The statements of the submission transaction, built once (building them per call costs more than running them).
_GATE = select(rounds.c.closed).where(rounds.c.round == bindparam("round")).with_for_update(read=True)
_IN_SLOT = and_(submissions.c.round == bindparam("round"), submissions.c.model_id == bindparam("model_id"))
_SLOT = select(submissions).where(
    _IN_SLOT,
    (submissions.c.seq == select(func.max(submissions.c.seq)).where(_IN_SLOT).scalar_subquery())
    | (submissions.c.replay_key == bindparam("key")),
)
_INSERT = submissions.insert()
_TURN = text("SELECT pg_advisory_xact_lock(:a, :b)")


class Refusal(TourneyError):
    """The ledger refuses a submission: ``code`` is the API's reason (duplicate, replayed, late, expired, busy);
    ``stored`` is the receipted submission a duplicate repeats."""

    def __init__(self, code: str, message: str, stored: "Stored | None" = None) -> None:
        super().__init__(message)
        self.code, self.message, self.stored = code, message, stored


@dataclass(frozen=True)
class Stored:
    """A receipted submission as the ledger keeps it: the record (with its stamp), where its file is, its receipt."""

    sub: Submission
    seq: int
    object_path: str
    receipt_signature: str


def _stored(row: Row[Any]) -> Stored:
    return Stored(
        Submission.from_bytes(row.record.encode(), "ledger record"), row.seq, row.object_path, row.receipt_signature
    )


class Ledger:
    """Submissions, receipts and rejections in a :class:`~oracle.service.db.engine.Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known_rounds: set[int] = set()  # rounds whose gate row exists (it is never deleted)

    # -------------------------------------------------------------- the submission transaction

    def commit(
        self,
        sub: Submission,
        object_path: str,
        closes_at: int,
        clock: Callable[[], int],
        sign: Callable[[Submission], str],
    ) -> Stored:
        """Receipt ``sub`` (its file already at ``object_path``); raises :class:`Refusal` (see the module
        docstring). ``clock()`` is the chain's time; ``sign(stamped)`` returns the receipt's signature."""
        key = replay_key(sub)
        if sub.round not in self._known_rounds:
            # The gate row, committed on its own (a refused submission's rollback must not take it away).
            with self.db.transaction() as conn:
                conn.execute(self.db.insert(rounds).values(round=sub.round, closed=False).on_conflict_do_nothing())
            self._known_rounds.add(sub.round)
        for _ in range(ATTEMPTS):
            try:
                with self.db.transaction() as conn:
                    return self._commit(conn, sub, key, object_path, closes_at, clock, sign)
            except IntegrityError:
                continue  # a concurrent transaction took this model's next seq (or this very request): look again
        raise Refusal(
            "busy",
            f"round {sub.round} model {sub.model_id}: {ATTEMPTS} concurrent submissions for this "
            "model won the race; nothing was receipted, send it again",
        )

    def _commit(
        self,
        conn: Connection,
        sub: Submission,
        key: str,
        object_path: str,
        closes_at: int,
        clock: Callable[[], int],
        sign: Callable[[Submission], str],
    ) -> Stored:
        where = f"round {sub.round} model {sub.model_id}"
        closed = conn.execute(_GATE, {"round": sub.round}).scalar_one()
        if self.db.backend == "postgresql":
            # Submissions for one model take turns (others go on in parallel); the unique constraints stay the
            # guarantee, this only spares the losers of a race their retries.
            conn.execute(_TURN, {"a": sub.round % 2**31, "b": sub.model_id % 2**31})
        # One query for both the model's current submission and any earlier one under this replay key.
        rows = conn.execute(_SLOT, {"round": sub.round, "model_id": sub.model_id, "key": key}).all()
        current = max(rows, key=lambda r: r.seq, default=None)
        if current is not None and current.replay_key == key:
            stored = _stored(current)
            raise Refusal(
                "duplicate",
                f"this exact signed submission of {where} was already received at "
                f"{stored.sub.received_at}; its receipt is attached",
                stored,
            )
        if any(r.replay_key == key for r in rows):
            raise Refusal(
                "replayed",
                f"this signed submission of {where} was already replaced by a newer one; a "
                "replayed request cannot roll predictions back. To send these predictions again, sign "
                "them anew (e.g. with another deadline)",
            )
        if closed:
            raise Refusal("late", f"round {sub.round} is closed: the operator has taken its snapshot")
        now = clock()
        if now >= closes_at:
            raise Refusal(
                "late", f"round {sub.round} closed for submissions at {closes_at}; the chain's clock is {now}"
            )
        if now >= sub.deadline:
            raise Refusal(
                "expired",
                f"the submission's signed deadline {sub.deadline} has passed (chain time "
                f"{now}); sign again with a later deadline",
            )
        received_at = now if current is None else max(now, int(current.received_at) + 1)
        if received_at >= min(closes_at, sub.deadline):
            raise Refusal(
                "late",
                f"{where} was replaced at {received_at - 1}; another replacement would be "
                f"stamped at or after the deadline {min(closes_at, sub.deadline)}",
            )
        stamped = replace(sub, received_at=received_at)
        signature = sign(stamped)
        seq = 1 if current is None else int(current.seq) + 1
        conn.execute(
            _INSERT,
            {
                "round": sub.round,
                "model_id": sub.model_id,
                "seq": seq,
                "replay_key": key,
                "predictions_hash": sub.predictions_hash,
                "received_at": received_at,
                "record": stamped.to_bytes().decode(),
                "object_path": object_path,
                "receipt_signature": signature,
                "created": time.time(),
            },
        )
        return Stored(stamped, seq, object_path, signature)

    @staticmethod
    def _current(conn: Connection, round: int, model_id: int) -> Row[Any] | None:
        return conn.execute(
            select(submissions)
            .where(and_(submissions.c.round == round, submissions.c.model_id == model_id))
            .order_by(submissions.c.seq.desc())
            .limit(1)
        ).first()

    # -------------------------------------------------------------- reads and the close

    def current(self, round: int, model_id: int) -> Stored | None:
        """The model's current (latest receipted) submission in the round."""
        with self.db.transaction() as conn:
            row = self._current(conn, round, model_id)
        return None if row is None else _stored(row)

    def close(self, round: int) -> None:
        """Close the round's gate: waits for submissions past it to commit; every later one is refused."""
        with self.db.transaction() as conn:
            conn.execute(
                self.db.insert(rounds)
                .values(round=round, closed=True)
                .on_conflict_do_update(index_elements=["round"], set_={"closed": True})
            )

    def is_closed(self, round: int) -> bool:
        with self.db.transaction() as conn:
            return bool(conn.execute(select(rounds.c.closed).where(rounds.c.round == round)).scalar())

    def latest(self, round: int) -> list[Stored]:
        """The current submission of every model of the round, by model id."""
        latest_seq = (
            select(submissions.c.model_id, func.max(submissions.c.seq).label("seq"))
            .where(submissions.c.round == round)
            .group_by(submissions.c.model_id)
            .subquery()
        )
        query = (
            select(submissions)
            .join(
                latest_seq, and_(submissions.c.model_id == latest_seq.c.model_id, submissions.c.seq == latest_seq.c.seq)
            )
            .where(submissions.c.round == round)
            .order_by(submissions.c.model_id)
        )
        with self.db.transaction() as conn:
            return [_stored(row) for row in conn.execute(query)]

    def receipted(self, round: int) -> list[Stored]:
        """Every receipted submission of the round (superseded ones too), by model and sequence."""
        query = (
            select(submissions).where(submissions.c.round == round).order_by(submissions.c.model_id, submissions.c.seq)
        )
        with self.db.transaction() as conn:
            return [_stored(row) for row in conn.execute(query)]

    # -------------------------------------------------------------- rejections

    def reject(
        self, round: int, model_id: int | None, signer: str | None, reason: str, detail: str, record: str | None = None
    ) -> None:
        """Keep an authenticated refusal (reason code and detail) for the operator's records."""
        with self.db.transaction() as conn:
            conn.execute(
                rejections.insert().values(
                    round=round,
                    model_id=model_id,
                    signer=signer,
                    reason=reason,
                    detail=detail[:2000],
                    record=record,
                    created=time.time(),
                )
            )

    def rejections(self, round: int) -> list[dict[str, object]]:
        with self.db.transaction() as conn:
            rows = conn.execute(select(rejections).where(rejections.c.round == round).order_by(rejections.c.id))
            return [dict(row._mapping) for row in rows]
