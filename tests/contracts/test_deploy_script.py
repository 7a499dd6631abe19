"""scripts/deploy.py on brownie's development network: contracts deployed, roles granted, addresses recorded."""

import importlib.util
import json
from pathlib import Path

from brownie import Tournament, TournamentToken, accounts, chain

from oracle.chain.deploy import default_path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "deploy.py"


def run_deploy_script() -> None:
    """Runs the script's main() on the test's network (brownie's own `run` confuses its pytest plugin)."""
    spec = importlib.util.spec_from_file_location("deploy_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()


def test_the_deploy_script_deploys_grants_the_roles_and_records_the_addresses():
    path = default_path(chain.id)
    path.unlink(missing_ok=True)
    run_deploy_script()
    recorded = json.loads(path.read_text())
    t = Tournament.at(recorded["tournament"])
    token = TournamentToken.at(recorded["token"])
    assert t.token() == token.address
    assert t.hasRole(t.ORACLE_ROLE(), accounts[1])
    assert t.hasRole(t.GUARDIAN_ROLE(), accounts[2])
    assert t.hasRole(t.PAUSER_ROLE(), accounts[0])
    assert t.hasRole(t.DEFAULT_ADMIN_ROLE(), accounts[0])
    assert not t.hasRole(t.ORACLE_ROLE(), accounts[0])
    assert token.balanceOf(accounts[0]) == token.totalSupply()
    assert recorded["chain_id"] == chain.id
