"""Benchmark of the operator service: 200 participants submit 5,000-id prediction files at a paced total rate for
60 s over real HTTP to ``tourney serve`` on its own Anvil, for each database back end (SQLite, PostgreSQL) and
worker count; then the round is closed and resolved and the bundle is checked against every receipt. Writes the
runs to bench/results/service.json (a list under ``runs``).

Run: ``.venv/bin/python bench/service_bench.py [--backends sqlite,postgres] [--workers 1,2] [--rate 300]
[--seconds 60] [--participants 200] [--models-each 5] [--live-ids 5000]``.
Client, server, database and chain share this machine's cores. The correctness of the same path under duplicates,
replays and a killed worker is tests/e2e/test_service_workers.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

# bench/oracle.py (the benchmark aggregator) would shadow the oracle package when run as a script from bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from oracle.testing.load import run_paced_scenario  # noqa: E402
from oracle.testing.postgres import start_postgres  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "service.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--only", default=None, help="just these runs, e.g. sqlite:2,postgres:1")
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--models-each", type=int, default=5)
    parser.add_argument("--rate", type=float, default=300.0, help="offered submissions per second, in total")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--live-ids", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    runs = []
    plans: dict = {}
    pairs = [(b, int(w)) for b in args.backends.split(",") for w in args.workers.split(",")]
    if args.only:
        pairs = [(p.split(":")[0], int(p.split(":")[1])) for p in args.only.split(",")]
    for backend, workers in pairs:
        with tempfile.TemporaryDirectory(prefix="service-bench-") as tmp:
            server = start_postgres(fast=False) if backend == "postgres" else None
            try:
                url = server.url if server else f"sqlite:///{tmp}/state/service.db"
                run = run_paced_scenario(
                    Path(tmp),
                    url,
                    workers,
                    args.participants,
                    args.models_each,
                    args.live_ids,
                    args.rate,
                    args.seconds,
                    plans,
                )
            finally:
                if server is not None:
                    server.stop()
        run = {"backend": backend, "workers": workers, "offered_seconds": args.seconds, "commit": _commit(), **run}
        print(json.dumps(run), flush=True)
        runs.append(run)
        write_results(args.out, runs)  # after every run: a benchmark stopped part-way keeps what it measured
    print(args.out.read_text())


def _commit() -> str:
    """The code measured: the checkout's commit, marked when the work tree differs from it."""

    def git(*argv: str) -> str:
        # check=False: outside a git checkout the commit is simply unknown ("")
        return subprocess.run(
            ["git", *argv], capture_output=True, text=True, cwd=RESULTS.parent, check=False
        ).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (
        "+changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def write_results(out: Path, runs: list[dict]) -> None:
    result = {
        "runs": runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": "paced open-loop load (latency counted from each request's scheduled time); the scheduler runs in "
        "one worker; Anvil, the database and the load generator on the same machine; PostgreSQL with its "
        "default durability (synchronous_commit on), SQLite in WAL mode with synchronous=NORMAL",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
