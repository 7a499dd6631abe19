"""The ``tourney`` command: one entry point, a subcommand per role.

Global option ``--json`` switches every subcommand from human tables to one JSON document on stdout.
Subcommands live in sibling modules; adding one is one entry in ``COMMANDS``.

Start-up is instant because nothing heavy is imported before it is used: a subcommand's module is imported only
when that subcommand runs or its help is shown (``COMMANDS`` names it by import path), and the command modules
import click at load time and the scientific and chain libraries (numpy, pandas, web3, ...) inside the commands.
``tests/oracle/test_cli_startup.py`` holds the line.
"""

from __future__ import annotations

import importlib

import click

import oracle
from oracle.cli.output import Output, fail_with
from oracle.errors import TourneyError

__all__ = ["main", "COMMANDS"]

# Every subcommand, in help order: name -> "module:attribute". Register new ones here, one line each.
COMMANDS: dict[str, str] = {
    "score": "oracle.cli.score:score",
    "round": "oracle.cli.round:round_group",
    "simulate": "oracle.cli.simulate:simulate",
    "account": "oracle.cli.account:account_group",
    "model": "oracle.cli.participant:model_group",
    "stake": "oracle.cli.participant:stake_command",
    "unstake": "oracle.cli.participant:unstake_command",
    "withdraw": "oracle.cli.participant:withdraw_command",
    "settle": "oracle.cli.participant:settle_command",
    "submit": "oracle.cli.submit:submit_command",
    "status": "oracle.cli.status:status_command",
    "operator": "oracle.cli.operator:operator_group",
    "verify": "oracle.cli.verify:verify_command",
    "serve": "oracle.cli.serve:serve",
    "mcp": "oracle.cli.mcp:mcp_command",
    "deploy": "oracle.cli.deploy:deploy_command",
    "token": "oracle.cli.token:token_group",
    "reserve": "oracle.cli.token:reserve_group",
    "data": "oracle.cli.data:data_group",
}


class _Tourney(click.Group):
    """The command group: loads each subcommand on first use (see ``COMMANDS``), and is the one place errors are
    reported: any :class:`TourneyError` (or missing file) raised by a subcommand becomes one line
    ``error: <message>`` (``{"error": ...}`` with ``--json``) and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *(name for name in super().list_commands(ctx) if name not in COMMANDS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, _, attribute = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if command.name != cmd_name:
                raise RuntimeError(
                    f"oracle.cli.COMMANDS: {COMMANDS[cmd_name]} is the command {command.name!r}, not {cmd_name!r}"
                )
            self.add_command(command)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (TourneyError, FileNotFoundError) as exc:
            fail_with(exc)


@click.group(cls=_Tourney, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "json_mode", is_flag=True, help="Machine output: one JSON document on stdout.")
@click.version_option(oracle.__version__, prog_name="tourney")
@click.pass_context
def main(ctx: click.Context, json_mode: bool) -> None:
    """Trustless staked prediction tournament: score, publish, verify and settle rounds."""
    ctx.obj = Output(json_mode=json_mode)
