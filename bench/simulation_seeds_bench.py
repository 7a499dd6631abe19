"""Many-seed simulation benchmark: ``tourney simulate --seeds 0-19`` at 40 rounds × 50 models × 5,000 live rows.

Times the whole command as a user runs it (a fresh process: start-up, 20 tournaments in worker processes,
claims, the HTML report) and records the four claims' estimates and 95% intervals from that run.
Target: under 10 minutes on this 2-core machine. Quick mode: 3 seeds × 10 rounds × 20 models × 2,000 rows.

The machine is shared, so besides the wall time the figures hold the CPU time of the command and its
workers (user + system) and the load average before and after: wall ≈ CPU / 2 on a quiet machine.

    .venv/bin/python bench/simulation_seeds_bench.py [--quick]      # writes bench/results/simulation.json
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "simulation.json"
TARGET_S = 600


def run(quick: bool = False) -> dict[str, object]:
    seeds, rounds, models, rows = ("0-2", 10, 20, 2000) if quick else ("0-19", 40, 50, 5000)
    tourney = Path(sys.executable).with_name("tourney")
    with tempfile.TemporaryDirectory(prefix="simseeds-") as tmp:
        command = [
            str(tourney),
            "--json",
            "simulate",
            "--seeds",
            seeds,
            "--rounds",
            str(rounds),
            "--models",
            str(models),
            "--live-rows",
            str(rows),
            "--out",
            str(Path(tmp) / "run"),
        ]
        load_before = os.getloadavg()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
        seconds = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_after = os.getloadavg()
    # Children's CPU counts once they are waited for: the command waits for its workers, the bench for it.
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"tourney simulate failed ({done.returncode}): {done.stderr[-3000:]}")
    data = json.loads(done.stdout)
    shown = ["tourney", *command[1:-2], "--out", "DIR"]
    return {
        "command": " ".join(shown),
        "seconds": round(seconds, 1),
        "target_seconds": TARGET_S,
        "within_target": seconds < TARGET_S,
        "cpu_seconds": round(cpu, 1),
        "cpu_count": os.cpu_count(),
        "load_average_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "seed_seconds_mean": round(sum(s["seconds"] for s in data["per_seed"]) / len(data["per_seed"]), 1),
        "claims": [
            {k: c[k] for k in ("name", "holds", "estimate", "ci_low", "ci_high", "seeds", "measure", "unit")}
            for c in data["claims"]
        ],
        "statements": {c["name"]: c["statement"] for c in data["claims"]},
        "measures": {c["name"]: c["measures"] for c in data["claims"]},
        "quick": quick,
    }


if __name__ == "__main__":
    figures = run(quick="--quick" in sys.argv[1:])
    print(json.dumps(figures, indent=2))
    if not figures["quick"]:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
