"""What a deployment is made of (:class:`DeployParams`) and the public networks' defaults: plain data, importable
without web3 (``tourney deploy --help`` builds its options from these fields)."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["DAY", "HOUR", "MAX_SUPPLY", "PUBLIC_NETWORK_PARAMS", "UNIT", "DeployParams"]

UNIT = 10**18
HOUR = 3_600
DAY = 86_400
#: The contract keeps every amount below 2**94 (its ledgers are int96/uint96) and refuses a larger supply.
MAX_SUPPLY = 2**94 - 1


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
            raise ValueError(
                f"DeployParams.token_supply {self.token_supply} must be in (0, 2**94): the contract's ledgers are int96"
            )
        if not self.min_challenge_period <= self.challenge_period < self.lapse_period:
            raise ValueError(
                f"DeployParams.challenge_period {self.challenge_period} must be at least "
                f"min_challenge_period {self.min_challenge_period} and below lapse_period "
                f"{self.lapse_period} (a proposal must be activatable before its round lapses)"
            )
        if self.admin_delay <= self.lapse_period:
            raise ValueError(
                f"DeployParams.admin_delay {self.admin_delay} must exceed lapse_period "
                f"{self.lapse_period}: an admin action must take longer than an exit"
            )
        if self.payout_cap_bps > self.max_payout_cap_bps or self.burn_cap_bps > self.max_burn_cap_bps:
            raise ValueError(
                f"DeployParams caps {self.payout_cap_bps}/{self.burn_cap_bps} bps exceed the hard "
                f"limits {self.max_payout_cap_bps}/{self.max_burn_cap_bps} bps"
            )
        if self.max_burn_cap_bps >= 10_000:
            raise ValueError("DeployParams.max_burn_cap_bps must be below 10,000: a round never burns a whole stake")

    def limits(self) -> tuple[int, ...]:
        """The ``HardLimits`` struct, in its field order."""
        return (
            self.min_stake,
            self.min_round_length,
            self.max_round_length,
            self.min_close_spacing,
            self.min_challenge_period,
            self.max_payout_cap_bps,
            self.max_burn_cap_bps,
            self.lapse_period,
            self.max_pause,
            self.pause_cooldown,
            self.admin_delay,
        )

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
