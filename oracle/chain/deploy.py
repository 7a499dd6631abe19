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

from oracle.chain.artifacts import REPO_ROOT, abi, bytecode
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

UNIT = 10**18
HOUR = 3_600
DAY = 86_400
ZERO_ADDRESS = "0x" + "00" * 20
#: The contract keeps every amount below 2**94 (its ledgers are int96/uint96) and refuses a larger supply.
MAX_SUPPLY = 2**94 - 1


class DeployRefused(ChainError):
    """The deployment would break one of the tournament's promises; the message says which and how to fix it."""


@dataclass(frozen=True)
class DeployParams:
    """What a deployment is made of; the defaults suit a local chain (tests, the demo, benchmarks).

    The first six fields are the token and the first bounds (``Bounds``: changeable later, only through the admin's
    delayed ``scheduleBounds``/``executeBounds``). The rest are the immutable ``HardLimits`` (see ITournament): no
    role can change them after deployment. ``lapse_period`` is the exit bound D: a withdrawal requested at t can be
    completed by t + D whatever any key does."""

    token_name: str = "Tournament Stake"
    token_symbol: str = "STK"
    token_supply: int = 11_000_000 * UNIT  # NMR's supply cap
    challenge_period: int = HOUR
    payout_cap_bps: int = 500  # Numerai's historic 5% per-round clip
    burn_cap_bps: int = 500
    min_stake: int = UNIT
    min_round_length: int = 60
    max_round_length: int = 7 * DAY
    min_close_spacing: int = 60
    min_challenge_period: int = 60
    max_payout_cap_bps: int = 2_000
    max_burn_cap_bps: int = 2_000
    lapse_period: int = DAY
    max_pause: int = HOUR
    pause_cooldown: int = HOUR
    admin_delay: int = 2 * DAY

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"DeployParams.{f.name} must be a non-negative integer, got {value!r}")
        if not 0 < self.token_supply <= MAX_SUPPLY:
            raise ValueError(f"DeployParams.token_supply {self.token_supply} must be in (0, 2**94): the contract's "
                             "ledgers are int96")
        if not self.min_challenge_period <= self.challenge_period < self.lapse_period:
            raise ValueError(f"DeployParams.challenge_period {self.challenge_period} must be at least "
                             f"min_challenge_period {self.min_challenge_period} and below lapse_period "
                             f"{self.lapse_period} (a proposal must be activatable before its round lapses)")
        if self.admin_delay <= self.lapse_period:
            raise ValueError(f"DeployParams.admin_delay {self.admin_delay} must exceed lapse_period "
                             f"{self.lapse_period}: an admin action must take longer than an exit")
        if self.payout_cap_bps > self.max_payout_cap_bps or self.burn_cap_bps > self.max_burn_cap_bps:
            raise ValueError(f"DeployParams caps {self.payout_cap_bps}/{self.burn_cap_bps} bps exceed the hard "
                             f"limits {self.max_payout_cap_bps}/{self.max_burn_cap_bps} bps")
        if self.max_burn_cap_bps >= 10_000:
            raise ValueError("DeployParams.max_burn_cap_bps must be below 10,000: a round never burns a whole stake")

    def limits(self) -> tuple[int, ...]:
        """The ``HardLimits`` struct, in its field order."""
        return (self.min_stake, self.min_round_length, self.max_round_length, self.min_close_spacing,
                self.min_challenge_period, self.max_payout_cap_bps, self.max_burn_cap_bps, self.lapse_period,
                self.max_pause, self.pause_cooldown, self.admin_delay)

    def bounds(self) -> tuple[int, int, int]:
        """The first ``Bounds`` struct."""
        return (self.challenge_period, self.payout_cap_bps, self.burn_cap_bps)


#: Defaults for every network that is not a local development chain. A challenge period of a day (L-9) leaves the
#: guardian and every auditor time to react; rounds close at most daily, so at most one round's cap is at stake
#: per window. D (the lapse period) of 30 days covers targets that take weeks to resolve; the admin delay exceeds it.
PUBLIC_NETWORK_PARAMS = DeployParams(
    challenge_period=DAY,
    min_stake=10 * UNIT,
    min_round_length=HOUR,
    max_round_length=7 * DAY,
    min_close_spacing=DAY,
    min_challenge_period=DAY,
    max_payout_cap_bps=1_000,
    max_burn_cap_bps=1_000,
    lapse_period=30 * DAY,
    max_pause=3 * DAY,
    pause_cooldown=7 * DAY,
    admin_delay=31 * DAY,
)


def check_public_network_safety(params: DeployParams, admin: str | None, deployer: str) -> None:
    """Refuse a deployment to a public network that would leave the tournament's promises to trust (property 5,
    L-9): the admin must be named explicitly (a multisig or timelock, not silently the deploying key), the challenge
    period must be at least a day, and the admin delay longer than the exit bound D (so a participant who sees an
    admin action scheduled can leave before it takes effect). DeployRefused says what to change."""
    problems = []
    if not admin:
        problems.append("set TOURNEY_ADMIN to the admin address (a multisig or timelock): the deploying key is not "
                        "kept as admin on a public network")
    elif Web3.to_checksum_address(admin) == Web3.to_checksum_address(deployer):
        problems.append(f"TOURNEY_ADMIN {admin} is the deploying key itself: name a multisig or timelock")
    if params.challenge_period < DAY or params.min_challenge_period < DAY:
        problems.append(f"the challenge period ({params.challenge_period} s, hard minimum "
                        f"{params.min_challenge_period} s) must be at least a day on a public network")
    if params.admin_delay <= params.lapse_period or params.admin_delay == 0:
        problems.append(f"the admin delay ({params.admin_delay} s) must exceed the exit bound D "
                        f"({params.lapse_period} s)")
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
            raise FileNotFoundError(f"no deployment file {path}: deploy first (`scripts/deploy.py` or `tourney deploy`)")
        data: dict[str, Any] = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

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
    """Deploy token and tournament from ``deployer``; the roles are granted by the constructor.

    The deployer holds the token supply and, unless ``admin`` names another address (a multisig or timelock in
    production), the admin role. Roles left as None are given to nobody."""
    w3 = deployer.w3
    token_receipt = deployer.deploy(
        abi("TournamentToken"), bytecode("TournamentToken"),
        params.token_name, params.token_symbol, params.token_supply, deployer.address, action="deploy token",
    )
    token = token_receipt["contractAddress"]
    final_admin = Web3.to_checksum_address(admin or deployer.address)
    holders = {"ORACLE_ROLE": oracle, "GUARDIAN_ROLE": guardian, "PAUSER_ROLE": pauser}
    constructor_params = (
        token, final_admin, *(Web3.to_checksum_address(h) if h else ZERO_ADDRESS for h in holders.values()),
        params.limits(), params.bounds(),
    )
    receipt = deployer.deploy(abi("Tournament"), bytecode("Tournament"), constructor_params,
                              action="deploy tournament")
    roles = {name: [Web3.to_checksum_address(h)] for name, h in holders.items() if h}
    return Deployment(
        chain_id=w3.eth.chain_id, token=token, tournament=receipt["contractAddress"],
        block=int(token_receipt["blockNumber"]), admin=final_admin, roles=roles,
    )

