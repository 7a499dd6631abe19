"""The ``tourney`` command: one entry point, a subcommand per role.

Global option ``--json`` switches every subcommand from human tables to one JSON document on stdout.
Subcommands live in sibling modules; adding one is one import and one entry in ``COMMANDS``.
"""

from __future__ import annotations

import click

import oracle
from oracle.cli.output import Output, fail_with
from oracle.cli.data import data_group
from oracle.cli.deploy import deploy_command
from oracle.cli.mcp import mcp_command
from oracle.cli.participant import PARTICIPANT_COMMANDS
from oracle.cli.operator import operator_group
from oracle.cli.round import round_group
from oracle.cli.score import score
from oracle.cli.serve import serve
from oracle.cli.simulate import simulate
from oracle.cli.token import reserve_group, token_group
from oracle.cli.verify import verify_command
from oracle.errors import TourneyError

__all__ = ["main", "COMMANDS"]


class _Tourney(click.Group):
    """The command group, and the one place errors are reported: any :class:`TourneyError` (or missing file) raised
    by a subcommand becomes one line ``error: <message>`` (``{"error": ...}`` with ``--json``) and exit code 1."""

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


# Every subcommand, in help order. Register new ones here, one line each.
COMMANDS: list[click.Command] = [
    score,
    round_group,
    simulate,
    *PARTICIPANT_COMMANDS,
    operator_group,
    verify_command,
    serve,
    mcp_command,
    deploy_command,
    token_group,
    reserve_group,
    data_group,
]

for _command in COMMANDS:
    main.add_command(_command)
