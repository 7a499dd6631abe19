"""The submission pipeline (``POST /rounds/{round}/submissions``).

Accepting a submission, in order, each failure a JSON error with a code: the body parses; the record is signed for
this chain, contract and the round in the path; the signature recovers to the claimed signer (then the signer's
rate limit is charged); the file hashes to the signed hash; the signer owns the model on-chain; the round is open
and the chain's clock is before ``closesAt`` and the signed deadline; the file passes the round's validation rules
against its live ids. Then, under a per-(round, model) lock, the service refuses a *duplicate* (the very record
that is current: the original receipt is returned with the error, so a client whose response was lost can recover
it) or a *replay* (a record the model already replaced: a signature carries no nonce, so without this anyone
holding an old signed request could roll a model back to older predictions). Only then is the file stored through
:class:`oracle.protocol.inbox.Inbox` (file first, record last, each atomically renamed) and only after that is the
receipt signed. A crash before the record is renamed leaves at most an unreferenced content-addressed file; the
receipt is never issued for anything not durably stored.

Duplicates and replays are recognised by :func:`~oracle.protocol.submission.replay_key` (the EIP-712 digest of the
signed content), never by the signature bytes: a signature has several encodings (and non-canonical ones are refused
anyway), so an old request re-encoded is still that old request. The keys a model has superseded are kept under
``<state>/superseded/``; the current record's key is written there *before* the new record replaces it, so a crash
in between errs on the side of refusing the old request again (it is still current, hence answered as a
duplicate).

Closing a round races with late submissions: the scheduler (when it runs in this process) takes the inbox snapshot
under an exclusive :class:`CloseGate` that every submission holds shared while it checks the clock and stores, so
a receipted submission is always in the snapshot, and one that is not in the snapshot was told it was late.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterator

import fsspec
import pandas as pd

from oracle.protocol.inbox import Inbox
from oracle.protocol.receipt import Receipt, sign_receipt
from oracle.protocol.submission import Submission, SubmissionError, predictions_hash, recover_signer, replay_key
from oracle.scoring.tables import combine_model_files, read_prediction_file
from oracle.scoring.validation import TableError, validate_predictions
from oracle.service.config import LOGGER_NAME
from oracle.service.ratelimit import RateLimiter
from oracle.service.schemas import ApiError, SubmissionIn

if TYPE_CHECKING:
    from oracle.service.state import Service

__all__ = ["CloseGate", "Intake"]

log = logging.getLogger(LOGGER_NAME)


class CloseGate:
    """Shared/exclusive gate: submissions hold it shared while they check the clock and store; closing a round
    holds it exclusive while it snapshots the inbox (see the module docstring)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def submitting(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def closing(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._writer = True  # new submissions wait from here on
            while self._readers:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def _round_up(seconds: float) -> float:
    return float(int(seconds * 10 + 0.999)) / 10


class Intake:
    """Checks, stores and receipts submissions for one :class:`~oracle.service.state.Service`."""

    def __init__(self, service: "Service") -> None:
        self.service = service
        config = service.config
        self.inbox = Inbox(config.inbox)
        self.state_fs, self.state_root = fsspec.core.url_to_fs(config.state)
        self.limiter = RateLimiter(config.rate_capacity, config.rate_per_second)
        self.gate = CloseGate()
        self._slot_locks: dict[tuple[int, int], threading.Lock] = {}
        self._slot_guard = threading.Lock()

    def _slot_lock(self, round: int, model_id: int) -> threading.Lock:
        with self._slot_guard:
            return self._slot_locks.setdefault((round, model_id), threading.Lock())

    def _superseded_path(self, sub: Submission) -> str:
        tag = replay_key(sub).removeprefix("0x")
        return f"{self.state_root.rstrip('/')}/superseded/round-{sub.round}/model-{sub.model_id}/{tag}"

    def receipt_for(self, sub: Submission) -> Receipt:
        assert sub.received_at is not None
        return sign_receipt(self.service.config.operator, self.service.chain_id, self.service.tournament, sub.round, sub.model_id,
                            sub.predictions_hash, sub.received_at)

    def reject(self, error: ApiError, **fields: Any) -> ApiError:
        self.service.metrics.submission_rejected(error.code)
        log.info("submission rejected", extra={"fields": {"event": "submission_rejected", "code": error.code,
                                                          "reason": error.message, **fields}})
        return error

    def submit(self, round: int, body: SubmissionIn) -> Receipt:
        """Check, store and receipt one submission (see the module docstring for the order of checks)."""
        where = {"round": round, "model_id": body.submission.model_id}
        try:
            return self._submit(round, body)
        except ApiError as exc:
            raise self.reject(exc, **where) from None

    def _submit(self, round: int, body: SubmissionIn) -> Receipt:
        try:
            data = base64.b64decode(body.file, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "malformed_file", "the 'file' field is not valid base64") from None
        try:
            sub = Submission.from_json(body.submission.model_dump(), "submission")
        except SubmissionError as exc:
            raise ApiError(400, "invalid_submission", str(exc)) from None
        if sub.round != round:
            raise ApiError(400, "wrong_round", f"the submission is signed for round {sub.round} but was posted to "
                           f"round {round}; sign it for round {round}")
        if sub.chain_id != self.service.chain_id:
            raise ApiError(400, "wrong_chain", f"the submission is signed for chain {sub.chain_id}; this tournament "
                           f"is on chain {self.service.chain_id}")
        if sub.tournament != self.service.tournament:
            raise ApiError(400, "wrong_contract", f"the submission is signed for contract {sub.tournament}; this "
                           f"tournament is {self.service.tournament}")
        try:
            signer = recover_signer(sub)
        except SubmissionError as exc:
            raise ApiError(401, "bad_signature", str(exc)) from None
        if signer != sub.signer:
            raise ApiError(401, "bad_signature", f"the signature over this submission was made by {signer}, not by "
                           f"the claimed signer {sub.signer}: re-sign exactly these fields")
        wait = self.limiter.take(signer)
        if wait is not None:
            raise ApiError(429, "rate_limited", f"too many submissions from {signer}; retry in {wait:.1f}s",
                           retry_after=_round_up(wait))
        if len(data) > self.service.config.max_file_bytes:
            raise ApiError(413, "file_too_large", f"the prediction file is {len(data)} bytes; the limit is "
                           f"{self.service.config.max_file_bytes}")
        actual = predictions_hash(data)
        if actual != sub.predictions_hash:
            raise ApiError(400, "hash_mismatch", f"the file hashes to {actual} but the signed predictions hash is "
                           f"{sub.predictions_hash}: sign the file you send")
        owner = self.service.owner_of(sub.model_id)
        if owner is None:
            raise ApiError(404, "unknown_model", f"model {sub.model_id} is not registered on the tournament")
        if owner != signer:
            raise ApiError(403, "not_owner", f"model {sub.model_id} is owned by {owner}, not by the signer {signer}")
        closes_at = self.service.closes_at(round)
        if closes_at is None:
            raise ApiError(409, "round_not_open", f"round {round} has not been opened; see GET /rounds")
        live = self.service.live_ids(round)
        if live is None:
            raise ApiError(409, "no_live_data", f"round {round} has no published live data yet")
        self._validate_file(sub, data, live)
        with self.gate.submitting(), self._slot_lock(round, sub.model_id):
            return self._store(sub, data, closes_at)

    def _validate_file(self, sub: Submission, data: bytes, live: pd.Index) -> None:
        where = f"round {sub.round} model {sub.model_id}"
        try:
            frame = read_prediction_file(sub.file_name, data)
        except TableError as exc:
            raise ApiError(400, "malformed_file", f"{where}: {exc}") from None
        model = str(sub.model_id)
        table, errors = combine_model_files({model: frame})
        problems = [str(e) for e in errors]
        if not problems:
            try:
                result = validate_predictions(table, list(live), min_live_share=self.service.config.params.min_live_share)
                problems = [str(e) for e in result.errors]
            except TableError as exc:
                problems = [str(e) for e in exc.errors]
        if problems:
            raise ApiError(422, "invalid_predictions", f"{where}: the predictions break the round's validation "
                           f"rules: {'; '.join(problems)[:500]}", problems=problems[:20])

    def _store(self, sub: Submission, data: bytes, closes_at: int) -> Receipt:
        """The commit: duplicate/replay refusal, clock check, inbox write, then the receipt."""
        current = self.current(sub.round, sub.model_id)
        if current is not None and replay_key(current) == replay_key(sub):
            receipt = self.receipt_for(current)
            raise ApiError(409, "duplicate", f"this exact signed submission of round {sub.round} model "
                           f"{sub.model_id} was already received at {current.received_at}; its receipt is attached",
                           receipt=receipt.to_json())
        if self.state_fs.exists(self._superseded_path(sub)):
            raise ApiError(409, "replayed", f"this signed submission of round {sub.round} model {sub.model_id} was "
                           "already replaced by a newer one; a replayed request cannot roll predictions back. To "
                           "send these predictions again, sign them anew (e.g. with another deadline)")
        block, now = self.service.chain_clock()
        if now >= closes_at:
            raise ApiError(409, "late", f"round {sub.round} closed for submissions at {closes_at}; the chain's clock "
                           f"is {now}")
        if now >= sub.deadline:
            raise ApiError(409, "expired", f"the submission's signed deadline {sub.deadline} has passed (chain time "
                           f"{now}); sign again with a later deadline")
        # Strictly increasing per (round, model): the latest receipt is never ambiguous.
        received_at = max(now, (current.received_at or 0) + 1) if current is not None else now
        if received_at >= min(closes_at, sub.deadline):
            raise ApiError(409, "late", f"round {sub.round} model {sub.model_id} was replaced at {received_at - 1}; "
                           f"another replacement would be stamped at or after the deadline {closes_at}")
        if current is not None:
            path = self._superseded_path(current)
            self.state_fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            with self.state_fs.open(path, "wb") as handle:
                handle.write(replay_key(current).encode())
        try:
            stored = self.inbox.put(replace(sub, received_at=received_at), data)
        except (SubmissionError, OSError) as exc:
            raise ApiError(503, "storage_unavailable", f"the inbox could not store the file ({exc}); nothing was "
                           "receipted, send it again") from None
        receipt = self.receipt_for(stored)
        self.service.metrics.submission_accepted()
        log.info("submission accepted", extra={"fields": {
            "event": "submission_accepted", "round": stored.round, "model_id": stored.model_id,
            "signer": stored.signer, "predictions_hash": stored.predictions_hash, "received_at": received_at,
            "block": block, "replaced": current is not None}})
        return receipt

    def current(self, round: int, model_id: int) -> Submission | None:
        try:
            found = self.inbox.get(round, model_id)
        except SubmissionError as exc:
            # A corrupt current entry is replaced by the new submission; it never held a receipt we can honour.
            log.warning("corrupt inbox entry", extra={"fields": {"event": "corrupt_inbox_entry", "detail": str(exc)}})
            return None
        return None if found is None else found[0]
