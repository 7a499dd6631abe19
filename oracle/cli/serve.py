"""``tourney serve``: the operator's HTTP service (FastAPI under uvicorn) with the round scheduler inside.

Takes the operator's configuration (``--store``, ``--inbox``, ``--round-data``, ``--params``, ``--window``,
``--max-rounds``, the same options and environment variables as ``tourney operator run``) and the connection
options (``--account``: the oracle's keystore account, which signs receipts and round transactions). With
``--no-scheduler`` the service only serves, and ``tourney operator run`` drives the rounds beside it (then the
operator needs ``--db`` too, to snapshot rounds from the service's database).

State lives in a database (``--db``): a SQLite file in ``--state`` by default, or PostgreSQL
(``postgresql://USER@HOST:PORT/DB``) for several workers (``--workers N``: forked processes on one port) or
several hosts; migrations run on start. With several workers or hosts one of them runs the scheduler at a time.

Logs are JSON lines on stderr (one object per event: submissions accepted and rejected, scheduler steps).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import click

from oracle.cli.context import ChainOptions, chain_options
from oracle.cli.operator import operator_options

__all__ = ["serve", "JsonLogFormatter", "configure_logging"]


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the record's structured ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": round(record.created, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            document.update(fields)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def configure_logging(level: str = "info") -> None:
    """Route the service's and uvicorn's logs to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    for name in ("tourney", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@click.option(
    "--state",
    envvar="TOURNEY_SERVICE_STATE",
    required=True,
    metavar="DIR",
    help="Service state directory (holds the default SQLite database) [env TOURNEY_SERVICE_STATE].",
)
@click.option(
    "--db",
    envvar="TOURNEY_SERVICE_DB",
    default=None,
    metavar="URL",
    help="Database URL: sqlite:///PATH or postgresql://USER@HOST:PORT/DB (default: a SQLite file in "
    "--state) [env TOURNEY_SERVICE_DB].",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes serving the port (share the database).",
)
@click.option(
    "--intake-threads",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Submissions checked at once per worker.",
)
@click.option(
    "--chain-poll",
    type=click.FloatRange(min=0.05),
    default=0.25,
    show_default=True,
    help="Seconds between reads of the latest block and new events.",
)
@click.option("--no-scheduler", is_flag=True, help="Do not run the round scheduler in this process.")
@click.option(
    "--poll", type=click.FloatRange(min=0.05), default=2.0, show_default=True, help="Seconds between scheduler passes."
)
@click.option(
    "--max-file-bytes",
    type=click.IntRange(min=1),
    default=8 * 2**20,
    show_default=True,
    help="Largest prediction file accepted.",
)
@click.option(
    "--rate-burst",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Submissions an address may send in a burst.",
)
@click.option(
    "--rate-per-second",
    type=click.FloatRange(min=0.001),
    default=1.0,
    show_default=True,
    help="Sustained submissions per second per address.",
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True
)
@operator_options
@chain_options
def serve(
    chain: ChainOptions,
    config: Any,
    host: str,
    port: int,
    state: str,
    db: str | None,
    workers: int,
    intake_threads: int,
    chain_poll: float,
    no_scheduler: bool,
    poll: float,
    max_file_bytes: int,
    rate_burst: float,
    rate_per_second: float,
    log_level: str,
) -> None:
    """Serve the tournament over HTTP: rounds, results, signed submissions with operator-signed receipts."""
    import uvicorn

    from oracle.chain.deploy import Deployment
    from oracle.service.app import ServiceConfig, create_app
    from oracle.service.db.engine import Database
    from oracle.service.workers import serve_workers

    configure_logging(log_level)
    conn = chain.connect(need_account=True)
    deployment_file, rpc = chain.resolved()
    service_config = ServiceConfig(
        rpc=str(rpc),
        deployment=Deployment.load(str(deployment_file)),
        operator=conn.account,
        inbox=config.inbox,
        store=config.store,
        round_data=config.round_data,
        state=state,
        params=config.params,
        max_file_bytes=max_file_bytes,
        max_body_bytes=max_file_bytes * 4 // 3 + 64 * 1024,
        rate_capacity=rate_burst,
        rate_per_second=rate_per_second,
        scheduler=not no_scheduler,
        scheduler_poll=poll,
        submission_window=config.submission_window,
        max_rounds=config.max_rounds,
        public_url=config.public_url or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}",
        db=db,
        intake_threads=intake_threads,
        chain_poll=chain_poll,
    )
    # Migrate once before any worker starts: a bad URL or an unreachable server fails here, in one line.
    database = Database(service_config.database_url)
    database.migrate()
    database.dispose()  # no connection may cross the fork into the workers
    if workers > 1:
        serve_workers(lambda: create_app(service_config), host, port, workers, graceful=30)
        return
    app = create_app(service_config)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=30)
