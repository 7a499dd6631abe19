"""Stake and exit: add stake in one transaction (``stakeWithPermit``, no separate approval), request a withdrawal,
lower or cancel it, and take it (settling the model first against the newest active root when it is behind).

The contract keeps at most one pending tranche and one withdrawal boundary per model, so a deposit (or a lowered
withdrawal) while an older one is still unsettled, or a second request after a close, needs the model settled first
(``TopUpPending``, ``WithdrawalBoundaryPending``). These functions settle it first when the chain allows (the newest
active root covers the rounds in question) and otherwise say which round to wait for.

A withdrawal requested at time t can always be taken by t + D (``exitBound()``): every round it waits for either
activates or lapses by its close + D. :func:`exit_deadline` says when, for a pending request.
"""

from __future__ import annotations

from dataclasses import dataclass

from web3.logs import DISCARD
from web3.types import TxReceipt

from oracle.chain.client import ModelState
from oracle.chain.connection import Connection
from oracle.chain.units import format_tokens
from oracle.participant.models import ParticipantError, model_info, require_owner
from oracle.participant.settle import leaf_proof, settle_through, settled_through
from oracle.protocol.permit import permit_signature

__all__ = [
    "PERMIT_LIFETIME",
    "ExitStatus",
    "exit_status",
    "lower_withdrawal",
    "request_withdrawal",
    "stake",
    "withdraw",
]

PERMIT_LIFETIME = 3600


def _tranche_blocks(conn: Connection, state: ModelState, last_closed: int) -> int | None:
    """The round the model must be settled through before a new tranche can start (``TopUpPending``), or None."""
    if state.tranche == 0 or state.tranche_from == last_closed + 1:
        return None  # no tranche, or the new amount joins the one already starting next round
    if settled_through(conn, state, state.tranche_from - 1):
        return None  # the old tranche is part of the base now
    return state.tranche_from - 1


def stake(conn: Connection, model_id: int, amount: int) -> TxReceipt:
    """Add ``amount`` to a model's stake in one transaction (stakeWithPermit: no separate approval).

    A model's first stake (from zero) must be at least the tournament's MIN_STAKE. When an earlier top-up of the
    model is still unsettled, the model is settled first (one more transaction)."""
    require_owner(conn, model_id)
    balance = conn.token.functions.balanceOf(conn.address).call()
    if amount > balance:
        raise ParticipantError(
            f"staking {format_tokens(amount)} needs more than the {format_tokens(balance)} "
            f"{conn.address} holds: get tokens first (`tourney token balance` shows them)"
        )
    state = model_info(conn, model_id)
    if state.stake == 0:
        minimum = int(conn.tournament.functions.MIN_STAKE().call())
        if amount < minimum:
            raise ParticipantError(
                f"model {model_id} has no stake: its first stake must be at least "
                f"{format_tokens(minimum)}, got {format_tokens(amount)}"
            )
    # A deposit onto a zero stake starts afresh on-chain (the model counts as settled through the last close), so
    # an old tranche never blocks it.
    blocked = None if state.stake == 0 else _tranche_blocks(conn, state, conn.client.cursor().last_closed)
    if blocked is not None:
        settle_through(conn, model_id, blocked, f"stake on model {model_id}")
    deadline = conn.now() + PERMIT_LIFETIME
    v, r, s = permit_signature(conn.signer, conn.token, conn.tournament.address, amount, deadline, conn.chain_id)
    return conn.sender.transact(
        conn.tournament.functions.stakeWithPermit(int(model_id), int(amount), deadline, v, r, s),
        action=f"stake on model {model_id}",
    )


def request_withdrawal(conn: Connection, model_id: int, amount: int) -> tuple[int, int, TxReceipt]:
    """Request to withdraw ``amount`` more; returns (pending amount, last round it stays at risk in, receipt).

    A request joining one made before an earlier close needs the model settled through the last close: done first
    when the chain allows."""
    require_owner(conn, model_id)
    state = model_info(conn, model_id)
    last_closed = conn.client.cursor().last_closed
    if state.withdrawal and state.withdrawal_after != last_closed and not settled_through(conn, state, last_closed):
        settle_through(
            conn,
            model_id,
            last_closed,
            f"a second withdrawal request on model {model_id} (one is pending since round "
            f"{state.withdrawal_after}; or take that one first with `tourney withdraw`)",
        )
    receipt = conn.sender.transact(
        conn.tournament.functions.requestWithdrawal(int(model_id), int(amount)),
        action=f"request withdrawal from model {model_id}",
    )
    args = conn.tournament.events.WithdrawalRequested().process_receipt(receipt, errors=DISCARD)[0]["args"]
    return int(args["pending"]), int(args["afterRound"]), receipt


def lower_withdrawal(conn: Connection, model_id: int, pending: int) -> tuple[int, int, TxReceipt]:
    """Lower the pending withdrawal to ``pending`` (0 cancels it); returns (pending, first round the released amount
    is at risk in again, receipt). Free before the next close; after it the model must be settled through the
    request's round first (done here when the chain allows) and the released amount is at risk again like a deposit."""
    require_owner(conn, model_id)
    state = model_info(conn, model_id)
    if state.withdrawal == 0:
        raise ParticipantError(f"model {model_id} has no pending withdrawal to lower")
    if pending >= state.withdrawal:
        raise ParticipantError(
            f"model {model_id}: {pending} does not lower the pending withdrawal of {state.withdrawal} (smallest units)"
        )
    last_closed = conn.client.cursor().last_closed
    if state.withdrawal_after != last_closed:
        why = f"lowering model {model_id}'s withdrawal after round {state.withdrawal_after} closed"
        settle_through(conn, model_id, state.withdrawal_after, why)
        state = model_info(conn, model_id)
        blocked = _tranche_blocks(conn, state, last_closed)
        if blocked is not None and not settled_through(conn, state, last_closed):
            settle_through(conn, model_id, blocked, why)
    receipt = conn.sender.transact(
        conn.tournament.functions.lowerWithdrawal(int(model_id), int(pending)),
        action=f"lower the withdrawal of model {model_id} to {pending}",
    )
    args = conn.tournament.events.WithdrawalLowered().process_receipt(receipt, errors=DISCARD)[0]["args"]
    return int(args["pending"]), int(args["atRiskFrom"]), receipt


@dataclass(frozen=True)
class ExitStatus:
    """Where a pending withdrawal stands: the last round it is at risk in, whether it can be taken now, what it
    waits for, and the time by which it can be taken at the latest (its last round's close + D)."""

    pending: int
    after_round: int
    ready: bool
    waiting_for: str | None
    deadline: int | None

    def to_dict(self) -> dict[str, object]:
        return {
            "pending": self.pending,
            "after_round": self.after_round,
            "ready": self.ready,
            "waiting_for": self.waiting_for,
            "deadline": self.deadline,
        }


def exit_status(conn: Connection, state: ModelState) -> ExitStatus | None:
    """The model's pending withdrawal, if any, with when it can be taken (see :class:`ExitStatus`)."""
    if state.withdrawal == 0:
        return None
    after = state.withdrawal_after
    cursor = conn.client.cursor()
    # Every round up to `after` closed before the request; each one activates or lapses by its close + D, and
    # round `after` closed last.
    deadline = conn.client.round_state(after).lapses_at if after else None
    if after > cursor.last_resolved:
        waiting = (
            f"round {cursor.last_resolved + 1} to be resolved (activated, or lapsed at "
            f"{conn.client.round_state(cursor.last_resolved + 1).lapses_at} at the latest)"
        )
        return ExitStatus(state.withdrawal, after, False, waiting, deadline)
    if not settled_through(conn, state, after):
        # `tourney withdraw` settles it against the newest active root in the same transaction.
        return ExitStatus(state.withdrawal, after, True, "a settlement (done by `tourney withdraw`)", deadline)
    return ExitStatus(state.withdrawal, after, True, None, deadline)


def withdraw(conn: Connection, model_id: int) -> tuple[int, TxReceipt]:
    """Take a model's pending withdrawal, settling it first against the newest active root when it is behind.

    Returns (amount paid, receipt). Refuses with the round it still waits for (and when that round resolves at the
    latest) while a round it was at risk in is unresolved."""
    require_owner(conn, model_id)
    state = model_info(conn, model_id)
    status = exit_status(conn, state)
    if status is None:
        raise ParticipantError(f"model {model_id} has no pending withdrawal: request one first (tourney unstake)")
    if not status.ready:
        raise ParticipantError(
            f"model {model_id}'s withdrawal waits for {status.waiting_for}; its stake was at "
            f"risk through round {status.after_round}; it can be taken by {status.deadline} at "
            "the latest"
        )
    fn = conn.tournament.functions.withdraw(int(model_id))
    if not settled_through(conn, state, status.after_round):
        last_active = conn.client.cursor().last_active
        found = leaf_proof(conn, last_active, model_id)
        if found is None:
            raise ParticipantError(
                f"model {model_id} has no leaf in round {last_active}'s tree: it cannot be "
                "settled through the rounds its withdrawal waits for"
            )
        leaf = found.leaf
        fn = conn.tournament.functions.settleAndWithdraw(
            int(last_active), leaf.model_id, leaf.cumulative_payout, leaf.cumulative_burn, found.proof
        )
    receipt = conn.sender.transact(fn, action=f"withdraw from model {model_id}")
    paid = conn.tournament.events.Withdrawn().process_receipt(receipt, errors=DISCARD)[0]["args"]["amount"]
    return int(paid), receipt
