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
from oracle.chain.hashes import tx_hash

if TYPE_CHECKING:
    from rich.console import Console

    from oracle.chain.keystore import Keystore

__all__ = ["PARTICIPANT_COMMANDS", "account_group", "model_group", "stake_command", "unstake_command",
           "withdraw_command", "settle_command", "submit_command", "status_command"]


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
    total = conn.tournament.functions.modelInfo(model_id).call()[0][1]
    data = {"model_id": model_id, "amount": units, "amount_tokens": format_amount(units, decimals),
            "net_deposits": total, "tx": tx_hash(receipt), "gas": receipt["gasUsed"]}
    get_output().emit(data, lambda c: c.print(
        f"staked {format_amount(units, decimals)} on model {model_id}; it counts from the next round that closes "
        f"(tx {tx_hash(receipt)})", highlight=False))


@click.command("unstake")
@click.option("--model", "model_id", type=int, required=True, help="Model id.")
@click.argument("amount")
@chain_options
@json_option
def unstake_command(chain: ChainOptions, model_id: int, amount: str) -> None:
    """Request a withdrawal of AMOUNT tokens; it stays at risk in every round already closed."""
    from oracle.participant.amounts import format_amount
    from oracle.participant.stake import request_withdrawal

    conn = chain.connect()
    units, decimals = _amount(conn, amount)
    pending, after_round, receipt = request_withdrawal(conn, model_id, units)
    data = {"model_id": model_id, "requested": units, "pending": pending, "after_round": after_round,
            "tx": tx_hash(receipt)}
    waits = f"once round {after_round} is settled" if after_round else "now"
    get_output().emit(data, lambda c: c.print(
        f"withdrawal of {format_amount(pending, decimals)} pending on model {model_id}; withdraw {waits} "
        f"(tx {tx_hash(receipt)})", highlight=False))


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
        result = settle_model(conn, model_id, round_)
    data = {"round": result.round, "settled": result.settled, "already_settled": result.skipped,
            "gas": result.gas_used, "transactions": result.transactions}
    get_output().emit(data, lambda c: c.print(
        f"round {result.round}: settled {len(result.settled)} model(s), {len(result.skipped)} already settled, "
        f"{result.gas_used} gas in {len(result.transactions)} transaction(s)", highlight=False))


# ------------------------------------------------------------------------------------------------ submissions


receipts_dir_option = click.option(
    "--receipts-dir", envvar="TOURNEY_RECEIPTS_DIR", default=None, metavar="DIR",
    help="Where operator receipts are kept [env TOURNEY_RECEIPTS_DIR, default ~/.tourney/receipts].")


def _delivery(ctx: click.Context, to_url: str | None, inbox_url: str | None) -> tuple[str, str]:
    """("service", URL) or ("inbox", URL): exactly one way of delivering must be chosen.

    A TOURNEY_INBOX left in the environment does not clash with an explicit ``--to``: only what was typed on the
    command line counts as a choice when both are present."""
    if to_url and inbox_url and ctx.get_parameter_source("inbox_url") is click.core.ParameterSource.ENVIRONMENT:
        inbox_url = None
    if bool(to_url) == bool(inbox_url):
        fail("pass exactly one of --to URL (the operator service, with a receipt) and --inbox URL (a directory "
             "inbox)", code=2)
    return ("service", to_url) if to_url else ("inbox", inbox_url)  # type: ignore[return-value]


@click.command("submit")
@click.option("--round", "round_", type=int, required=True, help="The open round.")
@click.option("--model", "model_id", type=int, required=True, help="Model id.")
@click.option("--to", "to_url", default=None, metavar="URL",
              help="The operator service's base URL (HTTP); the signed receipt is checked and saved.")
@click.option("--inbox", "inbox_url", envvar="TOURNEY_INBOX", default=None, metavar="URL",
              help="The operator's inbox (directory or fsspec URL) [env TOURNEY_INBOX].")
@receipts_dir_option
@click.option("--live-ids", type=click.Path(dir_okay=False), default=None,
              help="A table with the round's live ids (column 'id'); default: the file's own ids.")
@click.option("--min-live-share", type=float, default=1.0, show_default=True,
              help="Share of live ids the file must predict (the round's scoring parameter).")
@click.argument("predictions", type=click.Path(dir_okay=False))
@chain_options
@json_option
@click.pass_context
def submit_command(ctx: click.Context, chain: ChainOptions, round_: int, model_id: int, to_url: str | None,
                   inbox_url: str | None, receipts_dir: str | None, live_ids: str | None, min_live_share: float,
                   predictions: str) -> None:
    """Validate, sign (EIP-712, no gas) and deliver PREDICTIONS for a model in an open round.

    Exactly one of --to (the operator service over HTTP: prints and keeps the operator's signed receipt) and
    --inbox (a directory inbox)."""
    from oracle.participant.submit import submit_predictions, submit_to_service
    from oracle.scoring.tables import load_table

    how, where = _delivery(ctx, to_url, inbox_url)
    ids = None
    if live_ids:
        ids = [str(i) for i in load_table(live_ids)["id"]]
    conn = chain.connect()
    if how == "service":
        sent = submit_to_service(conn, round_, model_id, Path(predictions), where, ids, min_live_share,
                                 receipts_dir)
        sub, receipt = sent.submission, sent.receipt
        data = {"round": sub.round, "model_id": sub.model_id, "predictions_hash": sub.predictions_hash,
                "deadline": sub.deadline, "signer": sub.signer, "signature": sub.signature, "service": where,
                "receipt": receipt.to_json(), "receipt_path": str(sent.saved_to) if sent.saved_to else None}
        get_output().emit(data, lambda c: c.print(
            f"submitted model {sub.model_id} for round {sub.round}: {sub.predictions_hash} (deadline "
            f"{sub.deadline}) -> {where}\nreceipt: received at {receipt.received_at} (chain time), signed by the "
            f"oracle {receipt.operator}: {receipt.signature}\nsaved to {sent.saved_to}", highlight=False))
        return
    result = submit_predictions(conn, round_, model_id, Path(predictions), where, ids, min_live_share)
    sub = result.submission
    data = {"round": sub.round, "model_id": sub.model_id, "predictions_hash": sub.predictions_hash,
            "deadline": sub.deadline, "signer": sub.signer, "signature": sub.signature, "inbox": result.inbox,
            "replaced": result.replaced}
    verb = "replaced the earlier submission of" if result.replaced else "submitted"
    get_output().emit(data, lambda c: c.print(
        f"{verb} model {sub.model_id} for round {sub.round}: {sub.predictions_hash} (deadline {sub.deadline}) "
        f"-> {result.inbox}", highlight=False))


# ------------------------------------------------------------------------------------------------ status


def _render_status(statuses: list[Any], decimals: int) -> Any:
    from oracle.participant.amounts import format_amount

    def render(console: Console) -> None:
        rows = []
        for s in statuses:
            pending = (f"{format_amount(s.pending_withdrawal, decimals)} after round {s.withdrawal_after_round}"
                       if s.pending_withdrawal else "-")
            rows.append((s.model_id, s.owner, format_amount(s.stake, decimals), pending, s.settled_round))
        console.print(make_table("Models", ["model", "owner", "stake", "pending withdrawal", "settled through"],
                                 rows, numeric=("model", "stake", "settled through")))
        for s in statuses:
            if not s.rounds:
                continue
            round_rows = []
            for r in s.rounds:
                change = r.get("payout", 0) - r.get("burn", 0) if "payout" in r else None
                round_rows.append((
                    r["round"], r["status"], r.get("corr"), r.get("mmc"),
                    None if change is None else format_amount(change, decimals),
                    "yes" if r["settled"] else "no", r.get("error") or f"{len(r.get('proof', []))} nodes",
                ))
            console.print(make_table(f"Model {s.model_id} rounds", ["round", "root", "corr", "mmc", "payout-burn",
                                                                    "settled", "proof"],
                                     round_rows, numeric=("round", "corr", "mmc", "payout-burn")))
        for s in statuses:
            if not s.receipts:
                continue
            receipt_rows = [(r["round"], r["predictions_hash"], r["received_at"],
                             {True: "yes", False: "NO", None: "?"}[r["genuine"]], r.get("error") or r["bundle"])
                            for r in s.receipts]
            console.print(make_table(f"Model {s.model_id} receipts (latest per round)",
                                     ["round", "predictions hash", "received at", "genuine", "bundle"],
                                     receipt_rows, numeric=("round", "received at")))

    return render


@click.command("status")
@click.option("--model", "model_ids", type=int, multiple=True, help="Model id (repeatable; default: your models).")
@receipts_dir_option
@chain_options
@json_option
def status_command(chain: ChainOptions, model_ids: tuple[int, ...], receipts_dir: str | None) -> None:
    """Per model: settled stake, pending withdrawal, per proposed round the score, payout/burn, settled, proof; and
    the latest operator receipt per round, marked by whether the round's published bundle carries that file."""
    from oracle.participant.models import owned_models, ParticipantError
    from oracle.participant.amounts import token_decimals
    from oracle.participant.status import model_status
    from oracle.participant.submit import oracle_address
    from oracle.participant.receipts import default_receipts_dir, load_receipts

    conn = chain.connect(need_account=False)
    ids = list(model_ids)
    if not ids:
        if not chain.account:
            fail("pass --model M or --account NAME (to show your models)")
        ids = owned_models(conn, chain.keystore().address(chain.account))
    receipts, unreadable = load_receipts(receipts_dir or default_receipts_dir())
    try:
        oracle = oracle_address(conn) if receipts else None
    except ParticipantError as exc:
        oracle, unreadable = None, [*unreadable, f"cannot tell genuine receipts: {exc}"]
    statuses = [model_status(conn, m, receipts, oracle) for m in ids]
    decimals = token_decimals(conn)
    output = get_output()
    for problem in unreadable:
        output.note(f"warning: {problem}")
    output.emit({"models": [s.to_dict() for s in statuses], "receipt_problems": unreadable},
                _render_status(statuses, decimals))


PARTICIPANT_COMMANDS: list[click.Command] = [
    account_group, model_group, stake_command, unstake_command, withdraw_command, settle_command, submit_command,
    status_command,
]
