"""One local tournament for tests, benchmarks and the demo: token and tournament deployed on a local Anvil, the
oracle, guardian and pauser roles granted, and the reward reserve funded.

Roles are Anvil's development accounts (public test keys): 0 = admin/deployer (holds the token supply, pauser),
1 = oracle, 2 = guardian, 3 = keeper (ether, no tokens). :func:`local_tournament` builds it on a chain it is given
(the caller owns the node) or starts its own Anvil on a free port (then :meth:`LocalTournament.stop` stops it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import RPCEndpoint

from oracle.chain.anvil import Anvil, dev_private_keys, start_anvil
from oracle.chain.deploy import UNIT, Deployment, DeployParams, deploy
from oracle.chain.tx import Sender

__all__ = ["DEFAULT_RESERVE", "LocalTournament", "local_tournament"]

#: Funded into the reward reserve unless the caller asks for another amount.
DEFAULT_RESERVE = 100_000 * UNIT


@dataclass
class LocalTournament:
    """The running chain and its tournament: web3, the deployment, a sender per role, clock and snapshot helpers."""

    node: Anvil
    w3: Web3
    deployment: Deployment
    deployment_file: Path | None
    admin: Sender
    oracle: Sender
    guardian: Sender
    keeper: Sender

    @property
    def url(self) -> str:
        return self.node.url

    @property
    def tournament(self) -> Contract:
        return self.deployment.tournament_contract(self.w3)

    @property
    def token(self) -> Contract:
        return self.deployment.token_contract(self.w3)

    def sender(self, account: LocalAccount | str) -> Sender:
        return Sender(self.w3, account)

    def now(self) -> int:
        """Timestamp of the latest block (the chain's clock, not the wall clock)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance(self, seconds: int) -> int:
        """Move the chain's clock forward and mine a block; returns the new block timestamp."""
        self.w3.provider.make_request(RPCEndpoint("evm_increaseTime"), [int(seconds)])
        self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        return self.now()

    def catch_up_clock(self) -> int:
        """Bring the chain's clock to the wall clock when it lags, with one block mined now; returns the chain's time.

        Anvil's ``evm_revert`` rewinds its clock to the snapshot block's timestamp, so on a node shared by a session
        of snapshot/revert tests the clock falls behind the wall clock by the session's age. Deadlines counted from
        such a clock (``chain.now() + window``) would already be past by the wall clock on a slow run; a fresh
        block at the wall clock gives each test the chain a node with ``--block-time`` keeps."""
        wall = int(time.time())
        if self.now() < wall:
            self.w3.provider.make_request(RPCEndpoint("evm_setTime"), [wall])
            self.w3.provider.make_request(RPCEndpoint("evm_mine"), [])
        return self.now()

    def snapshot(self) -> str:
        return str(self.w3.provider.make_request(RPCEndpoint("evm_snapshot"), [])["result"])

    def revert(self, snapshot_id: str) -> None:
        result = self.w3.provider.make_request(RPCEndpoint("evm_revert"), [snapshot_id])
        assert result.get("result") is True, f"evm_revert({snapshot_id}) failed: {result}"

    def fund(self, address: str, tokens: int, ether: int = 10**18) -> None:
        """Give ``address`` ether for gas and ``tokens`` (smallest units) from the admin's supply."""
        if ether:
            self.admin.send_ether(address, ether)
        if tokens:
            self.admin.transact(
                self.token.functions.transfer(Web3.to_checksum_address(address), tokens), action=f"fund {address}"
            )

    def stop(self) -> None:
        self.node.stop()


def local_tournament(
    node: Anvil | None = None,
    *,
    params: DeployParams | None = None,
    challenge_period: int = 600,
    reserve: int = DEFAULT_RESERVE,
    save_to: Path | None = None,
) -> LocalTournament:
    """Deploy, grant the roles and fund the reserve (``reserve`` smallest units) on ``node`` (default: a new Anvil).

    ``params`` overrides the deployment parameters (``challenge_period`` is then taken from it); ``save_to`` writes
    the deployment file (what the ``tourney`` commands' ``--deployment`` reads)."""
    node = node or start_anvil(accounts=10)
    w3 = node.web3()
    admin, oracle, guardian, keeper = (Sender(w3, Account.from_key(k)) for k in dev_private_keys(4))
    deployment = deploy(
        admin,
        params or DeployParams(challenge_period=challenge_period),
        oracle=oracle.address,
        guardian=guardian.address,
        pauser=admin.address,
    )
    token, tournament = deployment.token_contract(w3), deployment.tournament_contract(w3)
    if reserve:
        admin.transact(token.functions.approve(tournament.address, reserve), action="approve reserve")
        admin.transact(tournament.functions.fundReserve(reserve), action="fund reserve")
    path = deployment.save(save_to) if save_to is not None else None
    return LocalTournament(node, w3, deployment, path, admin, oracle, guardian, keeper)
