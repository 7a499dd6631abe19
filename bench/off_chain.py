"""Off-chain benchmarks: scoring vs numerai-tools, Merkle trees vs @openzeppelin/merkle-tree, and the simulation.

    make bench-oracle            # full sizes (several minutes)
    python bench/off_chain.py --quick

Runs each benchmark's ``run()`` and writes the merged flat figures to ``bench/results/oracle.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import merkle_bench  # noqa: E402
import scoring_bench  # noqa: E402
import simulation_bench  # noqa: E402

TARGETS = {
    "scoring_speedup": ">= 10",
    "scoring_max_abs_diff": "<= 1e-9",
    "scoring_memory_ratio": "<= 0.5",
    "score_process_speedup": ">= 10",
    "score_process_memory_ratio": "<= 0.5",
    "score_process_max_abs_diff": "<= 1e-9",
    "merkle_speedup_vs_js": ">= 10",
    "simulation_100r_50m_5000rows_s": "< 60",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    results: dict[str, object] = {}
    for name, bench in (("scoring", scoring_bench), ("merkle", merkle_bench), ("simulation", simulation_bench)):
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        results.update(bench.run(quick=args.quick))
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    results["quick"] = args.quick
    out = ROOT / "bench" / "results" / ("oracle-quick.json" if args.quick else "oracle.json")
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"\n{'figure':<48}{'value':>18}  target")
    for key, value in sorted(results.items()):
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{key:<48}{shown:>18}  {TARGETS.get(key, '')}")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
