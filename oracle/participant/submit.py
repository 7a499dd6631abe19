"""Delivering predictions: validate the file with the scoring rules, sign it (EIP-712, deadline = the round's
``closesAt``) and deliver it to a directory inbox or to the operator's service (which answers with a receipt,
checked against the chain's oracle and kept)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from oracle.chain.client import RoundStatus
from oracle.chain.clock import format_time, stale_clock_warning
from oracle.chain.connection import Connection
from oracle.participant.models import ParticipantError, require_owner
from oracle.participant.service_client import HttpSubmitResult, ServiceError, submit_over_http
from oracle.protocol.inbox import Inbox
from oracle.protocol.submission import Submission, sign_submission
from oracle.scoring.tables import check_model_file, combine_model_files, read_prediction_file
from oracle.scoring.validation import PredictionError, TableError

__all__ = [
    "SubmitResult",
    "check_prediction_file",
    "oracle_address",
    "require_inbox",
    "submit_predictions",
    "submit_to_service",
]


@dataclass(frozen=True)
class SubmitResult:
    """A delivered submission and where it went."""

    submission: Submission
    inbox: str
    replaced: bool
    #: Set when the chain's clock stands still (see :func:`_clock_warning`): worth telling, not a refusal.
    clock_warning: str | None = None


def check_prediction_file(
    model_id: int, data: bytes, file_name: str, live_ids: Sequence[str] | None = None, min_live_share: float = 1.0
) -> list[PredictionError]:
    """Validate one model's prediction file (``id`` + one prediction column, CSV or Parquet) with the round's rules
    (oracle.scoring.tables.check_model_file, as the service and the operator apply them). Live ids default to the
    file's own ids (then only the file's shape and values are checked). Returns every problem that would keep the
    model from being scored."""
    model = str(model_id)
    try:
        frame = read_prediction_file(file_name, data)
    except TableError as exc:
        return list(exc.errors)
    if live_ids is None:
        table, errors = combine_model_files({model: frame})
        if errors:
            return errors
        live_ids = [str(i) for i in table["id"]]
    return check_model_file(model, frame, live_ids, min_live_share)


def _prepare_submission(
    conn: Connection, round: int, model_id: int, path: Path, live_ids: Sequence[str] | None, min_live_share: float
) -> tuple[bytes, int, str | None]:
    """(file bytes, the round's closesAt, a clock warning or None) once the file validates, the account owns the
    model and the round is open by the chain's clock.

    Shared by both delivery paths (inbox and service) so they refuse exactly the same things. "Too late" is judged
    by the chain's clock only, as the service judges it, the operator's snapshot keeps records stamped before
    ``closesAt`` and the contract closes the round: a wall-clock refusal would turn away a file all three take."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParticipantError(f"no prediction file {path}") from None
    problems = check_prediction_file(model_id, data, path.name, live_ids, min_live_share)
    if problems:
        raise ParticipantError(
            f"{path} refused for model {model_id} (nothing signed or sent): " + "; ".join(str(p) for p in problems)
        )
    require_owner(conn, model_id)
    state = conn.client.round_state(int(round))
    closes_at = state.closes_at
    if state.status is not RoundStatus.OPEN:
        raise ParticipantError(_not_open(conn, int(round), state))
    chain_now = conn.now()
    if chain_now >= closes_at:
        raise ParticipantError(f"round {round} closed for submissions at {format_time(closes_at, chain_now)}: too late")
    return data, closes_at, _clock_warning(int(round), closes_at, chain_now)


def _clock_warning(round: int, closes_at: int, chain_now: int) -> str | None:
    """Why the chain's clock may mislead, when its latest block is stale: the round may be past its deadline by the
    wall clock while the chain (which decides) still has it open until a block moves it on."""
    stale = stale_clock_warning(chain_now)
    if stale is None:
        return None
    wall = int(time.time())
    if wall < closes_at:
        return stale
    return (
        f"round {round} closed at {format_time(closes_at, wall)} by the wall clock but is still open by the "
        f"chain's clock, which the service, the operator and the contract go by, so it was taken; {stale}"
    )


def _not_open(conn: Connection, round: int, state: object) -> str:
    """Why ``round`` takes no submission, and which round does."""
    open_round = conn.client.open_round()
    elsewhere = (
        f"round {open_round} is the open one" if open_round and open_round != round else "no round is open right now"
    )
    status = state.status  # type: ignore[attr-defined]
    if status is RoundStatus.NONE:
        return (
            f"round {round} has not been opened yet ({elsewhere}; `tourney round wait {round} --until open` "
            "waits for it)"
        )
    return f"round {round} is {status.phrase}: it takes no more submissions ({elsewhere})"


def require_inbox(inbox_url: str, create: bool = False) -> Inbox:
    """The inbox at ``inbox_url``; it must exist already (a mistyped path would take the file and lose it) unless
    ``create``."""
    inbox = Inbox(inbox_url)
    if not inbox.fs.exists(inbox.root):
        if not create:
            raise ParticipantError(
                f"inbox {inbox_url} does not exist: check the path the operator gave you (a typo "
                "would make a new directory nobody reads), or pass --create to make it"
            )
        inbox.fs.makedirs(inbox.root, exist_ok=True)
    elif not inbox.fs.isdir(inbox.root):
        raise ParticipantError(f"inbox {inbox_url} is a file, not a directory")
    return inbox


def submit_predictions(
    conn: Connection,
    round: int,
    model_id: int,
    path: str | Path,
    inbox_url: str,
    live_ids: Sequence[str] | None = None,
    min_live_share: float = 1.0,
    create_inbox: bool = False,
) -> SubmitResult:
    """Validate, sign (deadline = the round's closesAt) and deliver a prediction file to a directory inbox.

    The record is stamped ``received_at`` = the chain's clock (latest block timestamp), the clock the service
    stamps with and the one the operator's close snapshot judges against ``closesAt``; a wall-clock stamp would
    drift from the chain (Anvil's evm_increaseTime, a lagging node) and put on-time files on the wrong side."""
    path = Path(path)
    inbox = require_inbox(inbox_url, create_inbox)
    data, closes_at, clock_warning = _prepare_submission(conn, round, model_id, path, live_ids, min_live_share)
    sub = sign_submission(
        conn.signer,
        conn.chain_id,
        conn.deployment.tournament,
        int(round),
        int(model_id),
        data,
        closes_at,
        file_name=path.name,
    )
    replaced = inbox.fs.exists(inbox.record_path(round, model_id))
    stored = inbox.put(replace(sub, received_at=conn.now()), data)
    return SubmitResult(stored, inbox.url, replaced, clock_warning)


def oracle_address(conn: Connection) -> str:
    """The tournament's oracle (the one ORACLE_ROLE holder), read from the chain: receipts must be signed by it."""
    try:
        return conn.client.oracle_address()
    except ValueError as exc:
        raise ParticipantError(str(exc)) from None


def submit_to_service(
    conn: Connection,
    round: int,
    model_id: int,
    path: str | Path,
    url: str,
    live_ids: Sequence[str] | None = None,
    min_live_share: float = 1.0,
    receipts_dir: str | Path | None = None,
) -> HttpSubmitResult:
    """Validate, sign and deliver a prediction file to the operator service at ``url``; keep its checked receipt.

    The receipt must be signed by the oracle address read from the chain (see :func:`oracle_address`); it is
    saved under ``receipts_dir`` (default ``default_receipts_dir()``) before this returns."""
    path = Path(path)
    data, closes_at, clock_warning = _prepare_submission(conn, round, model_id, path, live_ids, min_live_share)
    if conn.account is None:
        raise ParticipantError("submitting signs: pass --account NAME (or set TOURNEY_ACCOUNT)")
    try:
        sent = submit_over_http(
            conn.account,
            url,
            conn.chain_id,
            conn.deployment.tournament,
            oracle_address(conn),
            int(round),
            int(model_id),
            data,
            closes_at,
            file_name=path.name,
            receipts_dir=receipts_dir,
        )
    except ServiceError as exc:
        raise ParticipantError(
            f"delivering model {model_id} for round {round} to the service at {url} failed: {exc}"
        ) from None
    return replace(sent, clock_warning=clock_warning)
