"""The demo's scripted MCP agent: the operator's service beside the demo's operator, a funded keystore account, and
the agent (oracle.mcp.agent) driving ``tourney mcp`` over stdio with that account and a spending limit.

The service runs its real app in a thread of the demo (same inbox, store and round data as the operator, no
scheduler: the demo's operator moves the rounds), so the agent gets live data and operator-signed receipts.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from eth_account.signers.local import LocalAccount

from oracle.chain.deploy import UNIT, Deployment
from oracle.chain.keystore import Keystore
from oracle.chain.tx import Sender
from oracle.mcp.agent import AgentConfig, AgentThread, Call, numeric_environment
from oracle.scoring.params import RoundParams
from oracle.service.config import ServiceConfig
from oracle.testing.harness import service_thread

__all__ = ["AGENT_OWNER", "AgentOutcome", "DemoAgentSetup", "start_agent", "finish_agent"]

#: The owner shown for the agent's model in the demo's table.
AGENT_OWNER = "agent (MCP)"


@dataclass(frozen=True)
class DemoAgentSetup:
    """What the agent needs from the demo: its directory, the chain and deployment, the oracle (which signs
    receipts), the keystore and its password, who funds the agent and with how many tokens, the round parameters
    and the server's spending limit (tokens)."""

    workdir: Path
    rpc: str
    deployment: Deployment
    oracle: LocalAccount
    keystore: Keystore
    password: str
    funder: Sender
    token: Any
    tokens: int
    params: RoundParams
    max_stake: str
    max_stake_per_call: str


@dataclass
class AgentOutcome:
    """What the scripted MCP agent did: its model, tokens staked and withdrawn (smallest units), its tool calls."""

    model_id: int
    staked: int
    withdrawn: int
    transcript: list[Call]


class InboxAndService:
    """What the demo's operator collects a round from: its participants deliver to the inbox, its agent through the
    service, which keeps what it receipts in its database (``state``) with the files in the same inbox."""

    def __init__(self, inbox: str, state: Path) -> None:
        from oracle.protocol.inbox import Inbox
        from oracle.service.db.engine import Database, default_url
        from oracle.service.db.ledger import Ledger
        from oracle.service.db.source import LedgerInbox

        database = Database(default_url(str(state)), pool_size=2)
        database.migrate()
        self.source = LedgerInbox(Ledger(database), Inbox(inbox))  # the ledger and the inbox's own records

    def __getattr__(self, name: str) -> Any:
        # Everything the operator reads (collect, collect_batches, records, get) is the LedgerInbox's; the class
        # exists so the database is opened only when the demo runs its agent.
        return getattr(self.source, name)


def start_agent(setup: DemoAgentSetup, stack: ExitStack, say: Callable[[str], None]) -> AgentThread:
    """Start the service and the agent (both closed with ``stack``); the agent reads the skills document and
    registers its model."""
    (setup.workdir / "round-data").mkdir(parents=True, exist_ok=True)
    url = stack.enter_context(
        service_thread(
            ServiceConfig(
                rpc=setup.rpc,
                deployment=setup.deployment,
                operator=setup.oracle,
                inbox=str(setup.workdir / "inbox"),
                store=str(setup.workdir / "store"),
                round_data=str(setup.workdir / "round-data"),
                state=str(setup.workdir / "service-state"),
                params=setup.params,
                scheduler=False,
            )
        )
    )
    entry = setup.keystore.create("agent", setup.password)
    setup.funder.send_ether(entry.address, 10**18)
    setup.funder.transact(setup.token.functions.transfer(entry.address, setup.tokens), action="tokens for the agent")
    env = {
        "TOURNEY_RPC": setup.rpc,
        "TOURNEY_DEPLOYMENT": str(setup.workdir / "deployment.json"),
        "TOURNEY_KEYSTORE_DIR": str(setup.keystore.directory),
        "TOURNEY_PASSWORD": setup.password,
        "TOURNEY_SERVICE": url,
        "TOURNEY_MANIFEST_ROOTS": str(setup.workdir / "store"),
        **numeric_environment(),
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # a worktree's oracle package, as in this process
    config = AgentConfig(
        command=str(Path(sys.executable).with_name("tourney")),
        args=(
            "mcp",
            "--account",
            "agent",
            "--workdir",
            str(setup.workdir / "agent"),
            "--max-stake",
            setup.max_stake,
            "--max-stake-per-call",
            setup.max_stake_per_call,
        ),
        env=env,
        workdir=setup.workdir / "agent",
    )
    agent = stack.enter_context(AgentThread(config, say))
    model_id = agent.start()
    say(
        f"agent: tourney mcp over stdio (service {url}), limit {setup.max_stake} STK per session and "
        f"{setup.max_stake_per_call} per call; plays model {model_id}"
    )
    return agent


def finish_agent(agent: AgentThread, say: Callable[[str], None]) -> AgentOutcome:
    """The agent verifies, settles and takes everything back; what it did."""
    say("the agent exits")
    withdrawn = agent.finish()
    played = agent.agent
    return AgentOutcome(
        int(played.model_id or 0), int(played.staked * UNIT), int(withdrawn * UNIT), list(played.transcript)
    )
