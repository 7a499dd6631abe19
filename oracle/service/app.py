"""The operator's HTTP service: participants and their agents read rounds and deliver signed submissions.

``create_app(config)`` builds the FastAPI application (``tourney serve`` runs it under uvicorn). The OpenAPI spec
is at ``/openapi.json``. There are no passwords: a submission is authenticated by its EIP-712 signature, checked
against the model's on-chain owner (the pipeline is :mod:`oracle.service.intake`).

The parts: ``config`` (settings), ``schemas`` (bodies and the error body), ``middleware`` (body limit, metrics,
error handlers), ``state`` (the shared :class:`Service`), ``db`` (the database: ledger, migrations),
``chain_view`` (cached chain reads), ``intake`` (the submission pipeline), ``prediction_check`` (the file check),
``scheduler`` (the operator's rounds on a timer, one per database), ``workers`` (several processes on one port)
and ``routers`` (one module per resource). The web app's side: ``web_state`` (event history, background
auditor, leaderboard cache), ``board``, ``proposals``, ``webapp`` (the built app at ``/``).

Shutdown is graceful: uvicorn stops accepting connections and waits for the requests in flight, each of which runs
its intake to the end (receipted and committed, or refused) on the intake's thread pool; then the pool, the chain
view and the scheduler stop and the database is closed.
"""

from __future__ import annotations

import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI

from oracle.service.config import LOGGER_NAME, ServiceConfig
from oracle.service.middleware import BodyLimit, install_error_handlers
from oracle.service.routers import (
    bundles,
    contract,
    leaderboard,
    models,
    published,
    results,
    rounds,
    submissions,
    validate,
)
from oracle.service.routers import service as service_routes
from oracle.service.scheduler import Scheduler
from oracle.service.schemas import ApiError
from oracle.service.state import Service
from oracle.service.web_state import WebState
from oracle.service.webapp import mount_web

__all__ = ["ApiError", "LOGGER_NAME", "Service", "ServiceConfig", "create_app"]

log = logging.getLogger(LOGGER_NAME)


def create_app(config: ServiceConfig, start_scheduler: bool | None = None) -> FastAPI:
    """The FastAPI application. The scheduler thread starts with the app (lifespan) when ``config.scheduler``."""
    service = Service(config)
    web = WebState(service)
    run_scheduler = config.scheduler if start_scheduler is None else start_scheduler

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.executor = ThreadPoolExecutor(config.intake_threads, thread_name_prefix="intake")
        # What start-up built (the app, the ABI codecs, the chain view) lives as long as the process: out of the
        # collector's generations, full collections under load have less to walk (shorter pauses, lower p99).
        gc.collect()
        gc.freeze()
        service.chain.start()
        web.start()
        if run_scheduler:
            service.scheduler = Scheduler(service)
            service.scheduler.start()
        log.info(
            "service started",
            extra={
                "fields": {
                    "event": "started",
                    "chain_id": service.chain_id,
                    "tournament": service.tournament,
                    "operator": config.operator.address,
                    "database": service.db.url,
                    "schema": service.schema_revision,
                    "scheduler": run_scheduler,
                }
            },
        )
        try:
            yield
        finally:
            service.executor.shutdown(wait=True)
            if service.scheduler is not None:
                service.scheduler.stop_event.set()
                service.scheduler.join(timeout=30)
            web.stop()
            service.chain.stop()
            service.db.dispose()
            log.info("service stopped", extra={"fields": {"event": "stopped"}})

    app = FastAPI(
        title="Tournament operator service",
        version="1",
        description="Read rounds and results; deliver EIP-712 signed submissions and get operator-signed "
        "receipts. No passwords: the signature is the authentication.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.web = web
    app.add_middleware(BodyLimit, limit=config.max_body_bytes, metrics=service.metrics)
    install_error_handlers(app, service.metrics)
    # published before bundles: /bundles/rounds/... and /bundles/objects/... are the store's, matched first
    for module in (
        service_routes,
        rounds,
        results,
        models,
        submissions,
        published,
        contract,
        leaderboard,
        validate,
        bundles,
    ):
        app.include_router(module.router)
    mount_web(app, config.web_dir)  # after the API: its routes are matched first
    return app
