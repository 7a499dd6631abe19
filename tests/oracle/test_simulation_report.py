"""report.html: self-contained, and every figure renders in real headless Chromium; the CLI's JSON shape."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from oracle.cli import main
from oracle.simulation.claims import CLAIM_NAMES, judge_all
from oracle.simulation.report import FIGURE_IDS, write_report
from oracle.simulation.seeds import SeedConfig, run_seeds
from oracle.simulation.sweep import SweepGrid, run_sweep

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TINY = SeedConfig(rounds=6, n_models=8, live_rows=400, n_features=48, history_eras=8, history_rows=300, regime_length=4)
#: Every figure of a report with a sweep, in page order: the claims, the first seed in detail, the sweep.
ALL_FIGURES = (*(f"claim-{n}" for n in CLAIM_NAMES), *FIGURE_IDS, "sweep_heatmap")
TINY_ARGS = ["--models", "6", "--live-rows", "300", "--features", "48", "--history-eras", "6", "--history-rows", "200"]

# Injected into a copy of the report before it is opened: records script and resource errors from
# the first moment, then on load writes what rendered into an attribute that --dump-dom prints.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => {
  window.__errors.push(String(e.message || (e.target && e.target.tagName) || e.type));
}, true);
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  document.body.setAttribute('data-probe', JSON.stringify({
    images: imgs.length,
    rendered: imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length,
    figures: Array.from(document.querySelectorAll('figure')).map(f => f.id),
    errors: window.__errors,
  }));
});
</script>"""


def probe(report: Path) -> dict[str, object]:
    """Open a probed copy of ``report`` in headless Chromium and return what rendered."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        probed = Path(profile) / "probed.html"
        probed.write_text(report.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
        completed = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}/user",
                "--virtual-time-budget=10000",
                "--dump-dom",
                probed.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    match = re.search(r'data-probe="([^"]*)"', completed.stdout)
    assert match, f"probe did not run; chromium exit {completed.returncode}: {completed.stderr[-2000:]}"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    runs = run_seeds(TINY, [5, 6], out, jobs=1)
    assert runs[0].prepared is not None
    sweep = run_sweep(runs[0].prepared, SweepGrid(clips=(0.02, 0.05), weights=((1.0, 0.0), (0.5, 2.0))))
    claims = judge_all({r.seed: r.measures for r in runs})
    return write_report(runs, claims, out, TINY.describe(), sweep)


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    # No external resource of any kind: every image is an embedded PNG.
    assert not re.search(r'(src|href)=["\'](?!data:image/png;base64,)', text)
    assert "<script" not in text
    for fid in ALL_FIGURES:
        assert f"id='fig-{fid}'" in text
    assert "Parameter sweep" in text and "neutral_vol_diff_pct" in text
    # The claims come first, each with its verdict and its interval across the two seeds.
    assert text.index("claim-spam_no_edge") < text.index("Per seed") < text.index("Seed 5 in detail")
    assert text.count("95% CI") >= len(CLAIM_NAMES)
    assert re.search(r"\d of 4 claims hold across 2 seeds", text)


def test_every_figure_renders_in_chromium(report: Path) -> None:
    seen = probe(report)
    assert seen["errors"] == []
    assert seen["figures"] == [f"fig-{f}" for f in ALL_FIGURES]
    assert seen["images"] == len(ALL_FIGURES) == seen["rendered"]


def test_probe_catches_a_broken_image(report: Path, tmp_path: Path) -> None:
    """The check above can fail: a truncated image is reported as not rendered, with an error."""
    text = report.read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"
    broken.write_text(re.sub(r"base64,[A-Za-z0-9+/]{200}", "base64,AAAA", text, count=1), encoding="utf-8")
    seen = probe(broken)
    assert seen["rendered"] == seen["images"] - 1
    assert seen["errors"]


def test_cli_one_seed_writes_the_report_and_json(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["--json", "simulate", "--rounds", "3", "--seed", "2", "--out", str(out), *TINY_ARGS]
    outcome = CliRunner().invoke(main, args, catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.output)
    assert Path(data["report"]) == out / "report.html" and (out / "report.html").is_file()
    assert set(data["final_balances"]) == {str(m) for m in range(1, 7)} and data["seed"] == 2
    assert (out / "results" / "rounds.parquet").is_file() and (out / "data" / "train.parquet").is_file()
    assert len(list((out / "submissions").glob("round_*.parquet"))) == 3
    # One seed: every claim is estimated, none is judged (an interval needs two seeds).
    assert [c["name"] for c in data["claims"]] == list(CLAIM_NAMES)
    assert all(c["holds"] is None and c["ci_low"] is None and c["seeds"] == 1 for c in data["claims"])


def test_cli_many_seeds_json(tmp_path: Path) -> None:
    """--seeds 0-2 in two worker processes: one directory per seed, the claims judged across the three."""
    out = tmp_path / "many"
    args = ["--json", "simulate", "--rounds", "3", "--seeds", "0-2", "--jobs", "2", "--out", str(out), *TINY_ARGS]
    outcome = CliRunner().invoke(main, args, catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.output)
    assert data["seeds"] == [0, 1, 2] and [s["seed"] for s in data["per_seed"]] == [0, 1, 2]
    for seed in (0, 1, 2):
        assert (out / f"seed-{seed:04d}" / "results" / "rounds.parquet").is_file()
    assert (out / "report.html").is_file()
    assert [c["name"] for c in data["claims"]] == list(CLAIM_NAMES)
    for claim in data["claims"]:
        assert {"name", "holds", "estimate", "ci_low", "ci_high", "seeds"} <= set(claim)
        assert isinstance(claim["holds"], bool) and claim["seeds"] == 3
        assert claim["ci_low"] <= claim["estimate"] <= claim["ci_high"]
        values = [s["measures"][claim["measure"]] for s in data["per_seed"]]
        assert claim["estimate"] == pytest.approx(sum(values) / 3)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--seed", "1", "--seeds", "0-2"], "not both"),
        (["--seeds", "4-2"], "ends before it starts"),
        (["--seeds", "0-1", "--sweep"], "one seed"),
        (["--seeds", "0-1", "--backend", "onchain"], "one seed"),
    ],
)
def test_cli_rejects_bad_seed_options(tmp_path: Path, extra: list[str], message: str) -> None:
    outcome = CliRunner().invoke(main, ["simulate", "--out", str(tmp_path / "x"), *extra])
    assert outcome.exit_code == 2 and message in outcome.output
    assert not (tmp_path / "x").exists()
