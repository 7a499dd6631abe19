"""Scoring benchmark: oracle.scoring.metrics vs numerai-tools (5,000 models x 5,000 ids; quick: 1,000 x 1,000).

Each side runs in its own child process on identical seeded data, so peak RSS (``os.wait4`` rusage
of that child: data plus scoring) is not polluted by the other. numerai-tools is run the way a
user of the library would: meta model = ``stake_weight(gaussian(tie_kept_rank(P)), stakes)``, then
``numerai_corr(P, targets)`` and ``correlation_contribution(P, meta, targets)`` on the whole frame
(both loop over the model columns internally, one pandas Series per model). The children save their
CORR and MMC vectors; the parent reports the max abs difference.

    .venv/bin/python bench/scoring_bench.py [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def make_round(n_ids: int, n_models: int, seed: int = 12345):  # type: ignore[no-untyped-def]
    """Seeded round: predictions rounded to 3 decimals (realistic ties), bucketed targets, int stakes."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    ids = pd.Index([f"id{i:07d}" for i in range(n_ids)], name="id")
    models = [str(j) for j in range(n_models)]
    values = rng.random((n_models, n_ids)).round(3).T  # ids x models, one F-ordered block
    preds = pd.DataFrame(values, index=ids, columns=models, copy=False)
    targets = pd.Series(rng.integers(0, 5, n_ids) / 4, index=ids, name="target")
    stakes = pd.Series(rng.integers(0, 10**6, n_models).astype(np.float64), index=models)
    return preds, targets, stakes


def _child(kind: str, n_ids: int, n_models: int, out: str) -> None:
    preds, targets, stakes = make_round(n_ids, n_models)
    # Imports outside the timed region, for every kind alike.
    from numerai_tools import scoring as nt

    from oracle.scoring.metrics import score_matrix
    from oracle.scoring.params import RoundParams
    from oracle.scoring.pipeline import score_round

    start = time.perf_counter()
    if kind == "ours":
        m = score_matrix(preds, targets, stakes)
        corr, mmc = m.corr, m.mmc
    elif kind == "numerai_tools":
        # Whole-frame calls: each function loops over the columns itself. (A Python loop calling
        # them per model is ~3x slower again: 27 s at 1,000 x 1,000.)
        meta = nt.stake_weight(nt.gaussian(nt.tie_kept_rank(preds)), stakes[stakes > 0])
        corr = nt.numerai_corr(preds, targets).to_numpy()
        mmc = nt.correlation_contribution(preds, meta, targets).to_numpy()
    elif kind == "pipeline":
        # The whole of score_round: validation, metrics, exact integer payouts.
        import pandas as pd

        table = preds.reset_index()
        stake_table = pd.DataFrame({"model": stakes.index, "stake": [int(v) * 10**18 for v in stakes]})
        start = time.perf_counter()
        result = score_round(
            table, targets.reset_index(), stake_table,
            RoundParams.numerai_default(payout_threshold=10**27),
        )
        s = result.scores.set_index("model").loc[list(preds.columns)]
        corr, mmc = s["corr"].to_numpy(dtype=float), s["mmc"].to_numpy(dtype=float)
    else:  # "data": the cost of holding the inputs alone
        corr = mmc = np.empty(0)
    seconds = time.perf_counter() - start
    np.savez(out, corr=corr, mmc=mmc, seconds=seconds)


def _measure(kind: str, n_ids: int, n_models: int, workdir: str) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(seconds, peak RSS MB, corr, mmc) of one child process."""
    out = os.path.join(workdir, f"{kind}.npz")
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, str(n_ids), str(n_models), out], cwd=REPO
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} child failed with {proc.returncode}")
    data = np.load(out)
    return float(data["seconds"]), usage.ru_maxrss / 1024, data["corr"], data["mmc"]


def run(quick: bool = False) -> dict[str, float | str]:
    """Measure both scorers; flat figure keys for bench/results."""
    n = 1000 if quick else 5000
    tag = f"{n}x{n}"
    with tempfile.TemporaryDirectory() as workdir:
        _, data_rss, _, _ = _measure("data", n, n, workdir)
        ours_s, ours_rss, corr, mmc = _measure("ours", n, n, workdir)
        pipe_s, pipe_rss, pipe_corr, pipe_mmc = _measure("pipeline", n, n, workdir)
        ref_s, ref_rss, ref_corr, ref_mmc = _measure("numerai_tools", n, n, workdir)
    diff = float(max(np.nanmax(np.abs(corr - ref_corr)), np.nanmax(np.abs(mmc - ref_mmc))))
    pipe_diff = float(max(np.nanmax(np.abs(pipe_corr - ref_corr)), np.nanmax(np.abs(pipe_mmc - ref_mmc))))
    return {
        f"scoring_{tag}_s": round(ours_s, 3),
        f"scoring_numerai_tools_{tag}_s": round(ref_s, 3),
        "scoring_speedup": round(ref_s / ours_s, 2),
        "scoring_peak_rss_mb": round(ours_rss, 1),
        "scoring_numerai_tools_peak_rss_mb": round(ref_rss, 1),
        "scoring_data_only_peak_rss_mb": round(data_rss, 1),
        "scoring_memory_ratio": round(ours_rss / ref_rss, 3),
        "scoring_max_abs_diff": diff,
        f"scoring_pipeline_{tag}_s": round(pipe_s, 3),
        "scoring_pipeline_peak_rss_mb": round(pipe_rss, 1),
        "scoring_pipeline_max_abs_diff": pipe_diff,
        "scoring_notes": (
            f"{tag} models x ids, predictions rounded to 3 decimals; peak RSS per child includes the "
            "inputs (see data_only); numerai-tools measured in full, no extrapolation; ours uses 2 threads; "
            "pipeline = score_round (validation + metrics + integer payouts) from an id-column table"
        ),
    }


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return
    figures = run(quick="--quick" in sys.argv)
    if "--json" in sys.argv:
        print(json.dumps(figures, indent=2))
        return
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
