"""The HTTP API's shapes: request and response bodies, and the one error body every refusal uses. A receipt is
answered as :class:`oracle.protocol.receipt.Receipt` itself (one model of a receipt, not a copy of its fields)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from oracle.chain.client import RoundStatus
from oracle.errors import TourneyError
from oracle.protocol.receipt import Receipt
from oracle.service.web_schemas import ProposalOut, TokenOut, WithdrawalOut

__all__ = [
    "ApiError",
    "ComponentOut",
    "ErrorBody",
    "ErrorDetail",
    "HealthOut",
    "InfoOut",
    "ManifestOut",
    "ModelOut",
    "ModelRoundOut",
    "ProofOut",
    "RoundOut",
    "RoundsOut",
    "ScoresOut",
    "SubmissionIn",
    "SubmissionRecordIn",
    "error_responses",
]


class ApiError(TourneyError):
    """A request the service refuses; becomes ``{"error": {"code", "message", ...}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable reason, e.g. bad_signature, late, replayed.")
    message: str = Field(description="What is wrong and what to do about it.")
    receipt: Receipt | None = Field(default=None, description="For a duplicate: the receipt already issued.")
    retry_after: float | None = Field(default=None, description="For rate_limited: seconds to wait.")
    problems: list[str] | None = Field(default=None, description="For invalid_predictions: every rule broken.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class SubmissionRecordIn(BaseModel):
    """The signed EIP-712 submission as produced by ``oracle.protocol.submission.sign_submission``."""

    model_config = ConfigDict(extra="forbid")
    chain_id: int = Field(ge=0)
    tournament: str = Field(max_length=64)
    round: int = Field(ge=1)
    model_id: int = Field(ge=1)
    predictions_hash: str = Field(max_length=80)
    deadline: int = Field(ge=0)
    signer: str = Field(max_length=64)
    signature: str = Field(max_length=200)
    file_name: str = Field(default="predictions.csv", max_length=128)


class SubmissionIn(BaseModel):
    """A submission request: the signed record and the prediction file, base64-encoded."""

    model_config = ConfigDict(extra="forbid")
    submission: SubmissionRecordIn
    file: str = Field(description="The prediction file's bytes (CSV with id + prediction, or Parquet), base64.")


class RoundOut(BaseModel):
    round: int
    status: Literal["none", "open", "closed", "proposed", "vetoed", "active", "lapsed"] = Field(
        description="The contract's RoundStatus, lower case."
    )
    closes_at: int = Field(description="Submission deadline (chain time, unix seconds); 0 when not opened.")
    seconds_left: int = Field(description="Seconds until the deadline by the chain's clock (0 when past).")
    closed_at: int
    activates_at: int
    root: str
    lapses_at: int | None = Field(
        default=None,
        description="When the round lapses with a zero result unless a root "
        "is active by then; null for open rounds and where the contract has no lapse.",
    )
    proposals: list[ProposalOut] = Field(
        default_factory=list,
        description="Every RootProposed of the round, oldest first, with the auditor's verdict (GET /rounds only).",
    )


class RoundsOut(BaseModel):
    chain_time: int
    block: int
    open: list[RoundOut]
    recent: list[RoundOut]


class InfoOut(BaseModel):
    chain_id: int
    tournament: str
    operator: str = Field(description="The address that signs receipts.")
    receipt_domain: dict[str, Any]
    max_body_bytes: int
    max_file_bytes: int
    rate_limit: dict[str, float]
    token: TokenOut | None = Field(default=None, description="The stake token: how every amount is shown.")


class ComponentOut(BaseModel):
    status: Literal["ok", "error"]
    detail: str = Field(description="What was checked, or what is wrong.")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="ok when the chain, the database and the store all answer.")
    chain_id: int
    block: int | None = Field(description="The latest block (None while the chain does not answer).")
    chain_time: int | None
    view_block: int | None = Field(
        description="The latest block the service's chain view has seen: the clock "
        "submissions are judged by (refreshed every few hundred milliseconds)."
    )
    components: dict[str, ComponentOut] = Field(description="chain, database, store: each ok or error, and why.")
    worker: str = Field(description="The process that answered (host:pid).")
    scheduler: Literal["running", "off", "stopped"]
    scheduler_leading: bool = Field(description="Whether this process holds the scheduler lease.")
    scheduler_last_error: str | None


class ManifestOut(BaseModel):
    round: int
    manifest_uri: str
    manifest_hash: str
    status: str
    manifest: dict[str, Any]


class ScoresOut(BaseModel):
    round: int
    manifest_uri: str
    scores: list[dict[str, Any]] = Field(
        description="Per model: corr, mmc, stake at risk, payout, burn (amounts as decimal strings)."
    )


class ProofOut(BaseModel):
    round: int
    model_id: int
    cumulative_payout: str
    cumulative_burn: str
    proof: list[str]
    root: str
    status: str


class ModelRoundOut(BaseModel):
    round: int
    submitted: bool
    predictions_hash: str | None
    received_at: int | None
    stake_at_risk: str | None
    payout: str | None
    burn: str | None
    corr: float | None
    mmc: float | None
    status: str | None = Field(
        default=None, description="The round's status (results of a proposed round may still be vetoed)."
    )
    cumulative_payout: str | None = Field(default=None, description="The model's leaf in the round's tree.")
    cumulative_burn: str | None = None
    receipt: Receipt | None = Field(default=None, description="The operator's receipt of the current submission.")


class ModelOut(BaseModel):
    model_id: int
    owner: str
    stake: str
    settled_through: int | None = Field(default=None, description="The round the model is settled through.")
    settled_payout: str | None = Field(default=None, description="Cumulative payout already applied to stake.")
    settled_burn: str | None = Field(default=None, description="Cumulative burn already applied to stake.")
    withdrawal: WithdrawalOut | None = None
    rounds: list[ModelRoundOut]


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "Malformed or mis-addressed request",
        404: "Not found",
        409: "Conflicts with the round's state",
        413: "Too large",
        422: "Invalid body or predictions",
        429: "Rate limited",
        503: "Chain unavailable",
    }.items()
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: _ERRORS[s] for s in statuses}


# The API's status names are the contract's enum, spelt as RoundStatus.label: keep the Literal above in step.
assert [s.label for s in RoundStatus] == list(get_args(RoundOut.model_fields["status"].annotation))
