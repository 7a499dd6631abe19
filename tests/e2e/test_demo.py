"""The demo end to end (smaller than ``make demo``): every standing proposal verifies, the bad root was caught and
vetoed, the withdrawal paid, rejections recorded, the scripted MCP agent played every round within its spending
limit and exited with its stake and results, and the tournament is solvent per claim: every model's stake is real
and the tokens held are exactly every stake plus the reserve plus the burns not yet destroyed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from oracle.chain.deploy import UNIT
from oracle.demo import DemoConfig, run_demo
from oracle.demo.agent import AGENT_OWNER

REPO = Path(__file__).resolve().parents[2]


def test_small_demo_outcome(tmp_path: Path) -> None:
    config = DemoConfig(participants=4, models_per_participant=2, rounds=5, bad_round=3, withdraw_round=2,
                        live_rows=300, features=16)
    lines: list[str] = []
    result = run_demo(config, workdir=tmp_path, say=lines.append)

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
        ("stake", "spending_limit", "100")]
    assert [c.result["ok"] for c in agent.transcript if c.tool == "verify_round"] == [True]
    assert any("not_owner" in r for r in result.rejections[1])
    assert any("late" in r for r in result.rejections[2])
    assert result.seconds < 120


@pytest.mark.slow
def test_make_demo_entry_point_runs(tmp_path: Path) -> None:
    # The module entry point itself (what `make demo` runs), at full size: exit code 0 and the closing lines.
    done = subprocess.run([sys.executable, "-m", "oracle.demo"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Auditor verdicts" in done.stdout
    assert "per claim" in done.stdout and "solvency" in done.stdout and ": NO" not in done.stdout
