"""The operator's HTTP service: participants and their agents read rounds and deliver signed submissions.

``create_app(config)`` builds the FastAPI application (``tourney serve`` runs it under uvicorn). The OpenAPI spec
is at ``/openapi.json``. There are no passwords: a submission is authenticated by its EIP-712 signature, checked
against the model's on-chain owner.

Accepting a submission (``POST /rounds/{round}/submissions``), in order, each failure a JSON error with a code:
the body parses; the record is signed for this chain, contract and the round in the path; the signature recovers
to the claimed signer (then the signer's rate limit is charged); the file hashes to the signed hash; the signer owns
the model on-chain; the round is open and the chain's clock is before ``closesAt`` and the signed deadline; the
file passes the round's validation rules against its live ids. Then, under a per-(round, model) lock, the service
refuses a *duplicate* (the very record that is current: the original receipt is returned with the error, so a
client whose response was lost can recover it) or a *replay* (a record the model already replaced: a signature
carries no nonce, so without this anyone holding an old signed request could roll a model back to older
predictions). Only then is the file stored through :class:`oracle.protocol.submission.Inbox` (file first, record last,
each atomically renamed) and only after that is the receipt signed. A crash before the record is renamed leaves at
most an unreferenced content-addressed file; the receipt is never issued for anything not durably stored.

Replays are recognised by the signatures a model has superseded, kept under ``<state>/superseded/``; the
current record's signature is written there *before* the new record replaces it, so a crash in between errs on
the side of refusing the old request again (it is still current, hence answered as a duplicate).

Closing a round races with late submissions: the scheduler (when it runs in this process) takes the inbox
snapshot under an exclusive gate that every submission holds shared while it checks the clock and stores, so a
receipted submission is always in the snapshot, and one that is not in the snapshot was told it was late.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Literal

import fsspec
import pandas as pd
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from web3 import Web3

from oracle.errors import TourneyError
from oracle.bundle.store import BundleError, RoundBundle, load_bundle
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.deploy import Deployment
from oracle.chain.tx import ChainError
from oracle.settlement.merkle import StandardMerkleTree
from oracle.scoring.params import RoundParams
from oracle.service.metrics import CONTENT_TYPE, Metrics
from oracle.service.ratelimit import RateLimiter
from oracle.protocol.receipt import (RECEIPT_DOMAIN_NAME, RECEIPT_DOMAIN_VERSION, Receipt, sign_receipt)
from oracle.settlement.leaves import proof_for
from oracle.protocol.submission import Inbox, Submission, SubmissionError, predictions_hash, recover_signer
from oracle.scoring.validation import TableError, combine_model_files, validate_predictions

__all__ = ["ServiceConfig", "Service", "create_app", "ApiError", "LOGGER_NAME"]

LOGGER_NAME = "tourney.service"
log = logging.getLogger(LOGGER_NAME)

#: History endpoints look back at most this many rounds (the contract keeps 64 roots).
HISTORY_ROUNDS = 64


# ------------------------------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the service needs. ``operator`` signs receipts (and, with the scheduler, the round
    transactions); ``state`` holds the superseded-signature log (any fsspec URL; a directory by default)."""

    rpc: str
    deployment: Deployment
    operator: LocalAccount
    inbox: str
    store: str
    round_data: str
    state: str
    params: RoundParams
    max_body_bytes: int = 16 * 2**20
    max_file_bytes: int = 8 * 2**20
    rate_capacity: float = 60.0
    rate_per_second: float = 1.0
    scheduler: bool = True
    scheduler_poll: float = 2.0
    submission_window: int = 3600
    max_rounds: int | None = None

    def __post_init__(self) -> None:
        if self.max_file_bytes < 1 or self.max_body_bytes < self.max_file_bytes:
            raise ValueError(f"need 1 <= max_file_bytes <= max_body_bytes, got {self.max_file_bytes}, "
                             f"{self.max_body_bytes}")


# ------------------------------------------------------------------------------------------ API schema


class ApiError(TourneyError):
    """A request the service refuses; becomes ``{"error": {"code", "message", ...}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class ReceiptOut(BaseModel):
    """An operator-signed receipt (EIP-712, domain "Tournament Receipt" v1 of the tournament)."""

    chain_id: int
    tournament: str
    round: int
    model_id: int
    predictions_hash: str
    received_at: int
    operator: str
    signature: str


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable reason, e.g. bad_signature, late, replayed.")
    message: str = Field(description="What is wrong and what to do about it.")
    receipt: ReceiptOut | None = Field(default=None, description="For a duplicate: the receipt already issued.")
    retry_after: float | None = Field(default=None, description="For rate_limited: seconds to wait.")
    problems: list[str] | None = Field(default=None, description="For invalid_predictions: every rule broken.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class SubmissionRecordIn(BaseModel):
    """The signed EIP-712 submission as produced by ``oracle.protocol.submission.sign_submission``."""

    model_config = ConfigDict(extra="forbid")
    chain_id: int = Field(ge=0)
    tournament: str = Field(max_length=64)
    round: int = Field(ge=1)
    model_id: int = Field(ge=1)
    predictions_hash: str = Field(max_length=80)
    deadline: int = Field(ge=0)
    signer: str = Field(max_length=64)
    signature: str = Field(max_length=200)
    file_name: str = Field(default="predictions.csv", max_length=128)


class SubmissionIn(BaseModel):
    """A submission request: the signed record and the prediction file, base64-encoded."""

    model_config = ConfigDict(extra="forbid")
    submission: SubmissionRecordIn
    file: str = Field(description="The prediction file's bytes (CSV with id + prediction, or Parquet), base64.")


class RoundOut(BaseModel):
    round: int
    status: Literal["none", "open", "closed", "proposed", "vetoed", "active"]
    closes_at: int = Field(description="Submission deadline (chain time, unix seconds); 0 when not opened.")
    seconds_left: int = Field(description="Seconds until the deadline by the chain's clock (0 when past).")
    closed_at: int
    activates_at: int
    root: str


class RoundsOut(BaseModel):
    chain_time: int
    block: int
    open: list[RoundOut]
    recent: list[RoundOut]


class InfoOut(BaseModel):
    chain_id: int
    tournament: str
    operator: str = Field(description="The address that signs receipts.")
    receipt_domain: dict[str, Any]
    max_body_bytes: int
    max_file_bytes: int
    rate_limit: dict[str, float]


class HealthOut(BaseModel):
    status: Literal["ok"]
    chain_id: int
    block: int
    chain_time: int
    scheduler: Literal["running", "off", "stopped"]
    scheduler_last_error: str | None


class ManifestOut(BaseModel):
    round: int
    manifest_uri: str
    manifest_hash: str
    status: str
    manifest: dict[str, Any]


class ScoresOut(BaseModel):
    round: int
    manifest_uri: str
    scores: list[dict[str, Any]] = Field(description="Per model: corr, mmc, stake at risk, payout, burn "
                                                       "(amounts as decimal strings).")


class ProofOut(BaseModel):
    round: int
    model_id: int
    cumulative_payout: str
    cumulative_burn: str
    proof: list[str]
    root: str
    status: str


class ModelRoundOut(BaseModel):
    round: int
    submitted: bool
    predictions_hash: str | None
    received_at: int | None
    stake_at_risk: str | None
    payout: str | None
    burn: str | None
    corr: float | None
    mmc: float | None


class ModelOut(BaseModel):
    model_id: int
    owner: str
    stake: str
    rounds: list[ModelRoundOut]


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in {
        400: "Malformed or mis-addressed request", 404: "Not found", 409: "Conflicts with the round's state",
        413: "Too large", 422: "Invalid body or predictions", 429: "Rate limited", 503: "Chain unavailable",
    }.items()
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: _ERRORS[s] for s in statuses}


# ------------------------------------------------------------------------------------------ plumbing


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


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes with a JSON 413 before the app parses them, and count
    every request in the metrics by route template."""

    def __init__(self, app: ASGIApp, limit: int, metrics: Metrics) -> None:
        self.app, self.limit, self.metrics = app, limit, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status_seen: list[int] = []

        async def send_counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(int(message["status"]))
            await send(message)

        try:
            declared = int(dict(scope.get("headers") or []).get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        if declared > self.limit:
            await self._too_large(send_counting)
        else:
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.limit:  # a client that lied about (or omitted) Content-Length
                    await self._too_large(send_counting)
                    break
                chunks.append(chunk)
                more = bool(message.get("more_body"))
            else:
                body = b"".join(chunks)
                replayed = False

                async def replay() -> Message:
                    nonlocal replayed
                    if not replayed:
                        replayed = True
                        return {"type": "http.request", "body": body, "more_body": False}
                    return await receive()

                await self.app(scope, replay, send_counting)
        route = scope.get("route")
        self.metrics.request(scope.get("method", "?"), getattr(route, "path", "unmatched"),
                             status_seen[0] if status_seen else 0)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"error": {"code": "request_too_large", "message":
                                     f"the request body is over {self.limit} bytes; send a smaller prediction file"}})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body.encode()})


def _receipt_out(receipt: Receipt) -> ReceiptOut:
    return ReceiptOut(**receipt.to_json())


def _status_name(status: RoundStatus) -> str:
    return status.name.lower()


def _amount_text(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(int(value))


# ------------------------------------------------------------------------------------------ the service


@dataclass
class Service:
    """State shared by the request handlers and the scheduler thread."""

    config: ServiceConfig
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self.inbox = Inbox(self.config.inbox)
        self.state_fs, self.state_root = fsspec.core.url_to_fs(self.config.state)
        self.limiter = RateLimiter(self.config.rate_capacity, self.config.rate_per_second)
        self.gate = CloseGate()
        self._local = threading.local()
        self._slot_locks: dict[tuple[int, int], threading.Lock] = {}
        self._slot_guard = threading.Lock()
        self._owners: dict[int, str] = {}
        self._closes_at: dict[int, int] = {}
        self._live_ids: dict[int, pd.Index] = {}
        self._bundles: dict[str, RoundBundle] = {}
        self.tournament = Web3.to_checksum_address(self.config.deployment.tournament)
        self.chain_id = int(self.config.deployment.chain_id)
        self.scheduler: "Scheduler | None" = None

    # -------------------------------------------------------------- chain access

    @property
    def client(self) -> TournamentClient:
        """One web3 client per thread: the HTTP session underneath is not shared between handler threads."""
        client = getattr(self._local, "client", None)
        if client is None:
            w3 = Web3(Web3.HTTPProvider(self.config.rpc, request_kwargs={"timeout": 30}))
            client = self._local.client = TournamentClient(w3, self.config.deployment)
        return client

    def chain_clock(self) -> tuple[int, int]:
        """(block number, timestamp) of the latest block: the clock deadlines are judged by."""
        block = self._chain("read the latest block", lambda: self.client.w3.eth.get_block("latest"))
        self.metrics.saw_block(int(block["number"]))
        return int(block["number"]), int(block["timestamp"])

    def _chain(self, what: str, call: Any) -> Any:
        try:
            return call()
        except (ChainError, ConnectionError, OSError, TimeoutError) as exc:
            raise ApiError(503, "chain_unavailable", f"the service cannot {what} from the chain right now "
                           f"({exc}); try again shortly") from None

    def owner_of(self, model_id: int) -> str | None:
        # Ownership is fixed at registration (the contract has no transfer), so a found owner is cached forever.
        if model_id not in self._owners:
            owner = self._chain(f"read model {model_id}", lambda: self.client.owner_of(model_id))
            if owner is None:
                return None
            self._owners[model_id] = owner
        return self._owners[model_id]

    def closes_at(self, round: int) -> int | None:
        """The round's deadline, or None while the round was never opened (closesAt never changes once set)."""
        if round not in self._closes_at:
            state = self._chain(f"read round {round}", lambda: self.client.round_state(round))
            if state.status is RoundStatus.NONE:
                return None
            self._closes_at[round] = state.closes_at
        return self._closes_at[round]

    def live_ids(self, round: int) -> pd.Index | None:
        """The round's live ids from the operator's round data (None while unpublished)."""
        if round not in self._live_ids:
            frame = self._read_live(round)
            if frame is None:
                return None
            self._live_ids[round] = pd.Index(sorted(str(i) for i in frame["id"]))
        return self._live_ids[round]

    def live_path(self, round: int) -> str | None:
        base = self.config.round_data.rstrip("/")
        for path in (f"{base}/live_{round:05d}.parquet", f"{base}/live_{round}.parquet"):
            fs, inner = fsspec.core.url_to_fs(path)
            if fs.exists(inner):
                return path
        return None

    def _read_live(self, round: int) -> pd.DataFrame | None:
        path = self.live_path(round)
        if path is None:
            return None
        with fsspec.open(path, "rb") as handle:
            return pd.read_parquet(io.BytesIO(handle.read()), columns=["id"])

    def bundle(self, round: int) -> tuple[RoundBundle, str]:
        """The standing proposal's bundle of a round and its on-chain status (cached by manifest hash)."""
        state = self._chain(f"read round {round}", lambda: self.client.round_state(round))
        if state.status not in (RoundStatus.PROPOSED, RoundStatus.ACTIVE):
            raise ApiError(404, "no_proposal", f"round {round} is {_status_name(state.status)}: it has no proposed "
                           "root yet, so there are no published results")
        proposal = self._chain(f"read the proposal of round {round}", lambda: self.client.current_proposal(round))
        if proposal is None:
            raise ApiError(404, "no_proposal", f"round {round} has no standing proposal")
        cached = self._bundles.get(proposal.manifest_hash)
        if cached is None:
            try:
                cached = load_bundle(proposal.manifest_uri, expected_keccak=proposal.manifest_hash)
            except (BundleError, OSError) as exc:
                raise ApiError(503, "bundle_unavailable", f"round {round}: the published bundle "
                               f"{proposal.manifest_uri} cannot be read ({exc})") from None
            self._bundles[proposal.manifest_hash] = cached
        return cached, _status_name(state.status)

    # -------------------------------------------------------------- submissions

    def _slot_lock(self, round: int, model_id: int) -> threading.Lock:
        with self._slot_guard:
            return self._slot_locks.setdefault((round, model_id), threading.Lock())

    def _superseded_path(self, round: int, model_id: int, signature: str) -> str:
        tag = Web3.keccak(hexstr=signature).hex().removeprefix("0x")
        return f"{self.state_root.rstrip('/')}/superseded/round-{round}/model-{model_id}/{tag}"

    def receipt_for(self, sub: Submission) -> Receipt:
        assert sub.received_at is not None
        return sign_receipt(self.config.operator, self.chain_id, self.tournament, sub.round, sub.model_id,
                            sub.predictions_hash, sub.received_at)

    def reject(self, error: ApiError, **fields: Any) -> ApiError:
        self.metrics.submission_rejected(error.code)
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
        if sub.chain_id != self.chain_id:
            raise ApiError(400, "wrong_chain", f"the submission is signed for chain {sub.chain_id}; this tournament "
                           f"is on chain {self.chain_id}")
        if sub.tournament != self.tournament:
            raise ApiError(400, "wrong_contract", f"the submission is signed for contract {sub.tournament}; this "
                           f"tournament is {self.tournament}")
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
                           retry_after=round_up(wait))
        if len(data) > self.config.max_file_bytes:
            raise ApiError(413, "file_too_large", f"the prediction file is {len(data)} bytes; the limit is "
                           f"{self.config.max_file_bytes}")
        actual = predictions_hash(data)
        if actual != sub.predictions_hash:
            raise ApiError(400, "hash_mismatch", f"the file hashes to {actual} but the signed predictions hash is "
                           f"{sub.predictions_hash}: sign the file you send")
        owner = self.owner_of(sub.model_id)
        if owner is None:
            raise ApiError(404, "unknown_model", f"model {sub.model_id} is not registered on the tournament")
        if owner != signer:
            raise ApiError(403, "not_owner", f"model {sub.model_id} is owned by {owner}, not by the signer {signer}")
        closes_at = self.closes_at(round)
        if closes_at is None:
            raise ApiError(409, "round_not_open", f"round {round} has not been opened; see GET /rounds")
        live = self.live_ids(round)
        if live is None:
            raise ApiError(409, "no_live_data", f"round {round} has no published live data yet")
        self._validate_file(sub, data, live)
        with self.gate.submitting(), self._slot_lock(round, sub.model_id):
            return self._store(sub, data, closes_at)

    def _validate_file(self, sub: Submission, data: bytes, live: pd.Index) -> None:
        where = f"round {sub.round} model {sub.model_id}"
        try:
            if sub.file_name.lower().endswith((".parquet", ".pq")):
                frame = pd.read_parquet(io.BytesIO(data))
            else:
                frame = pd.read_csv(io.BytesIO(data), dtype={"id": str})
        except Exception as exc:  # noqa: BLE001 - any parse failure is the participant's file
            kind = "Parquet" if sub.file_name.lower().endswith((".parquet", ".pq")) else "CSV"
            raise ApiError(400, "malformed_file", f"{where}: {sub.file_name} is not a readable {kind} file "
                           f"({type(exc).__name__}: {str(exc)[:200]})") from None
        model = str(sub.model_id)
        table, errors = combine_model_files({model: frame})
        problems = [str(e) for e in errors]
        if not problems:
            try:
                result = validate_predictions(table, list(live), min_live_share=self.config.params.min_live_share)
                problems = [str(e) for e in result.errors]
            except TableError as exc:
                problems = [str(e) for e in exc.errors]
        if problems:
            raise ApiError(422, "invalid_predictions", f"{where}: the predictions break the round's validation "
                           f"rules: {'; '.join(problems)[:500]}", problems=problems[:20])

    def _store(self, sub: Submission, data: bytes, closes_at: int) -> Receipt:
        """The commit: duplicate/replay refusal, clock check, inbox write, then the receipt."""
        current = self._current(sub.round, sub.model_id)
        if current is not None and current.signature == sub.signature:
            receipt = self.receipt_for(current)
            raise ApiError(409, "duplicate", f"this exact signed submission of round {sub.round} model "
                           f"{sub.model_id} was already received at {current.received_at}; its receipt is attached",
                           receipt=_receipt_out(receipt))
        if self.state_fs.exists(self._superseded_path(sub.round, sub.model_id, sub.signature)):
            raise ApiError(409, "replayed", f"this signed submission of round {sub.round} model {sub.model_id} was "
                           "already replaced by a newer one; a replayed request cannot roll predictions back. To "
                           "send these predictions again, sign them anew (e.g. with another deadline)")
        block, now = self.chain_clock()
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
            path = self._superseded_path(sub.round, sub.model_id, current.signature)
            self.state_fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            with self.state_fs.open(path, "wb") as handle:
                handle.write(current.signature.encode())
        try:
            stored = self.inbox.put(replace(sub, received_at=received_at), data)
        except (SubmissionError, OSError) as exc:
            raise ApiError(503, "storage_unavailable", f"the inbox could not store the file ({exc}); nothing was "
                           "receipted, send it again") from None
        receipt = self.receipt_for(stored)
        self.metrics.submission_accepted()
        log.info("submission accepted", extra={"fields": {
            "event": "submission_accepted", "round": stored.round, "model_id": stored.model_id,
            "signer": stored.signer, "predictions_hash": stored.predictions_hash, "received_at": received_at,
            "block": block, "replaced": current is not None}})
        return receipt

    def _current(self, round: int, model_id: int) -> Submission | None:
        try:
            found = self.inbox.get(round, model_id)
        except SubmissionError as exc:
            # A corrupt current entry is replaced by the new submission; it never held a receipt we can honour.
            log.warning("corrupt inbox entry", extra={"fields": {"event": "corrupt_inbox_entry", "detail": str(exc)}})
            return None
        return None if found is None else found[0]

    # -------------------------------------------------------------- reads

    def round_out(self, round: int, now: int) -> RoundOut:
        state = self._chain(f"read round {round}", lambda: self.client.round_state(round))
        left = max(0, state.closes_at - now) if state.status is RoundStatus.OPEN else 0
        return RoundOut(round=round, status=_status_name(state.status), closes_at=state.closes_at, seconds_left=left,
                        closed_at=state.closed_at, activates_at=state.activates_at, root=state.root)

    def refresh_round_metrics(self) -> None:
        last_closed, _ = self._chain("read the round cursor", self.client.cursor)
        for round in range(max(1, last_closed - 2), last_closed + 2):
            state = self._chain(f"read round {round}", lambda r=round: self.client.round_state(r))
            if state.status is not RoundStatus.NONE:
                self.metrics.set_round(round, int(state.status), state.status is RoundStatus.OPEN)


def round_up(seconds: float) -> float:
    return float(int(seconds * 10 + 0.999)) / 10


# ------------------------------------------------------------------------------------------ scheduler


class Scheduler(threading.Thread):
    """Runs the operator's round state machine beside the request handlers, on a timer.

    Closing takes the :class:`CloseGate` exclusively so no submission is stored between the inbox snapshot and
    the close. Every step re-reads the chain and the store (the operator keeps no state in memory), so a killed
    service resumes its rounds on restart like ``tourney operator run`` does."""

    def __init__(self, service: Service) -> None:
        super().__init__(name="round-scheduler", daemon=True)
        from oracle.operator.rounds import Operator, OperatorConfig  # the operator is optional for read-only use

        config = service.config
        w3 = Web3(Web3.HTTPProvider(config.rpc, request_kwargs={"timeout": 60}))
        from oracle.chain.tx import Sender

        self.service = service
        self.operator = Operator(
            TournamentClient(w3, config.deployment), Sender(w3, config.operator),
            OperatorConfig(store=config.store, inbox=config.inbox, round_data=config.round_data,
                           params=config.params, submission_window=config.submission_window,
                           max_rounds=config.max_rounds),
            log=lambda message: log.info(message, extra={"fields": {"event": "scheduler", "detail": message}}),
        )
        self.stop_event = threading.Event()
        self.last_error: str | None = None

    def step(self) -> list[str]:
        """One pass over every due transition; returns the step names done."""
        done = []
        with self.service.gate.closing():
            done += self.operator.close_due()
        done += self.operator.propose_due()
        done += self.operator.activate_due()
        done += self.operator.open_due()
        return [a.step for a in done]

    def run(self) -> None:
        while not self.stop_event.is_set():
            failed = False
            steps: list[str] = []
            try:
                steps = self.step()
                self.last_error = None
                self.service.refresh_round_metrics()
            except Exception as exc:  # noqa: BLE001 - a failed step is retried next tick; the service stays up
                failed = True
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("scheduler step failed", extra={"fields": {"event": "scheduler_failed",
                                                                     "error": self.last_error}})
            self.service.metrics.scheduler_step(steps, failed)
            self.stop_event.wait(self.service.config.scheduler_poll)


# ------------------------------------------------------------------------------------------ the app


def create_app(config: ServiceConfig, start_scheduler: bool | None = None) -> FastAPI:
    """The FastAPI application. The scheduler thread starts with the app (lifespan) when ``config.scheduler``."""
    service = Service(config)
    run_scheduler = config.scheduler if start_scheduler is None else start_scheduler

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202 - FastAPI's lifespan protocol
        if run_scheduler:
            service.scheduler = Scheduler(service)
            service.scheduler.start()
        log.info("service started", extra={"fields": {"event": "started", "chain_id": service.chain_id,
                                                      "tournament": service.tournament,
                                                      "operator": config.operator.address,
                                                      "scheduler": run_scheduler}})
        try:
            yield
        finally:
            if service.scheduler is not None:
                service.scheduler.stop_event.set()
                service.scheduler.join(timeout=30)

    app = FastAPI(title="Tournament operator service", version="1",
                  description="Read rounds and results; deliver EIP-712 signed submissions and get operator-signed "
                              "receipts. No passwords: the signature is the authentication.",
                  lifespan=lifespan)
    app.state.service = service
    app.add_middleware(BodyLimit, limit=config.max_body_bytes, metrics=service.metrics)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        detail: dict[str, Any] = {"code": exc.code, "message": exc.message}
        for key, value in exc.extra.items():
            detail[key] = value.model_dump() if isinstance(value, BaseModel) else value
        headers = {"Retry-After": str(int(exc.extra["retry_after"]) + 1)} if "retry_after" in exc.extra else None
        return JSONResponse({"error": detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()]
        if problems and request.url.path.endswith("/submissions") and request.method == "POST":
            service.metrics.submission_rejected("invalid_request")
        return JSONResponse({"error": {"code": "invalid_request", "message": "the request does not match the API: "
                                       + "; ".join(problems)[:800], "problems": problems[:20]}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return JSONResponse({"error": {"code": codes.get(exc.status_code, "http_error"),
                                       "message": f"{request.method} {request.url.path}: {exc.detail}"}},
                            status_code=exc.status_code)

    def round_path(round: int) -> None:
        if round < 1 or round >= 2**64:
            raise ApiError(404, "unknown_round", f"round {round} does not exist: rounds start at 1")

    # ------------------------------------------------------------------ reads

    @app.get("/health", response_model=HealthOut, responses=_errors(503), tags=["service"])
    def health() -> HealthOut:
        """Liveness: the chain answers, and whether the round scheduler runs in this process."""
        block, now = service.chain_clock()
        sched = service.scheduler
        state = "off" if sched is None else ("running" if sched.is_alive() else "stopped")
        return HealthOut(status="ok", chain_id=service.chain_id, block=block, chain_time=now, scheduler=state,
                         scheduler_last_error=None if sched is None else sched.last_error)

    @app.get("/info", response_model=InfoOut, tags=["service"])
    def info() -> InfoOut:
        """The tournament, the receipt signer and the limits (what a client needs to check receipts offline)."""
        return InfoOut(chain_id=service.chain_id, tournament=service.tournament, operator=config.operator.address,
                       receipt_domain={"name": RECEIPT_DOMAIN_NAME, "version": RECEIPT_DOMAIN_VERSION,
                                       "chainId": service.chain_id, "verifyingContract": service.tournament},
                       max_body_bytes=config.max_body_bytes, max_file_bytes=config.max_file_bytes,
                       rate_limit={"burst": config.rate_capacity, "per_second": config.rate_per_second})

    @app.get("/metrics", response_class=PlainTextResponse, tags=["service"],
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    def metrics() -> Response:
        """Prometheus text format: submissions accepted/rejected by reason, round state, last block seen."""
        try:
            service.chain_clock()
        except ApiError:
            pass  # metrics must render even when the chain is down; last_block then stays at its last value
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/rounds", response_model=RoundsOut, responses=_errors(503), tags=["rounds"])
    def rounds() -> RoundsOut:
        """Open rounds with their deadlines, and the most recent rounds."""
        block, now = service.chain_clock()
        last_closed, _ = service._chain("read the round cursor", service.client.cursor)
        recent = [service.round_out(r, now) for r in range(max(1, last_closed - 4), last_closed + 2)]
        recent = [r for r in recent if r.status != "none"]
        for r in recent:
            service.metrics.set_round(r.round, ["none", "open", "closed", "proposed", "vetoed", "active"]
                                      .index(r.status), r.status == "open")
        return RoundsOut(chain_time=now, block=block, open=[r for r in recent if r.status == "open"], recent=recent)

    @app.get("/rounds/{round}", response_model=RoundOut, responses=_errors(404, 503), tags=["rounds"])
    def round_info(round: int) -> RoundOut:
        """One round's on-chain state and deadline."""
        round_path(round)
        _, now = service.chain_clock()
        out = service.round_out(round, now)
        if out.status == "none":
            raise ApiError(404, "unknown_round", f"round {round} has not been opened")
        return out

    @app.get("/rounds/{round}/live", tags=["rounds"], response_class=Response,
             responses={200: {"content": {"application/vnd.apache.parquet": {"schema": {"type": "string",
                                                                                      "format": "binary"}}},
                              "description": "The round's live data (Parquet: id + features)."},
                        **_errors(404)})
    def live(round: int) -> Response:
        """The live data participants predict on (Parquet with ``id`` and the features)."""
        round_path(round)
        path = service.live_path(round)
        if path is None:
            raise ApiError(404, "no_live_data", f"round {round} has no published live data")
        with fsspec.open(path, "rb") as handle:
            data = handle.read()
        return Response(data, media_type="application/vnd.apache.parquet",
                        headers={"Content-Disposition": f'attachment; filename="live_{round}.parquet"'})

    @app.get("/rounds/{round}/manifest", response_model=ManifestOut, responses=_errors(404, 503), tags=["results"])
    def manifest(round: int) -> ManifestOut:
        """The manifest of the round's standing proposal (its keccak is the on-chain manifestHash)."""
        round_path(round)
        bundle, status = service.bundle(round)
        return ManifestOut(round=round, manifest_uri=bundle.uri, manifest_hash=bundle.keccak256, status=status,
                           manifest=bundle.manifest.to_dict())

    @app.get("/rounds/{round}/scores", response_model=ScoresOut, responses=_errors(404, 503), tags=["results"])
    def scores(round: int) -> ScoresOut:
        """Per-model scores, stakes at risk, payouts and burns of the round's standing proposal."""
        round_path(round)
        bundle, _ = service.bundle(round)
        rows = json.loads(bundle.scores().to_json(orient="records", default_handler=str))
        for row in rows:
            for key in ("stake_at_risk", "payout", "burn"):
                if key in row and row[key] is not None:
                    row[key] = str(row[key])
        return ScoresOut(round=round, manifest_uri=bundle.uri, scores=rows)

    @app.get("/rounds/{round}/models/{model_id}/proof", response_model=ProofOut, responses=_errors(404, 503),
             tags=["results"])
    def proof(round: int, model_id: int) -> ProofOut:
        """The model's cumulative leaf and Merkle proof in the round's tree (arguments of ``settle``)."""
        round_path(round)
        bundle, status = service.bundle(round)
        tree = StandardMerkleTree.load(bundle.tree_dump())
        try:
            found = proof_for(tree, model_id)
        except (KeyError, ValueError):
            raise ApiError(404, "not_in_tree", f"model {model_id} has no leaf in round {round}'s tree "
                           "(registered after the round closed?)") from None
        return ProofOut(round=round, model_id=model_id, cumulative_payout=str(found.leaf.cumulative_payout),
                        cumulative_burn=str(found.leaf.cumulative_burn), proof=list(found.proof),
                        root=bundle.manifest.root, status=status)

    @app.get("/models/{model_id}", response_model=ModelOut, responses=_errors(404, 503), tags=["models"])
    def model(model_id: int) -> ModelOut:
        """A model's owner, settled stake and per-round history (its submission, then its published result)."""
        if model_id < 1 or model_id >= 2**64:
            raise ApiError(404, "unknown_model", f"model {model_id} does not exist: model ids start at 1")
        owner = service.owner_of(model_id)
        if owner is None:
            raise ApiError(404, "unknown_model", f"model {model_id} is not registered on the tournament")
        stake = service._chain(f"read model {model_id}", lambda: service.client.stake_of(model_id))
        last_closed, _ = service._chain("read the round cursor", service.client.cursor)
        history = []
        for round in range(max(1, last_closed + 1 - HISTORY_ROUNDS), last_closed + 2):
            history.append(_model_round(service, round, model_id))
        return ModelOut(model_id=model_id, owner=owner, stake=str(stake), rounds=[h for h in history if h])

    # ------------------------------------------------------------------ write

    @app.post("/rounds/{round}/submissions", response_model=ReceiptOut, status_code=201,
              responses=_errors(400, 404, 409, 413, 422, 429, 503) | {401: {"model": ErrorBody,
                                                                             "description": "Bad signature"},
                                                                       403: {"model": ErrorBody,
                                                                             "description": "Signer does not own "
                                                                                            "the model"}},
              tags=["submissions"])
    def submit(round: int, body: SubmissionIn) -> ReceiptOut:
        """Deliver a signed submission; the answer is the operator's signed receipt.

        Re-submitting before the deadline replaces the earlier file and gets a new receipt. Re-sending the
        current request is a ``duplicate`` (409, the original receipt attached); re-sending a replaced one is
        ``replayed`` (409). Nothing is stored unless a receipt is returned."""
        round_path(round)
        return _receipt_out(service.submit(round, body))

    return app


def _model_round(service: Service, round: int, model_id: int) -> ModelRoundOut | None:
    """One round of a model's history: its current inbox record and, once proposed, its published result."""
    sub = service._current(round, model_id)
    result: dict[str, Any] = {}
    try:
        bundle, _ = service.bundle(round)
    except ApiError:
        bundle = None
    if bundle is not None:
        scores = bundle.scores()
        row = scores[scores["model"].astype(str) == str(model_id)]
        if len(row):
            first = row.iloc[0]
            result = {"stake_at_risk": _amount_text(first.get("stake_at_risk")),
                      "payout": _amount_text(first.get("payout")), "burn": _amount_text(first.get("burn")),
                      "corr": None if pd.isna(first.get("corr")) else float(first.get("corr")),
                      "mmc": None if pd.isna(first.get("mmc")) else float(first.get("mmc"))}
    if sub is None and not result:
        return None
    return ModelRoundOut(round=round, submitted=sub is not None,
                         predictions_hash=None if sub is None else sub.predictions_hash,
                         received_at=None if sub is None else sub.received_at,
                         stake_at_risk=result.get("stake_at_risk"), payout=result.get("payout"),
                         burn=result.get("burn"), corr=result.get("corr"), mmc=result.get("mmc"))
