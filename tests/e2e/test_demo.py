"""The demo end to end (smaller than ``make demo``): every standing proposal verifies, the bad root was caught and
vetoed, the withdrawal paid, rejections recorded, the scripted MCP agent played every round within its spending
limit and exited with its stake and results, and the tournament is solvent per claim: every model's stake is real
and the tokens held are exactly every stake plus the reserve plus the burns not yet destroyed; then ``make
web-demo``'s service on the finished tournament (the app, the verdicts, the leaderboard)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from oracle.chain.deploy import UNIT
from oracle.demo import DemoConfig, run_demo
from oracle.demo.agent import AGENT_OWNER
from oracle.demo.serve import serve_demo

REPO = Path(__file__).resolve().parents[2]


def test_small_demo_outcome(tmp_path: Path) -> None:
    config = DemoConfig(
        participants=4, models_per_participant=2, rounds=5, bad_round=3, withdraw_round=2, live_rows=300, features=16
    )
    lines: list[str] = []
    served: dict[str, object] = {}
    result = run_demo(
        config,
        workdir=tmp_path,
        say=lines.append,
        then=lambda anvil, demo, result: served.update(_look_at_the_served_demo(anvil, demo, lines)),
    )

    standing = [v for v in result.verdicts if v.standing]
    assert [v.round for v in standing] == [1, 2, 3, 4, 5]
    assert all(v.ok and v.status == "active" for v in standing), [d.describe() for v in standing for d in v.differences]
    vetoed = [v for v in result.verdicts if not v.standing]
    assert result.vetoed_round == 3 and [v.round for v in vetoed] == [3]
    assert not vetoed[0].ok and vetoed[0].status == "vetoed"
    assert vetoed[0].models(), "the auditor names the model whose payout was inflated"

    # Per claim: every model's stake is a real amount and the balance covers every stake, the reserve and the burns
    # not yet destroyed, exactly (nothing else entered the contract).
    assert result.conserved and result.claims_sound and result.solvent
    assert result.token_balance == sum(result.stakes.values()) + result.reserve + result.burn_due
    assert len(result.stakes) == 9
    # Half the stake was requested back in round 2; burns since may only have lowered it.
    assert 0 < result.withdrawn <= config.stake // 2
    assert len(result.models) == 9
    # Every model is settled: its on-chain stake is deposits + payout - burn (the withdrawer's less what it took).
    withdrawer_models = result.models[result.models["owner"] == "participant02"]["model"].tolist()
    for row in result.models[result.models["owner"] != AGENT_OWNER].itertuples():
        expected = config.stake + row.payout - row.burn - (result.withdrawn if row.model == withdrawer_models[0] else 0)
        assert row.stake == expected, row
    # The scripted MCP agent played every round, staked within its limit and took everything back at the end.
    agent = result.agent
    assert agent is not None
    row = result.models[result.models["owner"] == AGENT_OWNER].iloc[0]
    assert row.model == agent.model_id and row.stake == 0 == result.stakes[agent.model_id]
    assert all(stake > 0 for model, stake in result.stakes.items() if model != agent.model_id)
    assert agent.staked == 300 * UNIT  # the session limit: 150 refused, then 100 in each of three rounds
    assert agent.withdrawn == agent.staked + row.payout - row.burn > 0
    submitted = [c.arguments["round"] for c in agent.transcript if c.tool == "submit_predictions" and c.ok]
    assert submitted == [1, 2, 3, 4, 5]
    refused = [c for c in agent.transcript if not c.ok]
    assert [(c.tool, c.result["code"], c.result["details"]["max_allowed"]) for c in refused] == [
        ("stake", "spending_limit", "100")
    ]
    assert [c.result["ok"] for c in agent.transcript if c.tool == "verify_round"] == [True]
    assert any("not_owner" in r for r in result.rejections[1])
    assert any("late" in r for r in result.rejections[2])
    assert result.seconds < 120
    # Times read as dates with how far off they are, never as raw Unix seconds.
    [withdrawal] = [line for line in lines if "requests a withdrawal" in line]
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in [^)]+\)"
    assert re.search(rf"can be taken by {when} \(chain time\)", withdrawal), withdrawal
    assert not [line for line in lines if re.search(r"(?<![\w.,])1[6-9]\d{8}(?![\w.,])", line)], "a raw timestamp"

    # make web-demo's service on the finished tournament: the app at /, every proposal with the auditor's verdict.
    assert "Staking tournament" in served["index"]
    rounds = served["rounds"]
    assert [r["round"] for r in rounds["open"]] == [config.rounds + 1]
    bad, good = next(r for r in rounds["recent"] if r["round"] == 3)["proposals"]
    assert (bad["state"], bad["verdict"]["ok"], good["state"], good["verdict"]["ok"]) == (
        "vetoed",
        False,
        "active",
        True,
    )
    assert bad["verdict"]["models"] == vetoed[0].models()
    assert len(served["leaderboard"]["models"]) == 9


def _look_at_the_served_demo(anvil: Any, demo: Any, lines: list[str]) -> dict[str, Any]:
    """serve_demo in a thread: wait for its 'serving at' line, read the app and the API, stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=serve_demo, args=(anvil, demo, lines.append, stop), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not any(line.startswith("serving at ") for line in lines):
            assert thread.is_alive() and time.monotonic() < deadline, lines[-5:]
            time.sleep(0.1)
        url = next(line for line in lines if line.startswith("serving at ")).removeprefix("serving at ")
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        while True:  # the service's auditor checks every proposal in the background
            rounds = requests.get(f"{url}/rounds?limit=64", timeout=30).json()
            if all(p["verdict"] for r in rounds["recent"] for p in r["proposals"]):
                break
            assert time.monotonic() < deadline + 120, "no verdict on every proposal in time"
            time.sleep(0.5)
        return {
            "index": requests.get(f"{url}/", timeout=30).text,
            "rounds": rounds,
            "leaderboard": requests.get(f"{url}/leaderboard", timeout=60).json(),
        }
    finally:
        stop.set()
        thread.join(timeout=30)


@pytest.mark.slow
def test_make_demo_entry_point_runs(tmp_path: Path) -> None:
    # The module entry point itself (what `make demo` runs), at full size: exit code 0 and the closing lines.
    done = subprocess.run(
        [sys.executable, "-m", "oracle.demo"], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Auditor verdicts" in done.stdout
    assert "per claim" in done.stdout and "solvency" in done.stdout and ": NO" not in done.stdout
    # Amounts in tokens, exact: e.g. "balance 234,069.252067037392837877 STK".
    report = " ".join(done.stdout.split())  # rich wraps long lines
    amount = r"[\d,]+(\.\d+)? STK"
    assert re.search(
        rf"solvency: tournament token balance {amount} >= sum of stakes {amount} \+ reserve {amount} "
        rf"\+ burns due {amount}: yes",
        report,
    ), report[-800:]
