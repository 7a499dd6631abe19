"""``tourney round``: inspect and audit published round bundles; the operator's round steps (``open``, ``close``,
``resolve``, ``activate``, defined in :mod:`oracle.cli.operator`) sit in the same group."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from oracle.cli.context import ChainOptions, chain_options
from oracle.cli.operator import activate_command, close_command, lapse_command, open_command, resolve_command
from oracle.cli.output import AMOUNT_KEYS, EXIT_FAILED, fail, get_output, json_option, make_table, tokens_cell

if TYPE_CHECKING:
    from rich.console import Console

    from oracle.auditor.recompute import RecomputeReport

__all__ = ["round_group"]


@click.group("round")
def round_group() -> None:
    """Rounds: open, close, resolve, activate (operator); wait; list, show, recompute (anyone)."""


def _exact(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _render_report(report: RecomputeReport) -> Any:
    def render(console: Console) -> None:
        console.print(f"round {report.round}  manifest {report.manifest_uri}", highlight=False)
        console.print(f"manifest keccak {report.manifest_keccak}", highlight=False)
        console.print(f"recomputed root {report.root}", highlight=False)
        if report.prediction_errors:
            rows = [(e.model or "(table)", e.rule, ", ".join(e.ids), e.message) for e in report.prediction_errors]
            console.print(
                make_table("Validation errors (models not scored)", ["model", "rule", "ids", "message"], rows)
            )
        for note in report.notes:
            console.print(f"note: {note}", highlight=False)
        if report.ok:
            console.print("[bold green]OK[/]: every published value matches its recomputation")
            return
        # Full precision: a difference in the 12th digit must not print as two equal numbers.
        diffs = [(d.scope, d.subject, d.field, _exact(d.recorded), _exact(d.recomputed)) for d in report.differences]
        console.print(
            make_table(f"{len(diffs)} difference(s)", ["scope", "subject", "field", "recorded", "recomputed"], diffs)
        )
        console.print("[bold red]MISMATCH[/]")

    return render


@round_group.command("recompute")
@click.argument("manifest_url", required=False)
@click.option(
    "--round",
    "round_",
    type=click.IntRange(min=1),
    default=None,
    help="With --service: recompute this round's standing proposal, read from the service.",
)
@click.option(
    "--service",
    envvar="TOURNEY_SERVICE",
    default=None,
    metavar="URL",
    help="The operator service: read the bundle from it (by content address) when the manifest URI cannot "
    "be opened here [env TOURNEY_SERVICE].",
)
@click.option(
    "--expect-keccak", default=None, help="The manifestHash posted on-chain (0x...), to check the manifest against."
)
@click.option("--tolerance", type=float, default=None, help="Tolerance for corr and mmc [default: 1e-9].")
@click.option("--no-previous", is_flag=True, help="Do not follow the link to the previous round's bundle.")
@json_option
def recompute_command(
    manifest_url: str | None,
    round_: int | None,
    service: str | None,
    expect_keccak: str | None,
    tolerance: float | None,
    no_previous: bool,
) -> None:
    """Re-derive a round from its bundle and report every difference; exit 0 only if all match.

    Give the manifest's URL, or --round R with --service URL (the service names the round's standing manifest and
    serves its files; --expect-keccak, or `tourney verify`, ties it to the chain)."""
    from oracle.auditor.recompute import FLOAT_TOLERANCE, recompute
    from oracle.bundle.mirrors import add_mirror

    if tolerance is None:
        tolerance = FLOAT_TOLERANCE
    output = get_output()
    if service:
        add_mirror(service)
    if manifest_url is None:
        if round_ is None or not service:
            fail("give the manifest's URL, or --round R with --service URL", code=2)
        manifest_url, published_keccak = _standing_manifest(service, round_)
        expect_keccak = expect_keccak or published_keccak
    report = recompute(manifest_url, expected_keccak=expect_keccak, tolerance=tolerance, check_previous=not no_previous)
    output.emit(report.to_dict(), _render_report(report))
    if not report.ok:
        raise click.exceptions.Exit(EXIT_FAILED)


def _standing_manifest(service: str, round: int) -> tuple[str, str]:
    """(manifest URI, keccak) of a round's standing proposal, as the service reports it."""
    from oracle.participant.service_client import ServiceClient

    found = ServiceClient(service)._call("GET", f"/rounds/{int(round)}/manifest")
    return str(found["manifest_uri"]), str(found["manifest_hash"])


@round_group.command("show")
@click.argument("manifest_url")
@json_option
def show_command(manifest_url: str) -> None:
    """Verify a bundle's files against its manifest and print the manifest."""
    from oracle.bundle.round_bundle import load_bundle

    output = get_output()
    _require_manifest_file(manifest_url)
    bundle = load_bundle(manifest_url)
    manifest = bundle.manifest

    def render(console: Console) -> None:
        console.print(f"round {manifest.round}  keccak {bundle.keccak256}  root {manifest.root}", highlight=False)
        rows = [(name, e.size, e.sha256, e.keccak256) for name, e in manifest.files.items()]
        console.print(
            make_table("Files (all verified)", ["file", "size", "sha256", "keccak256"], rows, numeric=["size"])
        )
        # Amounts in tokens for people; --json keeps the manifest's exact smallest units.
        totals = [(name, tokens_cell(units)) for name, units in manifest.totals.to_dict().items()]
        console.print(make_table("Totals", ["total", "tokens"], totals, numeric=["tokens"]))
        params = [
            (name, f"{tokens_cell(value)} tokens" if name in AMOUNT_KEYS else value)
            for name, value in manifest.params.items()
        ]
        console.print(make_table("Parameters", ["parameter", "value"], params))

    output.emit({"uri": bundle.uri, "keccak256": bundle.keccak256, "manifest": manifest.to_dict()}, render)


@round_group.command("list")
@click.argument("store_url", envvar="TOURNEY_STORE", required=False)
@json_option
def list_command(store_url: str | None) -> None:
    """List the rounds and manifests in an artifact store (STORE_URL, default $TOURNEY_STORE)."""
    from oracle.bundle.store import ArtifactStore

    output = get_output()
    if not store_url:
        fail("name the artifact store: tourney round list STORE (or set TOURNEY_STORE)", code=2)
    store = ArtifactStore(store_url)
    if not store.fs.exists(store.root):
        fail(f"artifact store {store_url} does not exist: check the path (the operator's --store)")
    rows = [
        {"round": r, "seq": seq, "keccak256": digest, "uri": uri}
        for r in store.list_rounds()
        for seq, digest, uri in store.list_manifests(r)
    ]

    def render(console: Console) -> None:
        if not rows:
            console.print(f"no round published in {store_url} yet", highlight=False)
            return
        columns = ["round", "seq", "keccak256", "uri"]
        console.print(
            make_table(
                f"Manifests in {store_url}", columns, ([row[c] for c in columns] for row in rows), ["round", "seq"]
            )
        )

    output.emit({"store": store_url, "manifests": rows}, render)


for _step in (open_command, close_command, resolve_command, activate_command, lapse_command):
    round_group.add_command(_step)


def _require_manifest_file(url: str) -> None:
    """A local directory is not a manifest: say what to pass instead (the store's manifests, newest last)."""
    path = Path(url)
    if "://" in url or not path.is_dir():
        return
    found = sorted(str(m) for m in path.glob("rounds/*/manifest-*.json")) or sorted(
        str(m) for m in path.glob("manifest-*.json")
    )
    hint = f"; e.g. {found[-1]}" if found else ("; `tourney round list STORE` lists a store's manifests")
    fail(f"{url} is a directory: pass a manifest file (<store>/rounds/<r>/manifest-<seq>-<keccak>.json){hint}")


@round_group.command("wait")
@click.argument("round_", metavar="ROUND", type=click.IntRange(min=1))
@click.option(
    "--until",
    "until",
    type=click.Choice(["open", "closed", "proposed", "active"]),
    default="active",
    show_default=True,
    help="Wait until the round is at least this far.",
)
@click.option("--timeout", type=click.FloatRange(min=0), default=None, help="Give up after this many seconds (exit 1).")
@click.option("--poll", type=click.FloatRange(min=0.1), default=2.0, show_default=True, help="Seconds between reads.")
@chain_options
@json_option
def wait_command(chain: ChainOptions, round_: int, until: str, timeout: float | None, poll: float) -> None:
    """Wait until ROUND is open, closed, proposed or active (by the chain), saying what it waits for."""
    from oracle.chain.clock import stale_clock_warning
    from oracle.participant.waiting import round_progress

    output = get_output()
    conn = chain.connect(need_account=False)
    deadline = None if timeout is None else time.monotonic() + timeout
    said = warned = None
    while True:
        reached, status, detail = round_progress(conn.client, round_, until)
        if reached:
            break
        # A new line when what it waits for changes, not on every tick of the countdown.
        reason = re.sub(r" \((in|[^)]* ago)[^)]*\)", "", detail)
        if reason != said:
            output.note(f"waiting: {detail}")
            said = reason
        stale = stale_clock_warning(conn.now())
        if stale and not warned:
            output.note(f"warning: {stale}")
            warned = True
        if deadline is not None and time.monotonic() > deadline:
            fail(f"round {round_} is not {until} after {timeout:.0f} s: {detail}")
        time.sleep(poll)
    output.emit(
        {"round": round_, "status": status, "until": until},
        lambda c: c.print(f"round {round_} is {status}", highlight=False),
    )
