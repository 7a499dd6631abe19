"""``brownie run scripts/deploy.py`` on a development network of one's own (issue 16, finding 3): a network named
anything (not only "development" or "anvil") deploys with the local roles, takes a DeployParams field from its
TOURNEY_DEPLOY_<FIELD> variable, records the RPC URL, and never replaces another deployment's file.

brownie runs as the user would run it, in a subprocess, against an Anvil the test started (brownie attaches to a
chain already listening on the network's port). Its network list lives in ~/.brownie: the test gives brownie a home
of its own so that the network it adds touches nobody else's configuration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from web3 import Web3

from oracle.chain.anvil import Anvil, dev_private_keys, start_anvil
from oracle.chain.artifacts import abi

REPO = Path(__file__).resolve().parents[2]
BROWNIE = str(Path(sys.executable).with_name("brownie"))
NETWORK = "my-own-chain"  # neither "development" nor "anvil": what finding 3 tripped over


@pytest.fixture
def node() -> Anvil:
    node = start_anvil(accounts=4)
    try:
        yield node
    finally:
        node.stop()


def brownie(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HOME": str(home), **env}
    return subprocess.run(
        [BROWNIE, *args], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_brownie_script_deploys_to_any_development_network_and_never_replaces_a_file(
    node: Anvil, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = node.url.rsplit(":", 1)[1]
    added = brownie(
        home, "networks", "add", "Development", NETWORK, "host=http://127.0.0.1", f"port={port}", "cmd=anvil"
    )
    assert added.returncode == 0, added.stdout + added.stderr
    target = tmp_path / "deployment.json"
    env = {"TOURNEY_DEPLOYMENT": str(target), "TOURNEY_DEPLOY_CHALLENGE_PERIOD": "321"}

    ran = brownie(home, "run", "scripts/deploy.py", "--network", NETWORK, **env)
    out = ran.stdout + ran.stderr
    assert ran.returncode == 0, out
    assert "TOURNEY_DEPLOYER" not in out and f"written to {target}" in out
    recorded = json.loads(target.read_text())
    assert recorded["rpc"] == f"http://127.0.0.1:{port}" and recorded["chain_id"] == 31337
    w3 = Web3(Web3.HTTPProvider(node.url))
    tournament = w3.eth.contract(address=recorded["tournament"], abi=abi("Tournament"))
    assert tournament.functions.bounds().call()[0] == 321
    # The docstring's roles: the first account keeps admin and pauser, the second is the oracle, the third the guardian.
    first, second, third = (w3.eth.account.from_key(k).address for k in dev_private_keys(3))
    assert recorded["admin"] == first
    assert recorded["roles"] == {"ORACLE_ROLE": [second], "GUARDIAN_ROLE": [third], "PAUSER_ROLE": [first]}

    again = brownie(home, "run", "scripts/deploy.py", "--network", NETWORK, **env)
    out = " ".join((again.stdout + again.stderr).split())
    assert again.returncode != 0
    assert f"nothing deployed: {target} already records the deployment of tournament {recorded['tournament']}" in out
    assert "TOURNEY_DEPLOYMENT=FILE" in out and "TOURNEY_DEPLOY_FORCE=1" in out and "--out FILE" not in out
    assert json.loads(target.read_text()) == recorded
