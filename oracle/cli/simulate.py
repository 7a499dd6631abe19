"""``tourney simulate``: a synthetic tournament through the real scoring and settlement code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from oracle.cli.output import get_output, json_option, make_table

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["simulate"]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _weights(text: str) -> list[tuple[float, float]]:
    """'1:0,0.5:2' -> [(1.0, 0.0), (0.5, 2.0)]: (corr_weight, mmc_weight) pairs."""
    pairs = []
    for item in text.split(","):
        corr, _, mmc = item.partition(":")
        pairs.append((float(corr), float(mmc)))
    return pairs


@click.command("simulate")
@click.option("--rounds", type=click.IntRange(1), default=30, show_default=True, help="Live rounds to run.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the data and of every participant.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="Directory for data, results and report.html.")
@click.option("--models", "n_models", type=click.IntRange(5), default=16, show_default=True, help="Models (about half are spammers).")
@click.option("--live-rows", type=click.IntRange(10), default=2000, show_default=True, help="Rows per live era.")
@click.option("--features", "n_features", type=click.IntRange(40), default=60, show_default=True, help="Obfuscated features.")
@click.option("--history-eras", type=click.IntRange(1), default=50, show_default=True)
@click.option("--history-rows", type=click.IntRange(10), default=1000, show_default=True, help="Rows per history era.")
@click.option("--regime-length", type=click.IntRange(1), default=20, show_default=True, help="Eras between flips of the risky features.")
@click.option("--corr-weight", type=float, default=0.5, show_default=True)
@click.option("--mmc-weight", type=float, default=2.0, show_default=True)
@click.option("--clip", type=float, default=0.05, show_default=True)
@click.option("--payout-threshold", type=int, default=10**9, show_default=True, help="In whole tokens.")
@click.option("--retrain-every", type=click.IntRange(1), default=None,
              help="Participants retrain every N rounds on history + resolved rounds (default: train once).")
@click.option("--backend", type=click.Choice(["offchain", "onchain"]), default="offchain", show_default=True,
              help="Where stakes live: the in-memory ledger, or the real contracts on a fresh local Anvil.")
@click.option("--sweep", is_flag=True, help="Also replay the rounds over the grid below.")
@click.option("--sweep-clips", default="0.02,0.05,0.1", show_default=True)
@click.option("--sweep-weights", default="1:0,0.5:2,0:3", show_default=True, help="corr:mmc pairs.")
@click.option("--sweep-thresholds", default="1000000000", show_default=True, help="Payout thresholds in whole tokens.")
@json_option
def simulate(
    rounds: int, seed: int, out_dir: str, n_models: int, live_rows: int, n_features: int, history_eras: int,
    history_rows: int, regime_length: int, corr_weight: float, mmc_weight: float, clip: float,
    payout_threshold: int, retrain_every: int | None, backend: str, sweep: bool, sweep_clips: str,
    sweep_weights: str, sweep_thresholds: str,
) -> None:
    """Run N rounds: participants train, predict, stake; rounds are scored and settled.

    With ``--backend onchain`` every round is settled through the contracts on a fresh local Anvil (each
    participant kind stakes from its own account; roots proposed, activated and settled by multiproof);
    the sweep, if asked for, replays off-chain. Writes DIR/data (Parquet), DIR/submissions, DIR/results
    and DIR/report.html (and DIR/chain/ manifests with the on-chain back end).
    """
    from rich.progress import Progress as RichProgress

    from oracle.scoring.params import RoundParams
    from oracle.simulation.data import TournamentSpec
    from oracle.simulation.engine import prepare, settle
    from oracle.simulation.onchain import OnChainLedger
    from oracle.simulation.participants import TOKEN
    from oracle.simulation.report import write_report
    from oracle.simulation.sweep import SweepGrid, outcome, run_sweep

    output = get_output()
    spec = TournamentSpec(seed=seed, n_features=n_features, history_eras=history_eras,
                          history_rows_per_era=history_rows, live_rows=live_rows, regime_length=regime_length)
    params = RoundParams(corr_weight=corr_weight, mmc_weight=mmc_weight, clip=clip,
                         payout_threshold=payout_threshold * TOKEN)
    out = Path(out_dir)
    with RichProgress(console=output.err_console, disable=output.json_mode, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        prepared = prepare(spec, rounds, out, n_models=n_models, progress=progress, retrain_every=retrain_every)
        prepared.memoise = sweep
        chain: dict[str, Any] = {}
        if backend == "onchain":
            owners = {p.model_id: p.kind for p in prepared.participants}
            with OnChainLedger.start(owners, out / "chain", clip=clip) as ledger:
                result = settle(prepared, params, backend=ledger, progress=progress)
                chain = {"tournament": ledger.deployment.tournament, "gas": dict(ledger.gas),
                         "roots": {str(r): c.root for r, c in sorted(ledger.rounds.items())}}
        else:
            result = settle(prepared, params, progress=progress)
        result.write(out / "results")
        table = None
        if sweep:
            grid = SweepGrid(_floats(sweep_clips), _weights(sweep_weights),
                             [int(t) * TOKEN for t in _floats(sweep_thresholds)])
            table = run_sweep(prepared, grid, progress=progress)
            table.to_csv(out / "results" / "sweep.csv", index=False)
    report = write_report(result, out, table)
    effects = outcome(result)
    data = {
        "report": str(report),
        "rounds": rounds,
        "seed": seed,
        "backend": backend,
        "chain": chain,
        "effects": effects,
        "final_balances": {str(m): v for m, v in sorted(result.final_balances.items())},
        "sweep": table if table is not None else [],
    }

    def render(console: Console) -> None:
        rows = [(k, f"{v:.6g}") for k, v in effects.items()]
        console.print(make_table(f"simulation: {rounds} rounds, seed {seed}", ["measure", "value"], rows, numeric=["value"]))
        console.print(f"report: {report}")

    output.emit(data, render)
