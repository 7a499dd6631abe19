"""``tourney data download`` (participants: a round's live data and rules, with a progress bar) and ``tourney data
generate`` (operators trying the tournament out: synthetic round data in the operator's layout)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from oracle.cli.output import fail, get_output, json_option

if TYPE_CHECKING:
    from rich.console import Console  # imported where used: `tourney --help` must not pay for rich

__all__ = ["data_group"]


@click.group("data")
def data_group() -> None:
    """Round data: download a round's live data (participants), generate synthetic rounds (operators)."""


@data_group.command("download")
@click.option("--round", "round_", type=click.IntRange(min=1), required=True, help="The round.")
@click.option(
    "--from",
    "service",
    envvar="TOURNEY_SERVICE",
    required=True,
    metavar="URL",
    help="The operator service's URL [env TOURNEY_SERVICE].",
)
@click.option(
    "--data-dir",
    envvar="TOURNEY_DATA_DIR",
    default="data",
    show_default=True,
    metavar="DIR",
    help="Where to save live_<r>.parquet and rules_<r>.json [env TOURNEY_DATA_DIR].",
)
@json_option
def download_command(round_: int, service: str, data_dir: str) -> None:
    """Download round R's live data (id, era, feature_*) and its published rules into --data-dir."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from oracle.participant.data import download_round

    output = get_output()
    if output.json_mode:
        done = download_round(service, round_, data_dir)
    else:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=output.err_console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"round {round_} live data", total=None)

            def advance(received: int, total: int | None) -> None:
                progress.update(task, completed=received, total=total)

            done = download_round(service, round_, data_dir, on_progress=advance)
    data = {
        "round": done.round,
        "live": str(done.live),
        "rows": done.rows,
        "sha256": done.sha256,
        "rules": str(done.rules) if done.rules else None,
    }

    def render(console: Console) -> None:
        console.print(
            f"round {done.round}: {done.rows:,} rows -> {done.live} (sha256 {done.sha256[:16]}…)", highlight=False
        )
        if done.rules:
            console.print(f"round {done.round}'s rules -> {done.rules}", highlight=False)
        else:
            console.print(
                f"the service publishes no rules for round {done.round}: files are checked against every live id",
                highlight=False,
            )

    output.emit(data, render)


@data_group.command("generate")
@click.option("--rounds", type=click.IntRange(min=1), required=True, help="How many rounds (1..N).")
@click.option(
    "--dir",
    "directory",
    required=True,
    type=click.Path(file_okay=False),
    metavar="DIR",
    help="The round data directory (what the operator's --round-data names).",
)
@click.option("--rows", type=click.IntRange(min=10), default=2_000, show_default=True, help="Live rows per round.")
@click.option("--features", type=click.IntRange(min=20), default=20, show_default=True, help="Feature columns.")
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed writes the same files.")
@json_option
def generate_command(rounds: int, directory: str, rows: int, features: int, seed: int) -> None:
    """Write synthetic live_<r>.parquet (id, era, feature_*) and targets_<r>.parquet (id, target) for rounds 1..N.

    For trying a tournament out: in a real one the targets arrive weeks after the round, and the operator publishes
    each file when it has it."""
    from oracle.simulation.data import TournamentSpec, World, write_live_round

    if features < 16:
        fail("--features must be at least 16", code=2)
    spec = TournamentSpec.round_files(seed, features, rows)
    world = World.of(spec)
    written: list[dict[str, Any]] = []
    for round in range(1, rounds + 1):
        live, targets = write_live_round(world, round, Path(directory))
        written.append({"round": round, "live": str(live), "targets": str(targets)})
    get_output().emit(
        {"directory": directory, "rounds": written},
        lambda c: c.print(
            f"wrote live and targets files for rounds 1-{rounds} ({rows:,} rows, {features} features) to {directory}",
            highlight=False,
        ),
    )
