"""Stake and exit: add stake in one transaction (``stakeWithPermit``, no separate approval), request a withdrawal,
and take it (settling the model first against the newest active root when it is behind)."""

from __future__ import annotations

from web3.logs import DISCARD
from web3.types import TxReceipt

from oracle.chain.connection import Connection
from oracle.participant.models import ParticipantError, model_info, require_owner
from oracle.participant.settle import leaf_proof
from oracle.protocol.permit import permit_signature

__all__ = ["PERMIT_LIFETIME", "request_withdrawal", "stake", "withdraw"]

PERMIT_LIFETIME = 3600


def stake(conn: Connection, model_id: int, amount: int) -> TxReceipt:
    """Add ``amount`` to a model's stake in one transaction (stakeWithPermit: no separate approval)."""
    require_owner(conn, model_id)
    balance = conn.token.functions.balanceOf(conn.address).call()
    if amount > balance:
        raise ParticipantError(f"stake {amount} exceeds your token balance {balance} (smallest units)")
    deadline = conn.now() + PERMIT_LIFETIME
    v, r, s = permit_signature(conn.account, conn.token, conn.tournament.address, amount, deadline, conn.chain_id)
    return conn.sender.transact(
        conn.tournament.functions.stakeWithPermit(int(model_id), int(amount), deadline, v, r, s),
        action=f"stake on model {model_id}",
    )


def request_withdrawal(conn: Connection, model_id: int, amount: int) -> tuple[int, int, TxReceipt]:
    """Request to withdraw ``amount``; returns (pending amount, round it waits for, receipt)."""
    receipt = conn.sender.transact(conn.tournament.functions.requestWithdrawal(int(model_id), int(amount)),
                                   action=f"request withdrawal from model {model_id}")
    args = conn.tournament.events.WithdrawalRequested().process_receipt(receipt, errors=DISCARD)[0]["args"]
    return int(args["pendingAmount"]), int(args["afterRound"]), receipt


def withdraw(conn: Connection, model_id: int) -> tuple[int, TxReceipt]:
    """Take a model's pending withdrawal, settling it first against the newest active root when it is behind.

    Returns (amount paid, receipt). Refuses with the round it still waits for when that round is not active."""
    require_owner(conn, model_id)
    info = model_info(conn, model_id)
    pending, after_round = info.pending_withdrawal, info.withdrawal_after_round
    if pending == 0:
        raise ParticipantError(f"model {model_id} has no pending withdrawal: request one first (tourney unstake)")
    fn = conn.tournament.functions.withdraw(int(model_id))
    if info.settled_round < after_round:
        _, last_activated = conn.client.cursor()
        if last_activated < after_round:
            raise ParticipantError(
                f"model {model_id}'s withdrawal waits for round {after_round} to be resolved (its stake was at risk "
                f"in it); the newest active round is {last_activated or 'none'}")
        found = leaf_proof(conn, last_activated, model_id)
        if found is None:
            raise ParticipantError(f"model {model_id} has no leaf in round {last_activated}'s tree")
        leaf = found.leaf
        fn = conn.tournament.functions.settleAndWithdraw(int(last_activated), leaf.model_id, leaf.cumulative_payout,
                                                         leaf.cumulative_burn, found.proof)
    receipt = conn.sender.transact(fn, action=f"withdraw from model {model_id}")
    paid = conn.tournament.events.Withdrawn().process_receipt(receipt, errors=DISCARD)[0]["args"]["amount"]
    return int(paid), receipt
