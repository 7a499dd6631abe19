"""``tourney operator run`` as a real process, SIGKILLed at every step of a round and started again: the round
completes, every transaction happens exactly once, and the published totals are right.

The operator is told to hang at a named step through ``TOURNEY_OPERATOR_HANG_AT``; the test waits for its
announcement on stderr (so the kill lands exactly after that step's effect) and kills it with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_operator import WINDOW, prediction_file, register, submit, write_round_data

from oracle.auditor.verify import verify_round
from oracle.bundle.fetch import FetchPolicy
from oracle.bundle.round_bundle import load_bundle
from oracle.bundle.store import list_manifests
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.deploy import UNIT
from oracle.chain.keystore import Keystore
from oracle.operator.config import HANG_ENV, STEPS
from oracle.protocol.inbox import Inbox

TOURNEY = str(Path(sys.executable).parent / "tourney")
PASSWORD = "oracle-e2e"
#: A Python start with web3, pandas and the scorer imported takes a few seconds on a busy 2-core machine.
PROCESS_TIMEOUT = 120


def operator_env(chain, tmp_path: Path) -> dict[str, str]:
    keystore_dir = tmp_path / "oracle-keys"
    if not (keystore_dir / "oracle.json").exists():
        Keystore(keystore_dir, scrypt_n=2**10).import_key("oracle", bytes(chain.oracle.account.key), PASSWORD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOURNEY_")}
    env.update(
        {
            "TOURNEY_RPC": chain.url,
            "TOURNEY_DEPLOYMENT": str(chain.deployment_file),
            "TOURNEY_KEYSTORE_DIR": str(keystore_dir),
            "TOURNEY_ACCOUNT": "oracle",
            "TOURNEY_PASSWORD": PASSWORD,
            "TOURNEY_STORE": str(tmp_path / "store"),
            "TOURNEY_INBOX": str(tmp_path / "inbox"),
            "TOURNEY_ROUND_DATA": str(tmp_path / "data"),
        }
    )
    return env


ARGS = [TOURNEY, "--json", "operator", "run", "--once", "--max-rounds", "1", "--window", str(WINDOW)]


def run_once(env: dict[str, str]) -> None:
    done = subprocess.run(ARGS, env=env, capture_output=True, text=True, timeout=PROCESS_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr


def run_and_kill_at(env: dict[str, str], step: str) -> None:
    """Start the operator told to hang at ``step``; SIGKILL it once it says it is there."""
    process = subprocess.Popen(
        ARGS, env={**env, HANG_ENV: step}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    watchdog = threading.Timer(PROCESS_TIMEOUT, process.kill)
    watchdog.start()
    lines = []
    try:
        for line in process.stderr:
            lines.append(line)
            if f"hanging after {step}" in line:
                break
        else:
            pytest.fail(f"operator exited (code {process.wait()}) without reaching {step}: {''.join(lines)[-2000:]}")
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
    finally:
        watchdog.cancel()
        process.kill()


@pytest.mark.parametrize("step", STEPS)
def test_operator_killed_at_each_step_completes_the_round_once(step: str, chain, participants, tmp_path: Path) -> None:
    accounts = [p.account for p in participants[:3]]
    stakes = [1_000 * UNIT, 2_000 * UNIT, 500 * UNIT]
    models = [register(chain, acct, stake) for acct, stake in zip(accounts, stakes)]
    ids = write_round_data(tmp_path / "data", 1)
    env = operator_env(chain, tmp_path)
    client = TournamentClient(chain.w3, chain.deployment)
    nonce_before = chain.w3.eth.get_transaction_count(chain.oracle.address)

    def phase(steps_here: tuple[str, ...]) -> None:
        if step in steps_here:
            run_and_kill_at(env, step)
        run_once(env)

    phase(("opened",))
    assert client.round_state(1).status is RoundStatus.OPEN
    inbox = Inbox(tmp_path / "inbox")
    for i, (acct, model) in enumerate(zip(accounts, models)):
        submit(chain, inbox, acct, 1, model, prediction_file(ids, 100 + i))
    chain.advance(WINDOW + 1)
    phase(("closed", "bundled", "proposed"))
    assert client.round_state(1).status is RoundStatus.PROPOSED
    chain.advance(client.round_state(1).challenge_period + 1)
    phase(("activated",))
    run_once(env)  # one more pass finds nothing to do

    assert client.round_state(1).status is RoundStatus.ACTIVE
    for event in ("RoundOpened", "RoundClosed", "RootProposed", "RootActivated"):
        assert len(client.events([event])) == 1, event
    # open, close, propose, activate: four transactions, none sent twice.
    assert chain.w3.eth.get_transaction_count(chain.oracle.address) == nonce_before + 4
    assert len(list_manifests(tmp_path / "store", 1)) == 1
    proposal = client.current_proposal(1)
    bundle = load_bundle(proposal.manifest_uri, proposal.manifest_hash)
    assert bundle.manifest.totals.stake_at_risk == sum(stakes)
    assert sorted(c for c in bundle.predictions().columns if c != "id") == sorted(str(m) for m in models)
    state = client.round_state(1)
    assert state.payout_total == proposal.payout_total == bundle.manifest.totals.round_payout
    assert proposal.burn_total == bundle.manifest.totals.round_burn
    verdict = verify_round(client, 1, policy=FetchPolicy(roots=(str(tmp_path / "store"),)))
    assert verdict.ok, [d.describe() for d in verdict.differences]
