"""What each tool returns on success: pydantic models, published as the tools' ``outputSchema``.

Token amounts are exact decimal strings in tokens (``"12.5"``), never floats or raw integers: JSON readers lose
integers above 2**53 and token amounts routinely exceed it. Times are chain time (unix seconds of the latest block).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from oracle.chain.state import RoundLabel

__all__ = [
    "RoundView",
    "RoundsOut",
    "LimitsOut",
    "AccountOut",
    "DownloadOut",
    "Problem",
    "ValidationOut",
    "ReceiptView",
    "SubmitOut",
    "RegisterOut",
    "StakeOut",
    "WithdrawalRequestOut",
    "WithdrawOut",
    "SettleOut",
    "ModelRound",
    "ReceiptCheck",
    "ModelStatusOut",
    "Difference",
    "VerifyOut",
]

Status = RoundLabel
Tokens = str


class RoundView(BaseModel):
    round: int
    status: Status
    closes_at: int = Field(description="Submission deadline (chain time); 0 before the round opens.")
    seconds_left: int = Field(description="Seconds until closes_at by the chain's clock (0 unless open).")
    closed_at: int = Field(description="When the round was closed (0 while open).")
    activates_at: int = Field(description="When the proposed root may be activated (0 before a proposal).")


class RoundsOut(BaseModel):
    chain_time: int
    last_closed: int = Field(description="The newest closed round (0 if none).")
    last_activated: int = Field(description="The newest round with an active root (0 if none).")
    open_round: RoundView | None = Field(description="The round open for submissions, if any.")
    rounds: list[RoundView] = Field(description="The most recent rounds, oldest first.")


class LimitsOut(BaseModel):
    value_tools: bool = Field(description="Whether stake, request_withdrawal and withdraw are available.")
    max_stake_session: Tokens | None
    max_stake_per_call: Tokens | None
    staked_this_session: Tokens
    max_allowed_now: Tokens | None = Field(description="The largest stake allowed right now.")


class AccountOut(BaseModel):
    address: str | None = Field(description="The signing account (None when the server is read-only).")
    chain_id: int
    chain: Literal["local", "allowed"] = Field(description="local development chain, or named with --allow-chain.")
    tournament: str
    token: str
    token_symbol: str
    token_balance: Tokens | None
    ether_balance: str | None = Field(description="For gas, in ether.")
    models: list[int] = Field(description="Model ids owned by the account.")
    workdir: str = Field(description="Where downloads go; relative file paths are resolved here.")
    service: str | None = Field(description="The operator service's URL (live data, submissions, receipts).")
    limits: LimitsOut


class DownloadOut(BaseModel):
    round: int
    kind: Literal["live", "targets"]
    path: str = Field(description="The Parquet file on the server's machine.")
    rows: int
    columns: list[str]
    sha256: str


class Problem(BaseModel):
    rule: str = Field(description="The validation rule's code (docs/skills.md lists every one).")
    message: str
    ids: list[str] = Field(description="Up to five example ids.")


class ValidationOut(BaseModel):
    round: int
    model_id: int
    path: str
    ok: bool = Field(description="True when the file would be accepted for scoring.")
    rows: int = Field(description="Data rows in the file (0 when unreadable).")
    live_ids: int = Field(description="How many ids the round's live data has.")
    problems: list[Problem]


class ReceiptView(BaseModel):
    chain_id: int
    tournament: str
    round: int
    model_id: int
    predictions_hash: str
    received_at: int = Field(description="When the operator received the file (chain time).")
    operator: str = Field(description="The oracle address that signed the receipt (checked against the chain).")
    signature: str


class SubmitOut(BaseModel):
    round: int
    model_id: int
    path: str
    predictions_hash: str = Field(description="keccak-256 of the file's bytes: what was signed.")
    deadline: int
    receipt: ReceiptView
    receipt_path: str | None = Field(description="Where the receipt is kept (the evidence of a timely submission).")
    repeated: bool = Field(
        description="True when this file was already the current submission: nothing was "
        "sent again, the earlier receipt is returned."
    )


class RegisterOut(BaseModel):
    model_id: int
    owner: str
    tx: str


class StakeOut(BaseModel):
    model_id: int
    amount: Tokens
    net_deposits: Tokens = Field(description="The model's deposits minus withdrawals after this stake.")
    tx: str
    request_id: str | None
    repeated: bool = Field(description="True when this request_id was done before: nothing was sent again.")
    limits: LimitsOut


class WithdrawalRequestOut(BaseModel):
    model_id: int
    requested: Tokens
    pending: Tokens = Field(description="The model's whole pending withdrawal after this request.")
    after_round: int = Field(description="The amount stays at risk through this round; withdraw once it is active.")
    tx: str
    request_id: str | None
    repeated: bool


class WithdrawOut(BaseModel):
    model_id: int
    paid: Tokens
    tx: str


class SettleOut(BaseModel):
    round: int
    settled: list[int] = Field(description="Models whose stake moved.")
    already_settled: list[int]
    transactions: list[str]
    gas: int


class ModelRound(BaseModel):
    round: int
    status: Status
    scored: bool
    corr: float | None
    mmc: float | None
    payout: Tokens | None
    burn: Tokens | None
    settled: bool = Field(description="Whether the model's stake includes this round's result.")
    error: str | None = None


class ReceiptCheck(BaseModel):
    round: int
    predictions_hash: str
    received_at: int
    genuine: bool | None = Field(description="Signed by the chain's oracle (None when it could not be checked).")
    bundle: str = Field(description="in bundle | missing from bundle | other hash | not published")


class ModelStatusOut(BaseModel):
    model_id: int
    owner: str
    stake: Tokens = Field(description="Settled stake (results of unsettled rounds not yet applied).")
    net_deposits: Tokens
    settled_round: int
    pending_withdrawal: Tokens
    withdrawal_after_round: int | None
    rounds: list[ModelRound] = Field(description="Every proposed round since the model was registered.")
    receipts: list[ReceiptCheck] = Field(description="This server's receipts for the model, latest per round.")


class Difference(BaseModel):
    scope: str
    subject: str
    field: str
    recorded: str | None
    recomputed: str | None


class VerifyOut(BaseModel):
    round: int
    ok: bool = Field(description="True when the proposal equals its recomputation from the chain and the bundle.")
    status: str
    standing: bool = Field(description="False for a proposal that was vetoed.")
    root: str
    manifest_uri: str
    differences: list[Difference]
    warnings: list[str]
    receipts_checked: int = Field(description="How many of this server's receipts the bundle was held to.")
