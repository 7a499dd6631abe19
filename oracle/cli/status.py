"""``tourney status``: a participant's models as the chain and the published bundles see them: stake, pending
withdrawal and when it can be taken at the latest (the exit bound D), per closed round the score, payout/burn,
settlement and proof, and the operator's receipts marked against each round's bundle."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from oracle.cli.context import ChainOptions, chain_options
from oracle.cli.output import fail, get_output, json_option, make_table

__all__ = ["receipts_dir_option", "status_command"]

receipts_dir_option = click.option(
    "--receipts-dir", envvar="TOURNEY_RECEIPTS_DIR", default=None, metavar="DIR",
    help="Where operator receipts are kept [env TOURNEY_RECEIPTS_DIR, default ~/.tourney/receipts].")


def _render_status(statuses: list[Any], decimals: int) -> Any:
    from oracle.participant.amounts import format_amount

    def render(console: Console) -> None:
        rows = []
        for s in statuses:
            pending = "-"
            if s.exit:
                e = s.exit
                when = "now" if e["ready"] and not e["waiting_for"] else (
                    f"by {e['deadline']} at the latest" if e["deadline"] else "now")
                pending = (f"{format_amount(s.pending_withdrawal, decimals)} at risk through round "
                           f"{s.withdrawal_after_round}; takeable {when}")
            rows.append((s.model_id, s.owner, format_amount(s.stake, decimals), pending, s.settled_round))
        console.print(make_table("Models", ["model", "owner", "stake", "pending withdrawal", "settled through"],
                                 rows, numeric=("model", "stake", "settled through")))
        if statuses:
            days = statuses[0].exit_bound / 86_400
            console.print(f"exit bound D = {statuses[0].exit_bound} s ({days:.3g} days): a withdrawal requested at t "
                          "can be taken by t + D whatever the oracle, guardian, pauser or admin do", highlight=False)
        for s in statuses:
            if s.exit and s.exit["waiting_for"]:
                console.print(f"model {s.model_id}: the withdrawal waits for {s.exit['waiting_for']}",
                              highlight=False)
            if s.tranche:
                console.print(f"model {s.model_id}: {format_amount(s.tranche, decimals)} deposited after a close is "
                              f"at risk from round {s.tranche_from}", highlight=False)
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
    """Per model: settled stake, pending withdrawal and when it can be taken at the latest (the exit bound), per
    closed round the score, payout/burn, settled, proof; and the latest operator receipt per round, marked by
    whether the round's published bundle carries that file."""
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


