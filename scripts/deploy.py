"""Deploy the token and the tournament to any brownie network and record the addresses.

    brownie run scripts/deploy.py                       # local Anvil that brownie starts (gone when it exits)
    brownie run scripts/deploy.py --network NAME        # any configured network; see below for the key

On a development network the deployer is Anvil's first unlocked account and the oracle, guardian and pauser roles
go to its next accounts. Elsewhere the deployer is the brownie keystore named by TOURNEY_DEPLOYER (brownie asks for
its password), and the roles go to the addresses in TOURNEY_ORACLE, TOURNEY_GUARDIAN and TOURNEY_PAUSER; set
TOURNEY_ADMIN to hand the admin role to a timelock. The addresses are written to deployments/<chain id>.json, which
the `tourney` commands read (--deployment).
"""

from __future__ import annotations

import os

from brownie import accounts, network, web3
from eth_account import Account
from web3 import Web3

from oracle.chain.deploy import DeployParams, deploy
from oracle.chain.tx import Sender


def main() -> None:
    # A plain web3 on brownie's endpoint: brownie's own instance carries a gas-price middleware that rejects the
    # EIP-1559 fee fields the oracle's Sender uses.
    w3 = Web3(Web3.HTTPProvider(web3.provider.endpoint_uri))
    if network.show_active() in ("development", "anvil"):
        deployer = Sender(w3, accounts[0].address)
        oracle, guardian, pauser = accounts[1].address, accounts[2].address, accounts[0].address
    else:
        key = accounts.load(os.environ["TOURNEY_DEPLOYER"]).private_key
        deployer = Sender(w3, Account.from_key(key))
        oracle, guardian, pauser = (os.environ.get(v) for v in ("TOURNEY_ORACLE", "TOURNEY_GUARDIAN", "TOURNEY_PAUSER"))
    deployment = deploy(
        deployer, DeployParams(), oracle=oracle, guardian=guardian, pauser=pauser, admin=os.environ.get("TOURNEY_ADMIN")
    )
    path = deployment.save()
    print(f"token      {deployment.token}")
    print(f"tournament {deployment.tournament}")
    print(f"roles      {deployment.roles}")
    print(f"written to {path}")
