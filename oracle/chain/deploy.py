"""Deploy the token and the tournament, grant the roles, and record the addresses for the rest of the oracle.

Used by ``scripts/deploy.py`` (brownie, any network), the demo, the benchmarks and the end-to-end tests.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from web3 import Web3
from web3.contract import Contract

from oracle.chain.artifacts import REPO_ROOT, abi, bytecode
from oracle.chain.tx import Sender

UNIT = 10**18


@dataclass(frozen=True)
class DeployParams:
    """What a deployment is made of. Defaults follow Numerai's historic 5% per-round clip."""

    token_name: str = "Tournament Stake"
    token_symbol: str = "STK"
    token_supply: int = 11_000_000 * UNIT  # NMR's supply cap
    challenge_period: int = 3600
    payout_cap_bps: int = 500
    burn_cap_bps: int = 500


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
            raise FileNotFoundError(f"no deployment file {path}: deploy first (`scripts/deploy.py` or `tourney deploy`)")
        return cls(**json.loads(path.read_text()))

    def token_contract(self, w3: Web3) -> Contract:
        return w3.eth.contract(address=Web3.to_checksum_address(self.token), abi=abi("TournamentToken"))

    def tournament_contract(self, w3: Web3) -> Contract:
        return w3.eth.contract(address=Web3.to_checksum_address(self.tournament), abi=abi("Tournament"))


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
    """Deploy token and tournament from ``deployer`` and grant the roles.

    The deployer holds the token supply and, unless ``admin`` names another address (a timelock in production),
    the admin role. Roles left as None are not granted."""
    w3 = deployer.w3
    token_receipt = deployer.deploy(
        abi("TournamentToken"), bytecode("TournamentToken"),
        params.token_name, params.token_symbol, params.token_supply, deployer.address, action="deploy token",
    )
    token = token_receipt["contractAddress"]
    receipt = deployer.deploy(
        abi("Tournament"), bytecode("Tournament"),
        token, deployer.address, params.challenge_period, params.payout_cap_bps, params.burn_cap_bps,
        action="deploy tournament",
    )
    tournament = w3.eth.contract(address=receipt["contractAddress"], abi=abi("Tournament"))
    roles: dict[str, list[str]] = {}
    for role_name, holder in (("ORACLE_ROLE", oracle), ("GUARDIAN_ROLE", guardian), ("PAUSER_ROLE", pauser)):
        if holder:
            role = getattr(tournament.functions, role_name)().call()
            deployer.transact(tournament.functions.grantRole(role, holder), action=f"grant {role_name}")
            roles[role_name] = [holder]
    final_admin = deployer.address
    if admin and Web3.to_checksum_address(admin) != Web3.to_checksum_address(deployer.address):
        admin_role = tournament.functions.DEFAULT_ADMIN_ROLE().call()
        deployer.transact(tournament.functions.grantRole(admin_role, admin), action="grant admin")
        deployer.transact(tournament.functions.renounceRole(admin_role, deployer.address), action="renounce admin")
        final_admin = admin
    return Deployment(
        chain_id=w3.eth.chain_id, token=token, tournament=tournament.address,
        block=int(token_receipt["blockNumber"]), admin=final_admin, roles=roles,
    )
