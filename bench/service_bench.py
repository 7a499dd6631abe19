"""Benchmark of the operator service: 50 participants x 10 models submit concurrently over real HTTP to
``tourney serve`` on its own Anvil; writes throughput and latency percentiles to bench/results/service.json.

Run: ``.venv/bin/python bench/service_bench.py [--participants 50] [--models-each 10] [--threads 50]``.
The correctness of the same run (every receipt valid and honoured by the bundle) is tests/e2e/test_service_load.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from collections import Counter
from pathlib import Path

# bench/oracle.py (the benchmark aggregator) would shadow the oracle package when run as a script from bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from oracle.testing.harness import run_load_scenario  # noqa: E402
from oracle.protocol.receipt import check_receipts  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "service.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--models-each", type=int, default=10)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--live-ids", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="service-bench-") as tmp:
        run = run_load_scenario(Path(tmp), participants=args.participants, models_each=args.models_each,
                                live_ids=args.live_ids, threads=args.threads)
    burst = run.burst
    in_bundle = Counter(e["model_id"] for e in run.bundle_submissions)
    censored = check_receipts(run.bundle_submissions, list(burst.receipts.values()), round=run.round,
                              operator=run.oracle, chain_id=run.chain_id, tournament=run.tournament)
    result = {
        "submissions": len(run.jobs),
        "participants": run.participants,
        "client_threads": args.threads,
        "live_ids_per_file": args.live_ids,
        "accepted_with_valid_receipt": len(burst.receipts),
        "refused": len(burst.errors),
        "in_bundle": len(in_bundle),
        "duplicated_in_bundle": sum(1 for n in in_bundle.values() if n > 1),
        "receipt_problems": len(censored),
        "burst_seconds": round(burst.elapsed, 3),
        "throughput_per_second": round(burst.throughput, 1),
        "latency_ms": {q: round(burst.percentile(p) * 1000, 1) for q, p in
                       (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
        "close_resolve_propose_seconds": round(run.resolve_seconds, 2),
        "setup_seconds": round(run.setup_seconds, 2),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": "one uvicorn worker; the scheduler runs in the same process; Anvil on the same machine",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
