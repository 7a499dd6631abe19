"""The tools that sign: submitting predictions (a signature, no gas), registering a model, settling, and the
value-moving ones (stake, request_withdrawal, withdraw), which exist only with a spending limit. ``request_id`` makes
stake and request_withdrawal safe to retry (oracle.mcp.journal)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from web3 import Web3

from oracle.chain.client import RoundStatus
from oracle.chain.hashes import tx_hash
from oracle.chain.tx import ContractReverted
from oracle.mcp.arguments import (
    ModelArg,
    OptionalModel,
    OptionalRound,
    PathArg,
    RequestId,
    RoundArg,
    StakeAmount,
    WithdrawAmount,
)
from oracle.mcp.errors import ToolFailure
from oracle.mcp.outputs import (
    ReceiptView,
    RegisterOut,
    SettleOut,
    StakeOut,
    SubmitOut,
    WithdrawalRequestOut,
    WithdrawOut,
)
from oracle.mcp.reading import live_ids
from oracle.mcp.session import ParticipantSession
from oracle.participant.models import ParticipantError
from oracle.participant.models import register_model as library_register_model
from oracle.participant.service_client import ServiceError, submit_over_http
from oracle.participant.settle import settle_all, settle_model
from oracle.participant.stake import exit_status
from oracle.participant.stake import request_withdrawal as library_request_withdrawal
from oracle.participant.stake import stake as library_stake
from oracle.participant.stake import withdraw as library_withdraw
from oracle.participant.submit import check_prediction_file, oracle_address
from oracle.protocol.receipt import Receipt, latest_receipts
from oracle.protocol.submission import predictions_hash

__all__ = ["submit_predictions", "register_model", "settle", "stake", "request_withdrawal", "withdraw"]

#: How many times submit_predictions signs a replaced file anew (one second earlier each time) before giving up.
RESIGN_ATTEMPTS = 16


def submit_predictions(session: ParticipantSession, round: RoundArg, model_id: ModelArg, path: PathArg) -> SubmitOut:
    """Validate, sign (EIP-712, no gas) and deliver a prediction file to the operator's service; returns the
    operator's signed receipt, checked against the chain's oracle and kept. Submitting the same file again
    returns the same receipt; another file before the deadline replaces it (with a new receipt), and so does
    an earlier file sent again."""
    account = session.signer()
    service = session.service_client()
    file = session.path_in_workdir(path)
    if not file.is_file():
        raise ToolFailure("file_not_found", f"no file {file}", path=str(file))
    session.own(model_id)
    state = session.round_state(round)
    if state.status is not RoundStatus.OPEN:
        raise ToolFailure(
            "round_not_open", f"round {round} is {state.status.phrase}, not open for submissions", round=round
        )
    data = file.read_bytes()
    digest = predictions_hash(data)
    tournament = Web3.to_checksum_address(session.conn.deployment.tournament)
    key = (session.conn.chain_id, tournament, int(round), int(model_id))
    held = latest_receipts(session.receipts()).get(key)
    if held is not None and held.predictions_hash == digest:
        return _submitted(round, model_id, file, digest, state.closes_at, held, None, repeated=True)
    now = session.client.now()
    if now >= state.closes_at:
        raise ToolFailure(
            "late",
            f"round {round} closed for submissions at {state.closes_at} (chain time now {now})",
            round=round,
            closes_at=state.closes_at,
        )
    live = live_ids(session, round)
    problems = check_prediction_file(int(model_id), data, file.name, live)
    if problems:
        raise ToolFailure(
            "invalid_predictions",
            f"{file.name} would not be scored: " + "; ".join(str(p) for p in problems[:5]),
            problems=[p.to_dict() for p in problems],
        )
    oracle = oracle_address(session.conn)
    # A file that was current earlier and then replaced is refused as "replayed" when its old signature comes
    # back (a signature has no nonce). Its owner may still mean it: the deadline is the one free field of the
    # signed record, so sign again a second earlier, which makes a new signature for the same file.
    for attempt in range(RESIGN_ATTEMPTS + 1):
        try:
            sent = submit_over_http(
                account,
                service.url,
                session.conn.chain_id,
                session.conn.deployment.tournament,
                oracle,
                int(round),
                int(model_id),
                data,
                state.closes_at - attempt,
                file_name=file.name,
                receipts_dir=session.workdir / "receipts",
            )
            break
        except ServiceError as exc:
            if exc.code != "replayed" or attempt == RESIGN_ATTEMPTS:
                raise
    return _submitted(
        round, model_id, file, digest, sent.submission.deadline, sent.receipt, sent.saved_to, repeated=False
    )


def _submitted(
    round: int,
    model_id: int,
    file: Path,
    digest: str,
    deadline: int,
    receipt: Receipt,
    saved: Path | None,
    repeated: bool,
) -> SubmitOut:
    return SubmitOut(
        round=round,
        model_id=model_id,
        path=str(file),
        predictions_hash=digest,
        deadline=deadline,
        receipt=ReceiptView(**receipt.to_json()),
        receipt_path=None if saved is None else str(saved),
        repeated=repeated,
    )


# ------------------------------------------------------------------------------------------------ chain actions


def register_model(session: ParticipantSession) -> RegisterOut:
    """Register a new model owned by this server's account (gas only, no stake). Each call registers another."""
    address = session.address()
    model_id, receipt = library_register_model(session.conn)
    return RegisterOut(model_id=model_id, owner=address, tx=tx_hash(receipt))


def settle(session: ParticipantSession, model_id: OptionalModel = None, round: OptionalRound = None) -> SettleOut:
    """Apply an active round's results to a model's stake (or every model's): anyone may settle anyone.
    Settling again is harmless: models already settled are listed, nothing is sent for them."""
    session.address()
    last_activated = session.client.cursor().last_active
    if round is None and last_activated == 0:
        raise ToolFailure("not_active", "no round has an active root yet")
    if round is not None and session.round_state(round).status is not RoundStatus.ACTIVE:
        raise ToolFailure(
            "not_active",
            f"round {round} is {session.round_state(round).status.label}, not active "
            f"(newest active round: {last_activated or 'none'})",
            round=round,
        )
    if model_id is not None:
        session.model(model_id)
        result = settle_model(session.conn, int(model_id), round)
    else:
        result = settle_all(session.conn, round)
    return SettleOut(
        round=result.round,
        settled=result.settled,
        already_settled=result.skipped,
        transactions=result.transactions,
        gas=result.gas_used,
    )


def _idempotent(
    session: ParticipantSession,
    tool: str,
    request_id: str | None,
    arguments: dict[str, Any],
    send: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """(result, repeated): run ``send`` once per request_id (see oracle.mcp.journal)."""
    if request_id is None or session.journal is None:
        return send(), False
    stored = session.journal.begin(tool, request_id, arguments)
    if stored is not None:
        return stored, True
    try:
        result = send()
    except (ToolFailure, ParticipantError, ContractReverted):
        session.journal.abandon(tool, request_id)  # refused before sending, or reverted: nothing happened
        raise
    session.journal.finish(tool, request_id, result)
    return result, False


def stake(
    session: ParticipantSession, model_id: ModelArg, amount: StakeAmount, request_id: RequestId = None
) -> StakeOut:
    """Add tokens to one of your models' stake (one transaction, EIP-2612 permit). Within the server's spending
    limit only; the stake counts from the next round that closes."""
    units = session.amount(amount)
    limit = session.limit
    if limit is None:  # the server lists the tool only with a limit; refuse anyway should it be called
        raise ToolFailure("value_tools_off", "the server was started without --max-stake")

    def send() -> dict[str, Any]:
        address = session.address()
        session.own(model_id)
        balance = int(session.conn.token.functions.balanceOf(address).call())
        if units > balance:
            raise ToolFailure(
                "insufficient_balance",
                f"stake {session.tokens(units)} exceeds your balance {session.tokens(balance)} {session.symbol}",
                balance=session.tokens(balance),
            )
        limit.hold(units, session.tokens)
        try:
            receipt = library_stake(session.conn, int(model_id), units)
        except (ParticipantError, ContractReverted):
            limit.release(units)  # refused or reverted: no tokens moved
            raise
        except BaseException:
            limit.commit(units)  # unknown outcome: count it (the transaction may still land)
            raise
        limit.commit(units)
        return {"model_id": int(model_id), "amount": session.tokens(units), "tx": tx_hash(receipt)}

    arguments = {"model_id": int(model_id), "amount": str(units)}
    result, repeated = _idempotent(session, "stake", request_id, arguments, send)
    net = session.model(model_id).net_deposits
    return StakeOut(
        **result,
        net_deposits=session.tokens(net),
        request_id=request_id,
        repeated=repeated,
        limits=session.limits_out(),
    )


def request_withdrawal(
    session: ParticipantSession, model_id: ModelArg, amount: WithdrawAmount, request_id: RequestId = None
) -> WithdrawalRequestOut:
    """Ask to take tokens back from a model ("all" = its settled stake not already pending). The amount stays
    at risk in every round already closed; withdraw once the newest of them is active."""

    def send() -> dict[str, Any]:
        pending = session.own(model_id).pending_withdrawal
        available = session.client.stake_of(int(model_id))
        units = available - pending if amount == "all" else session.amount(amount)
        if units <= 0:
            raise ToolFailure(
                "invalid_amount",
                f"model {model_id} has nothing left to request: settled stake "
                f"{session.tokens(available)}, already pending {session.tokens(pending)}",
            )
        if pending + units > available:
            raise ToolFailure(
                "invalid_amount",
                f"{session.tokens(units)} more would make "
                f"{session.tokens(pending + units)}"
                f" pending, above the settled stake {session.tokens(available)} (settle first to "
                "include unsettled payouts)",
                available=session.tokens(available - pending),
            )
        total, after_round, receipt = library_request_withdrawal(session.conn, int(model_id), units)
        return {
            "model_id": int(model_id),
            "requested": session.tokens(units),
            "pending": session.tokens(total),
            "after_round": after_round,
            "tx": tx_hash(receipt),
        }

    result, repeated = _idempotent(
        session, "request_withdrawal", request_id, {"model_id": int(model_id), "amount": amount}, send
    )
    return WithdrawalRequestOut(**result, request_id=request_id, repeated=repeated)


def withdraw(session: ParticipantSession, model_id: ModelArg) -> WithdrawOut:
    """Take a model's pending withdrawal, settling the model first against the newest active root if needed."""
    info = session.own(model_id)
    pending = exit_status(session.conn, info)
    if pending is None:
        raise ToolFailure("nothing_pending", f"model {model_id} has no pending withdrawal", model_id=model_id)
    if not pending.ready:
        # Every round the amount was at risk in activates or lapses by its close + D: the deadline below.
        raise ToolFailure(
            "withdrawal_waits",
            f"model {model_id}'s withdrawal waits for {pending.waiting_for}; "
            f"it can be taken by {pending.deadline} (chain time) at the latest",
            after_round=pending.after_round,
            deadline=pending.deadline,
        )
    paid, receipt = library_withdraw(session.conn, int(model_id))
    return WithdrawOut(model_id=model_id, paid=session.tokens(paid), tx=tx_hash(receipt))
