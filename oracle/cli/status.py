"""``tourney status``: a participant's models as the chain and the published bundles see them: stake, the result
not yet settled into it, pending withdrawal and when it can be taken at the latest (the exit bound D), per closed
round the score (or why the model has none), payout/burn and settlement, and the operator's receipts marked against
each round's bundle. Amounts in tokens, times in UTC."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from oracle.cli.context import ChainOptions, chain_options
from oracle.cli.output import fail, get_output, json_option, make_table

if TYPE_CHECKING:
    from rich.console import Console  # imported where used: `tourney --help` must not pay for rich

__all__ = ["receipts_dir_option", "status_command"]

receipts_dir_option = click.option(
    "--receipts-dir",
    envvar="TOURNEY_RECEIPTS_DIR",
    default=None,
    metavar="DIR",
    help="Where operator receipts are kept [env TOURNEY_RECEIPTS_DIR, default ~/.tourney/receipts].",
)


def _render_models(console: Console, statuses: list[Any], tokens: Any, now: int) -> None:
    from oracle.chain.clock import format_duration, format_time

    rows = []
    for s in statuses:
        pending = "-"
        if s.exit:
            e = s.exit
            when = (
                "now"
                if e["ready"] and not e["waiting_for"]
                else (f"by {format_time(e['deadline'], now)} at the latest" if e["deadline"] else "now")
            )
            pending = (
                f"{tokens(s.pending_withdrawal)} at risk through round {s.withdrawal_after_round}; takeable {when}"
            )
        # Results of active rounds not yet applied to the stake (settling applies them; withdraw settles first).
        unsettled = sum(
            r.get("payout", 0) - r.get("burn", 0) for r in s.rounds if r["status"] == "active" and not r["settled"]
        )
        rows.append(
            (s.model_id, s.owner, tokens(s.stake), tokens(unsettled) if unsettled else "-", pending, s.settled_round)
        )
    console.print(
        make_table(
            "Models",
            ["model", "owner", "stake", "unsettled result", "pending withdrawal", "settled through"],
            rows,
            numeric=("model", "stake", "unsettled result", "settled through"),
        )
    )
    if statuses:
        bound = statuses[0].exit_bound
        console.print(
            f"exit bound D = {format_duration(bound)}: a withdrawal requested at t can be taken by t + D "
            "whatever the oracle, guardian, pauser or admin do",
            highlight=False,
        )
    for s in statuses:
        if s.exit and s.exit["waiting_for"]:
            console.print(f"model {s.model_id}: the withdrawal waits for {s.exit['waiting_for']}", highlight=False)
        if s.tranche:
            console.print(
                f"model {s.model_id}: {tokens(s.tranche)} deposited after a close is at risk from round "
                f"{s.tranche_from}",
                highlight=False,
            )


def _render_status(statuses: list[Any], decimals: int, symbol: str, now: int) -> Any:
    from oracle.chain.clock import format_time
    from oracle.chain.units import format_tokens

    def tokens(units: int) -> str:
        return format_tokens(units, decimals, symbol)

    def render(console: Console) -> None:
        _render_models(console, statuses, tokens, now)
        for s in statuses:
            if not s.rounds:
                continue
            round_rows = []
            for r in s.rounds:
                change = r.get("payout", 0) - r.get("burn", 0) if "payout" in r else None
                note = r.get("why") or r.get("error") or ("-" if r["settled"] else "`tourney settle` applies it")
                round_rows.append(
                    (
                        r["round"],
                        r["status"],
                        r.get("corr"),
                        r.get("mmc"),
                        None if change is None else tokens(change),
                        "yes" if r["settled"] else "no",
                        note,
                    )
                )
            console.print(
                make_table(
                    f"Model {s.model_id} rounds",
                    ["round", "root", "corr", "mmc", "payout-burn", "settled", "note"],
                    round_rows,
                    numeric=("round", "corr", "mmc", "payout-burn"),
                )
            )
        for s in statuses:
            if not s.receipts:
                continue
            receipt_rows = [
                (
                    r["round"],
                    r["predictions_hash"],
                    format_time(r["received_at"], now),
                    {True: "yes", False: "NO", None: "?"}[r["genuine"]],
                    r.get("error") or r["bundle"],
                )
                for r in s.receipts
            ]
            console.print(
                make_table(
                    f"Model {s.model_id} receipts (latest per round)",
                    ["round", "predictions hash", "received at", "genuine", "bundle"],
                    receipt_rows,
                    numeric=("round",),
                )
            )

    return render


service_mirror_option = click.option(
    "--service",
    "service",
    envvar="TOURNEY_SERVICE",
    default=None,
    metavar="URL",
    help="The operator service: read round bundles from it when their on-chain URI cannot be opened here "
    "(content-checked against the chain) [env TOURNEY_SERVICE].",
)


@click.command("status")
@click.option("--model", "model_ids", type=int, multiple=True, help="Model id (repeatable; default: your models).")
@receipts_dir_option
@service_mirror_option
@chain_options
@json_option
def status_command(
    chain: ChainOptions, model_ids: tuple[int, ...], receipts_dir: str | None, service: str | None
) -> None:
    """Per model: settled stake, the result not yet settled, pending withdrawal and when it can be taken at the
    latest (the exit bound), per closed round the score (or why it has none), payout/burn, settled; and the latest
    operator receipt per round, marked by whether the round's published bundle carries that file."""
    from oracle.bundle.mirrors import add_mirror
    from oracle.participant.amounts import token_decimals
    from oracle.participant.models import ParticipantError, owned_models
    from oracle.participant.receipts import default_receipts_dir, load_receipts
    from oracle.participant.status import model_status
    from oracle.participant.submit import oracle_address
    from oracle.participant.tokens import token_symbol

    if service:
        add_mirror(service)
    conn = chain.connect(need_account=False)
    ids = list(model_ids)
    if not ids:
        if not chain.account:
            fail("pass --model M or --account NAME (to show your models)")
        ids = owned_models(conn, chain.keystore().address(chain.account))
        if not ids:
            fail(f"{chain.account} has no models: register one with `tourney model register`")
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
    output.emit(
        {"models": [s.to_dict() for s in statuses], "receipt_problems": unreadable},
        _render_status(statuses, decimals, token_symbol(conn), conn.now()),
    )
