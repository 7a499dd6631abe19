"""One configuration, many seeds: each seed is a whole tournament (data, participants, rounds, settlement).

Seeds are independent, so they run in worker processes, one per core (the work is CPU-bound NumPy and
scikit-learn; each worker keeps its native thread pools at one thread, so two workers use two cores and do
not fight over them). Each seed writes its data, submissions and results under its own directory and
returns its :class:`SimulationResult` and its per-seed measures (``claims.seed_measures``).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from oracle.scoring.params import RoundParams
from oracle.simulation.baseline import DEFAULT_TOP_SHARE
from oracle.simulation.claims import seed_measures
from oracle.simulation.data import TournamentSpec
from oracle.simulation.engine import (
    PreparedTournament,
    SettlementBackend,
    SimulationResult,
    default_params,
    prepare,
    settle,
)

__all__ = ["SeedConfig", "SeedRun", "parse_seeds", "run_seed", "run_seeds", "seed_directory"]

Progress = Callable[[str, int, int], None]

_ITEM = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_seeds(text: str) -> list[int]:
    """'0-19' or '1,5,7' or '0-3,8': seeds in the order given, each once, each ≥ 0."""
    seeds: list[int] = []
    for item in text.split(","):
        match = _ITEM.match(item)
        if not match:
            raise ValueError(
                f"seeds: {item.strip()!r} is not a seed or a range A-B of non-negative integers (in {text!r})"
            )
        low, high = int(match.group(1)), int(match.group(2) if match.group(2) is not None else match.group(1))
        if high < low:
            raise ValueError(f"seeds: range {item.strip()!r} ends before it starts")
        for seed in range(low, high + 1):
            if seed in seeds:
                raise ValueError(f"seeds: seed {seed} is listed twice in {text!r}")
            seeds.append(seed)
    return seeds


@dataclass(frozen=True)
class SeedConfig:
    """Everything but the seed: the tournament's shape, the payout rule and the baseline's prize share."""

    rounds: int = 40
    n_models: int = 50
    live_rows: int = 5000
    n_features: int = 60
    history_eras: int = 50
    history_rows: int = 1000
    regime_length: int = 20
    params: RoundParams = field(default_factory=default_params)
    retrain_every: int | None = None
    top_share: float = DEFAULT_TOP_SHARE

    def spec(self, seed: int) -> TournamentSpec:
        return TournamentSpec(
            seed=seed,
            n_features=self.n_features,
            history_eras=self.history_eras,
            history_rows_per_era=self.history_rows,
            live_rows=self.live_rows,
            regime_length=self.regime_length,
        )

    def describe(self) -> str:
        p = self.params
        return (
            f"{self.rounds} rounds × {self.n_models} models × {self.live_rows:,} live rows, {self.n_features} "
            f"features, {self.history_eras} history eras × {self.history_rows:,} rows, regime flips every "
            f"{self.regime_length} eras; payout {p.corr_weight:g}·CORR + {p.mmc_weight:g}·MMC clipped at "
            f"{p.clip:g} of stake; no-stake baseline pays the top {100 * self.top_share:g}%"
        )


@dataclass
class SeedRun:
    """One seed's tournament: where its files are, its result, its measures, and its wall time."""

    seed: int
    directory: Path
    result: SimulationResult
    measures: dict[str, float]
    seconds: float
    prepared: PreparedTournament | None = field(default=None, repr=False)


def seed_directory(out: Path, seed: int, several: bool) -> Path:
    """``out`` itself for a single seed (the layout of a one-seed run), ``out/seed-NNNN`` for several."""
    return out / f"seed-{seed:04d}" if several else out


def run_seed(
    config: SeedConfig,
    seed: int,
    directory: str | Path,
    backend: SettlementBackend | None = None,
    progress: Progress | None = None,
) -> SeedRun:
    """Prepare and settle one seed, write its results under ``directory/results``, measure it."""
    directory = Path(directory)
    started = time.perf_counter()
    prepared = prepare(
        config.spec(seed),
        config.rounds,
        directory,
        n_models=config.n_models,
        progress=progress,
        retrain_every=config.retrain_every,
    )
    result = settle(prepared, config.params, backend=backend, progress=progress)
    result.write(directory / "results")
    measures = seed_measures(result, config.top_share)
    return SeedRun(seed, directory, result, measures, time.perf_counter() - started, prepared)


def _one_thread() -> None:
    # Each worker is one core's worth of work: native pools (OpenMP, BLAS) at one thread for the process.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _job(config: SeedConfig, seed: int, directory: Path) -> SeedRun:
    run = run_seed(config, seed, directory)
    run.prepared = None  # stays in the worker: the parent needs the result and the files, not the memo
    return run


def run_seeds(
    config: SeedConfig, seeds: Sequence[int], out: str | Path, jobs: int | None = None, progress: Progress | None = None
) -> list[SeedRun]:
    """Every seed's run, in the order of ``seeds``; ``jobs`` worker processes (default: one per core).

    One seed, or ``jobs == 1``, runs in this process. A seed that fails stops the whole run with its error.
    """
    if not seeds:
        raise ValueError("no seeds to run")
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    out = Path(out)
    several = len(seeds) > 1
    jobs = min(len(seeds), jobs or os.cpu_count() or 1)
    runs: dict[int, SeedRun] = {}
    if jobs == 1:
        for i, seed in enumerate(seeds):
            runs[seed] = run_seed(
                config, seed, seed_directory(out, seed, several), progress=None if several else progress
            )
            if progress:
                progress("seeds", i + 1, len(seeds))
        return [runs[s] for s in seeds]
    # spawn, not fork: a forked child would inherit the parent's native thread pools in whatever state they are.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_one_thread) as pool:
        futures = {pool.submit(_job, config, seed, seed_directory(out, seed, several)): seed for seed in seeds}
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                runs[futures[future]] = future.result()
                if progress:
                    progress("seeds", done, len(seeds))
        except BaseException:
            # Do not start the seeds still queued; the ones running finish before the error surfaces.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [runs[s] for s in seeds]
