"""Scoring benchmark: oracle.scoring.metrics vs numerai-tools (5,000 models x 5,000 ids; quick: 1,000 x 1,000).

Two comparisons, each side in its own child process on identical seeded data, so peak RSS (``os.wait4`` rusage
of that child) is not polluted by the other:

* **kernel** (``scoring_*``): the scoring functions alone on in-memory frames, imports and data outside the timer.
  numerai-tools is run the way a user of the library would: meta model =
  ``stake_weight(gaussian(tie_kept_rank(P)), stakes)``, then ``numerai_corr(P, targets)`` and
  ``correlation_contribution(P, meta, targets)`` on the whole frame (both loop over the model columns internally,
  one pandas Series per model).
* **whole process** (``score_process_*``): what a person waits for. The round is written once as files
  (``predictions.parquet`` with an id column and one column per model, ``targets.parquet``, ``stakes.parquet``
  with decimal-string amounts, ``params.json``); then ``tourney score`` runs on them as a command (start-up, reading,
  validation, scoring, payouts, writing ``scores.parquet``, printing its summary), against a numerai-tools script
  that reads the same files with pandas, computes the same CORR, meta model and MMC and writes them. Wall time is
  the child's, start to exit.

The children save their CORR and MMC; the parent reports the max abs difference from numerai-tools.

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
            table,
            targets.reset_index(),
            stake_table,
            RoundParams.numerai_default(payout_threshold=10**27),
        )
        s = result.scores.set_index("model").loc[list(preds.columns)]
        corr, mmc = s["corr"].to_numpy(dtype=float), s["mmc"].to_numpy(dtype=float)
    else:  # "data": the cost of holding the inputs alone
        corr = mmc = np.empty(0)
    seconds = time.perf_counter() - start
    np.savez(out, corr=corr, mmc=mmc, seconds=seconds)


# ------------------------------------------------------------------------------------------ whole process


def write_round_files(directory: str, n_ids: int, n_models: int) -> dict[str, str]:
    """The round of :func:`make_round` as the files ``tourney score`` reads; returns their paths by option name."""
    import pandas as pd

    preds, targets, stakes = make_round(n_ids, n_models)
    paths = {name: os.path.join(directory, f"{name}.parquet") for name in ("predictions", "targets", "stakes")}
    preds.reset_index().to_parquet(paths["predictions"], index=False)
    targets.reset_index().to_parquet(paths["targets"], index=False)
    pd.DataFrame({"model": stakes.index, "stake": [str(int(v) * 10**18) for v in stakes]}).to_parquet(
        paths["stakes"], index=False
    )
    paths["params"] = os.path.join(directory, "params.json")
    with open(paths["params"], "w") as handle:
        json.dump({"corr_weight": 0.5, "mmc_weight": 2.0, "clip": 0.05, "payout_threshold": str(10**27)}, handle)
    return paths


def _reference_process(directory: str, out: str) -> None:
    """numerai-tools as a whole process on the round's files: read them with pandas, score, write CORR and MMC."""
    import pandas as pd
    from numerai_tools import scoring as nt

    preds = pd.read_parquet(os.path.join(directory, "predictions.parquet")).set_index("id")
    targets = pd.read_parquet(os.path.join(directory, "targets.parquet")).set_index("id")["target"]
    table = pd.read_parquet(os.path.join(directory, "stakes.parquet"))
    stakes = pd.Series([float(int(v)) for v in table["stake"]], index=table["model"].astype(str))
    meta = nt.stake_weight(nt.gaussian(nt.tie_kept_rank(preds)), stakes[stakes > 0])
    corr = nt.numerai_corr(preds, targets)
    mmc = nt.correlation_contribution(preds, meta, targets)
    pd.DataFrame({"model": list(preds.columns), "corr": corr.to_numpy(), "mmc": mmc.to_numpy()}).to_parquet(out)


def _run_process(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one command run to completion; its output is discarded."""
    start = time.perf_counter()
    # PYTHONPATH: the console script runs this checkout's code, whichever checkout the venv was installed from.
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO)})
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv[:3]} failed with {os.waitstatus_to_exitcode(status)}")
    return seconds, usage.ru_maxrss / 1024


def run_process(n_ids: int, n_models: int, workdir: str) -> dict[str, float]:
    """Whole-process figures of ``tourney score`` and of numerai-tools on the same files."""
    import pandas as pd

    # Written by a child, so this process stays small: a child's peak RSS starts from its parent's at spawn.
    subprocess.run(
        [sys.executable, __file__, "--write-files", workdir, str(n_ids), str(n_models)], cwd=REPO, check=True
    )
    tourney = str(Path(sys.executable).with_name("tourney"))
    paths = {name: os.path.join(workdir, f"{name}.parquet") for name in ("predictions", "targets", "stakes")}
    scores_out = os.path.join(workdir, "scores.parquet")
    ours_s, ours_rss = _run_process(
        [
            tourney,
            "score",
            "--predictions",
            paths["predictions"],
            "--targets",
            paths["targets"],
            "--stakes",
            paths["stakes"],
            "--params",
            os.path.join(workdir, "params.json"),
            "--out",
            scores_out,
        ]
    )
    reference_out = os.path.join(workdir, "reference.parquet")
    ref_s, ref_rss = _run_process([sys.executable, __file__, "--reference-process", workdir, reference_out])
    ours = pd.read_parquet(scores_out).set_index("model")
    ref = pd.read_parquet(reference_out).set_index("model")
    ours = ours.loc[ref.index]
    diff = float(
        max(
            np.nanmax(np.abs(ours["corr"].to_numpy() - ref["corr"].to_numpy())),
            np.nanmax(np.abs(ours["mmc"].to_numpy() - ref["mmc"].to_numpy())),
        )
    )
    tag = f"{n_models}x{n_ids}"
    return {
        f"score_process_{tag}_s": round(ours_s, 3),
        f"score_process_numerai_tools_{tag}_s": round(ref_s, 3),
        "score_process_speedup": round(ref_s / ours_s, 2),
        "score_process_peak_rss_mb": round(ours_rss, 1),
        "score_process_numerai_tools_peak_rss_mb": round(ref_rss, 1),
        "score_process_memory_ratio": round(ours_rss / ref_rss, 3),
        "score_process_max_abs_diff": diff,
    }


def _measure(kind: str, n_ids: int, n_models: int, workdir: str) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(seconds, peak RSS MB, corr, mmc) of one child process."""
    out = os.path.join(workdir, f"{kind}.npz")
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, str(n_ids), str(n_models), out], cwd=REPO)
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
        process = run_process(n, n, workdir)
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
            "pipeline = score_round (validation + metrics + integer payouts) from an id-column table; "
            "score_process = the whole `tourney score` command on Parquet files vs a numerai-tools script reading "
            "the same files (wall time and peak RSS of each process)"
        ),
        **process,
    }


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--write-files":
        write_round_files(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    if len(sys.argv) >= 2 and sys.argv[1] == "--reference-process":
        _reference_process(sys.argv[2], sys.argv[3])
        return
    if "--process-only" in sys.argv:
        n = 1000 if "--quick" in sys.argv else 5000
        with tempfile.TemporaryDirectory() as workdir:
            figures: dict[str, float | str] = dict(run_process(n, n, workdir))
        for key, value in figures.items():
            print(f"{key:<48}  {value}")
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
