"""``tourney verify``: audit proposed roots from the chain and their published manifests alone.

``--round R`` audits a round's standing proposal; ``--all`` every proposal ever made (vetoed ones are reported
but only standing proposals decide the exit code); ``--watch`` follows new proposals and, with
``--guardian-account``, vetoes any that does not verify inside its challenge window (without it, exits 1 at the
first one). ``--receipts DIR`` also holds every verified round's bundle to the operator receipts under DIR
(censorship names the model; receipts that are not genuine are warnings). Exit code 0 only when everything
checked matches.

Manifest URIs come from the chain, i.e. from whoever holds the oracle key, so they are read only from places the
caller allows: ``--allow-root DIR`` (local paths under DIR; ``TOURNEY_MANIFEST_ROOTS``, separated by ``:``) and
``--allow-host HOST[:PORT]`` (http(s) to that host; ``TOURNEY_MANIFEST_HOSTS``, separated by spaces), within
``--max-file-bytes`` and ``--fetch-timeout``. At least one is required: with none, every manifest would be refused.
A URI outside them, too large or too slow fails the proposal (and the guardian vetoes it). ``--state DIR`` keeps the
watch's event log and verdicts across restarts.
"""

from __future__ import annotations

import time
from pathlib import Path
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
        rows = [
            (v.round, v.status, "OK" if v.ok else "MISMATCH", ", ".join(v.models()) or "-", v.proposal.root)
            for v in verdicts
        ]
        console.print(make_table("Verdicts", ["round", "status", "verdict", "models", "root"], rows, ["round"]))
        for v in verdicts:
            if v.ok:
                continue
            diff_rows = [(d.scope, d.subject, d.field, _exact(d.recorded), _exact(d.recomputed)) for d in v.differences]
            console.print(
                make_table(
                    f"Round {v.round} ({v.status}): {len(diff_rows)} difference(s)",
                    ["scope", "subject", "field", "recorded", "recomputed"],
                    diff_rows,
                )
            )

    return render


def _receipt_evidence(client: Any, receipts_dir: str) -> Any:
    """The receipts under ``receipts_dir`` and the oracle address they must be signed by, read from the chain
    (never from a service: the operator cannot vouch for its own receipts)."""
    from oracle.auditor.verify import ReceiptEvidence
    from oracle.participant.receipts import load_receipts

    receipts, unreadable = load_receipts(receipts_dir)
    for problem in unreadable:
        get_output().note(f"warning: {problem}")
    try:
        operator = client.oracle_address()
    except ValueError as exc:
        fail(f"cannot check receipts: {exc}")
    return ReceiptEvidence(receipts, operator)


def _host_of(url: str) -> str:
    """``host:port`` of a service URL (what --allow-host takes)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fail(f"--service {url!r} is not an http(s) URL", code=2)
    return parts.hostname + (f":{parts.port}" if parts.port else "")


@click.command("verify")
@chain_options
@click.option("--round", "round_", type=click.IntRange(min=1), default=None, help="Audit this round.")
@click.option("--all", "all_", is_flag=True, help="Audit every proposal on the chain.")
@click.option("--watch", is_flag=True, help="Follow new proposals until --timeout (or forever).")
@click.option(
    "--guardian-account",
    default=None,
    metavar="NAME",
    help="With --watch: keystore account holding GUARDIAN_ROLE that vetoes a bad root.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="With --watch: seconds between polls.",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=None, help="With --watch: stop after this many seconds."
)
@click.option(
    "--allow-root",
    "allow_roots",
    multiple=True,
    envvar="TOURNEY_MANIFEST_ROOTS",
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="Read manifests from local paths under DIR (repeatable) [env TOURNEY_MANIFEST_ROOTS, ':'-separated].",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    envvar="TOURNEY_MANIFEST_HOSTS",
    metavar="HOST[:PORT]",
    help="Read manifests over http(s) from HOST (repeatable) [env TOURNEY_MANIFEST_HOSTS, space-separated].",
)
@click.option(
    "--max-file-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="Largest bundle file read (default 1 GiB); the manifest itself at most 16 MiB.",
)
@click.option(
    "--fetch-timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds allowed to read one bundle (default 120; the watch also stops before a window ends).",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="With --watch: keep the event log and verdicts here across restarts (default: in memory).",
)
@click.option(
    "--veto-margin",
    type=click.IntRange(min=0),
    default=120,
    show_default=True,
    help="With --watch: chain seconds before a window ends by which a proposal must verify, else it is "
    "vetoed as unverified.",
)
@click.option(
    "--receipts",
    "receipts_dir",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    metavar="DIR",
    help="Also check that each verified round's bundle honours the operator receipts under DIR "
    "(as saved by `tourney submit --to`); a receipted file missing or swapped fails the round.",
)
@click.option(
    "--service",
    envvar="TOURNEY_SERVICE",
    default=None,
    metavar="URL",
    help="The operator service: read bundles from it (by content address, checked against the on-chain "
    "hash) when their on-chain URI cannot be opened here [env TOURNEY_SERVICE].",
)
@json_option
# Complexity over 15: the branches are the options (one round, --all, --watch, a guardian, a service); the work
# itself is in oracle.auditor.
def verify_command(  # noqa: C901
    chain: ChainOptions,
    round_: int | None,
    all_: bool,
    watch: bool,
    guardian_account: str | None,
    interval: float,
    timeout: float | None,
    allow_roots: tuple[str, ...],
    allow_hosts: tuple[str, ...],
    max_file_bytes: int | None,
    fetch_timeout: float | None,
    state_dir: str | None,
    veto_margin: int,
    receipts_dir: str | None,
    service: str | None,
) -> None:
    """Re-derive proposed roots (signatures, stakes, scores, leaves, root, totals, bounds, burns) and compare."""
    from oracle.auditor.verify import verify_all, verify_round
    from oracle.auditor.watch import WatchConfig, Watcher
    from oracle.bundle.fetch import FetchPolicy
    from oracle.bundle.mirrors import add_mirror
    from oracle.chain.client import TournamentClient
    from oracle.chain.tx import Sender

    if sum(bool(x) for x in (round_, all_, watch)) != 1:
        fail("pass exactly one of --round R, --all, --watch", code=2)
    if guardian_account and not watch:
        fail("--guardian-account only makes sense with --watch", code=2)
    if state_dir and not watch:
        fail("--state only makes sense with --watch", code=2)
    hosts = tuple(h for entry in allow_hosts for h in entry.replace(",", " ").split())
    if service:
        # The service the user named is a place it allows: bundles are read from it when their on-chain URI
        # cannot be opened here (the content is checked against the chain's hash either way).
        add_mirror(service)
        hosts = (*hosts, _host_of(service))
    if not allow_roots and not hosts:
        fail(
            "tourney verify reads manifests only from places you allow: pass --allow-root DIR (where the bundles "
            "are, locally) and/or --allow-host HOST[:PORT], or set TOURNEY_MANIFEST_ROOTS / TOURNEY_MANIFEST_HOSTS",
            code=2,
        )
    limits: dict[str, Any] = {}
    if max_file_bytes is not None:
        limits["max_file_bytes"] = max_file_bytes
    if fetch_timeout is not None:
        limits["timeout"] = fetch_timeout
    try:
        policy = FetchPolicy(roots=tuple(allow_roots), hosts=hosts, **limits)
    except ValueError as exc:
        fail(str(exc), code=2)
    output = get_output()
    conn = chain.connect(need_account=False)
    client = TournamentClient(conn.w3, conn.deployment)
    evidence = _receipt_evidence(client, receipts_dir) if receipts_dir else None
    if round_ or all_:
        # One read of the history, then every event the audit needs comes from memory.
        client.follow()
        client.sync_events()
    if round_:
        try:
            verdicts = [verify_round(client, round_, evidence, policy)]
        except ValueError as exc:
            fail(str(exc))
        failed = not verdicts[0].ok
    elif all_:
        verdicts = verify_all(client, evidence, policy)
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
            why = "" if verdict.ok else f": {verdict.reason()}"
            output.note(f"round {verdict.round}: {'OK' if verdict.ok else 'MISMATCH'} -> {action}{why}")

        config = WatchConfig(interval=interval, veto_margin=veto_margin)
        watcher = Watcher(
            client,
            policy,
            guardian,
            config,
            Path(state_dir) if state_dir else None,
            evidence,
            on_verdict=note,
            on_note=lambda message: output.note(f"watch: {message}"),
        )
        verdicts = watcher.run(stop=lambda: deadline is not None and time.monotonic() > deadline)
        # Without a guardian the watch returns at the first bad standing proposal: that is a failure.
        failed = guardian is None and any(not v.ok and v.standing for v in verdicts)
    for verdict in verdicts:
        for warning in verdict.warnings:
            output.note(f"warning: round {verdict.round}: {warning}")
    output.emit({"ok": not failed, "verdicts": [v.to_dict() for v in verdicts]}, _render(verdicts))
    if failed:
        raise click.exceptions.Exit(EXIT_FAILED)
