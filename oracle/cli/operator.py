"""``tourney operator run`` and ``tourney round open|close|resolve|activate``: the oracle operator's commands.

Every command reads the round's state from the chain and the artifact store, so any of them can be re-run after a
crash: a step already done is found done and skipped. Configuration comes from options or environment variables:
``TOURNEY_STORE`` (artifact store), ``TOURNEY_INBOX`` (submissions), ``TOURNEY_ROUND_DATA`` (live and target
files), ``TOURNEY_PARAMS`` (scoring parameters JSON), plus the shared connection options (``--rpc``,
``--deployment``, ``--account``: the oracle's keystore account).
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any, Callable

import click

from oracle.cli.context import ChainOptions, chain_options
from oracle.cli.output import get_output, json_option, make_table

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["operator_group", "open_command", "close_command", "resolve_command", "activate_command"]

#: Scoring parameters when no ``--params`` file is given: Numerai's 2024 weights and 5% clip.


def operator_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The operator's configuration options (each with an environment variable)."""
    options = (
        click.option(
            "--store",
            envvar="TOURNEY_STORE",
            required=True,
            metavar="URL",
            help="Artifact store for round bundles (directory or fsspec URL) [env TOURNEY_STORE].",
        ),
        click.option(
            "--inbox",
            envvar="TOURNEY_INBOX",
            required=True,
            metavar="URL",
            help="Submission inbox (directory or fsspec URL) [env TOURNEY_INBOX].",
        ),
        click.option(
            "--round-data",
            envvar="TOURNEY_ROUND_DATA",
            required=True,
            metavar="URL",
            help="Directory with live_<r>.parquet and targets_<r>.parquet [env TOURNEY_ROUND_DATA].",
        ),
        click.option(
            "--params",
            "params_file",
            envvar="TOURNEY_PARAMS",
            default=None,
            metavar="FILE",
            help="Scoring parameters JSON (RoundParams; docs/data-formats.md) [env TOURNEY_PARAMS; default: "
            "0.5*CORR + 2*MMC, clip 5%, paid in full up to 1,000,000 tokens at risk].",
        ),
        click.option(
            "--window",
            type=click.IntRange(min=1),
            default=3600,
            show_default=True,
            help="Submission window of a new round, in seconds of chain time.",
        ),
        click.option(
            "--max-rounds", type=click.IntRange(min=1), default=None, help="Open no round numbered above this."
        ),
        click.option(
            "--public-url",
            envvar="TOURNEY_PUBLIC_URL",
            default=None,
            metavar="URL",
            help="The service URL that serves the store: manifest URIs are posted under <URL>/bundles so "
            "anyone can open them [env TOURNEY_PUBLIC_URL; `serve` defaults to its own address].",
        ),
    )

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        store: str,
        inbox: str,
        round_data: str,
        params_file: str | None,
        window: int,
        max_rounds: int | None,
        public_url: str | None,
        **kwargs: Any,
    ) -> Any:
        from oracle.operator.config import OperatorConfig
        from oracle.scoring.params import ParamsError, RoundParams

        try:
            params = RoundParams.from_json(params_file) if params_file else RoundParams.numerai_default()
        except (ParamsError, FileNotFoundError) as exc:
            raise click.BadParameter(str(exc), param_hint="--params") from None
        # Local paths are made absolute: a URI posted on-chain must not depend on the operator's working directory.
        store, inbox, round_data = (_absolute(url) for url in (store, inbox, round_data))
        config = OperatorConfig(
            store=store,
            inbox=inbox,
            round_data=round_data,
            params=params,
            submission_window=window,
            max_rounds=max_rounds,
            public_url=public_url,
        )
        return func(*args, config=config, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def service_db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--db``: the database of the `tourney serve` that receipts this tournament's submissions."""
    return click.option(
        "--db",
        envvar="TOURNEY_SERVICE_DB",
        default=None,
        metavar="URL",
        help="Snapshot rounds from this `tourney serve` database instead of the inbox's records "
        "[env TOURNEY_SERVICE_DB].",
    )(func)


def _absolute(url: str) -> str:
    return url if "://" in url else os.path.abspath(os.path.expanduser(url))


def _operator(chain: ChainOptions, config: Any, db: str | None = None) -> Any:
    from oracle.chain.client import TournamentClient
    from oracle.operator.rounds import Operator

    conn = chain.connect(need_account=True)
    output = get_output()
    submissions = None
    from oracle.protocol.inbox import Inbox

    if db is None:
        if Inbox(config.inbox).receipted_elsewhere():
            # Snapshotting the inbox's (absent) records would close the round on no submissions at all.
            raise click.UsageError(
                f"the inbox {config.inbox} holds prediction files but no submission records: `tourney serve` "
                "keeps them in its database. Pass that database with --db URL (or TOURNEY_SERVICE_DB); with no "
                "service, the files are strays of an interrupted delivery: remove them from objects/"
            )
    else:
        # Beside `tourney serve`: the receipted submissions are in the service's database, the files in the inbox.
        from oracle.service.db.engine import Database
        from oracle.service.db.ledger import Ledger
        from oracle.service.db.source import LedgerInbox

        database = Database(db)
        database.migrate()
        submissions = LedgerInbox(Ledger(database), Inbox(config.inbox))
    return Operator(
        TournamentClient(conn.w3, conn.deployment), conn.sender, config, log=output.note, submissions=submissions
    )


def _emit_actions(actions: list[Any], operator: Any) -> None:
    """The actions done, and what the operator waits for next (so "nothing due" always says until when), with a
    warning when the chain's clock stands still (then "nothing due" past a deadline is the chain's, not ours)."""
    from oracle.chain.clock import stale_clock_warning
    from oracle.operator.schedule import next_steps

    output = get_output()
    waiting = next_steps(operator.client, operator.config)
    clock_warning = stale_clock_warning(operator.client.now())
    operator.notices.check_clock(operator.client)  # people: said once (open and run said it already)

    def render(console: Console) -> None:
        if actions:
            rows = [(a.round, a.step, a.detail, a.tx or "-", a.gas or "-") for a in actions]
            console.print(
                make_table("Operator actions", ["round", "step", "detail", "tx", "gas"], rows, ["round", "gas"])
            )
        else:
            console.print("nothing due now", highlight=False)
        for line in waiting:
            console.print(f"next: {line}", highlight=False)

    output.emit({"actions": [a.to_dict() for a in actions], "next": waiting, "clock_warning": clock_warning}, render)


@click.group("operator")
def operator_group() -> None:
    """The oracle operator: drive rounds from open to active."""


@operator_group.command("run")
@chain_options
@operator_options
@click.option("--once", is_flag=True, help="Do every step that is due now, then exit.")
@click.option("--until-round", type=click.IntRange(min=1), default=None, help="Exit once this round is active.")
@click.option("--poll", type=click.FloatRange(min=0.05), default=2.0, show_default=True, help="Seconds between passes.")
@service_db_option
@json_option
def run_command(
    chain: ChainOptions, config: Any, once: bool, until_round: int | None, poll: float, db: str | None
) -> None:
    """Open, close, resolve, propose and activate rounds as they fall due (safe to kill and restart)."""
    operator = _operator(chain, config, db)
    actions = operator.run(poll=poll, until_round=until_round, once=once)
    _emit_actions(actions, operator)


@click.command("open")
@chain_options
@operator_options
@service_db_option
@json_option
def open_command(chain: ChainOptions, config: Any, db: str | None) -> None:
    """Open the next round (when none is open and its live data is published)."""
    operator = _operator(chain, config, db)
    _emit_actions(operator.open_due(strict=True, wait_for_models=True), operator)


@click.command("close")
@chain_options
@operator_options
@service_db_option
@json_option
def close_command(chain: ChainOptions, config: Any, db: str | None) -> None:
    """Snapshot the inbox and close the open round, if its submission window has passed."""
    operator = _operator(chain, config, db)
    _emit_actions(operator.close_due(), operator)


@click.command("resolve")
@chain_options
@operator_options
@service_db_option
@click.option(
    "--round",
    "round_",
    type=click.IntRange(min=1),
    default=None,
    help="Resolve only this round (default: every closed round whose targets are known, in order).",
)
@json_option
def resolve_command(chain: ChainOptions, config: Any, round_: int | None, db: str | None) -> None:
    """Score closed rounds from chain stakes and signed submissions, publish their bundles, propose their roots."""
    operator = _operator(chain, config, db)
    _emit_actions([operator.resolve_and_propose(round_)] if round_ else operator.propose_due(), operator)


@click.command("activate")
@chain_options
@operator_options
@service_db_option
@json_option
def activate_command(chain: ChainOptions, config: Any, db: str | None) -> None:
    """Activate the pending root (one at a time) once its challenge window has passed."""
    operator = _operator(chain, config, db)
    _emit_actions(operator.activate_due(), operator)


@click.command("lapse")
@chain_options
@operator_options
@service_db_option
@json_option
def lapse_command(chain: ChainOptions, config: Any, db: str | None) -> None:
    """Lapse, in order, every round past its deadline unactivated (a zero result; anyone may do this)."""
    operator = _operator(chain, config, db)
    _emit_actions(operator.lapse_due(), operator)
