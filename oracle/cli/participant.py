"""Participant commands: ``tourney account``, ``model``, ``stake``, ``unstake``, ``withdraw``, ``settle``,
``submit``, ``status``.

Amounts are typed in tokens with decimals (``12.5``) and converted exactly to the token's smallest unit; JSON
output carries smallest units as decimal strings plus the token text.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from oracle.cli.context import ChainOptions, chain_options, read_password
from oracle.cli.output import fail, get_output, json_option, make_table
from oracle.cli.status import receipts_dir_option, status_command
from oracle.chain.hashes import tx_hash

if TYPE_CHECKING:
    from rich.console import Console

    from oracle.chain.keystore import Keystore

__all__ = ["PARTICIPANT_COMMANDS", "account_group", "model_group", "stake_command", "unstake_command",
           "withdraw_command", "settle_command", "submit_command"]


def _amount(conn: Any, text: str) -> tuple[int, int]:
    from oracle.participant.amounts import parse_amount, token_decimals

    decimals = token_decimals(conn)
    return parse_amount(text, decimals), decimals


# ------------------------------------------------------------------------------------------------ accounts


def _keystore(keystore_dir: str | None) -> Keystore:
    from oracle.chain.keystore import Keystore

    return Keystore(keystore_dir)


keystore_dir_option = click.option("--keystore-dir", envvar="TOURNEY_KEYSTORE_DIR", default=None, metavar="DIR",
                                   help="Keystore directory [env TOURNEY_KEYSTORE_DIR, default ~/.tourney/keystores].")


@click.group("account")
def account_group() -> None:
    """Encrypted keystore accounts: create, import, list."""


@account_group.command("create")
@click.argument("name")
@keystore_dir_option
@json_option
def account_create(name: str, keystore_dir: str | None) -> None:
    """Create a new random account NAME (password from TOURNEY_PASSWORD or a prompt)."""
    from oracle.chain.keystore import KeystoreError

    keystore = _keystore(keystore_dir)
    if keystore.exists(name):
        raise KeystoreError(f"account {name!r} already exists at {keystore.path(name)}; choose another name")
    entry = keystore.create(name, read_password(f"Password for new account {name}", confirm=True))
    get_output().emit({"name": entry.name, "address": entry.address, "path": str(entry.path)},
                      lambda c: c.print(f"created {entry.name} {entry.address} ({entry.path})", highlight=False))


@account_group.command("import")
@click.argument("name")
@click.option("--keystore-file", type=click.Path(dir_okay=False), default=None,
              help="Import this V3 keystore file (copied as is; its password is asked to check it).")
@keystore_dir_option
@json_option
def account_import(name: str, keystore_file: str | None, keystore_dir: str | None) -> None:
    """Import an account as NAME: a private key from stdin or a hidden prompt, or --keystore-file."""
    from oracle.chain.keystore import KeystoreError, parse_private_key

    keystore = _keystore(keystore_dir)
    if keystore.exists(name):
        raise KeystoreError(f"account {name!r} already exists at {keystore.path(name)}; choose another name")
    if keystore_file:
        entry = keystore.import_file(name, keystore_file, read_password(f"Password of {keystore_file}"))
    else:
        stdin = sys.stdin
        text = stdin.readline() if not stdin.isatty() else click.prompt("Private key (hex)", hide_input=True, err=True)
        key = parse_private_key(text)
        entry = keystore.import_key(name, key, read_password(f"Password for account {name}", confirm=True))
    get_output().emit({"name": entry.name, "address": entry.address, "path": str(entry.path)},
                      lambda c: c.print(f"imported {entry.name} {entry.address} ({entry.path})", highlight=False))


@account_group.command("list")
@keystore_dir_option
@json_option
def account_list(keystore_dir: str | None) -> None:
    """List the accounts of the keystore directory (no password needed)."""
    keystore = _keystore(keystore_dir)
    entries = keystore.list()
    problems = keystore.problems()
    data = {"keystore_dir": str(keystore.directory),
            "accounts": [{"name": e.name, "address": e.address, "path": str(e.path)} for e in entries],
            "problems": problems}

    def render(console: Console) -> None:
        console.print(make_table(f"Accounts in {keystore.directory}", ["name", "address"],
                                 [(e.name, e.address) for e in entries]))
        for problem in problems:
            console.print(f"skipped: {problem}", highlight=False)

    get_output().emit(data, render)


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
    get_output().emit({"model_id": model_id, "owner": conn.address, "tx": tx_hash(receipt), "gas": receipt["gasUsed"]},
                      lambda c: c.print(f"registered model {model_id} for {conn.address} (tx {tx_hash(receipt)})",
                                        highlight=False))


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
    get_output().emit({"owner": owner, "models": ids},
                      lambda c: c.print(f"{owner}: models {', '.join(map(str, ids)) or 'none'}", highlight=False))


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
    data = {"model_id": model_id, "amount": units, "amount_tokens": format_amount(units, decimals),
            "net_deposits": total, "tx": tx_hash(receipt), "gas": receipt["gasUsed"]}
    get_output().emit(data, lambda c: c.print(
        f"staked {format_amount(units, decimals)} on model {model_id}; it counts from the next round that closes "
        f"(tx {tx_hash(receipt)})", highlight=False))


@click.command("unstake")
@click.option("--model", "model_id", type=int, required=True, help="Model id.")
@click.option("--lower", "lower", is_flag=True,
              help="Lower the pending withdrawal to AMOUNT instead of asking for more.")
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
        get_output().emit(data, lambda c: c.print(
            f"withdrawal on model {model_id} {what}; the released amount is at risk again "
            f"from round {at_risk_from} (tx {tx_hash(receipt)})", highlight=False))
        return
    assert amount is not None  # not --cancel, so AMOUNT was required above
    units, decimals = _amount(conn, amount)
    pending, after_round, receipt = request_withdrawal(conn, model_id, units)
    data = {"model_id": model_id, "requested": units, "pending": pending, "after_round": after_round,
            "tx": tx_hash(receipt)}
    waits = f"once round {after_round} is resolved and settled" if after_round else "now"
    get_output().emit(data, lambda c: c.print(
        f"withdrawal of {format_amount(pending, decimals)} pending on model {model_id}; withdraw {waits} "
        f"(tx {tx_hash(receipt)})", highlight=False))


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
    data = {"model_id": model_id, "paid": paid, "paid_tokens": format_amount(paid, decimals), "tx": tx_hash(receipt),
            "gas": receipt["gasUsed"]}
    get_output().emit(data, lambda c: c.print(
        f"withdrew {format_amount(paid, decimals)} from model {model_id} (tx {tx_hash(receipt)})", highlight=False))


@click.command("settle")
@click.option("--model", "model_id", type=int, default=None, help="Settle this model.")
@click.option("--all", "settle_everything", is_flag=True, help="Settle every model of the round's tree (batches).")
@click.option("--round", "round_", type=int, default=None, help="Active round to settle against (default: newest).")
@click.option("--batch-size", type=click.IntRange(1, 2048), default=256, show_default=True)
@chain_options
@json_option
def settle_command(chain: ChainOptions, model_id: int | None, settle_everything: bool, round_: int | None,
                   batch_size: int) -> None:
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
    data = {"round": result.round, "settled": result.settled, "already_settled": result.skipped,
            "gas": result.gas_used, "transactions": result.transactions}
    get_output().emit(data, lambda c: c.print(
        f"round {result.round}: settled {len(result.settled)} model(s), {len(result.skipped)} already settled, "
        f"{result.gas_used} gas in {len(result.transactions)} transaction(s)", highlight=False))


# ------------------------------------------------------------------------------------------------ submissions



def _delivery(ctx: click.Context, to_url: str | None, inbox_url: str | None) -> tuple[str, str]:
    """("service", URL) or ("inbox", URL): exactly one way of delivering must be chosen.

    TOURNEY_SERVICE or TOURNEY_INBOX left in the environment do not clash with the other option typed on the command
    line: only what was typed counts as a choice when both are present."""
    from_env = click.core.ParameterSource.ENVIRONMENT
    if to_url and inbox_url:
        if ctx.get_parameter_source("inbox_url") is from_env and ctx.get_parameter_source("to_url") is not from_env:
            inbox_url = None
        elif ctx.get_parameter_source("to_url") is from_env and ctx.get_parameter_source("inbox_url") is not from_env:
            to_url = None
    if bool(to_url) == bool(inbox_url):
        fail("pass exactly one of --to URL (the operator service, with a receipt) and --inbox URL (a directory "
             "inbox)", code=2)
    return ("service", to_url) if to_url else ("inbox", inbox_url)  # type: ignore[return-value]


data_dir_option = click.option(
    "--data-dir", envvar="TOURNEY_DATA_DIR", default="data", show_default=True, metavar="DIR",
    help="Where `tourney data download` saved the round's live data and rules [env TOURNEY_DATA_DIR].")


def _warn_clock(warning: str | None) -> None:
    """A stale chain clock told to people (JSON carries it as ``clock_warning``)."""
    if warning:
        get_output().note(f"warning: {warning}")


@click.command("submit")
@click.option("--round", "round_", type=int, required=True, help="The open round.")
@click.option("--model", "model_id", type=int, required=True, help="Model id.")
@click.option("--to", "to_url", envvar="TOURNEY_SERVICE", default=None, metavar="URL",
              help="The operator service's base URL (HTTP); the signed receipt is checked and saved "
                   "[env TOURNEY_SERVICE].")
@click.option("--inbox", "inbox_url", envvar="TOURNEY_INBOX", default=None, metavar="URL",
              help="The operator's inbox (an existing directory or fsspec URL) [env TOURNEY_INBOX].")
@click.option("--create", "create_inbox", is_flag=True, help="With --inbox: create the inbox directory if missing.")
@receipts_dir_option
@data_dir_option
@click.argument("predictions", type=click.Path(dir_okay=False))
@chain_options
@json_option
@click.pass_context
def submit_command(ctx: click.Context, chain: ChainOptions, round_: int, model_id: int, to_url: str | None,
                   inbox_url: str | None, create_inbox: bool, receipts_dir: str | None, data_dir: str,
                   predictions: str) -> None:
    """Check, sign (EIP-712, no gas) and deliver PREDICTIONS for a model in an open round.

    The file is checked first against the round's own published rules and live ids (saved by `tourney data
    download`, or read from the service): every live id predicted (the round's share), one prediction column in
    [0, 1], .csv or .parquet. Nothing is signed or sent when it fails. Exactly one of --to (the operator service
    over HTTP: prints and keeps the operator's signed receipt) and --inbox (a directory inbox)."""
    from oracle.chain.clock import format_time
    from oracle.participant.data import round_check
    from oracle.participant.submit import submit_predictions, submit_to_service

    how, where = _delivery(ctx, to_url, inbox_url)
    check = round_check(round_, data_dir, where if how == "service" else None)
    conn = chain.connect()
    if how == "service":
        sent = submit_to_service(conn, round_, model_id, Path(predictions), where, check.live_ids,
                                 check.min_live_share, receipts_dir)
        sub, receipt = sent.submission, sent.receipt
        data = {"round": sub.round, "model_id": sub.model_id, "predictions_hash": sub.predictions_hash,
                "deadline": sub.deadline, "signer": sub.signer, "signature": sub.signature, "service": where,
                "checked_against": check.source,
                "receipt": receipt.to_json(), "receipt_path": str(sent.saved_to) if sent.saved_to else None,
                "clock_warning": sent.clock_warning}
        _warn_clock(sent.clock_warning)
        get_output().emit(data, lambda c: c.print(
            f"submitted model {sub.model_id} for round {sub.round}: {sub.predictions_hash} -> {where}\n"
            f"checked against {check.source}; the round closes {format_time(sub.deadline)}\n"
            f"receipt: received at {format_time(receipt.received_at)} (chain time), signed by the oracle "
            f"{receipt.operator}\nsaved to {sent.saved_to}", highlight=False))
        return
    result = submit_predictions(conn, round_, model_id, Path(predictions), where, check.live_ids,
                                check.min_live_share, create_inbox=create_inbox)
    sub = result.submission
    data = {"round": sub.round, "model_id": sub.model_id, "predictions_hash": sub.predictions_hash,
            "deadline": sub.deadline, "signer": sub.signer, "signature": sub.signature, "inbox": result.inbox,
            "replaced": result.replaced, "checked_against": check.source, "clock_warning": result.clock_warning}
    _warn_clock(result.clock_warning)
    verb = "replaced the earlier submission of" if result.replaced else "submitted"
    get_output().emit(data, lambda c: c.print(
        f"{verb} model {sub.model_id} for round {sub.round}: {sub.predictions_hash} -> {result.inbox}\n"
        f"checked against {check.source}; the round closes {format_time(sub.deadline)}", highlight=False))


PARTICIPANT_COMMANDS: list[click.Command] = [
    account_group, model_group, stake_command, unstake_command, withdraw_command, settle_command, submit_command,
    status_command,
]
