"""The operator's HTTP service: participants and their agents read rounds and deliver signed submissions.

``create_app(config)`` builds the FastAPI application (``tourney serve`` runs it under uvicorn). The OpenAPI spec
is at ``/openapi.json``. There are no passwords: a submission is authenticated by its EIP-712 signature, checked
against the model's on-chain owner (the pipeline is :mod:`oracle.service.intake`).

The parts: ``config`` (settings), ``schemas`` (bodies and the error body), ``middleware`` (body limit, metrics,
error handlers), ``state`` (the shared :class:`Service`), ``intake`` (the submission pipeline), ``scheduler``
(the operator's rounds on a timer) and ``routers`` (one module per resource).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from fastapi import FastAPI

from oracle.service.config import LOGGER_NAME, ServiceConfig
from oracle.service.middleware import BodyLimit, install_error_handlers
from oracle.service.routers import models, published, results, rounds, service as service_routes, submissions
from oracle.service.scheduler import Scheduler
from oracle.service.schemas import ApiError
from oracle.service.state import Service

__all__ = ["ApiError", "LOGGER_NAME", "Service", "ServiceConfig", "create_app"]

log = logging.getLogger(LOGGER_NAME)


def create_app(config: ServiceConfig, start_scheduler: bool | None = None) -> FastAPI:
    """The FastAPI application. The scheduler thread starts with the app (lifespan) when ``config.scheduler``."""
    service = Service(config)
    run_scheduler = config.scheduler if start_scheduler is None else start_scheduler

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_scheduler:
            service.scheduler = Scheduler(service)
            service.scheduler.start()
        log.info("service started", extra={"fields": {"event": "started", "chain_id": service.chain_id,
                                                      "tournament": service.tournament,
                                                      "operator": config.operator.address,
                                                      "scheduler": run_scheduler}})
        try:
            yield
        finally:
            if service.scheduler is not None:
                service.scheduler.stop_event.set()
                service.scheduler.join(timeout=30)

    app = FastAPI(title="Tournament operator service", version="1",
                  description="Read rounds and results; deliver EIP-712 signed submissions and get operator-signed "
                              "receipts. No passwords: the signature is the authentication.",
                  lifespan=lifespan)
    app.state.service = service
    app.add_middleware(BodyLimit, limit=config.max_body_bytes, metrics=service.metrics)
    install_error_handlers(app, service.metrics)
    for module in (service_routes, rounds, results, models, submissions, published):
        app.include_router(module.router)
    return app
