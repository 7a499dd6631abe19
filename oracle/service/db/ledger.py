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

A process's concurrent submissions share one such transaction (group commit, :meth:`Ledger.commit`): the steps
run for each request in turn, a request seeing the ones before it in the batch as if they had committed.

Two workers racing for the same model both compute the same ``seq`` (or insert the same replay key): the unique
constraints let one commit and make the other fail, and the loser runs its transaction again, where it sees the
winner's row. (On PostgreSQL the submissions of one model also take turns on an advisory lock, so such races are
rare; SQLite runs one write transaction at a time anyway.) Nothing is receipted unless its row is committed; the
prediction file is stored (content-addressed) before the transaction, so a committed row always points at a
complete file.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from sqlalchemy import Connection, Row, and_, bindparam, func, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from oracle.errors import TourneyError
from oracle.protocol.submission import Submission, replay_key
from oracle.service.db.engine import Database
from oracle.service.db.schema import rejections, rounds, submissions

__all__ = ["Ledger", "Refusal", "Stored"]

#: Transactions a submission may lose to concurrent ones for the same model before it gives up (503).
ATTEMPTS = 16


# The statements of the submission transaction, built once (building them per call costs more than running them).
_GATE = select(rounds.c.closed).where(rounds.c.round == bindparam("round")).with_for_update(read=True)
_LATEST = submissions.alias("latest")
_IS_CURRENT = submissions.c.seq == (
    select(func.max(_LATEST.c.seq))
    .where(_LATEST.c.round == submissions.c.round, _LATEST.c.model_id == submissions.c.model_id)
    .scalar_subquery()
)
# For a batch of one round: each model's current row, and the rows under any of the batch's replay keys.
_SLOTS = select(submissions, _IS_CURRENT.label("is_current")).where(
    submissions.c.round == bindparam("round"),
    submissions.c.model_id.in_(bindparam("models", expanding=True)),
    _IS_CURRENT | submissions.c.replay_key.in_(bindparam("keys", expanding=True)),
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


@dataclass(eq=False)
class _Request:
    """One submission waiting for its turn in a batch; ``outcome`` is set by the thread that commits the batch."""

    sub: Submission
    key: str
    object_path: str
    closes_at: int
    clock: Callable[[], int]
    sign: Callable[[Submission], str]
    outcome: "Stored | Exception | None" = None


@dataclass
class _Slot:
    """A model's current submission inside a batch: a database row, or a request the batch just accepted."""

    seq: int
    replay_key: str
    received_at: int
    source: "Row[Any] | Stored"

    def stored(self) -> "Stored":
        return self.source if isinstance(self.source, Stored) else _stored(self.source)


def _stored(row: Row[Any]) -> Stored:
    return Stored(
        Submission.from_bytes(row.record.encode(), "ledger record"), row.seq, row.object_path, row.receipt_signature
    )


class Ledger:
    """Submissions, receipts and rejections in a :class:`~oracle.service.db.engine.Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._known_rounds: set[int] = set()  # rounds whose gate row exists (it is never deleted)
        self._queue: list[_Request] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()  # held by the thread committing a batch

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
        docstring). ``clock()`` is the chain's time; ``sign(stamped)`` returns the receipt's signature.

        Group commit: the requests of this process's threads queue, and whichever thread holds the turn takes
        every queued request into one transaction (one gate read, one slot read, one insert, one commit). A
        transaction's fixed cost, and each time a statement gives up the interpreter lock and must win it back
        from threads parsing files, is paid once per batch instead of once per submission."""
        if sub.round not in self._known_rounds:
            # The gate row, committed on its own (a refused submission's rollback must not take it away).
            with self.db.transaction() as conn:
                conn.execute(self.db.insert(rounds).values(round=sub.round, closed=False).on_conflict_do_nothing())
            self._known_rounds.add(sub.round)
        request = _Request(sub, replay_key(sub), object_path, closes_at, clock, sign)
        with self._queue_lock:
            self._queue.append(request)
        with self._turn:
            if request.outcome is None:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                try:
                    self._commit_batch(batch)
                except Exception as exc:  # noqa: BLE001 - a fault outside any one request: each waiter gets it
                    for waiting in batch:
                        if waiting.outcome is None:
                            waiting.outcome = exc
        outcome = request.outcome
        if isinstance(outcome, Stored):
            return outcome
        assert outcome is not None
        raise outcome

    def _commit_batch(self, batch: list[_Request]) -> None:
        """Decide every request of ``batch`` in one transaction; each gets its Stored or its exception."""
        outcomes: list[Stored | Exception]
        for _ in range(ATTEMPTS):
            try:
                with self.db.transaction() as conn:
                    outcomes = self._commit_many(conn, batch)
                break
            except IntegrityError:
                continue  # a concurrent transaction took a model's next seq (or this very request): look again
            except SQLAlchemyError as exc:
                outcomes = [exc] * len(batch)
                break
        else:
            outcomes = [
                Refusal(
                    "busy",
                    f"round {r.sub.round} model {r.sub.model_id}: {ATTEMPTS} concurrent submissions for this "
                    "model won the race; nothing was receipted, send it again",
                )
                for r in batch
            ]
        for request, outcome in zip(batch, outcomes):
            request.outcome = outcome

    def _commit_many(self, conn: Connection, batch: list[_Request]) -> list[Stored | Exception]:
        closed = {r: conn.execute(_GATE, {"round": r}).scalar_one() for r in sorted({q.sub.round for q in batch})}
        slots = {(q.sub.round, q.sub.model_id) for q in batch}
        if self.db.backend == "postgresql":
            # Submissions for one model take turns (others go on in parallel); the unique constraints stay the
            # guarantee, this only spares the losers of a race their retries. Sorted: two batches never deadlock.
            for round, model_id in sorted(slots):
                conn.execute(_TURN, {"a": round % 2**31, "b": model_id % 2**31})
        # Per model: its current submission and the earlier ones under any of the batch's replay keys.
        current: dict[tuple[int, int], _Slot] = {}
        keys: dict[tuple[int, int], set[str]] = {slot: set() for slot in slots}
        for round in closed:
            wanted = [q for q in batch if q.sub.round == round]
            rows = conn.execute(
                _SLOTS, {"round": round, "models": [q.sub.model_id for q in wanted], "keys": [q.key for q in wanted]}
            )
            for row in rows:
                slot = (round, int(row.model_id))
                keys[slot].add(row.replay_key)
                if row.is_current:
                    current[slot] = _Slot(int(row.seq), row.replay_key, int(row.received_at), row)
        outcomes: list[Stored | Exception] = []
        inserts: list[dict[str, Any]] = []
        for request in batch:
            slot = (request.sub.round, request.sub.model_id)
            try:
                stored, insert = self._decide(request, closed[slot[0]], current.get(slot), keys[slot])
            except Exception as exc:  # noqa: BLE001 - a refusal, or this request's clock or signer failing
                outcomes.append(exc)
                continue
            current[slot] = _Slot(stored.seq, request.key, int(insert["received_at"]), stored)
            keys[slot].add(request.key)
            inserts.append(insert)
            outcomes.append(stored)
        if inserts:
            conn.execute(_INSERT, inserts)
        return outcomes

    @staticmethod
    def _decide(request: _Request, closed: bool, current: _Slot | None, keys: set[str]) -> tuple[Stored, dict]:
        """The receipt of one request given its model's current submission, or the Refusal."""
        sub = request.sub
        where = f"round {sub.round} model {sub.model_id}"
        if current is not None and current.replay_key == request.key:
            stored = current.stored()
            raise Refusal(
                "duplicate",
                f"this exact signed submission of {where} was already received at "
                f"{stored.sub.received_at}; its receipt is attached",
                stored,
            )
        if request.key in keys:
            raise Refusal(
                "replayed",
                f"this signed submission of {where} was already replaced by a newer one; a "
                "replayed request cannot roll predictions back. To send these predictions again, sign "
                "them anew (e.g. with another deadline)",
            )
        if closed:
            raise Refusal("late", f"round {sub.round} is closed: the operator has taken its snapshot")
        now = request.clock()
        if now >= request.closes_at:
            raise Refusal(
                "late", f"round {sub.round} closed for submissions at {request.closes_at}; the chain's clock is {now}"
            )
        if now >= sub.deadline:
            raise Refusal(
                "expired",
                f"the submission's signed deadline {sub.deadline} has passed (chain time "
                f"{now}); sign again with a later deadline",
            )
        received_at = now if current is None else max(now, current.received_at + 1)
        if received_at >= min(request.closes_at, sub.deadline):
            raise Refusal(
                "late",
                f"{where} was replaced at {received_at - 1}; another replacement would be "
                f"stamped at or after the deadline {min(request.closes_at, sub.deadline)}",
            )
        stamped = replace(sub, received_at=received_at)
        signature = request.sign(stamped)
        seq = 1 if current is None else current.seq + 1
        insert = {
            "round": sub.round,
            "model_id": sub.model_id,
            "seq": seq,
            "replay_key": request.key,
            "predictions_hash": sub.predictions_hash,
            "received_at": received_at,
            "record": stamped.to_bytes().decode(),
            "object_path": request.object_path,
            "receipt_signature": signature,
            "created": time.time(),
        }
        return Stored(stamped, seq, request.object_path, signature), insert

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
