"""Simulation benchmark: the off-chain tournament, 100 rounds x 50 models x 5,000 live rows.

Times the two halves separately and in total: ``prepare`` (generate Parquet, train every example
model, write each round's submissions) and ``settle`` (stake policies, ``score_round`` and the
off-chain ledger's cumulative leaves, every round). Quick mode: 20 rounds x 20 models x 2,000 rows.

Participants train once on the history (``retrain_every=None``, the engine's default): each model
family is fitted once and the rounds are predicted in stacked blocks (``participants.Crowd``).
Target: the full run under 60 s on 2 cores.

    .venv/bin/python bench/simulation_bench.py [--quick]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def run(quick: bool = False) -> dict[str, float]:
    """Flat figures: seconds for prepare, settle, total; rounds settled per second."""
    from oracle.simulation.data import TournamentSpec
    from oracle.simulation.engine import default_params, prepare, settle

    rounds, models, rows = (20, 20, 2000) if quick else (100, 50, 5000)
    key = f"simulation_{rounds}r_{models}m_{rows}rows"
    spec = TournamentSpec(seed=0, live_rows=rows)
    with tempfile.TemporaryDirectory(prefix="simbench-") as tmp:
        start = time.perf_counter()
        prepared = prepare(spec, rounds, Path(tmp), n_models=models)
        prepared_at = time.perf_counter()
        settle(prepared, default_params())
        end = time.perf_counter()
    return {
        f"{key}_s": round(end - start, 3),
        f"{key}_prepare_s": round(prepared_at - start, 3),
        f"{key}_settle_s": round(end - prepared_at, 3),
        f"{key}_settle_rounds_per_s": round(rounds / (end - prepared_at), 2),
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2))
