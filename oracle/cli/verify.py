"""``tourney verify``: audit proposed roots from the chain and their published manifests alone.

``--round R`` audits a round's standing proposal; ``--all`` every proposal ever made (vetoed ones are reported
but only standing proposals decide the exit code); ``--watch`` follows new proposals and, with
``--guardian-account``, vetoes any that does not verify inside its challenge window (without it, exits 1 at the
first one). ``--receipts DIR`` also holds every verified round's bundle to the operator receipts under DIR
(censorship names the model; receipts that are not genuine are warnings). Exit code 0 only when everything
checked matches.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from oracle.cli.context import ChainOptions, chain_options, read_password
from oracle.cli.output import EXIT_FAILED, fail, get_output, json_option, make_table

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["verify_command"]


def _exact(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _render(verdicts: list[Any]) -> Any:
    def render(console: Console) -> None:
        rows = [(v.round, v.status, "OK" if v.ok else "MISMATCH", ", ".join(v.models()) or "-", v.proposal.root)
                for v in verdicts]
        console.print(make_table("Verdicts", ["round", "status", "verdict", "models", "root"], rows, ["round"]))
        for v in verdicts:
            if v.ok:
                continue
            diff_rows = [(d.scope, d.subject, d.field, _exact(d.recorded), _exact(d.recomputed)) for d in v.differences]
            console.print(make_table(f"Round {v.round} ({v.status}): {len(diff_rows)} difference(s)",
                                     ["scope", "subject", "field", "recorded", "recomputed"], diff_rows))

    return render


def _receipt_evidence(client: Any, receipts_dir: str) -> Any:
    """The receipts under ``receipts_dir`` and the oracle address they must be signed by, read from the chain
    (never from a service: the operator cannot vouch for its own receipts)."""
    from oracle.participant.receipts import load_receipts
    from oracle.auditor.verify import ReceiptEvidence

    receipts, unreadable = load_receipts(receipts_dir)
    for problem in unreadable:
        get_output().note(f"warning: {problem}")
    try:
        operator = client.oracle_address()
    except ValueError as exc:
        fail(f"cannot check receipts: {exc}")
    return ReceiptEvidence(receipts, operator)


@click.command("verify")
@chain_options
@click.option("--round", "round_", type=click.IntRange(min=1), default=None, help="Audit this round.")
@click.option("--all", "all_", is_flag=True, help="Audit every proposal on the chain.")
@click.option("--watch", is_flag=True, help="Follow new proposals until --timeout (or forever).")
@click.option("--guardian-account", default=None, metavar="NAME",
              help="With --watch: keystore account holding GUARDIAN_ROLE that vetoes a bad root.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              help="With --watch: seconds between polls.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, help="With --watch: stop after this many seconds.")
@click.option("--receipts", "receipts_dir", type=click.Path(file_okay=False, exists=True), default=None, metavar="DIR",
              help="Also check that each verified round's bundle honours the operator receipts under DIR "
                   "(as saved by `tourney submit --to`); a receipted file missing or swapped fails the round.")
@json_option
def verify_command(chain: ChainOptions, round_: int | None, all_: bool, watch: bool, guardian_account: str | None,
                   interval: float, timeout: float | None, receipts_dir: str | None) -> None:
    """Re-derive proposed roots (signatures, stakes, scores, leaves, root, totals, bounds, burns) and compare."""
    from oracle.chain.client import TournamentClient
    from oracle.chain.tx import Sender
    from oracle.auditor.verify import verify_all, verify_round
    from oracle.auditor.watch import watch as watch_proposals

    if sum(bool(x) for x in (round_, all_, watch)) != 1:
        fail("pass exactly one of --round R, --all, --watch", code=2)
    if guardian_account and not watch:
        fail("--guardian-account only makes sense with --watch", code=2)
    output = get_output()
    conn = chain.connect(need_account=False)
    client = TournamentClient(conn.w3, conn.deployment)
    evidence = _receipt_evidence(client, receipts_dir) if receipts_dir else None
    if round_:
        try:
            verdicts = [verify_round(client, round_, evidence)]
        except ValueError as exc:
            fail(str(exc))
        failed = not verdicts[0].ok
    elif all_:
        verdicts = verify_all(client, evidence)
        failed = any(not v.ok for v in verdicts if v.standing)
    else:
        guardian = None
        if guardian_account:
            keystore = chain.keystore()
            address = keystore.address(guardian_account)
            account = keystore.unlock(guardian_account, read_password(f"Password for {guardian_account} ({address})"))
            guardian = Sender(conn.w3, account)
        deadline = None if timeout is None else time.monotonic() + timeout

        def note(verdict: Any, action: str) -> None:
            output.note(f"round {verdict.round}: {'OK' if verdict.ok else 'MISMATCH'} -> {action}")

        verdicts = watch_proposals(client, guardian, interval=interval, on_verdict=note,
                                   stop=lambda: deadline is not None and time.monotonic() > deadline,
                                   receipts=evidence)
        # Without a guardian the watch returns at the first bad standing proposal: that is a failure.
        failed = guardian is None and any(not v.ok and v.standing for v in verdicts)
    for verdict in verdicts:
        for warning in verdict.warnings:
            output.note(f"warning: round {verdict.round}: {warning}")
    output.emit({"ok": not failed, "verdicts": [v.to_dict() for v in verdicts]}, _render(verdicts))
    if failed:
        raise click.exceptions.Exit(EXIT_FAILED)
