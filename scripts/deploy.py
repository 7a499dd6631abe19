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

from oracle.chain.deploy import DeployParams, deploy
from oracle.chain.tx import Sender


def main() -> None:
    if network.show_active() in ("development", "anvil"):
        deployer = Sender(web3, accounts[0].address)
        oracle, guardian, pauser = accounts[1].address, accounts[2].address, accounts[0].address
    else:
        key = accounts.load(os.environ["TOURNEY_DEPLOYER"]).private_key
        deployer = Sender(web3, Account.from_key(key))
        oracle, guardian, pauser = (os.environ.get(v) for v in ("TOURNEY_ORACLE", "TOURNEY_GUARDIAN", "TOURNEY_PAUSER"))
    deployment = deploy(
        deployer, DeployParams(), oracle=oracle, guardian=guardian, pauser=pauser, admin=os.environ.get("TOURNEY_ADMIN")
    )
    path = deployment.save()
    print(f"token      {deployment.token}")
    print(f"tournament {deployment.tournament}")
    print(f"roles      {deployment.roles}")
    print(f"written to {path}")
