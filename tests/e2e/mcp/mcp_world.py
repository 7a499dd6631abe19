"""Helpers of the ``tourney mcp`` tests (the ``world`` fixture is in conftest.py): a tournament with the operator's
service on a real Anvil, and the server driven through the MCP SDK's own client.

``make_world``: the operator's service (its real app, under uvicorn in a thread: starting ``tourney serve`` would
cost seconds of imports per test), an operator beside it (same inbox, store and round data) with round 1 open and
its targets written, and an environment for ``tourney mcp`` as participant p0. ``world.server(...)`` starts
``tourney mcp`` over stdio; ``world.in_process(...)`` builds the same server in this process (the SDK's client
connects to an ``MCPServer`` directly: same tools, middleware and results, no subprocess). Both return a
:class:`McpClient`, a synchronous facade over ``mcp.Client`` that records every answer it receives (tool results,
resources, listings) so a test can scan them all for key material.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from anyio.from_thread import start_blocking_portal
from eth_account import Account
from mcp import Client, StdioServerParameters
from mcp.server.mcpserver import MCPServer

from oracle.chain.anvil import dev_private_keys
from oracle.chain.client import TournamentClient
from oracle.mcp.agent import numeric_environment
from oracle.mcp.server import build_server
from oracle.mcp.session import McpSettings, ParticipantSession
from oracle.operator.rounds import Operator, OperatorConfig
from oracle.scoring.params import RoundParams
from oracle.service.config import ServiceConfig
from oracle.testing.harness import service_thread, write_live, write_targets
from oracle.testing.service_state import service_submissions

TOURNEY = str(Path(sys.executable).with_name("tourney"))
WINDOW = 900
LIVE_IDS = 60
PARAMS = RoundParams(corr_weight=1.0, mmc_weight=0.5, clip=0.05, payout_threshold=10**30)


class McpClient:
    """The SDK's ``Client`` on ``tourney mcp`` (stdio: ``args``, ``env``, ``cwd``) or on an in-process server,
    driven from synchronous test code."""

    def __init__(
        self,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        server: MCPServer | None = None,
    ) -> None:
        self.params: Any = (
            server
            if server is not None
            else StdioServerParameters(command=TOURNEY, args=list(args or []), env=env, cwd=str(cwd))
        )
        self.outputs: list[str] = []

    def __enter__(self) -> "McpClient":
        self._portal_cm = start_blocking_portal()
        portal = self._portal_cm.__enter__()
        self._client_cm = portal.wrap_async_context_manager(Client(self.params, read_timeout_seconds=120))
        try:
            self.client = self._client_cm.__enter__()
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            raise
        self.portal = portal
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self._client_cm.__exit__(*exc)
        finally:
            self._portal_cm.__exit__(*exc)

    def _record(self, answer: Any) -> Any:
        self.outputs.append(answer.model_dump_json(by_alias=True))
        return answer

    def tools(self) -> dict[str, Any]:
        return {t.name: t for t in self._record(self.portal.call(self.client.list_tools)).tools}

    def resources(self) -> list[Any]:
        return self._record(self.portal.call(self.client.list_resources)).resources

    def templates(self) -> list[Any]:
        return self._record(self.portal.call(self.client.list_resource_templates)).resource_templates

    def read(self, uri: str) -> str:
        return self._record(self.portal.call(self.client.read_resource, uri)).contents[0].text

    def call(self, tool: str, arguments: dict[str, Any] | None = None) -> Any:
        """The raw CallToolResult."""
        return self._record(self.portal.call(self.client.call_tool, tool, arguments or {}))

    def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """A call that must succeed: its structured result."""
        result = self.call(tool, arguments)
        assert not result.is_error, f"{tool}({arguments}) failed: {result.structured_content}"
        assert json.loads(result.content[0].text) == result.structured_content
        return result.structured_content

    def fails(self, tool: str, code: str, **arguments: Any) -> dict[str, Any]:
        """A call that must be refused with ``code``: its error object (checked for the structured shape)."""
        result = self.call(tool, arguments)
        assert result.is_error, f"{tool}({arguments}) succeeded: {result.structured_content}"
        error = result.structured_content["error"]
        assert set(error) == {"code", "message", "next", "details"}, error
        assert error["code"] == code, error
        assert error["message"] and error["next"], error
        assert json.loads(result.content[0].text) == result.structured_content
        return error


@dataclass
class World:
    """The tournament the tests drive (see the module docstring)."""

    chain: Any
    stack: ExitStack
    service_url: str
    operator: Operator
    rounds_dir: Path
    workdir: Path
    env: dict[str, str]
    account: str
    live_ids: dict[int, list[str]] = field(default_factory=dict)

    def server(
        self,
        *args: str,
        account: bool = True,
        env: dict[str, str] | None = None,
        max_stake: str | None = "100",
        per_call: str | None = "40",
    ) -> McpClient:
        command = ["mcp", *(["--account", self.account] if account else [])]
        if max_stake is not None:
            command += ["--max-stake", max_stake]
        if per_call is not None:
            command += ["--max-stake-per-call", per_call]
        return McpClient([*command, *args], {**self.env, **(env or {})}, self.workdir)

    def in_process(self, max_stake: str | None = "100", per_call: str | None = "40", **settings: Any) -> McpClient:
        """The same server as ``server()`` (same options), built in this process."""
        options: dict[str, Any] = dict(
            rpc=self.env["TOURNEY_RPC"],
            deployment=self.env["TOURNEY_DEPLOYMENT"],
            account=self.account,
            keystore_dir=self.env["TOURNEY_KEYSTORE_DIR"],
            service=self.service_url,
            workdir=str(self.workdir),
            max_stake=max_stake,
            max_stake_per_call=per_call,
        )
        options.update(settings)
        session = ParticipantSession.open(McpSettings(**options), self.env["TOURNEY_PASSWORD"])
        return McpClient(server=build_server(session))

    def stop_service(self) -> None:
        self.stack.close()

    def open_round(self, round: int) -> None:
        self.live_ids[round] = write_live(self.rounds_dir, round, n_ids=LIVE_IDS)
        write_targets(self.rounds_dir, round, self.live_ids[round])
        assert [a.round for a in self.operator.open_due()] == [round]

    def close_and_propose(self) -> None:
        self.chain.advance(WINDOW + 1)
        assert self.operator.close_due()
        assert self.operator.propose_due()

    def activate(self) -> None:
        """Let the challenge window pass and activate every proposed root."""
        challenge_period = int(self.chain.tournament.functions.bounds().call()[0])
        self.chain.advance(challenge_period + 1)
        assert self.operator.activate_due()

    def write_predictions(self, round: int, name: str = "predictions.csv", seed: int = 0) -> Path:
        """A valid prediction file for the round's live ids in the workdir."""
        ids = self.live_ids[round]
        values = pd.Series(range(len(ids))).sample(frac=1.0, random_state=seed).rank(pct=True).to_numpy()
        path = self.workdir / name
        pd.DataFrame({"id": ids, "prediction": values}).to_csv(path, index=False)
        return path


def make_world(chain: Any, participant: Any, tmp_path: Path) -> World:
    """Start the service and the operator, open round 1 (see the module docstring); ``world.stop_service()``."""
    service_dir = tmp_path / "service"
    for name in ("inbox", "store", "rounds", "state"):
        (service_dir / name).mkdir(parents=True)
    stack = ExitStack()
    url = stack.enter_context(
        service_thread(
            ServiceConfig(
                rpc=chain.url,
                deployment=chain.deployment,
                operator=Account.from_key(dev_private_keys(2)[1]),
                inbox=str(service_dir / "inbox"),
                store=str(service_dir / "store"),
                round_data=str(service_dir / "rounds"),
                state=str(service_dir / "state"),
                params=PARAMS,
                scheduler=False,
            )
        )
    )
    operator = Operator(
        TournamentClient(chain.w3, chain.deployment),
        chain.oracle,
        OperatorConfig(
            store=str(service_dir / "store"),
            inbox=str(service_dir / "inbox"),
            round_data=str(service_dir / "rounds"),
            params=PARAMS,
            submission_window=WINDOW,
            max_rounds=2,
        ),
        hang_at=None,
        submissions=service_submissions(service_dir),
    )  # what the service receipted is in its database
    workdir = tmp_path / "agent"
    workdir.mkdir()
    env = {
        "TOURNEY_RPC": chain.url,
        "TOURNEY_DEPLOYMENT": str(chain.deployment_file),
        "TOURNEY_KEYSTORE_DIR": str(participant.keystore_dir),
        "TOURNEY_PASSWORD": participant.password,
        "TOURNEY_SERVICE": url,
        "TOURNEY_MCP_WORKDIR": str(workdir),
        "TOURNEY_MANIFEST_ROOTS": str(service_dir / "store"),
        **numeric_environment(),
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # a worktree's oracle package, as in this process
    found = World(chain, stack, url, operator, service_dir / "rounds", workdir, env, participant.name)
    try:
        found.open_round(1)
    except BaseException:
        stack.close()
        raise
    return found
