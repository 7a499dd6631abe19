"""One connection to one deployment: a web3 client on its chain, checked, optionally with a signing account.

Every chain command (participant, operator, auditor, service) connects through :func:`connect`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from oracle.chain.client import TournamentClient
from oracle.chain.deploy import Deployment
from oracle.chain.tx import ChainError, RpcUnavailable, Sender

__all__ = ["Connection", "ConnectionRefused", "connect"]


class ConnectionRefused(ChainError):
    """The connection cannot be used as asked: wrong chain, no contract at the address, no account to sign."""


@dataclass
class Connection:
    """A web3 connection to one deployment, optionally with a signing account."""

    w3: Web3
    deployment: Deployment
    account: LocalAccount | None = None
    _sender: Sender | None = field(default=None, repr=False)
    _client: TournamentClient | None = field(default=None, repr=False)

    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    @property
    def tournament(self) -> Contract:
        return self.deployment.tournament_contract(self.w3)

    @property
    def token(self) -> Contract:
        return self.deployment.token_contract(self.w3)

    @property
    def client(self) -> TournamentClient:
        """The typed read model of the tournament on this connection."""
        if self._client is None:
            self._client = TournamentClient(self.w3, self.deployment)
        return self._client

    @property
    def sender(self) -> Sender:
        """The account's transaction sender; an error when the connection is read-only."""
        signer = self.signer
        if self._sender is None:
            self._sender = Sender(self.w3, signer)
        return self._sender

    @property
    def signer(self) -> LocalAccount:
        """The signing account; an error when the connection is read-only."""
        if self.account is None:
            raise ConnectionRefused("this action sends a transaction: pass --account NAME (or set TOURNEY_ACCOUNT)")
        return self.account

    @property
    def address(self) -> str:
        return self.sender.address

    def now(self) -> int:
        """The chain's clock: the latest block's timestamp."""
        return int(self.w3.eth.get_block("latest")["timestamp"])


def connect(
    rpc: str, deployment: Deployment | str | Path, account: LocalAccount | None = None, timeout: float = 60.0
) -> Connection:
    """Connect to ``rpc`` and check that it is the deployment's chain and that the tournament is there."""
    if not isinstance(deployment, Deployment):
        deployment = Deployment.load(deployment)
    # The chain id is asked before every call web3 validates (twice per eth_call); it cannot change under a
    # connection (checked below), so it is cached: a third of the requests of a read-heavy command.
    w3 = Web3(
        Web3.HTTPProvider(
            rpc, request_kwargs={"timeout": timeout}, cache_allowed_requests=True, cacheable_requests={"eth_chainId"}
        )
    )
    try:
        chain_id = int(w3.eth.chain_id)
    except Exception as exc:  # noqa: BLE001 - any transport error means the endpoint is unusable
        raise RpcUnavailable(f"JSON-RPC endpoint {rpc} does not answer: {exc}") from None
    if chain_id != deployment.chain_id:
        raise ConnectionRefused(
            f"{rpc} is chain {chain_id}, but the deployment file is for chain {deployment.chain_id}"
        )
    if len(w3.eth.get_code(Web3.to_checksum_address(deployment.tournament))) == 0:
        raise ConnectionRefused(f"no contract at the deployment's tournament address {deployment.tournament} on {rpc}")
    return Connection(w3=w3, deployment=deployment, account=account)
