"""``tourney mcp``: the participant's actions as a Model Context Protocol server for AI agents (oracle.mcp).

Stdio by default (the agent's MCP client starts this command); ``--transport http`` serves streamable HTTP on a
loopback port instead. The account's keystore password comes from ``TOURNEY_PASSWORD`` only: stdin is the
protocol, so there is no prompt. Value-moving tools exist only with ``--max-stake``; chains other than a local
development chain only with ``--allow-chain ID``.
"""

from __future__ import annotations

import click

from oracle.cli.context import ChainOptions, chain_options

__all__ = ["mcp_command"]


@click.command("mcp")
@click.option(
    "--service",
    envvar="TOURNEY_SERVICE",
    default=None,
    metavar="URL",
    help="The operator service (live data, submissions, receipts) [env TOURNEY_SERVICE].",
)
@click.option(
    "--workdir",
    envvar="TOURNEY_MCP_WORKDIR",
    default=None,
    metavar="DIR",
    help="Downloads, the agent's files, receipts and the request journal [env TOURNEY_MCP_WORKDIR, "
    "default ~/.tourney/mcp]. Tools read files only inside it.",
)
@click.option(
    "--max-stake",
    default=None,
    metavar="TOKENS",
    help="Allow stake/request_withdrawal/withdraw, staking at most TOKENS in this session.",
)
@click.option(
    "--max-stake-per-call", default=None, metavar="TOKENS", help="At most TOKENS per stake call [default: --max-stake]."
)
@click.option(
    "--allow-chain",
    "allow_chains",
    type=int,
    multiple=True,
    metavar="ID",
    help="Also talk to chain ID (repeatable); by default only local development chains.",
)
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio (started by the agent's client) or streamable HTTP.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP only: a loopback address.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True, help="HTTP only.")
@chain_options
def mcp_command(
    chain: ChainOptions,
    service: str | None,
    workdir: str | None,
    max_stake: str | None,
    max_stake_per_call: str | None,
    allow_chains: tuple[int, ...],
    transport: str,
    host: str,
    port: int,
) -> None:
    """Serve the participant's tools to an AI agent over MCP (keys stay in the keystore)."""
    from oracle.chain.keystore import password_from_env
    from oracle.mcp.policy import is_loopback
    from oracle.mcp.server import build_server
    from oracle.mcp.session import McpSettings, ParticipantSession
    from oracle.participant.models import ParticipantError

    deployment, rpc = chain.resolved()
    if not deployment:
        raise ParticipantError("no deployment file: pass --deployment FILE or set TOURNEY_DEPLOYMENT")
    if not rpc:
        raise ParticipantError("no JSON-RPC endpoint: pass --rpc URL or set TOURNEY_RPC")
    if transport == "http" and not is_loopback(f"http://{host}"):
        raise click.BadParameter(
            f"{host} is not a loopback address: the HTTP transport has no authentication, "
            "so it only listens on this machine",
            param_hint="--host",
        )
    settings = McpSettings(
        rpc=rpc,
        deployment=deployment,
        account=chain.account,
        keystore_dir=chain.keystore_dir,
        service=service,
        workdir=workdir,
        max_stake=max_stake,
        max_stake_per_call=max_stake_per_call,
        allow_chains=allow_chains,
    )
    session = ParticipantSession.open(settings, password_from_env() if chain.account else None)
    server = build_server(session)
    if transport == "http":
        server.run("streamable-http", host=host, port=port)
    else:
        server.run("stdio")
