"""Submission command: ``tourney submit`` checks a prediction file against the round's rules, signs it (EIP-712,
no gas) and delivers it to the operator's service (with a signed receipt) or to a directory inbox."""

from __future__ import annotations

from pathlib import Path

import click

from oracle.cli.context import ChainOptions, chain_options
from oracle.cli.output import fail, get_output, json_option
from oracle.cli.status import receipts_dir_option

__all__ = ["submit_command", "data_dir_option"]


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
        fail(
            "pass exactly one of --to URL (the operator service, with a receipt) and --inbox URL (a directory inbox)",
            code=2,
        )
    return ("service", to_url) if to_url else ("inbox", inbox_url)  # type: ignore[return-value]


data_dir_option = click.option(
    "--data-dir",
    envvar="TOURNEY_DATA_DIR",
    default="data",
    show_default=True,
    metavar="DIR",
    help="Where `tourney data download` saved the round's live data and rules [env TOURNEY_DATA_DIR].",
)


def _warn_clock(warning: str | None) -> None:
    """A stale chain clock told to people (JSON carries it as ``clock_warning``)."""
    if warning:
        get_output().note(f"warning: {warning}")


@click.command("submit")
@click.option("--round", "round_", type=int, required=True, help="The open round.")
@click.option("--model", "model_id", type=int, required=True, help="Model id.")
@click.option(
    "--to",
    "to_url",
    envvar="TOURNEY_SERVICE",
    default=None,
    metavar="URL",
    help="The operator service's base URL (HTTP); the signed receipt is checked and saved [env TOURNEY_SERVICE].",
)
@click.option(
    "--inbox",
    "inbox_url",
    envvar="TOURNEY_INBOX",
    default=None,
    metavar="URL",
    help="The operator's inbox (an existing directory or fsspec URL) [env TOURNEY_INBOX].",
)
@click.option("--create", "create_inbox", is_flag=True, help="With --inbox: create the inbox directory if missing.")
@receipts_dir_option
@data_dir_option
@click.argument("predictions", type=click.Path(dir_okay=False))
@chain_options
@json_option
@click.pass_context
def submit_command(
    ctx: click.Context,
    chain: ChainOptions,
    round_: int,
    model_id: int,
    to_url: str | None,
    inbox_url: str | None,
    create_inbox: bool,
    receipts_dir: str | None,
    data_dir: str,
    predictions: str,
) -> None:
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
        sent = submit_to_service(
            conn, round_, model_id, Path(predictions), where, check.live_ids, check.min_live_share, receipts_dir
        )
        sub, receipt = sent.submission, sent.receipt
        data = {
            "round": sub.round,
            "model_id": sub.model_id,
            "predictions_hash": sub.predictions_hash,
            "deadline": sub.deadline,
            "signer": sub.signer,
            "signature": sub.signature,
            "service": where,
            "checked_against": check.source,
            "receipt": receipt.to_json(),
            "receipt_path": str(sent.saved_to) if sent.saved_to else None,
            "clock_warning": sent.clock_warning,
        }
        _warn_clock(sent.clock_warning)
        get_output().emit(
            data,
            lambda c: c.print(
                f"submitted model {sub.model_id} for round {sub.round}: {sub.predictions_hash} -> {where}\n"
                f"checked against {check.source}; the round closes {format_time(sub.deadline)}\n"
                f"receipt: received at {format_time(receipt.received_at)} (chain time), signed by the oracle "
                f"{receipt.operator}\nsaved to {sent.saved_to}",
                highlight=False,
            ),
        )
        return
    result = submit_predictions(
        conn,
        round_,
        model_id,
        Path(predictions),
        where,
        check.live_ids,
        check.min_live_share,
        create_inbox=create_inbox,
    )
    sub = result.submission
    data = {
        "round": sub.round,
        "model_id": sub.model_id,
        "predictions_hash": sub.predictions_hash,
        "deadline": sub.deadline,
        "signer": sub.signer,
        "signature": sub.signature,
        "inbox": result.inbox,
        "replaced": result.replaced,
        "checked_against": check.source,
        "clock_warning": result.clock_warning,
    }
    _warn_clock(result.clock_warning)
    verb = "replaced the earlier submission of" if result.replaced else "submitted"
    get_output().emit(
        data,
        lambda c: c.print(
            f"{verb} model {sub.model_id} for round {sub.round}: {sub.predictions_hash} -> {result.inbox}\n"
            f"checked against {check.source}; the round closes {format_time(sub.deadline)}",
            highlight=False,
        ),
    )
