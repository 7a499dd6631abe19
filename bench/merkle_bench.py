"""Merkle benchmark: the settlement tree in Python vs the real @openzeppelin/merkle-tree in node.

Run: ``.venv/bin/python bench/merkle_bench.py [--quick]`` from the repo root. ``run()`` returns flat
figures for bench/oracle.py. The million-leaf build runs in a child process so that its peak RSS is
its own (not inflated by the 100k runs or the JS results held by this process).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from oracle.settlement.leaves import LEAF_ENCODING, SettlementLeaf, settlement_tree  # noqa: E402

MERKLE_JS = REPO_ROOT / "tests" / "oracle" / "merkle_js.mjs"
JS_PROOF_SAMPLE = 2_000


def bench_leaves(n: int) -> list[SettlementLeaf]:
    """Deterministic settlement leaves with realistic 18-decimal amounts (ids 1..n)."""
    return [SettlementLeaf(i + 1, (i * 1_000_000_007 * 10**9) % 2**90, (i * 999_983 * 10**9) % 2**80) for i in range(n)]


def python_build(n: int) -> dict[str, Any]:
    """Build time, and build + every proof, for an n-leaf settlement tree."""
    leaves = bench_leaves(n)
    t0 = time.perf_counter()
    tree = settlement_tree(leaves)
    t1 = time.perf_counter()
    proofs = tree.all_proofs()
    t2 = time.perf_counter()
    return {"root": tree.root, "build_s": t1 - t0, "with_proofs_s": t2 - t0, "proof_nodes": sum(map(len, proofs))}


def js_build(n: int, proof_sample: int = JS_PROOF_SAMPLE) -> dict[str, Any]:
    """Build time of the npm library on the same leaves, and getProof time on a sample of leaves."""
    values = [[str(x) for x in leaf.as_tuple()] for leaf in bench_leaves(n)]
    job = {
        "op": "bench",
        "values": values,
        "encoding": list(LEAF_ENCODING),
        "sortLeaves": False,
        "proofSample": proof_sample,
    }
    completed = subprocess.run(
        ["node", str(MERKLE_JS.relative_to(REPO_ROOT))],
        input=json.dumps([job]),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    [result] = json.loads(completed.stdout)
    if "error" in result:
        raise RuntimeError(f"JS benchmark failed: {result['error']}")
    return result


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM).

    Not ``resource.getrusage().ru_maxrss``: for a child started by fork + exec it reports the parent's
    peak at fork time, which would charge the 100k runs to the million-leaf build.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _child_large(n: int) -> dict[str, Any]:
    """In a fresh process: RSS before, build time and peak RSS of an n-leaf tree (leaves included)."""
    base_rss_mb = _peak_rss_mb()
    leaves = bench_leaves(n)
    t0 = time.perf_counter()
    tree = settlement_tree(leaves)
    build_s = time.perf_counter() - t0
    peak_rss_mb = _peak_rss_mb()
    return {"n": n, "root": tree.root, "build_s": build_s, "peak_rss_mb": peak_rss_mb, "base_rss_mb": base_rss_mb}


def large_build(n: int) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child-large", str(n)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    return json.loads(completed.stdout)


def run(quick: bool = False) -> dict[str, Any]:
    """Figures (seconds, MB). ``quick``: JS at 10k leaves and the large tree at 200k instead of 1M."""
    n_py, n_js, n_large = 100_000, (10_000 if quick else 100_000), (200_000 if quick else 1_000_000)
    py = python_build(n_py)
    py_same_n = py if n_js == n_py else python_build(n_js)
    js = js_build(n_js)
    large = large_build(n_large)
    js_proof_each = js["proofSampleSeconds"] / max(1, js["proofSample"])
    full = not quick
    return {
        "merkle_quick": quick,
        "merkle_build_100k_s": round(py["build_s"], 4),
        "merkle_build_100k_with_proofs_s": round(py["with_proofs_s"], 4),
        "merkle_js_n": n_js,
        "merkle_js_build_100k_s": round(js["buildSeconds"], 3) if full else None,
        "merkle_js_build_s": round(js["buildSeconds"], 3),
        "merkle_js_proof_each_ms": round(js_proof_each * 1e3, 4),
        # both at merkle_js_n leaves
        "merkle_speedup_vs_js": round(js["buildSeconds"] / py_same_n["build_s"], 1),
        # JS has no bulk-proof API; its build + n proofs is extrapolated from the timed sample.
        "merkle_speedup_with_proofs_vs_js_est": round(
            (js["buildSeconds"] + js_proof_each * n_js) / py_same_n["with_proofs_s"], 1
        ),
        "merkle_roots_identical": js["root"] == py_same_n["root"],
        "merkle_large_n": n_large,
        "merkle_build_1m_s": round(large["build_s"], 3) if full else None,
        "merkle_build_1m_peak_rss_mb": round(large["peak_rss_mb"], 1) if full else None,
        "merkle_build_large_s": round(large["build_s"], 3),
        "merkle_build_large_peak_rss_mb": round(large["peak_rss_mb"], 1),
        "merkle_large_base_rss_mb": round(large["base_rss_mb"], 1),
    }


def _print_table(figures: dict[str, Any]) -> None:
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child-large":
        print(json.dumps(_child_large(int(sys.argv[2]))))
    else:
        _print_table(run(quick="--quick" in sys.argv[1:]))
