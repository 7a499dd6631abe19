"""Participant commands on a model's stake: ``tourney model``, ``stake``, ``unstake``, ``withdraw``, ``settle``.

Amounts are typed in tokens with decimals (``12.5``) and converted exactly to the token's smallest unit; JSON
output carries smallest units as decimal strings plus the token text. The participant's other commands live
beside these: ``account`` (oracle.cli.account), ``submit`` (oracle.cli.submit), ``status`` (oracle.cli.status).
"""

from __future__ import annotations

from typing import Any

import click

from oracle.chain.hashes import tx_hash
from oracle.cli.context import ChainOptions, chain_options
from oracle.cli.output import fail, get_output, json_option

__all__ = ["model_group", "stake_command", "unstake_command", "withdraw_command", "settle_command"]


def _amount(conn: Any, text: str) -> tuple[int, int]:
    from oracle.participant.amounts import parse_amount, token_decimals

    decimals = token_decimals(conn)
    return parse_amount(text, decimals), decimals


# ------------------------------------------------------------------------------------------------ models, stake


@click.group("model")
def model_group() -> None:
    """Models: register one, list yours."""


@model_group.command("register")
@chain_options
@json_option
def model_register(chain: ChainOptions) -> None:
    """Register a new model owned by --account."""
    from oracle.participant.models import register_model

    conn = chain.connect()
    model_id, receipt = register_model(conn)
    get_output().emit(
        {"model_id": model_id, "owner": conn.address, "tx": tx_hash(receipt), "gas": receipt["gasUsed"]},
        lambda c: c.print(f"registered model {model_id} for {conn.address} (tx {tx_hash(receipt)})", highlight=False),
    )


@model_group.command("list")
@click.option("--owner", default=None, help="Owner address (default: --account's address).")
@chain_options
@json_option
def model_list(chain: ChainOptions, owner: str | None) -> None:
    """List the model ids registered to an owner."""
    from oracle.participant.models import owned_models

    if owner is None:
        if not chain.account:
            fail("pass --owner ADDRESS or --account NAME")
        owner = chain.keystore().address(chain.account)
    conn = chain.connect(need_account=False)
    ids = owned_models(conn, owner)
    get_output().emit(
        {"owner": owner, "models": ids},
        lambda c: c.print(f"{owner}: models {', '.join(map(str, ids)) or 'none'}", highlight=False),
    )


@click.command("stake")
@click.option("--model", "model_id", type=int, required=True, help="Model id.")
@click.argument("amount")
@chain_options
@json_option
def stake_command(chain: ChainOptions, model_id: int, amount: str) -> None:
    """Stake AMOUNT tokens on a model in one transaction (EIP-2612 permit, no approval); e.g. 12.5."""
    from oracle.participant.amounts import format_amount
    from oracle.participant.stake import stake

    conn = chain.connect()
    units, decimals = _amount(conn, amount)
    receipt = stake(conn, model_id, units)
    total = conn.client.model_state(model_id).net_deposits
    data = {
        "model_id": model_id,
        "amount": units,
        "amount_tokens": format_amount(units, decimals),
        "net_deposits": total,
        "tx": tx_hash(receipt),
        "gas": receipt["gasUsed"],
    }
    get_output().emit(
        data,
        lambda c: c.print(
            f"staked {format_amount(units, decimals)} on model {model_id}; it counts from the next round that closes "
            f"(tx {tx_hash(receipt)})",
            highlight=False,
        ),
    )


@click.command("unstake")
@click.option("--model", "model_id", type=int, required=True, help="Model id.")
@click.option(
    "--lower", "lower", is_flag=True, help="Lower the pending withdrawal to AMOUNT instead of asking for more."
)
@click.option("--cancel", is_flag=True, help="Cancel the pending withdrawal (no AMOUNT).")
@click.argument("amount", required=False)
@chain_options
@json_option
def unstake_command(chain: ChainOptions, model_id: int, amount: str | None, lower: bool, cancel: bool) -> None:
    """Request a withdrawal of AMOUNT tokens (it stays at risk in every round already closed), lower a pending one
    to AMOUNT (--lower) or cancel it (--cancel). Lowering before the next close is free; after it, the released
    amount is at risk again from the next round, like a deposit."""
    from oracle.participant.amounts import format_amount, token_decimals
    from oracle.participant.stake import lower_withdrawal, request_withdrawal

    if cancel and (lower or amount is not None):
        fail("--cancel takes no AMOUNT and no --lower", code=2)
    if not cancel and amount is None:
        fail("pass AMOUNT (or --cancel)", code=2)
    conn = chain.connect()
    if cancel or lower:
        decimals = token_decimals(conn)
        units = 0 if cancel else _lowered_amount(amount, decimals)
        pending, at_risk_from, receipt = lower_withdrawal(conn, model_id, units)
        data = {"model_id": model_id, "pending": pending, "at_risk_from": at_risk_from, "tx": tx_hash(receipt)}
        what = "cancelled" if pending == 0 else f"lowered to {format_amount(pending, decimals)}"
        get_output().emit(
            data,
            lambda c: c.print(
                f"withdrawal on model {model_id} {what}; the released amount is at risk again "
                f"from round {at_risk_from} (tx {tx_hash(receipt)})",
                highlight=False,
            ),
        )
        return
    assert amount is not None  # not --cancel, so AMOUNT was required above
    units, decimals = _amount(conn, amount)
    pending, after_round, receipt = request_withdrawal(conn, model_id, units)
    data = {
        "model_id": model_id,
        "requested": units,
        "pending": pending,
        "after_round": after_round,
        "tx": tx_hash(receipt),
    }
    waits = f"once round {after_round} is resolved and settled" if after_round else "now"
    get_output().emit(
        data,
        lambda c: c.print(
            f"withdrawal of {format_amount(pending, decimals)} pending on model {model_id}; withdraw {waits} "
            f"(tx {tx_hash(receipt)})",
            highlight=False,
        ),
    )


def _lowered_amount(text: str | None, decimals: int) -> int:
    """The new pending amount of ``--lower``: zero is allowed (it cancels), unlike a requested amount."""
    from decimal import Decimal, InvalidOperation

    from oracle.participant.amounts import parse_amount

    try:
        if text is not None and Decimal(text.strip().replace("_", "")) == 0:
            return 0
    except InvalidOperation:
        pass
    return parse_amount(text or "", decimals)


@click.command("withdraw")
@click.option("--model", "model_id", type=int, required=True, help="Model id.")
@chain_options
@json_option
def withdraw_command(chain: ChainOptions, model_id: int) -> None:
    """Take a model's pending withdrawal (settling it first against the newest active root if needed)."""
    from oracle.participant.amounts import format_amount, token_decimals
    from oracle.participant.stake import withdraw

    conn = chain.connect()
    paid, receipt = withdraw(conn, model_id)
    decimals = token_decimals(conn)
    data = {
        "model_id": model_id,
        "paid": paid,
        "paid_tokens": format_amount(paid, decimals),
        "tx": tx_hash(receipt),
        "gas": receipt["gasUsed"],
    }
    get_output().emit(
        data,
        lambda c: c.print(
            f"withdrew {format_amount(paid, decimals)} from model {model_id} (tx {tx_hash(receipt)})", highlight=False
        ),
    )


@click.command("settle")
@click.option("--model", "model_id", type=int, default=None, help="Settle this model.")
@click.option("--all", "settle_everything", is_flag=True, help="Settle every model of the round's tree (batches).")
@click.option("--round", "round_", type=int, default=None, help="Active round to settle against (default: newest).")
@click.option("--batch-size", type=click.IntRange(1, 2048), default=256, show_default=True)
@chain_options
@json_option
def settle_command(
    chain: ChainOptions, model_id: int | None, settle_everything: bool, round_: int | None, batch_size: int
) -> None:
    """Settle a model (--model M) or every model (--all) against an active root; anyone may do it."""
    from oracle.participant.settle import settle_all, settle_model

    if (model_id is None) == (not settle_everything):
        fail("pass exactly one of --model M and --all")
    conn = chain.connect()
    if settle_everything:
        result = settle_all(conn, round_, batch_size)
    else:
        assert model_id is not None  # not --all, so --model was required above
        result = settle_model(conn, model_id, round_)
    data = {
        "round": result.round,
        "settled": result.settled,
        "already_settled": result.skipped,
        "gas": result.gas_used,
        "transactions": result.transactions,
    }
    get_output().emit(
        data,
        lambda c: c.print(
            f"round {result.round}: settled {len(result.settled)} model(s), {len(result.skipped)} already settled, "
            f"{result.gas_used} gas in {len(result.transactions)} transaction(s)",
            highlight=False,
        ),
    )
