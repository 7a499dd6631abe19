"""``tourney round``: inspect and audit published round bundles; the operator's round steps (``open``, ``close``,
``resolve``, ``activate``, defined in :mod:`oracle.cli.operator`) sit in the same group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from oracle.cli.operator import activate_command, close_command, open_command, resolve_command
from oracle.cli.output import EXIT_FAILED, get_output, json_option, make_table

if TYPE_CHECKING:
    from rich.console import Console

    from oracle.auditor.recompute import RecomputeReport

__all__ = ["round_group"]


@click.group("round")
def round_group() -> None:
    """Round bundles: list, show, recompute."""


def _exact(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


def _render_report(report: RecomputeReport) -> Any:
    def render(console: Console) -> None:
        console.print(f"round {report.round}  manifest {report.manifest_uri}", highlight=False)
        console.print(f"manifest keccak {report.manifest_keccak}", highlight=False)
        console.print(f"recomputed root {report.root}", highlight=False)
        if report.prediction_errors:
            rows = [(e.model or "(table)", e.rule, ", ".join(e.ids), e.message) for e in report.prediction_errors]
            console.print(make_table("Validation errors (models not scored)", ["model", "rule", "ids", "message"], rows))
        for note in report.notes:
            console.print(f"note: {note}", highlight=False)
        if report.ok:
            console.print("[bold green]OK[/]: every published value matches its recomputation")
            return
        # Full precision: a difference in the 12th digit must not print as two equal numbers.
        rows = [(d.scope, d.subject, d.field, _exact(d.recorded), _exact(d.recomputed)) for d in report.differences]
        console.print(make_table(f"{len(rows)} difference(s)", ["scope", "subject", "field", "recorded", "recomputed"], rows))
        console.print("[bold red]MISMATCH[/]")

    return render


@round_group.command("recompute")
@click.argument("manifest_url")
@click.option("--expect-keccak", default=None, help="The manifestHash posted on-chain (0x...), to check the manifest against.")
@click.option("--tolerance", type=float, default=None,
              help="Tolerance for corr and mmc [default: 1e-9].")
@click.option("--no-previous", is_flag=True, help="Do not follow the link to the previous round's bundle.")
@json_option
def recompute_command(manifest_url: str, expect_keccak: str | None, tolerance: float | None, no_previous: bool) -> None:
    """Re-derive a round from its bundle and report every difference; exit 0 only if all match."""
    from oracle.auditor.recompute import FLOAT_TOLERANCE, recompute

    if tolerance is None:
        tolerance = FLOAT_TOLERANCE
    output = get_output()
    report = recompute(manifest_url, expected_keccak=expect_keccak, tolerance=tolerance, check_previous=not no_previous)
    output.emit(report.to_dict(), _render_report(report))
    if not report.ok:
        raise click.exceptions.Exit(EXIT_FAILED)


@round_group.command("show")
@click.argument("manifest_url")
@json_option
def show_command(manifest_url: str) -> None:
    """Verify a bundle's files against its manifest and print the manifest."""
    from oracle.bundle.round_bundle import load_bundle

    output = get_output()
    bundle = load_bundle(manifest_url)
    manifest = bundle.manifest

    def render(console: Console) -> None:
        console.print(f"round {manifest.round}  keccak {bundle.keccak256}  root {manifest.root}", highlight=False)
        rows = [(name, e.size, e.sha256, e.keccak256) for name, e in manifest.files.items()]
        console.print(make_table("Files (all verified)", ["file", "size", "sha256", "keccak256"], rows, numeric=["size"]))
        console.print(make_table("Totals", ["total", "amount"], manifest.totals.to_dict().items(), numeric=["amount"]))
        console.print(make_table("Parameters", ["parameter", "value"], manifest.params.items()))

    output.emit({"uri": bundle.uri, "keccak256": bundle.keccak256, "manifest": manifest.to_dict()}, render)


@round_group.command("list")
@click.argument("store_url")
@json_option
def list_command(store_url: str) -> None:
    """List the rounds and manifests in an artifact store."""
    from oracle.bundle.store import ArtifactStore

    output = get_output()
    store = ArtifactStore(store_url)
    rows = [
        {"round": r, "seq": seq, "keccak256": digest, "uri": uri}
        for r in store.list_rounds()
        for seq, digest, uri in store.list_manifests(r)
    ]

    def render(console: Console) -> None:
        columns = ["round", "seq", "keccak256", "uri"]
        console.print(make_table(f"Manifests in {store_url}", columns, ([row[c] for c in columns] for row in rows), ["round", "seq"]))

    output.emit({"store": store_url, "manifests": rows}, render)


for _step in (open_command, close_command, resolve_command, activate_command):
    round_group.add_command(_step)
