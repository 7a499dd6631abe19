"""The submission pipeline (``POST /rounds/{round}/submissions``).

Accepting a submission, in order, each failure a JSON error with a code: the body parses; the record is signed for
this chain, contract and the round in the path; the signature recovers to the claimed signer (then the signer's
rate limit is charged); the file hashes to the signed hash; the signer owns the model on-chain; the round is open;
the file passes the round's validation rules against its live ids. The chain reads come from
:class:`~oracle.service.chain_view.ChainView` (memory kept fresh from events), the file check from
:mod:`oracle.service.prediction_check` (Arrow for the usual clean file).

Then the file is stored in the inbox, named by its content (atomically), and the receipt is issued by the
database transaction of :class:`~oracle.service.db.ledger.Ledger`: the duplicate and replay refusals, the close
gate and the chain-clock checks (late, expired) are all decided there, so any number of workers sharing the
database agree. Duplicates and replays are recognised by :func:`~oracle.protocol.submission.replay_key` (the
EIP-712 digest of the signed content), never by the signature bytes: a signature has several encodings (and
non-canonical ones are refused anyway), so an old request re-encoded is still that old request. A crash before the
commit leaves at most an unreferenced content-addressed file; nothing is receipted that is not committed.

Refusals after the signature is recovered (the signer is known) are kept in the database with their reason.
"""

from __future__ import annotations

import binascii
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from oracle.bundle.store import atomic_put
from oracle.protocol.inbox import Inbox
from oracle.protocol.receipt import Receipt
from oracle.protocol.submission import Submission, SubmissionError, predictions_hash, recover_signer
from oracle.scoring.tables import read_prediction_file
from oracle.scoring.validation import TableError
from oracle.service.config import LOGGER_NAME
from oracle.service.db.ledger import Ledger, Refusal, Stored
from oracle.service.digests import receipt_signature
from oracle.service.prediction_check import LiveIds, prediction_problems
from oracle.service.ratelimit import RateLimiter
from oracle.service.schemas import ApiError, SubmissionIn

if TYPE_CHECKING:
    from oracle.service.state import Service

__all__ = ["Intake"]

log = logging.getLogger(LOGGER_NAME)


def _round_up(seconds: float) -> float:
    return float(int(seconds * 10 + 0.999)) / 10


class Intake:
    """Checks, stores and receipts submissions for one :class:`~oracle.service.state.Service`."""

    def __init__(self, service: "Service", ledger: Ledger) -> None:
        self.service = service
        self.ledger = ledger
        config = service.config
        self.inbox = Inbox(config.inbox)
        self.limiter = RateLimiter(config.rate_capacity, config.rate_per_second)

    def receipt_of(self, stored: Stored) -> Receipt:
        sub = stored.sub
        assert sub.received_at is not None
        return Receipt(
            chain_id=self.service.chain_id,
            tournament=self.service.tournament,
            round=sub.round,
            model_id=sub.model_id,
            predictions_hash=sub.predictions_hash,
            received_at=sub.received_at,
            operator=self.service.config.operator.address,
            signature=stored.receipt_signature,
        )

    def _sign(self, sub: Submission) -> str:
        assert sub.received_at is not None
        return receipt_signature(
            self.service.config.operator,
            self.service.chain_id,
            self.service.tournament,
            sub.round,
            sub.model_id,
            sub.predictions_hash,
            sub.received_at,
        )

    def reject(self, error: ApiError, round: int, model_id: int, signer: str | None, record: str | None) -> ApiError:
        self.service.metrics.submission_rejected(error.code)
        log.info(
            "submission rejected",
            extra={
                "fields": {
                    "event": "submission_rejected",
                    "code": error.code,
                    "reason": error.message,
                    "round": round,
                    "model_id": model_id,
                }
            },
        )
        if signer is not None and error.code not in ("rate_limited", "storage_unavailable", "database_unavailable"):
            # The refusal stands; keeping its record is best effort (the metrics count the DB error).
            with contextlib.suppress(SQLAlchemyError):
                self.ledger.reject(round, model_id, signer, error.code, error.message, record)
        return error

    def submit(self, round: int, body: SubmissionIn) -> Receipt:
        """Check, store and receipt one submission (see the module docstring for the order of checks)."""
        started = time.perf_counter()
        context: dict[str, Any] = {"signer": None, "sub": None}
        outcome = "error"
        try:
            receipt = self._submit(round, body, context)
            outcome = "accepted"
            return receipt
        except ApiError as exc:
            outcome = "refused"
            record = None if context["sub"] is None else context["sub"].to_bytes().decode()
            raise self.reject(exc, round, body.submission.model_id, context["signer"], record) from None
        finally:
            self.service.metrics.intake_latency(outcome, time.perf_counter() - started)

    def _submit(self, round: int, body: SubmissionIn, context: dict[str, Any]) -> Receipt:
        try:
            # strict_mode: the C check of the alphabet and padding (b64decode's validate=True runs a regex over
            # the whole text, a tenth of a submission's CPU for a 5,000-id file).
            data = binascii.a2b_base64(body.file, strict_mode=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "malformed_file", "the 'file' field is not valid base64") from None
        try:
            sub = Submission.from_json(body.submission.model_dump(), "submission")
        except SubmissionError as exc:
            raise ApiError(400, "invalid_submission", str(exc)) from None
        self._check_signed_for(sub, round)
        try:
            signer = recover_signer(sub)
        except SubmissionError as exc:
            raise ApiError(401, "bad_signature", str(exc)) from None
        if signer != sub.signer:
            raise ApiError(
                401,
                "bad_signature",
                f"the signature over this submission was made by {signer}, not by "
                f"the claimed signer {sub.signer}: re-sign exactly these fields",
            )
        context["signer"], context["sub"] = signer, sub
        wait = self.limiter.take(signer)
        if wait is not None:
            raise ApiError(
                429,
                "rate_limited",
                f"too many submissions from {signer}; retry in {wait:.1f}s",
                retry_after=_round_up(wait),
            )
        if len(data) > self.service.config.max_file_bytes:
            raise ApiError(
                413,
                "file_too_large",
                f"the prediction file is {len(data)} bytes; the limit is {self.service.config.max_file_bytes}",
            )
        actual = predictions_hash(data)
        if actual != sub.predictions_hash:
            raise ApiError(
                400,
                "hash_mismatch",
                f"the file hashes to {actual} but the signed predictions hash is "
                f"{sub.predictions_hash}: sign the file you send",
            )
        view = self.service.chain
        owner = self.service.read_chain(f"read model {sub.model_id}", lambda: view.owner_of(sub.model_id))
        if owner is None:
            raise ApiError(404, "unknown_model", f"model {sub.model_id} is not registered on the tournament")
        if owner != signer:
            raise ApiError(403, "not_owner", f"model {sub.model_id} is owned by {owner}, not by the signer {signer}")
        closes_at = self.service.read_chain(f"read round {round}", lambda: view.closes_at(round))
        if closes_at is None:
            raise ApiError(409, "round_not_open", f"round {round} has not been opened; see GET /rounds")
        live = self.service.live_ids(round)
        if live is None:
            raise ApiError(409, "no_live_data", f"round {round} has no published live data yet")
        self._validate_file(sub, data, live)
        path = self._store_file(sub, data)

        def clock() -> int:
            return self.service.read_chain("read the latest block", lambda: view.now_for(min(closes_at, sub.deadline)))

        try:
            stored = self.ledger.commit(sub, path, closes_at, clock, self._sign)
        except Refusal as refusal:
            status = 503 if refusal.code == "busy" else 409
            extra = {} if refusal.stored is None else {"receipt": self.receipt_of(refusal.stored).to_json()}
            raise ApiError(status, refusal.code, refusal.message, **extra) from None
        except SQLAlchemyError as exc:
            raise ApiError(
                503,
                "database_unavailable",
                f"the service's database did not take the submission "
                f"({type(exc).__name__}); nothing was receipted, send it again",
            ) from None
        self.service.metrics.submission_accepted()
        log.info(
            "submission accepted",
            extra={
                "fields": {
                    "event": "submission_accepted",
                    "round": sub.round,
                    "model_id": sub.model_id,
                    "signer": signer,
                    "predictions_hash": sub.predictions_hash,
                    "received_at": stored.sub.received_at,
                    "replaced": stored.seq > 1,
                }
            },
        )
        return self.receipt_of(stored)

    def _check_signed_for(self, sub: Submission, round: int) -> None:
        """The record is signed for this chain, this contract and the round it was posted to."""
        if sub.round != round:
            raise ApiError(
                400,
                "wrong_round",
                f"the submission is signed for round {sub.round} but was posted to "
                f"round {round}; sign it for round {round}",
            )
        if sub.chain_id != self.service.chain_id:
            raise ApiError(
                400,
                "wrong_chain",
                f"the submission is signed for chain {sub.chain_id}; this tournament "
                f"is on chain {self.service.chain_id}",
            )
        if sub.tournament != self.service.tournament:
            raise ApiError(
                400,
                "wrong_contract",
                f"the submission is signed for contract {sub.tournament}; this tournament is {self.service.tournament}",
            )

    def file_problems(self, file_name: str, data: bytes, live: LiveIds, model: str) -> tuple[int, list[str]]:
        """(rows, every validation rule the file of ``model`` breaks) against the round's live ids: the checks a
        submission's file gets, which ``POST /rounds/{round}/validate`` runs alone. Raises TableError when the file
        is not a readable table."""
        rows = len(read_prediction_file(file_name, data))
        return rows, prediction_problems(file_name, data, live, self.service.config.params.min_live_share, model)

    def _validate_file(self, sub: Submission, data: bytes, live: Any) -> None:
        where = f"round {sub.round} model {sub.model_id}"
        try:
            problems = prediction_problems(
                sub.file_name, data, live, self.service.config.params.min_live_share, str(sub.model_id)
            )
        except TableError as exc:
            raise ApiError(400, "malformed_file", f"{where}: {exc}") from None
        if problems:
            raise ApiError(
                422,
                "invalid_predictions",
                f"{where}: the predictions break the round's validation rules: {'; '.join(problems)[:500]}",
                problems=problems[:20],
            )

    def _store_file(self, sub: Submission, data: bytes) -> str:
        """The file in the inbox's objects, named by its hash (kept if an intact copy is already there)."""
        path = self.inbox.object_path(sub)
        fs = self.inbox.fs
        try:
            if not (fs.exists(path) and predictions_hash(fs.cat_file(path)) == sub.predictions_hash):
                atomic_put(fs, path, data)
        except OSError as exc:
            raise ApiError(
                503,
                "storage_unavailable",
                f"the inbox could not store the file ({exc}); nothing was receipted, send it again",
            ) from None
        return path

    def current(self, round: int, model_id: int) -> Submission | None:
        """The model's current receipted submission in the round."""
        stored = self.ledger.current(round, model_id)
        return None if stored is None else stored.sub
