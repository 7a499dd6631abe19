"""The safety parts of ``tourney mcp`` that need no chain: the spending limit's rule, the chain policy, the request
journal, the mapping of errors to codes, and the guard middleware (refusals before a tool runs, withholding after)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from oracle.chain.tx import ContractReverted, RpcUnavailable
from oracle.mcp.errors import CODES, ToolFailure, as_failure
from oracle.mcp.journal import RequestJournal
from oracle.mcp.limits import SpendingLimit
from oracle.mcp.policy import ChainNotAllowed, check_chain, is_loopback
from oracle.mcp.server import Guard
from oracle.participant.service_client import ServiceError

KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
PASSWORD = 'pa"ss\\word-1'


# ------------------------------------------------------------------------------------------------ spending limit


def test_spending_limit_per_call_and_session() -> None:
    limit = SpendingLimit(session_cap=100, per_call_cap=40)
    assert limit.max_allowed == 40
    with pytest.raises(ToolFailure) as refused:
        limit.hold(41)
    assert refused.value.code == "spending_limit" and refused.value.details["max_allowed"] == "40"
    limit.hold(40)
    assert limit.remaining == 60 and limit.max_allowed == 40  # held counts against the session at once
    limit.commit(40)
    limit.hold(40)
    limit.release(40)  # certainly not moved: given back
    assert (limit.spent, limit.held, limit.max_allowed) == (40, 0, 40)
    limit.hold(40)
    limit.commit(40)
    assert limit.max_allowed == 20
    with pytest.raises(ToolFailure, match="what is left of the session limit"):
        limit.hold(21)
    limit.hold(20)
    limit.commit(20)
    assert limit.max_allowed == 0
    with pytest.raises(ToolFailure):
        limit.hold(1)
    with pytest.raises(ToolFailure) as zero:
        SpendingLimit(10, 10).hold(0)
    assert zero.value.code == "invalid_amount"


def test_spending_limit_configuration_is_checked() -> None:
    with pytest.raises(ValueError):
        SpendingLimit(10, 11)
    with pytest.raises(ValueError):
        SpendingLimit(0, 0)


# ------------------------------------------------------------------------------------------------ chain policy


@pytest.mark.parametrize(
    "url, loopback",
    [
        ("http://127.0.0.1:8545", True),
        ("http://localhost:8545", True),
        ("http://[::1]:8545", True),
        ("http://127.0.0.2:8545", True),
        ("https://mainnet.example.org", False),
        ("http://10.0.0.5:8545", False),
        ("http://localhost.example.org:8545", False),
    ],
)
def test_loopback(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_chain_policy() -> None:
    assert check_chain("http://127.0.0.1:8545", 31337) == "local"
    assert check_chain("http://localhost:8545", 1337) == "local"
    with pytest.raises(ChainNotAllowed, match="--allow-chain 1"):
        check_chain("http://127.0.0.1:8545", 1)  # a mainnet fork on localhost is mainnet
    with pytest.raises(ChainNotAllowed, match="not a loopback endpoint"):
        check_chain("https://rpc.example.org", 31337)
    assert check_chain("https://rpc.example.org", 11155111, allowed=[11155111]) == "allowed"


# ------------------------------------------------------------------------------------------------ journal


def test_request_journal(tmp_path: Any) -> None:
    journal = RequestJournal(tmp_path / "requests" / "j.json")
    assert journal.begin("stake", "a", {"amount": "1"}) is None
    with pytest.raises(ToolFailure) as pending:
        RequestJournal(journal.path).begin("stake", "a", {"amount": "1"})  # e.g. after a crash mid-send
    assert pending.value.code == "outcome_unknown"
    journal.finish("stake", "a", {"tx": "0x01"})
    again = RequestJournal(journal.path)  # on disk: a new server process sees it
    assert again.begin("stake", "a", {"amount": "1"}) == {"tx": "0x01"}
    with pytest.raises(ToolFailure) as reused:
        again.begin("stake", "a", {"amount": "2"})
    assert reused.value.code == "request_id_reused"
    assert again.begin("request_withdrawal", "a", {"amount": "1"}) is None  # ids are per tool
    again.abandon("request_withdrawal", "a")
    assert again.begin("request_withdrawal", "a", {"amount": "1"}) is None
    assert not list(journal.path.parent.glob(".*.tmp"))


# ------------------------------------------------------------------------------------------------ error codes


def test_errors_map_to_registered_codes() -> None:
    reverted = as_failure(ContractReverted("stake", "EnforcedPause", {}))
    assert (reverted.code, reverted.details["revert"]) == ("reverted", "EnforcedPause")
    assert "paused" in reverted.next
    assert as_failure(ContractReverted("x", "SomethingNew", {"a": 1})).next == CODES["reverted"]
    assert as_failure(RpcUnavailable("node down")).code == "chain_unavailable"
    assert as_failure(ServiceError(0, "unreachable", "no answer")).code == "service_unavailable"
    assert as_failure(ServiceError(0, "bad_receipt", "wrong signer")).code == "bad_receipt"
    limited = as_failure(ServiceError(429, "rate_limited", "slow down", {"retry_after": 2.5}))
    assert (limited.code, limited.details["retry_after"]) == ("rate_limited", 2.5)
    unknown = as_failure(ServiceError(418, "teapot", "no"))
    assert (unknown.code, unknown.details["service_code"]) == ("refused", "teapot")
    assert as_failure(FileNotFoundError(2, "gone", "x.csv")).code == "file_not_found"
    assert as_failure(KeyError("boom")).code == "internal"
    with pytest.raises(ValueError, match="unregistered"):
        ToolFailure("no_such_code", "x")
    document = ToolFailure("late", "too late   now", round=3).document()
    assert document == {
        "error": {"code": "late", "message": "too late now", "next": CODES["late"], "details": {"round": 3}}
    }


# ------------------------------------------------------------------------------------------------ guard


class _Ctx:
    def __init__(self, method: str, params: dict[str, Any]) -> None:
        self.method, self.params = method, params


def _run(guard: Guard, method: str, params: dict[str, Any], result: Any) -> tuple[Any, bool]:
    """(the guard's answer, whether the handler ran)."""
    ran = []

    async def call_next(ctx: Any) -> Any:
        ran.append(ctx)
        return result

    return anyio.run(guard, _Ctx(method, params), call_next), bool(ran)


def _code(answer: dict[str, Any]) -> str:
    assert answer["isError"] is True
    assert json.loads(answer["content"][0]["text"]) == answer["structuredContent"]
    return answer["structuredContent"]["error"]["code"]


def test_guard_refuses_before_the_tool_runs() -> None:
    guard = Guard([KEY, PASSWORD], {"validate_predictions": {"round", "model_id", "path"}, "list_rounds": set()})
    ok = {"content": [], "isError": False, "structuredContent": {"ok": True}}
    for name, arguments, code in [
        ("stake", {"model_id": 1, "amount": "1"}, "value_tools_off"),
        ("nope", {}, "unknown_tool"),
        ("list_rounds", {"verbose": True}, "invalid_arguments"),
        ("validate_predictions", {"round": 1, "model_id": 1, "path": "0x" + "AB" * 32}, "key_material_refused"),
        ("validate_predictions", {"round": 1, "model_id": 1, "path": f"notes-{PASSWORD}.csv"}, "key_material_refused"),
    ]:
        answer, ran = _run(guard, "tools/call", {"name": name, "arguments": arguments}, ok)
        assert _code(answer) == code and not ran, (name, arguments)
    answer, ran = _run(guard, "tools/call", {"name": "list_rounds", "arguments": {}}, ok)
    assert answer == ok and ran


def test_guard_withholds_answers_with_key_material() -> None:
    guard = Guard([KEY, PASSWORD], {"list_rounds": set()})
    call = {"name": "list_rounds", "arguments": {}}
    for leak in [KEY, KEY.upper(), "0x" + KEY, json.dumps({"p": PASSWORD})]:
        result = {"content": [{"type": "text", "text": f"... {leak} ..."}], "isError": False}
        answer, _ = _run(guard, "tools/call", call, result)
        assert _code(answer) == "output_withheld"
        assert KEY not in json.dumps(answer).lower() and PASSWORD not in json.dumps(answer)
    with pytest.raises(Exception, match="output_withheld"):
        _run(guard, "resources/read", {"uri": "tourney://params"}, {"contents": [{"text": KEY}]})
    clean = {"contents": [{"text": "nothing secret"}]}
    assert _run(guard, "resources/read", {"uri": "tourney://params"}, clean)[0] == clean


def test_guard_structures_the_sdks_own_errors() -> None:
    guard = Guard([KEY], {"list_rounds": set()})
    sdk = {
        "content": [{"type": "text", "text": "Error executing tool list_rounds: 1 validation error for x"}],
        "isError": True,
    }
    answer, _ = _run(guard, "tools/call", {"name": "list_rounds", "arguments": {}}, sdk)
    assert _code(answer) == "invalid_arguments"
    assert answer["structuredContent"]["error"]["next"] == CODES["invalid_arguments"]
