"""Deploy the token and the tournament, and record the addresses for the rest of the oracle.

Used by ``scripts/deploy.py`` (brownie, any network), the demo, the benchmarks and the end-to-end tests.

The tournament is deployed in one call, ``Tournament(Params)``: the token, the admin (which moves only in two delayed
steps), the first oracle, guardian and pauser, the immutable hard limits and the first bounds. Two sets of defaults:

* :class:`DeployParams` itself: a local chain, where tests and the demo move the clock with ``evm_increaseTime`` and
  want short windows (a one-hour challenge period, a one-day lapse period, i.e. exit bound D);
* :data:`PUBLIC_NETWORK_PARAMS`: any other network: a challenge period of a day (L-9), D of 30 days, the admin delay
  longer than D (property 5: no admin action hurts a participant faster than the participant can exit).

:func:`check_public_network_safety` is what ``scripts/deploy.py`` runs before deploying anywhere but a local chain.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from oracle.chain.artifacts import REPO_ROOT, abi, bytecode
from oracle.chain.deploy_params import DAY, HOUR, MAX_SUPPLY, PUBLIC_NETWORK_PARAMS, UNIT, DeployParams  # noqa: F401 - HOUR and MAX_SUPPLY re-exported
from oracle.chain.tx import ChainError, Sender

__all__ = [
    "DAY",
    "UNIT",
    "DeployParams",
    "DeployRefused",
    "Deployment",
    "PUBLIC_NETWORK_PARAMS",
    "check_public_network_safety",
    "default_path",
    "deploy",
]

ZERO_ADDRESS = "0x" + "00" * 20


class DeployRefused(ChainError):
    """The deployment would break one of the tournament's promises; the message says which and how to fix it."""


def check_public_network_safety(params: DeployParams, admin: str | None, deployer: str) -> None:
    """Refuse a deployment to a public network that would leave the tournament's promises to trust (property 5,
    L-9): the admin must be named explicitly (a multisig or timelock, not silently the deploying key), the challenge
    period must be at least a day, and the admin delay longer than the exit bound D (so a participant who sees an
    admin action scheduled can leave before it takes effect). DeployRefused says what to change."""
    problems = []
    if not admin:
        problems.append(
            "set TOURNEY_ADMIN to the admin address (a multisig or timelock): the deploying key is not "
            "kept as admin on a public network"
        )
    elif Web3.to_checksum_address(admin) == Web3.to_checksum_address(deployer):
        problems.append(f"TOURNEY_ADMIN {admin} is the deploying key itself: name a multisig or timelock")
    if params.challenge_period < DAY or params.min_challenge_period < DAY:
        problems.append(
            f"the challenge period ({params.challenge_period} s, hard minimum "
            f"{params.min_challenge_period} s) must be at least a day on a public network"
        )
    if params.admin_delay <= params.lapse_period or params.admin_delay == 0:
        problems.append(
            f"the admin delay ({params.admin_delay} s) must exceed the exit bound D ({params.lapse_period} s)"
        )
    if problems:
        raise DeployRefused("refusing to deploy: " + "; ".join(problems))


@dataclass(frozen=True)
class Deployment:
    """Addresses of one deployment, as written to ``deployments/<chain id>.json``."""

    chain_id: int
    token: str
    tournament: str
    block: int
    admin: str
    roles: dict[str, list[str]] = field(default_factory=dict)
    #: The JSON-RPC URL the deployment was made through: the default ``--rpc`` of every command that reads the file.
    rpc: str | None = None

    def save(self, path: Path | None = None) -> Path:
        path = path or default_path(self.chain_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, path: Path | str) -> "Deployment":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(
                f"no deployment file {path}: deploy first (`scripts/deploy.py` or `tourney deploy`)"
            )
        data: dict[str, Any] = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def token_contract(self, w3: Web3) -> Contract:
        return w3.eth.contract(address=Web3.to_checksum_address(self.token), abi=abi("TournamentToken"))

    def tournament_contract(self, w3: Web3) -> Contract:
        return w3.eth.contract(address=Web3.to_checksum_address(self.tournament), abi=abi("Tournament"))


def _deployed(receipt: TxReceipt, what: str) -> str:
    """The address a deployment receipt created (a receipt without one is not a deployment's)."""
    address = receipt["contractAddress"]
    if address is None:
        raise ChainError(f"deploying {what}: the receipt names no contract address")
    return str(address)


def default_path(chain_id: int) -> Path:
    return REPO_ROOT / "deployments" / f"{chain_id}.json"


def deploy(
    deployer: Sender,
    params: DeployParams = DeployParams(),
    oracle: str | None = None,
    guardian: str | None = None,
    pauser: str | None = None,
    admin: str | None = None,
) -> Deployment:
    """Deploy token and tournament from ``deployer``; the roles are granted by the constructor.

    The deployer holds the token supply and, unless ``admin`` names another address (a multisig or timelock in
    production), the admin role. Roles left as None are given to nobody."""
    w3 = deployer.w3
    token_receipt = deployer.deploy(
        abi("TournamentToken"),
        bytecode("TournamentToken"),
        params.token_name,
        params.token_symbol,
        params.token_supply,
        deployer.address,
        action="deploy token",
    )
    token = _deployed(token_receipt, "the token")
    final_admin = Web3.to_checksum_address(admin or deployer.address)
    holders = {"ORACLE_ROLE": oracle, "GUARDIAN_ROLE": guardian, "PAUSER_ROLE": pauser}
    constructor_params = (
        token,
        final_admin,
        *(Web3.to_checksum_address(h) if h else ZERO_ADDRESS for h in holders.values()),
        params.limits(),
        params.bounds(),
    )
    receipt = deployer.deploy(abi("Tournament"), bytecode("Tournament"), constructor_params, action="deploy tournament")
    roles: dict[str, list[str]] = {name: [Web3.to_checksum_address(h)] for name, h in holders.items() if h}
    return Deployment(
        chain_id=w3.eth.chain_id,
        token=token,
        tournament=_deployed(receipt, "the tournament"),
        block=int(token_receipt["blockNumber"]),
        admin=final_admin,
        roles=roles,
    )
