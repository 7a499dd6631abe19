"""``tourney operator run`` and ``tourney round open|close|resolve|activate``: the oracle operator's commands.

Every command reads the round's state from the chain and the artifact store, so any of them can be re-run after a
crash: a step already done is found done and skipped. Configuration comes from options or environment variables:
``TOURNEY_STORE`` (artifact store), ``TOURNEY_INBOX`` (submissions), ``TOURNEY_ROUND_DATA`` (live and target
files), ``TOURNEY_PARAMS`` (scoring parameters JSON), plus the shared connection options (``--rpc``,
``--deployment``, ``--account``: the oracle's keystore account).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import click
from rich.console import Console

from oracle.cli.context import ChainOptions, chain_options
from oracle.cli.output import get_output, json_option, make_table
from oracle.cli.round import round_group

__all__ = ["operator_group"]

#: Scoring parameters when no ``--params`` file is given: Numerai's 2024 weights and 5% clip.


def operator_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The operator's configuration options (each with an environment variable)."""
    options = (
        click.option("--store", envvar="TOURNEY_STORE", required=True, metavar="URL",
                     help="Artifact store for round bundles (directory or fsspec URL) [env TOURNEY_STORE]."),
        click.option("--inbox", envvar="TOURNEY_INBOX", required=True, metavar="URL",
                     help="Submission inbox (directory or fsspec URL) [env TOURNEY_INBOX]."),
        click.option("--round-data", envvar="TOURNEY_ROUND_DATA", required=True, metavar="URL",
                     help="Directory with live_<r>.parquet and targets_<r>.parquet [env TOURNEY_ROUND_DATA]."),
        click.option("--params", "params_file", envvar="TOURNEY_PARAMS", default=None, metavar="FILE",
                     help="Scoring parameters JSON (RoundParams) [env TOURNEY_PARAMS; default corr 1, mmc 2, clip 5%]."),
        click.option("--window", type=click.IntRange(min=1), default=3600, show_default=True,
                     help="Submission window of a new round, in seconds of chain time."),
        click.option("--max-rounds", type=click.IntRange(min=1), default=None,
                     help="Open no round numbered above this."),
    )

    @functools.wraps(func)
    def wrapper(*args: Any, store: str, inbox: str, round_data: str, params_file: str | None, window: int,
                max_rounds: int | None, **kwargs: Any) -> Any:
        from oracle.operator.config import OperatorConfig
        from oracle.scoring.params import ParamsError, RoundParams

        try:
            params = RoundParams.from_json(params_file) if params_file else RoundParams.numerai_default()
        except (ParamsError, FileNotFoundError) as exc:
            raise click.BadParameter(str(exc), param_hint="--params") from None
        config = OperatorConfig(store=store, inbox=inbox, round_data=round_data, params=params,
                                submission_window=window, max_rounds=max_rounds)
        return func(*args, config=config, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _operator(chain: ChainOptions, config: Any, db: str | None = None) -> Any:
    from oracle.chain.client import TournamentClient
    from oracle.operator.rounds import Operator

    conn = chain.connect(need_account=True)
    output = get_output()
    submissions = None
    if db is not None:
        # Beside `tourney serve`: the receipted submissions are in the service's database, the files in the inbox.
        from oracle.protocol.inbox import Inbox
        from oracle.service.db.engine import Database
        from oracle.service.db.ledger import Ledger
        from oracle.service.db.source import LedgerInbox

        database = Database(db)
        database.migrate()
        submissions = LedgerInbox(Ledger(database), Inbox(config.inbox))
    return Operator(TournamentClient(conn.w3, conn.deployment), conn.sender, config, log=output.note,
                    submissions=submissions)


def _emit_actions(actions: list[Any]) -> None:
    output = get_output()

    def render(console: Console) -> None:
        if not actions:
            console.print("nothing due")
            return
        rows = [(a.round, a.step, a.detail, a.tx or "-", a.gas or "-") for a in actions]
        console.print(make_table("Operator actions", ["round", "step", "detail", "tx", "gas"], rows, ["round", "gas"]))

    output.emit({"actions": [a.to_dict() for a in actions]}, render)


@click.group("operator")
def operator_group() -> None:
    """The oracle operator: drive rounds from open to active."""


@operator_group.command("run")
@chain_options
@operator_options
@click.option("--once", is_flag=True, help="Do every step that is due now, then exit.")
@click.option("--until-round", type=click.IntRange(min=1), default=None, help="Exit once this round is active.")
@click.option("--poll", type=click.FloatRange(min=0.05), default=2.0, show_default=True, help="Seconds between passes.")
@click.option("--db", envvar="TOURNEY_SERVICE_DB", default=None, metavar="URL",
              help="Snapshot rounds from this `tourney serve` database instead of the inbox's records "
                   "[env TOURNEY_SERVICE_DB].")
@json_option
def run_command(chain: ChainOptions, config: Any, once: bool, until_round: int | None, poll: float,
                db: str | None) -> None:
    """Open, close, resolve, propose and activate rounds as they fall due (safe to kill and restart)."""
    operator = _operator(chain, config, db)
    actions = operator.run(poll=poll, until_round=until_round, once=once)
    _emit_actions(actions)


@round_group.command("open")
@chain_options
@operator_options
@json_option
def open_command(chain: ChainOptions, config: Any) -> None:
    """Open the next round (when none is open)."""
    _emit_actions(_operator(chain, config).open_due())


@round_group.command("close")
@chain_options
@operator_options
@json_option
def close_command(chain: ChainOptions, config: Any) -> None:
    """Snapshot the inbox and close the open round, if its submission window has passed."""
    _emit_actions(_operator(chain, config).close_due())


@round_group.command("resolve")
@chain_options
@operator_options
@click.option("--round", "round_", type=click.IntRange(min=1), default=None,
              help="Resolve only this round (default: every closed round whose targets are known, in order).")
@json_option
def resolve_command(chain: ChainOptions, config: Any, round_: int | None) -> None:
    """Score closed rounds from chain stakes and signed submissions, publish their bundles, propose their roots."""
    operator = _operator(chain, config)
    _emit_actions([operator.resolve_and_propose(round_)] if round_ else operator.propose_due())


@round_group.command("activate")
@chain_options
@operator_options
@json_option
def activate_command(chain: ChainOptions, config: Any) -> None:
    """Activate every pending root whose challenge window has passed, in order."""
    _emit_actions(_operator(chain, config).activate_due())
