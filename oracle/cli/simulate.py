"""``tourney simulate``: synthetic tournaments through the real scoring and settlement code, over many seeds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from oracle.cli.output import get_output, json_option, make_table

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["simulate"]

# The simulation's modules (pandas, pyarrow, scikit-learn, matplotlib) are imported inside the command:
# importing them here would slow every other ``tourney`` command's start-up.


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def _weights(text: str) -> list[tuple[float, float]]:
    """'1:0,0.5:2' -> [(1.0, 0.0), (0.5, 2.0)]: (corr_weight, mmc_weight) pairs."""
    pairs = []
    for item in text.split(","):
        corr, _, mmc = item.partition(":")
        pairs.append((float(corr), float(mmc)))
    return pairs


def _seed_list(seed: int | None, seeds: str | None) -> list[int]:
    from oracle.simulation.seeds import parse_seeds

    if seed is not None and seeds is not None:
        raise click.UsageError("give --seed N or --seeds A-B, not both")
    if seeds is None:
        return [0 if seed is None else seed]
    try:
        return parse_seeds(seeds)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--seeds") from exc


@click.command("simulate")
@click.option("--rounds", type=click.IntRange(1), default=30, show_default=True, help="Live rounds to run.")
@click.option("--seed", type=click.IntRange(0), default=None, help="One seed of the data and every participant [0].")
@click.option(
    "--seeds",
    "seeds_text",
    default=None,
    help="Several seeds, e.g. 0-19 or 1,5,7 or 0-3,8: each a whole tournament; claims are judged across them.",
)
@click.option(
    "--jobs", type=click.IntRange(1), default=None, help="Seeds run at once, one process each [one per core]."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Directory for data, results and report.html (one seed-NNNN/ per seed when several).",
)
@click.option(
    "--models",
    "n_models",
    type=click.IntRange(5),
    default=16,
    show_default=True,
    help="Models (about half are spammers).",
)
@click.option("--live-rows", type=click.IntRange(10), default=2000, show_default=True, help="Rows per live era.")
@click.option(
    "--features", "n_features", type=click.IntRange(40), default=60, show_default=True, help="Obfuscated features."
)
@click.option("--history-eras", type=click.IntRange(1), default=50, show_default=True)
@click.option("--history-rows", type=click.IntRange(10), default=1000, show_default=True, help="Rows per history era.")
@click.option(
    "--regime-length",
    type=click.IntRange(1),
    default=20,
    show_default=True,
    help="Eras between flips of the risky features.",
)
@click.option("--corr-weight", type=float, default=0.5, show_default=True)
@click.option("--mmc-weight", type=float, default=2.0, show_default=True)
@click.option("--clip", type=float, default=0.05, show_default=True)
@click.option("--payout-threshold", type=int, default=10**9, show_default=True, help="In whole tokens.")
@click.option(
    "--prize-top-share",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.1,
    show_default=True,
    help="No-stake baseline: share of the models that win each round's prize.",
)
@click.option(
    "--retrain-every",
    type=click.IntRange(1),
    default=None,
    help="Participants retrain every N rounds on history + resolved rounds (default: train once).",
)
@click.option(
    "--backend",
    type=click.Choice(["offchain", "onchain"]),
    default="offchain",
    show_default=True,
    help="Where stakes live: the in-memory ledger, or the real contracts on a fresh local Anvil (one seed).",
)
@click.option("--sweep", is_flag=True, help="Also replay the rounds over the grid below (one seed).")
@click.option("--sweep-clips", default="0.02,0.05,0.1", show_default=True)
@click.option("--sweep-weights", default="1:0,0.5:2,0:3", show_default=True, help="corr:mmc pairs.")
@click.option("--sweep-thresholds", default="1000000000", show_default=True, help="Payout thresholds in whole tokens.")
@json_option
def simulate(
    rounds: int,
    seed: int | None,
    seeds_text: str | None,
    jobs: int | None,
    out_dir: str,
    n_models: int,
    live_rows: int,
    n_features: int,
    history_eras: int,
    history_rows: int,
    regime_length: int,
    corr_weight: float,
    mmc_weight: float,
    clip: float,
    payout_threshold: int,
    prize_top_share: float,
    retrain_every: int | None,
    backend: str,
    sweep: bool,
    sweep_clips: str,
    sweep_weights: str,
    sweep_thresholds: str,
) -> None:
    """Run N rounds per seed: participants train, predict, stake; rounds are scored and settled; the four
    claims of the mechanism are measured on every seed and judged across seeds (95% intervals).

    With ``--backend onchain`` every round is settled through the contracts on a fresh local Anvil (each
    participant kind stakes from its own account; roots proposed with each round's full bundle, activated
    and settled by multiproof) and every round is audited as ``tourney verify --all`` does; the sweep, if asked
    for, replays off-chain. Writes DIR/report.html and, per seed, data (Parquet), submissions and results
    (and chain/, the round bundles, with the on-chain back end).
    """
    from rich.progress import Progress as RichProgress

    from oracle.scoring.params import RoundParams
    from oracle.simulation.claims import judge_all, seed_measures
    from oracle.simulation.engine import prepare, settle
    from oracle.simulation.onchain import OnChainLedger
    from oracle.simulation.participants import TOKEN
    from oracle.simulation.report import write_report
    from oracle.simulation.seeds import SeedConfig, SeedRun, run_seeds
    from oracle.simulation.sweep import SweepGrid, run_sweep

    output = get_output()
    seeds = _seed_list(seed, seeds_text)
    if len(seeds) > 1 and (backend == "onchain" or sweep):
        raise click.UsageError("--backend onchain and --sweep run one seed; give --seed N")
    params = RoundParams(
        corr_weight=corr_weight, mmc_weight=mmc_weight, clip=clip, payout_threshold=payout_threshold * TOKEN
    )
    config = SeedConfig(
        rounds=rounds,
        n_models=n_models,
        live_rows=live_rows,
        n_features=n_features,
        history_eras=history_eras,
        history_rows=history_rows,
        regime_length=regime_length,
        params=params,
        retrain_every=retrain_every,
        top_share=prize_top_share,
    )
    out = Path(out_dir)
    started = time.perf_counter()
    chain: dict[str, Any] = {}
    table = None
    with RichProgress(console=output.err_console, disable=output.json_mode, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        if len(seeds) == 1:
            # One seed runs here, so it can settle on the chain and be swept.
            begun = time.perf_counter()
            prepared = prepare(
                config.spec(seeds[0]), rounds, out, n_models=n_models, progress=progress, retrain_every=retrain_every
            )
            prepared.memoise = sweep
            if backend == "onchain":
                owners = {p.model_id: p.kind for p in prepared.participants}
                with OnChainLedger.start(owners, out / "chain", clip=clip) as ledger:
                    result = settle(prepared, params, backend=ledger, progress=progress)
                    # Every round's published bundle audited against the chain before the chain goes away.
                    verdicts = ledger.audit()
                    chain = {
                        "tournament": ledger.deployment.tournament,
                        "gas": dict(ledger.gas),
                        "roots": {str(r): c.root for r, c in sorted(ledger.rounds.items())},
                        "verified": {
                            "proposals": len(verdicts),
                            "ok": sum(v.ok for v in verdicts),
                            "failed": [v.to_dict() for v in verdicts if not v.ok],
                        },
                    }
            else:
                result = settle(prepared, params, progress=progress)
            result.write(out / "results")
            runs = [
                SeedRun(
                    seeds[0], out, result, seed_measures(result, prize_top_share), time.perf_counter() - begun, prepared
                )
            ]
            if sweep:
                grid = SweepGrid(
                    _floats(sweep_clips), _weights(sweep_weights), [int(t) * TOKEN for t in _floats(sweep_thresholds)]
                )
                table = run_sweep(prepared, grid, progress=progress, top_share=prize_top_share)
                table.to_csv(out / "results" / "sweep.csv", index=False)
        else:
            runs = run_seeds(config, seeds, out, jobs=jobs, progress=progress)
    claims = judge_all({r.seed: r.measures for r in runs}, prize_top_share)
    report = write_report(runs, claims, out, config.describe(), table)
    data: dict[str, Any] = {
        "claims": [c.to_dict() for c in claims],
        "seeds": seeds,
        "rounds": rounds,
        "config": {
            "models": n_models,
            "live_rows": live_rows,
            "features": n_features,
            "history_eras": history_eras,
            "history_rows": history_rows,
            "regime_length": regime_length,
            "retrain_every": retrain_every,
            "prize_top_share": prize_top_share,
            "params": params.to_dict(),
        },
        "report": str(report),
        "backend": backend,
        "seconds": round(time.perf_counter() - started, 3),
        "per_seed": [
            {
                "seed": r.seed,
                "directory": str(r.directory),
                "seconds": round(r.seconds, 3),
                "measures": r.measures,
                "final_balances": {str(m): v for m, v in sorted(r.result.final_balances.items())},
            }
            for r in runs
        ],
        "chain": chain,
        "sweep": table if table is not None else [],
    }
    if len(runs) == 1:
        data["seed"] = runs[0].seed
        data["final_balances"] = data["per_seed"][0]["final_balances"]

    def render(console: Console) -> None:
        rows = [
            (
                c.name,
                c.verdict(),
                f"{c.primary.estimate:+.4g}",
                "—" if c.holds is None else f"[{c.primary.ci_low:+.4g}, {c.primary.ci_high:+.4g}]",
                c.primary.seeds,
            )
            for c in claims
        ]
        title = f"simulation: {rounds} rounds, seeds {seeds_text or seeds[0]}"
        console.print(
            make_table(title, ["claim", "verdict", "estimate", "95% CI", "seeds"], rows, numeric=["estimate", "seeds"])
        )
        for c in claims:
            console.print(f"[bold]{c.name}[/]: {c.sentence()}", highlight=False)
        if chain:
            audited = chain["verified"]
            console.print(f"audit: {audited['ok']} of {audited['proposals']} proposals verified from their bundles")
        console.print(f"report: {report}")

    output.emit(data, render)
