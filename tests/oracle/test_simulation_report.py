"""report.html: self-contained, and every figure renders in real headless Chromium."""

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
from oracle.simulation.data import TournamentSpec
from oracle.simulation.engine import default_params, prepare, settle
from oracle.simulation.report import FIGURE_IDS, write_report
from oracle.simulation.sweep import SweepGrid, run_sweep

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TINY = TournamentSpec(seed=5, n_features=48, history_eras=8, history_rows_per_era=300, live_rows=400, regime_length=4)

# Injected into a copy of the report before it is opened: records script and resource errors from
# the first moment, then on load writes what rendered into an attribute that --dump-dom prints.
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => { window.__errors.push(String(e.message || (e.target && e.target.tagName) || e.type)); }, true);
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
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}/user", "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    match = re.search(r'data-probe="([^"]*)"', completed.stdout)
    assert match, f"probe did not run; chromium exit {completed.returncode}: {completed.stderr[-2000:]}"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    prepared = prepare(TINY, 6, out, n_models=8)
    prepared.memoise = True
    result = settle(prepared, default_params())
    sweep = run_sweep(prepared, SweepGrid(clips=(0.02, 0.05), weights=((1.0, 0.0), (0.5, 2.0))))
    return write_report(result, out, sweep)


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text(encoding="utf-8")
    # No external resource of any kind: every image is an embedded PNG.
    assert not re.search(r'(src|href)=["\'](?!data:image/png;base64,)', text)
    assert "<script" not in text
    for fid in (*FIGURE_IDS, "sweep_heatmap"):
        assert f"id='fig-{fid}'" in text
    assert "Parameter sweep" in text and "spam_net_pct" in text


def test_every_figure_renders_in_chromium(report: Path) -> None:
    seen = probe(report)
    assert seen["errors"] == []
    assert seen["figures"] == [f"fig-{f}" for f in (*FIGURE_IDS, "sweep_heatmap")]
    assert seen["images"] == len(FIGURE_IDS) + 1 == seen["rendered"]


def test_probe_catches_a_broken_image(report: Path, tmp_path: Path) -> None:
    """The check above can fail: a truncated image is reported as not rendered, with an error."""
    text = report.read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"
    broken.write_text(re.sub(r"base64,[A-Za-z0-9+/]{200}", "base64,AAAA", text, count=1), encoding="utf-8")
    seen = probe(broken)
    assert seen["rendered"] == seen["images"] - 1
    assert seen["errors"]


def test_cli_simulate_writes_the_report_and_json(tmp_path: Path) -> None:
    out = tmp_path / "run"
    runner = CliRunner()
    args = ["--json", "simulate", "--rounds", "3", "--seed", "2", "--out", str(out), "--models", "6",
            "--live-rows", "300", "--features", "48", "--history-eras", "6", "--history-rows", "200"]
    outcome = runner.invoke(main, args, catch_exceptions=False)
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.output)
    assert Path(data["report"]) == out / "report.html" and (out / "report.html").is_file()
    assert set(data["final_balances"]) == {str(m) for m in range(1, 7)}
    assert (out / "results" / "rounds.parquet").is_file() and (out / "data" / "train.parquet").is_file()
    assert len(list((out / "submissions").glob("round_*.parquet"))) == 3
