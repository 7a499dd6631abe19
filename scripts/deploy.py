"""Deploy the token and the tournament to any brownie network and record the addresses.

    brownie run scripts/deploy.py                       # local Anvil that brownie starts (gone when it exits)
    brownie run scripts/deploy.py --network NAME        # any configured network; see below for the key

On a development network the deployer is Anvil's first unlocked account (also the admin and the pauser) and the
oracle and guardian roles go to its next accounts; the hard limits are the local defaults of
``oracle.chain.deploy.DeployParams`` (short windows, a one-day exit bound D).

Elsewhere the deployer is the brownie keystore named by TOURNEY_DEPLOYER (brownie asks for its password), the roles
go to the addresses in TOURNEY_ORACLE, TOURNEY_GUARDIAN and TOURNEY_PAUSER, and the admin role to TOURNEY_ADMIN,
which must be set (a multisig or timelock: the script refuses to leave the deploying key as admin). The limits are
``PUBLIC_NETWORK_PARAMS``: a challenge period of a day, D of 30 days, an admin delay longer than D (every bounds
change, role grant and admin transfer waits that long; revoking a key is instant). The script refuses to deploy
parameters that break those promises (``check_public_network_safety``).

The addresses are written to deployments/<chain id>.json, which the `tourney` commands read (--deployment).
"""

from __future__ import annotations

import os

from brownie import accounts, network, web3
from eth_account import Account
from web3 import Web3

from oracle.chain.deploy import PUBLIC_NETWORK_PARAMS, DeployParams, check_public_network_safety, deploy
from oracle.chain.tx import Sender

#: brownie networks that are throwaway local chains.
LOCAL_NETWORKS = ("development", "anvil", "anvil-fork", "hardhat", "hardhat-fork", "mainnet-fork")


def main() -> None:
    # A plain web3 on brownie's endpoint: brownie's own instance carries a gas-price middleware that rejects the
    # EIP-1559 fee fields the oracle's Sender uses.
    w3 = Web3(Web3.HTTPProvider(web3.provider.endpoint_uri))
    if network.show_active() in LOCAL_NETWORKS:
        deployer = Sender(w3, accounts[0].address)
        params = DeployParams()
        oracle, guardian, pauser, admin = accounts[1].address, accounts[2].address, accounts[0].address, None
    else:
        key = accounts.load(os.environ["TOURNEY_DEPLOYER"]).private_key
        deployer = Sender(w3, Account.from_key(key))
        params = PUBLIC_NETWORK_PARAMS
        oracle, guardian, pauser = (os.environ.get(v) for v in ("TOURNEY_ORACLE", "TOURNEY_GUARDIAN", "TOURNEY_PAUSER"))
        admin = os.environ.get("TOURNEY_ADMIN")
        check_public_network_safety(params, admin, deployer.address)
    deployment = deploy(deployer, params, oracle=oracle, guardian=guardian, pauser=pauser, admin=admin)
    path = deployment.save()
    print(f"token      {deployment.token}")
    print(f"tournament {deployment.tournament}")
    print(f"admin      {deployment.admin} (changes wait {params.admin_delay} s; exit bound D {params.lapse_period} s)")
    print(f"roles      {deployment.roles}")
    print(f"written to {path}")
