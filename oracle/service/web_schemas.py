"""The shapes the web app reads beyond the submission API (web/API.md): proposals with the auditor's verdict, the
leaderboard, a prediction file's validation, the deployed contracts. Amounts are decimal strings (they exceed
2^53), times the chain's unix seconds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ContractOut",
    "DifferenceOut",
    "LeaderboardOut",
    "LeaderboardRowOut",
    "ProposalOut",
    "TokenOut",
    "ValidateIn",
    "ValidationOut",
    "VerdictOut",
    "WithdrawalOut",
    "MAX_DIFFERENCES",
    "MAX_PROBLEMS",
]

#: Differences listed per verdict (``differences_count`` has the total).
MAX_DIFFERENCES = 50
#: Problems listed per validated file.
MAX_PROBLEMS = 50


class TokenOut(BaseModel):
    address: str
    name: str
    symbol: str
    decimals: int


class DifferenceOut(BaseModel):
    scope: str
    subject: str
    field: str
    recorded: Any = Field(description="The published value (amounts as decimal strings).")
    recomputed: Any = Field(description="The auditor's value (amounts as decimal strings).")


class VerdictOut(BaseModel):
    ok: bool
    checked_at: int = Field(description="Chain time when the auditor checked the proposal.")
    status: str
    standing: bool
    models: list[str] = Field(description="Every model that differs.")
    differences: list[DifferenceOut] = Field(description=f"The first {MAX_DIFFERENCES} differences.")
    differences_count: int
    notes: list[str]
    warnings: list[str]


class ProposalOut(BaseModel):
    seq: int = Field(description="0-based order of the proposal within its round.")
    root: str
    manifest_hash: str
    manifest_uri: str
    proposed_at: int
    proposed_tx: str | None
    activates_at: int
    state: str = Field(description="pending, vetoed, active or lapsed.")
    vetoed_at: int | None
    vetoed_by: str | None
    totals: dict[str, str] = Field(
        description="round_payout, round_burn, cumulative_payout, cumulative_burn, "
        "stake_at_risk (only the first two when the bundle is unreadable)."
    )
    files: dict[str, str] = Field(description="A relative URL per file of the bundle, and manifest.json.")
    verdict: VerdictOut | None = Field(description="The auditor's result, null while not checked yet.")


class WithdrawalOut(BaseModel):
    amount: str
    after_round: int = Field(description="The last round the amount is at risk in.")
    requested_at: int | None = Field(description="Block time of the latest WithdrawalRequested.")
    available_at_latest: int | None = Field(
        description="When it can be taken at the latest whatever any key does: "
        "the close of round after_round plus the exit bound D."
    )
    waiting_for: str | None = Field(
        default=None, description="What it waits for before it can be taken, in words (null: nothing)."
    )
    withdrawable: bool = Field(description="withdraw would succeed now (settled through after_round).")


class LeaderboardRowOut(BaseModel):
    model_id: int
    owner: str
    stake: str
    pending_withdrawal: str
    corr: float | None
    mmc: float | None
    scored_round: int | None
    corr_rolling: float | None
    mmc_rolling: float | None
    rounds_scored: int
    cumulative_payout: str | None
    cumulative_burn: str | None


class LeaderboardOut(BaseModel):
    chain_time: int
    block: int
    latest_round: int | None = Field(description="The newest round with a standing (proposed or active) proposal.")
    rolling_window: int
    cumulative_through: int | None = Field(
        description="The newest active round (its tree gives the cumulative payouts and burns)."
    )
    models: list[LeaderboardRowOut]


class ValidateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str = Field(description="The prediction file's bytes, base64.")
    file_name: str = Field(default="predictions.csv", max_length=128)
    model_id: int | None = Field(default=None, ge=1, description="Only names the column in messages.")


class ValidationOut(BaseModel):
    round: int
    ok: bool
    rows: int | None = Field(description="Rows in the file (null when it is not a readable table).")
    live_ids: int
    predictions_hash: str = Field(description="keccak-256 of the bytes as received.")
    problems: list[str] = Field(description=f"Every rule the file breaks (at most {MAX_PROBLEMS}).")


class ContractOut(BaseModel):
    chain_id: int
    tournament: dict[str, Any] = Field(description="address, deployment_block, abi (the build artifact's).")
    token: dict[str, Any] = Field(description="address, abi.")
