"""Deploy the token and the tournament to any brownie network and record the addresses.

    brownie run scripts/deploy.py                       # local Anvil that brownie starts (gone when it exits)
    brownie run scripts/deploy.py --network NAME        # any configured network; see below for the key

`tourney deploy --rpc URL` does the same with the same code and needs no brownie network (see
docs/operator-guide.md); this script is for those who manage their networks with brownie.

On a development network (any network brownie lists under "Development", whatever its name) the deployer is the
node's first unlocked account, which keeps the admin and pauser roles; the oracle role goes to the second account
and the guardian role to the third; the hard limits are the local defaults of ``oracle.chain.deploy.DeployParams``
(short windows, a one-day exit bound D).

Elsewhere the deployer is the brownie keystore named by TOURNEY_DEPLOYER (brownie asks for its password), the roles
go to the addresses in TOURNEY_ORACLE, TOURNEY_GUARDIAN and TOURNEY_PAUSER, and the admin role to TOURNEY_ADMIN,
which must be set (a multisig or timelock: the script refuses to leave the deploying key as admin). The limits are
``PUBLIC_NETWORK_PARAMS``: a challenge period of a day, D of 30 days, an admin delay longer than D (every bounds
change, role grant and admin transfer waits that long; revoking a key is instant). The script refuses to deploy
parameters that break those promises (``check_public_network_safety``).

Any DeployParams field can be set with a TOURNEY_DEPLOY_<FIELD> variable, e.g. TOURNEY_DEPLOY_CHALLENGE_PERIOD=86400
(seconds; amounts in smallest units). The addresses and the RPC URL are written to deployments/<chain id>.json
(TOURNEY_DEPLOYMENT names another file), which the `tourney` commands read with --deployment. An existing file is
never replaced (every local chain is chain 31337) unless TOURNEY_DEPLOY_FORCE=1.
"""

from __future__ import annotations

import dataclasses
import os

from brownie import accounts, network, web3
from brownie._config import CONFIG
from eth_account import Account
from web3 import Web3

from oracle.chain.deploy import PUBLIC_NETWORK_PARAMS, DeployParams, check_public_network_safety, default_path, deploy
from oracle.chain.deployment_file import DeploymentExists, check_writable, save_deployment
from oracle.chain.tx import Sender

#: brownie networks that are throwaway local chains (besides any network brownie itself types "development").
LOCAL_NETWORKS = ("development", "anvil", "anvil-fork", "hardhat", "hardhat-fork", "mainnet-fork")


def params_from_env(base: DeployParams) -> DeployParams:
    """``base`` with every field a TOURNEY_DEPLOY_<FIELD> variable sets."""
    values = {}
    for f in dataclasses.fields(DeployParams):
        text = os.environ.get(f"TOURNEY_DEPLOY_{f.name.upper()}")
        if text is not None:
            values[f.name] = text if f.type == "str" else int(text)
    return dataclasses.replace(base, **values)


def main() -> None:
    # A plain web3 on brownie's endpoint: brownie's own instance carries a gas-price middleware that rejects the
    # EIP-1559 fee fields the oracle's Sender uses.
    endpoint = web3.provider.endpoint_uri
    w3 = Web3(Web3.HTTPProvider(endpoint))
    try:
        target = check_writable(
            os.environ.get("TOURNEY_DEPLOYMENT") or default_path(w3.eth.chain_id),
            force=os.environ.get("TOURNEY_DEPLOY_FORCE") == "1",
            hint="write this one elsewhere with TOURNEY_DEPLOYMENT=FILE, or set TOURNEY_DEPLOY_FORCE=1 to replace it",
        )
    except DeploymentExists as exc:
        raise SystemExit(f"nothing deployed: {exc}") from None
    if CONFIG.network_type == "development" or network.show_active() in LOCAL_NETWORKS:
        deployer = Sender(w3, accounts[0].address)
        params = params_from_env(DeployParams())
        oracle, guardian, pauser, admin = accounts[1].address, accounts[2].address, accounts[0].address, None
    else:
        name = os.environ.get("TOURNEY_DEPLOYER")
        if not name:
            raise SystemExit(
                f"{network.show_active()} is not a development network: set TOURNEY_DEPLOYER to the "
                "brownie keystore account that deploys (`brownie accounts list`)"
            )
        deployer = Sender(w3, Account.from_key(accounts.load(name).private_key))
        params = params_from_env(PUBLIC_NETWORK_PARAMS)
        oracle, guardian, pauser = (os.environ.get(v) for v in ("TOURNEY_ORACLE", "TOURNEY_GUARDIAN", "TOURNEY_PAUSER"))
        admin = os.environ.get("TOURNEY_ADMIN")
        check_public_network_safety(params, admin, deployer.address)
    deployment = deploy(deployer, params, oracle=oracle, guardian=guardian, pauser=pauser, admin=admin)
    path = save_deployment(deployment, target, rpc=endpoint, force=True)
    print(f"token      {deployment.token}")
    print(f"tournament {deployment.tournament}")
    print(f"admin      {deployment.admin} (changes wait {params.admin_delay} s; exit bound D {params.lapse_period} s)")
    print(f"roles      {deployment.roles}")
    print(f"written to {path} (RPC {endpoint})")
    if network.show_active() == "development":
        print(
            "note: brownie's own development chain stops when this script exits; deploy to a chain you keep "
            "running with `tourney deploy --rpc URL` or `--network NAME`"
        )
