"""The ``tourney`` CLI: ``score`` and ``round`` through click's runner and the installed console script."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from oracle.bundle.parquet import parquet_bytes
from oracle.bundle.round_bundle import STAKES, load_bundle
from oracle.bundle.store import ArtifactStore
from oracle.bundle.write import write_round_bundle
from oracle.cli import main
from oracle.scoring.params import RoundParams
from oracle.scoring.pipeline import score_round

E18 = 10**18
MODELS = ["alice", "bob", "carol", "dave"]
PARAMS = RoundParams(corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=100_000 * E18)
TOURNEY = Path(sys.executable).with_name("tourney")


def tables(n: int = 120, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Predictions (in [0, 1]), targets and stakes (beyond int64) of a small round."""
    rng = np.random.default_rng(seed)
    ids = [f"id{i:04d}" for i in range(n)]
    signal = rng.random(n)
    columns = {
        m: (pd.Series(signal * (k - 1) * 0.4 + rng.random(n)).rank().to_numpy() - 0.5) / n for k, m in enumerate(MODELS)
    }
    predictions = pd.DataFrame({"id": ids, **columns})
    targets = pd.DataFrame({"id": ids, "target": np.round(signal * 4) / 4})
    stakes = pd.DataFrame({"model": MODELS, "stake": [str((k + 1) * 1000 * E18) for k in range(len(MODELS))]})
    return predictions, targets, stakes


@pytest.fixture
def round_files(tmp_path: Path) -> dict[str, str]:
    predictions, targets, stakes = tables()
    paths = {name: tmp_path / f"{name}.parquet" for name in ("predictions", "targets", "stakes")}
    predictions.to_parquet(paths["predictions"], index=False)
    targets.to_parquet(paths["targets"], index=False)
    stakes.to_parquet(paths["stakes"], index=False)
    params = tmp_path / "params.json"
    params.write_text(json.dumps(PARAMS.to_dict()))
    return {**{k: str(v) for k, v in paths.items()}, "params": str(params)}


def score_args(files: dict[str, str], out: str) -> list[str]:
    return [
        "score",
        "--predictions",
        files["predictions"],
        "--targets",
        files["targets"],
        "--stakes",
        files["stakes"],
        "--params",
        files["params"],
        "--out",
        out,
    ]


def expected_scores() -> pd.DataFrame:
    predictions, targets, stakes = tables()
    return score_round(predictions, targets, stakes, PARAMS).scores


def test_score_writes_parquet_and_prints_a_table(round_files, tmp_path: Path):
    out = tmp_path / "out" / "scores.parquet"
    result = CliRunner().invoke(main, score_args(round_files, str(out)))
    assert result.exit_code == 0, result.output
    for model in MODELS:
        assert model in result.output
    assert "Totals" in result.output
    # People read tokens (the file and --json keep smallest units): 1,000 + 2,000 + 3,000 + 4,000 at risk.
    assert "10,000" in result.output and str(10_000 * E18) not in result.output
    assert "4,000" in result.output and str(4000 * E18) not in result.output
    written = pd.read_parquet(out)
    expected = expected_scores()
    assert list(written["model"]) == list(expected["model"])
    assert list(written["payout"]) == [str(v) for v in expected["payout"]]  # exact, as decimal strings
    assert list(written["burn"]) == [str(v) for v in expected["burn"]]
    assert sum(int(v) for v in written["payout"]) > 0 and sum(int(v) for v in written["burn"]) > 0


def test_score_json_summary(round_files, tmp_path: Path):
    result = CliRunner().invoke(main, ["--json", *score_args(round_files, str(tmp_path / "s.parquet"))])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)  # nothing but one JSON document on stdout
    expected = expected_scores()
    assert [m["model"] for m in summary["models"]] == list(expected["model"])
    assert summary["totals"]["stake_at_risk"] == str(10_000 * E18)  # big amounts as strings
    assert summary["totals"]["payout"] == str(sum(expected["payout"]))
    assert summary["scored"] == len(MODELS) and summary["errors"] == []
    trailing = CliRunner().invoke(main, [*score_args(round_files, str(tmp_path / "s.parquet")), "--json"])
    assert trailing.exit_code == 0 and json.loads(trailing.output) == summary  # flag after the subcommand too


def test_csv_in_and_out_keep_big_amounts_exact(tmp_path: Path):
    predictions, targets, stakes = tables()
    for name, table in (("predictions", predictions), ("targets", targets), ("stakes", stakes)):
        table.to_csv(tmp_path / f"{name}.csv", index=False)
    (tmp_path / "params.json").write_text(json.dumps(PARAMS.to_dict()))
    files = {name: str(tmp_path / f"{name}.csv") for name in ("predictions", "targets", "stakes")}
    files["params"] = str(tmp_path / "params.json")
    result = CliRunner().invoke(main, score_args(files, str(tmp_path / "scores.csv")))
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "scores.csv", dtype={"stake_at_risk": str, "payout": str, "burn": str})
    assert list(written["stake_at_risk"]) == [str((k + 1) * 1000 * E18) for k in range(len(MODELS))]
    assert list(written["payout"]) == [str(v) for v in expected_scores()["payout"]]


def test_score_reads_and_writes_fsspec_urls(round_files):
    base = f"memory://cli-{uuid.uuid4().hex}"
    urls = {}
    for name in ("predictions", "targets", "stakes"):
        urls[name] = f"{base}/{name}.parquet"
        with fsspec.open(urls[name], "wb") as handle:
            handle.write(Path(round_files[name]).read_bytes())
    urls["params"] = round_files["params"]
    result = CliRunner().invoke(main, score_args(urls, f"{base}/out/scores.parquet"))
    assert result.exit_code == 0, result.output
    with fsspec.open(f"{base}/out/scores.parquet", "rb") as handle:
        assert list(pd.read_parquet(handle)["model"]) == sorted(MODELS)
    fsspec.filesystem("memory").rm(base.replace("memory://", "/"), recursive=True)


def test_invalid_models_are_listed_and_the_rest_scored(round_files, tmp_path: Path):
    predictions = pd.read_parquet(round_files["predictions"])
    predictions.loc[[4, 9], "bob"] = 1.7  # out of [0, 1]
    predictions.to_parquet(round_files["predictions"], index=False)
    result = CliRunner().invoke(main, ["--json", *score_args(round_files, str(tmp_path / "s.parquet"))])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    [error] = summary["errors"]
    assert error["model"] == "bob" and error["rule"] == "out_of_range"
    assert set(error["ids"]) == {"id0004", "id0009"}
    valid = {m["model"]: m["valid"] for m in summary["models"]}
    assert valid == {"alice": True, "bob": False, "carol": True, "dave": True}
    human = CliRunner().invoke(main, score_args(round_files, str(tmp_path / "s.parquet")))
    assert "out_of_range" in human.output and "bob" in human.output


def test_table_level_errors_exit_non_zero(round_files, tmp_path: Path):
    targets = pd.read_parquet(round_files["targets"]).rename(columns={"target": "label"})
    targets.to_parquet(round_files["targets"], index=False)
    out = tmp_path / "s.parquet"
    result = CliRunner().invoke(main, ["--json", *score_args(round_files, str(out))])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert "target" in report["error"] and report["errors"][0]["rule"] == "target_missing_column"
    assert not out.exists()


def test_missing_file_and_bad_params_are_named(round_files, tmp_path: Path):
    args = score_args({**round_files, "predictions": str(tmp_path / "nope.parquet")}, str(tmp_path / "s.parquet"))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "nope.parquet" in result.stderr
    Path(round_files["params"]).write_text(json.dumps({**PARAMS.to_dict(), "clip": 3}))
    result = CliRunner().invoke(main, score_args(round_files, str(tmp_path / "s.parquet")))
    assert result.exit_code == 1 and "params.json" in result.stderr and "clip" in result.stderr


def published_round(store_dir: Path) -> str:
    predictions, targets, stakes = tables()
    scores = score_round(predictions, targets, stakes, PARAMS).scores
    stakes = stakes.rename(columns={"stake": "stake_at_risk"}).assign(model_id=[1, 2, 3, 4])
    _, uri, _ = write_round_bundle(
        store_dir,
        9,
        predictions=predictions,
        targets=targets,
        stakes=stakes,
        scores=scores,
        params=PARAMS,
        previous_cumulative={},
    )
    return uri


def tamper_stake(store_dir: Path, uri: str) -> str:
    store = ArtifactStore(store_dir)
    bundle = load_bundle(uri)
    stakes = bundle.stakes()
    stakes.loc[stakes["model"] == "carol", "stake_at_risk"] = 1
    files = {**bundle.manifest.files, STAKES: store.put_object(STAKES, parquet_bytes(stakes))}
    new_uri, _ = store.commit_manifest(dataclasses.replace(bundle.manifest, files=files))
    return new_uri


def test_round_recompute_show_and_list(tmp_path: Path):
    uri = published_round(tmp_path / "store")
    ok = CliRunner().invoke(main, ["round", "recompute", uri])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    bad_uri = tamper_stake(tmp_path / "store", uri)
    bad = CliRunner().invoke(main, ["--json", "round", "recompute", bad_uri])
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False
    assert {
        "scope": "model",
        "subject": "carol",
        "field": "stake_at_risk",
        "recorded": str(3000 * E18),
        "recomputed": "1",
    } in report["differences"]  # both sides strings
    human = CliRunner().invoke(main, ["round", "recompute", bad_uri])
    assert human.exit_code == 1 and "MISMATCH" in human.output and "carol" in human.output

    shown = CliRunner().invoke(main, ["--json", "round", "show", uri])
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["manifest"]["round"] == 9
    assert json.loads(shown.stdout)["manifest"]["totals"]["stake_at_risk"] == str(10_000 * E18)  # exact in JSON
    human = " ".join(CliRunner().invoke(main, ["round", "show", uri]).output.split())
    assert re.search(r"stake_at_risk\W+10,000\W", human) and "100,000 tokens" in human  # totals, payout_threshold
    assert str(10_000 * E18) not in human and str(100_000 * E18) not in human
    listed = json.loads(CliRunner().invoke(main, ["--json", "round", "list", str(tmp_path / "store")]).stdout)
    assert [(m["round"], m["seq"]) for m in listed["manifests"]] == [(9, 1), (9, 2)]
    missing = CliRunner().invoke(main, ["round", "recompute", str(tmp_path / "store/rounds/9/none.json")])
    assert missing.exit_code == 1 and "manifest not found" in missing.stderr


def test_installed_console_script(round_files, tmp_path: Path):
    assert TOURNEY.exists(), "install the package: .venv/bin/pip install -e . --no-deps"
    out = tmp_path / "scores.parquet"
    scored = subprocess.run(
        [str(TOURNEY), "--json", *score_args(round_files, str(out))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["scored"] == len(MODELS)
    assert out.exists()

    bad_uri = tamper_stake(tmp_path / "store", published_round(tmp_path / "store"))
    audited = subprocess.run(
        [str(TOURNEY), "round", "recompute", bad_uri], capture_output=True, text=True, timeout=120, check=False
    )
    assert audited.returncode == 1
    assert "carol" in audited.stdout and "stake_at_risk" in audited.stdout


def test_summary_by_default_every_row_with_all(tmp_path: Path):
    """A round bigger than the summary prints the best and the worst, totals, counts and every error; --all and
    --json give every row."""
    rng = np.random.default_rng(5)
    n, models = 80, [f"m{k:02d}" for k in range(30)]
    ids = [f"id{i:03d}" for i in range(n)]
    signal = rng.random(n)
    columns = {m: np.clip(signal * (k / 30) + rng.random(n) * 0.5, 0, 1) for k, m in enumerate(models)}
    columns["m07"] = np.where(np.arange(n) == 3, 1.5, columns["m07"])  # one invalid model
    pd.DataFrame({"id": ids, **columns}).to_parquet(tmp_path / "p.parquet", index=False)
    pd.DataFrame({"id": ids, "target": np.round(signal * 4) / 4}).to_parquet(tmp_path / "t.parquet", index=False)
    pd.DataFrame({"model": models, "stake": [str(1000 * E18)] * 30}).to_parquet(tmp_path / "s.parquet", index=False)
    (tmp_path / "params.json").write_text(json.dumps(PARAMS.to_dict()))
    files = {
        "predictions": str(tmp_path / "p.parquet"),
        "targets": str(tmp_path / "t.parquet"),
        "stakes": str(tmp_path / "s.parquet"),
        "params": str(tmp_path / "params.json"),
    }
    args = [*score_args(files, str(tmp_path / "out.parquet")), "--top", "3"]

    full = json.loads(CliRunner().invoke(main, ["--json", *args]).output)
    assert len(full["models"]) == 30 and full["counts"] == {
        "models": 30,
        "scored": 29,
        "not_scored": 1,
        "with_payout": sum(int(m["payout"]) > 0 for m in full["models"]),
        "with_burn": sum(int(m["burn"]) > 0 for m in full["models"]),
    }
    by_score = sorted(
        (m for m in full["models"] if m["valid"]),
        key=lambda m: -(PARAMS.corr_weight * m["corr"] + PARAMS.mmc_weight * m["mmc"]),
    )
    best, worst = [m["model"] for m in by_score[:3]], [m["model"] for m in by_score[-3:]]

    summary = CliRunner().invoke(main, args)
    assert summary.exit_code == 0, summary.output
    shown = {m for m in models if f" {m} " in summary.output}
    assert shown == set(best) | set(worst) | {"m07"}  # m07 only in the error table
    assert "out_of_range" in summary.output and "Totals" in summary.output and "--all" in summary.output
    assert summary.output.index(best[0]) < summary.output.index(best[2]) < summary.output.index("Bottom")

    every = CliRunner().invoke(main, [*args, "--all"])
    assert {m for m in models if f" {m} " in every.output} == set(models)


def test_bad_out_name_fails_before_any_work(round_files, tmp_path: Path):
    result = CliRunner().invoke(
        main, score_args({**round_files, "predictions": str(tmp_path / "nope.parquet")}, str(tmp_path / "scores.xlsx"))
    )
    assert result.exit_code == 2 and "scores.xlsx" in result.output
