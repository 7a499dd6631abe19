"""The tools' argument types: JSON-schema constraints and descriptions an agent reads in each tool's inputSchema."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

__all__ = [
    "RoundArg",
    "ModelArg",
    "PathArg",
    "StakeAmount",
    "WithdrawAmount",
    "RequestId",
    "OptionalModel",
    "OptionalRound",
]

RoundArg = Annotated[int, Field(ge=1, lt=2**32, description="A round number (list_rounds shows them).")]
ModelArg = Annotated[int, Field(ge=1, lt=2**64, description="A model id (account_info lists yours).")]
PathArg = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        description="A file inside the server's workdir (a relative path is resolved there).",
    ),
]
StakeAmount = Annotated[
    str, Field(pattern=r"^[0-9]{1,30}(\.[0-9]{1,30})?$", description='Tokens as a decimal string, e.g. "12.5".')
]
WithdrawAmount = Annotated[
    str,
    Field(
        pattern=r"^(all|[0-9]{1,30}(\.[0-9]{1,30})?)$",
        description='Tokens as a decimal string, or "all" for the whole settled stake not already pending.',
    ),
]
RequestId = Annotated[
    str | None,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Optional idempotency key: a retry with the same request_id returns the first call's result "
        "instead of moving tokens again.",
    ),
]
OptionalModel = Annotated[
    int | None, Field(ge=1, lt=2**64, description="Settle this model; omit to settle every model.")
]
OptionalRound = Annotated[int | None, Field(ge=1, lt=2**32, description="An active round; omit for the newest.")]
