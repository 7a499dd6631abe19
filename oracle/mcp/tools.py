"""The tool registry: which functions of :mod:`oracle.mcp.reading` and :mod:`oracle.mcp.acting` a session offers,
with the hints the server publishes. Each tool is a function ``tool(session, **arguments) -> output model``; its
signature after ``session`` is the tool's inputSchema, its output model the outputSchema, its docstring the
description. Value-moving tools are offered only when the server has a spending limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from oracle.mcp import acting, reading
from oracle.mcp.outputs import (
    AccountOut,
    DownloadOut,
    ModelStatusOut,
    RegisterOut,
    RoundsOut,
    SettleOut,
    StakeOut,
    SubmitOut,
    ValidationOut,
    VerifyOut,
    WithdrawalRequestOut,
    WithdrawOut,
)
from oracle.mcp.session import ParticipantSession

__all__ = ["ToolSpec", "TOOLS", "specs"]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its function, output model and hints; ``moves_value`` tools exist only with a spending limit,
    ``signs`` tools need the account."""

    name: str
    function: Callable[..., Any]
    output: type
    read_only: bool
    idempotent: bool
    moves_value: bool = False
    signs: bool = False


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("account_info", reading.account_info, AccountOut, read_only=True, idempotent=True),
    ToolSpec("list_rounds", reading.list_rounds, RoundsOut, read_only=True, idempotent=True),
    ToolSpec("download_live", reading.download_live, DownloadOut, read_only=False, idempotent=True),
    ToolSpec("download_targets", reading.download_targets, DownloadOut, read_only=False, idempotent=True),
    ToolSpec("validate_predictions", reading.validate_predictions, ValidationOut, read_only=True, idempotent=True),
    ToolSpec("submit_predictions", acting.submit_predictions, SubmitOut, read_only=False, idempotent=True, signs=True),
    ToolSpec("model_status", reading.model_status, ModelStatusOut, read_only=True, idempotent=True),
    ToolSpec("verify_round", reading.verify_round, VerifyOut, read_only=True, idempotent=True),
    ToolSpec("register_model", acting.register_model, RegisterOut, read_only=False, idempotent=False, signs=True),
    ToolSpec("settle", acting.settle, SettleOut, read_only=False, idempotent=True, signs=True),
    ToolSpec("stake", acting.stake, StakeOut, read_only=False, idempotent=False, moves_value=True, signs=True),
    ToolSpec(
        "request_withdrawal",
        acting.request_withdrawal,
        WithdrawalRequestOut,
        read_only=False,
        idempotent=False,
        moves_value=True,
        signs=True,
    ),
    ToolSpec("withdraw", acting.withdraw, WithdrawOut, read_only=False, idempotent=False, moves_value=True, signs=True),
)


def specs(session: ParticipantSession) -> list[ToolSpec]:
    """The tools ``session`` offers: value-moving ones only with a spending limit."""
    return [s for s in TOOLS if session.limit is not None or not s.moves_value]
