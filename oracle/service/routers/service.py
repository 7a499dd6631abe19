"""Service routes: liveness, what a client needs to check receipts offline, Prometheus metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from oracle.protocol.receipt import RECEIPT_DOMAIN_NAME, RECEIPT_DOMAIN_VERSION
from oracle.service.db.engine import worker_id
from oracle.service.metrics import CONTENT_TYPE
from oracle.service.routers.deps import get_service
from oracle.service.schemas import ApiError, ComponentOut, HealthOut, InfoOut, error_responses
from oracle.service.state import Service
from oracle.service.web_state import WebState, get_web

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/health",
    response_model=HealthOut,
    tags=["service"],
    responses={503: {"model": HealthOut, "description": "The chain, the database or the store fails"}},
)
def health(service: Service = Depends(get_service)) -> Response:
    """The chain, the database and the store, each checked now (503 when any fails), and the round scheduler."""
    components: dict[str, ComponentOut] = {}
    block = now = None
    try:
        block, now = service.chain_clock()
        components["chain"] = ComponentOut(status="ok", detail=f"block {block}")
    except ApiError as exc:
        components["chain"] = ComponentOut(status="error", detail=exc.message)
    for name, check in (("database", service.check_database), ("store", service.check_store)):
        try:
            components[name] = ComponentOut(status="ok", detail=check())
        except Exception as exc:  # noqa: BLE001 - any failure of a dependency is what /health reports
            components[name] = ComponentOut(status="error", detail=f"{type(exc).__name__}: {str(exc)[:300]}")
    sched = service.scheduler
    state: Literal["running", "off", "stopped"] = (
        "off" if sched is None else ("running" if sched.is_alive() else "stopped")
    )
    ok = all(c.status == "ok" for c in components.values())
    body = HealthOut(
        status="ok" if ok else "degraded",
        chain_id=service.chain_id,
        block=block,
        chain_time=now,
        view_block=service.chain.seen_block(),
        components=components,
        worker=worker_id(),
        scheduler=state,
        scheduler_leading=bool(sched is not None and sched.leading),
        scheduler_last_error=None if sched is None else sched.last_error,
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/info", response_model=InfoOut, responses=error_responses(503), tags=["service"])
def info(service: Service = Depends(get_service), web: WebState = Depends(get_web)) -> InfoOut:
    """The tournament, the receipt signer, the limits (what a client needs to check receipts offline) and the stake
    token (how amounts are shown)."""
    return InfoOut(
        chain_id=service.chain_id,
        tournament=service.tournament,
        operator=service.config.operator.address,
        receipt_domain={
            "name": RECEIPT_DOMAIN_NAME,
            "version": RECEIPT_DOMAIN_VERSION,
            "chainId": service.chain_id,
            "verifyingContract": service.tournament,
        },
        max_body_bytes=service.config.max_body_bytes,
        max_file_bytes=service.config.max_file_bytes,
        rate_limit={"burst": service.config.rate_capacity, "per_second": service.config.rate_per_second},
        token=web.token(),
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    tags=["service"],
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(service: Service = Depends(get_service)) -> Response:
    """Prometheus text format: submissions accepted/rejected by reason, round state, last block seen."""
    try:
        service.chain_clock()
        service.refresh_round_metrics()  # the round gauges are current even when no scheduler runs in this process
    except ApiError:
        pass  # metrics must render even when the chain is down; last_block then stays at its last value
    return Response(service.metrics.render(), media_type=CONTENT_TYPE)
