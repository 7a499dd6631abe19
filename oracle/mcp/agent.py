"""A scripted participant that acts only as an MCP client of ``tourney mcp`` (the SDK's client over stdio).

Deterministic, no language model: it does what docs/skills.md tells an agent to do, in the same order, and reads
every answer from the tools' structured results. Per round it lists the rounds, downloads the live data (and the
targets of every round resolved since), trains a small ridge regression on the resolved rounds, writes, validates
and submits its predictions, keeps the operator's receipt, stakes within the server's spending limit (when a stake
is refused with ``spending_limit`` it retries with ``error.details.max_allowed``, as ``error.next`` says) and reads
its results. At the end it verifies its last round, settles, requests the withdrawal of everything and withdraws.

It never sees a key: the server signs with its keystore account. Every call and its outcome, one line each, goes
to :attr:`ScriptedAgent.transcript` (and to ``say``).

Use ``async with ScriptedAgent(...) as agent`` and ``await agent.start()``, ``play_round(r)``, ``finish()``; the
demo drives it from synchronous code through :class:`AgentThread`.
"""

from __future__ import annotations

import io
import json
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client, StdioServerParameters
from mcp.types import TextResourceContents

from oracle.chain.clock import format_time
from oracle.errors import TourneyError

__all__ = ["AgentConfig", "AgentError", "ScriptedAgent", "AgentThread", "Call", "numeric_environment"]


def numeric_environment() -> dict[str, str]:
    """This process's BLAS/OpenMP settings, to hand to the server it starts (an MCP client passes only a few
    variables by default). The auditor's recomputation goes through BLAS dot products whose last bits depend on
    the kernel OpenBLAS picks (``OPENBLAS_CORETYPE``), so ``verify_round`` in the server must run with the same
    kernels as the operator that scored the round on this machine."""
    import os

    return {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))}


class AgentError(TourneyError, RuntimeError):
    """The agent met an answer its script does not handle (the transcript says which)."""


@dataclass(frozen=True)
class AgentConfig:
    """How to start the server (``tourney mcp ...`` and its environment) and the agent's own choices."""

    command: str
    args: tuple[str, ...]
    env: dict[str, str]
    workdir: Path
    #: Tokens to stake each round while the session's limit allows; the first round asks for ``first_stake``.
    stake_per_round: str = "100"
    first_stake: str = "150"
    #: Ridge penalty of the model (features are in [0, 1], targets in [0, 1]).
    ridge: float = 10.0


@dataclass(frozen=True)
class Call:
    """One tool call of the transcript."""

    tool: str
    arguments: dict[str, Any]
    ok: bool
    result: dict[str, Any]
    summary: str

    def line(self) -> str:
        args = json.dumps(self.arguments, separators=(", ", ": ")) if self.arguments else "{}"
        return f"{self.tool} {args} -> {'' if self.ok else 'error '}{self.summary}"


@dataclass
class ScriptedAgent:
    """The agent (see the module docstring)."""

    config: AgentConfig
    say: Callable[[str], None] = print
    transcript: list[Call] = field(default_factory=list)
    model_id: int | None = None
    staked: Decimal = Decimal(0)
    withdrawn: Decimal = Decimal(0)
    receipts: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Rounds the agent verified, and whether each verified.
    verified: dict[int, bool] = field(default_factory=dict)
    _stack: AsyncExitStack | None = field(default=None, repr=False)
    _client: Client | None = field(default=None, repr=False)
    _training: dict[int, pd.DataFrame] = field(default_factory=dict, repr=False)
    _live_paths: dict[int, Path] = field(default_factory=dict, repr=False)
    _budget_left: bool = True

    # ------------------------------------------------------------------------------------------------ session

    async def __aenter__(self) -> "ScriptedAgent":
        self.config.workdir.mkdir(parents=True, exist_ok=True)
        server = StdioServerParameters(
            command=self.config.command,
            args=list(self.config.args),
            env=dict(self.config.env),
            cwd=str(self.config.workdir),
        )
        self._stack = AsyncExitStack()
        self._client = await self._stack.enter_async_context(Client(server, read_timeout_seconds=120))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = self._client = None

    async def call(
        self,
        tool: str,
        arguments: dict[str, Any] | None = None,
        expect_error: bool = False,
    ) -> tuple[bool, dict[str, Any]]:
        """Call a tool; (ok, structured result or the error object). An unexpected error stops the agent."""
        assert self._client is not None, "use the agent inside `async with`"
        arguments = arguments or {}
        result = await self._client.call_tool(tool, arguments)
        content = result.structured_content
        if not isinstance(content, dict):
            raise AgentError(f"{tool} answered without structured content: {result.content}")
        ok = not result.is_error
        body = content if ok else content["error"]
        call = Call(
            tool,
            arguments,
            ok,
            body,
            _summary(tool, body) if ok else f"{body['code']}: {body['message']} (next: {body['next']})",
        )
        self.transcript.append(call)
        self.say(f"  agent: {call.line()}")
        if not ok and not expect_error:
            raise AgentError(f"{tool} failed: {call.summary}")
        return ok, body

    # ------------------------------------------------------------------------------------------------ the script

    async def start(self) -> int:
        """Read the skills document, learn who the server signs as, and register a model if there is none."""
        assert self._client is not None
        skills = await self._client.read_resource("tourney://skills")
        first = skills.contents[0] if skills.contents else None
        text = first.text if isinstance(first, TextResourceContents) else ""  # a blob describes nothing
        if "submit_predictions" not in text:
            raise AgentError("the skills resource does not describe submit_predictions")
        self.say(f"  agent: read tourney://skills ({len(text.splitlines())} lines)")
        _, account = await self.call("account_info")
        if account["models"]:
            self.model_id = int(account["models"][0])
        else:
            _, registered = await self.call("register_model")
            self.model_id = int(registered["model_id"])
        return self.model_id

    async def play_round(self, round: int) -> None:
        """Everything the agent does while ``round`` is open."""
        _, rounds = await self.call("list_rounds")
        opened = rounds["open_round"]
        if opened is None or opened["round"] != round:
            raise AgentError(f"round {round} is not the open round ({opened})")
        await self._learn(rounds)
        _, live = await self.call("download_live", {"round": round})
        self._live_paths[round] = Path(live["path"])
        path = self.predict(round, pd.read_parquet(live["path"]))
        _, checked = await self.call(
            "validate_predictions", {"round": round, "model_id": self.model_id, "path": path.name}
        )
        if not checked["ok"]:
            raise AgentError(f"its own predictions do not validate: {checked['problems']}")
        _, submitted = await self.call(
            "submit_predictions", {"round": round, "model_id": self.model_id, "path": path.name}
        )
        self.receipts[round] = submitted["receipt"]
        await self.stake(self.config.first_stake if round == 1 else self.config.stake_per_round)
        await self.call("model_status", {"model_id": self.model_id})

    async def _learn(self, rounds: dict[str, Any]) -> None:
        """Download the targets of every resolved round not yet in the training set."""
        for view in rounds["rounds"]:
            number = int(view["round"])
            if view["status"] in ("proposed", "active") and number not in self._training and number in self._live_paths:
                _, targets = await self.call("download_targets", {"round": number})
                live = pd.read_parquet(self._live_paths[number])
                self._training[number] = live.merge(pd.read_parquet(targets["path"]), on="id")

    def predict(self, round: int, live: pd.DataFrame) -> Path:
        """Write the round's predictions: a ridge regression on every resolved round seen so far (before any is
        resolved, the features' plain average), ranked into (0, 1]."""
        features = [c for c in live.columns if c not in ("id", "era") and pd.api.types.is_numeric_dtype(live[c])]
        x = live[features].to_numpy(dtype=np.float64)
        if self._training:
            train = pd.concat([self._training[r] for r in sorted(self._training)], ignore_index=True)
            train = train[np.isfinite(train["target"].to_numpy(dtype=np.float64))]
            a = train[features].to_numpy(dtype=np.float64) - 0.5
            y = train["target"].to_numpy(dtype=np.float64) - 0.5
            weights = np.linalg.solve(a.T @ a + self.config.ridge * np.eye(len(features)), a.T @ y)
            score = (x - 0.5) @ weights
        else:
            score = x.mean(axis=1)
        ranked = pd.Series(score).rank(pct=True, method="first").round(6)
        path = self.config.workdir / f"predictions_{round:05d}.csv"
        buffer = io.StringIO()
        pd.DataFrame({"id": live["id"].astype(str), "prediction": ranked.to_numpy()}).to_csv(buffer, index=False)
        path.write_text(buffer.getvalue())
        return path

    async def stake(self, amount: str) -> None:
        """Stake ``amount``; on ``spending_limit`` stake what the error says is allowed (nothing when it is 0)."""
        if not self._budget_left:
            self.say("  agent: the session's stake budget is used up; not staking")
            return
        ok, body = await self.call("stake", {"model_id": self.model_id, "amount": amount}, expect_error=True)
        if not ok:
            if body["code"] != "spending_limit":
                raise AgentError(f"stake refused: {body}")
            allowed = body["details"]["max_allowed"]
            if Decimal(allowed) <= 0:
                self._budget_left = False
                return
            ok, body = await self.call("stake", {"model_id": self.model_id, "amount": allowed})
        self.staked += Decimal(body["amount"])
        self._budget_left = Decimal(body["limits"]["max_allowed_now"]) > 0

    async def finish(self) -> Decimal:
        """Read the results, verify the last round played, settle, and take everything back. Returns the tokens
        withdrawn."""
        _, status = await self.call("model_status", {"model_id": self.model_id})
        played = [r for r in status["rounds"] if r["scored"]]
        if played:
            _, verdict = await self.call("verify_round", {"round": played[-1]["round"]})
            self.verified[int(verdict["round"])] = bool(verdict["ok"])
            if not verdict["ok"]:
                self.say(
                    f"  agent: round {verdict['round']} does not verify; a human should look at "
                    f"{[d['subject'] + ' ' + d['field'] for d in verdict['differences'][:4]]}"
                )
        await self.call("settle", {"model_id": self.model_id})
        _, _requested = await self.call(
            "request_withdrawal",
            {"model_id": self.model_id, "amount": "all", "request_id": f"exit-model-{self.model_id}"},
        )
        _, paid = await self.call("withdraw", {"model_id": self.model_id})
        self.withdrawn = Decimal(paid["paid"])
        return self.withdrawn


def _rounds_line(body: dict[str, Any]) -> str:
    opened = body["open_round"]
    head = f"open round {opened['round']}, {opened['seconds_left']} s left" if opened else "no open round"
    return f"{head}; last closed {body['last_closed']}, last active {body['last_activated']}"


def _receipt_line(body: dict[str, Any]) -> str:
    receipt = body["receipt"]
    return (
        f"receipt {receipt['signature'][:10]}..., received at {format_time(int(receipt['received_at']))}"
        f"{' (repeated)' if body['repeated'] else ''}"
    )


def _status_line(body: dict[str, Any]) -> str:
    scored = [r for r in body["rounds"] if r["scored"]]
    last = ""
    if scored:
        r = scored[-1]
        last = f"; round {r['round']}: corr {r['corr']:.4f}, mmc {r['mmc']:.4f}, payout {r['payout']}, burn {r['burn']}"
    return f"stake {body['stake']}, settled through {body['settled_round']}{last}"


#: One short line per successful result, by tool.
_SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "list_rounds": _rounds_line,
    "account_info": lambda b: f"{b['address']}, {b['token_balance']} {b['token_symbol']}, models {b['models']}",
    "register_model": lambda b: f"model {b['model_id']}",
    "download_live": lambda b: f"{b['rows']} rows, {len(b['columns'])} columns -> {Path(b['path']).name}",
    "download_targets": lambda b: f"{b['rows']} rows, {len(b['columns'])} columns -> {Path(b['path']).name}",
    "validate_predictions": lambda b: "ok" if b["ok"] else f"{len(b['problems'])} problem(s)",
    "submit_predictions": _receipt_line,
    "stake": lambda b: f"staked {b['amount']}; {b['limits']['max_allowed_now']} more allowed this session",
    "model_status": _status_line,
    "verify_round": lambda b: (
        f"round {b['round']} {'verifies' if b['ok'] else 'DIFFERS'} ({b['receipts_checked']} receipt(s))"
    ),
    "settle": lambda b: f"round {b['round']}: settled {b['settled']}, already {b['already_settled']}",
    "request_withdrawal": lambda b: f"pending {b['pending']} after round {b['after_round']}",
    "withdraw": lambda b: f"paid {b['paid']}",
}


def _summary(tool: str, body: dict[str, Any]) -> str:
    """One short line for a successful result."""
    return _SUMMARIES.get(tool, lambda b: json.dumps(b)[:120])(body)


class AgentThread:
    """Drive a :class:`ScriptedAgent` from synchronous code (the demo): its MCP session lives in a blocking
    portal's event loop for as long as this object is open."""

    def __init__(self, config: AgentConfig, say: Callable[[str], None] = print) -> None:
        self.agent = ScriptedAgent(config, say)
        self._portal_cm: Any = None
        self._portal: BlockingPortal | None = None
        self._session_cm: Any = None

    def __enter__(self) -> "AgentThread":
        self._portal_cm = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._session_cm = self._portal.wrap_async_context_manager(self.agent)
        try:
            self._session_cm.__enter__()
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._session_cm.__exit__(*exc)
        finally:
            self._portal_cm.__exit__(*exc)

    def run(self, step: Callable[..., Any], *args: Any) -> Any:
        assert self._portal is not None, "use AgentThread inside `with`"
        return self._portal.call(step, *args)

    def start(self) -> int:
        return self.run(self.agent.start)

    def play_round(self, round: int) -> None:
        self.run(self.agent.play_round, round)

    def finish(self) -> Decimal:
        return self.run(self.agent.finish)
