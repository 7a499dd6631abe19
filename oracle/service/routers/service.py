"""Service routes: liveness, what a client needs to check receipts offline, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse, Response

from oracle.protocol.receipt import RECEIPT_DOMAIN_NAME, RECEIPT_DOMAIN_VERSION
from oracle.service.metrics import CONTENT_TYPE
from oracle.service.routers.deps import get_service
from oracle.service.schemas import ApiError, HealthOut, InfoOut, error_responses
from oracle.service.state import Service

__all__ = ["router"]

router = APIRouter()


@router.get("/health", response_model=HealthOut, responses=error_responses(503), tags=["service"])
def health(service: Service = Depends(get_service)) -> HealthOut:
    """Liveness: the chain answers, and whether the round scheduler runs in this process."""
    block, now = service.chain_clock()
    sched = service.scheduler
    state = "off" if sched is None else ("running" if sched.is_alive() else "stopped")
    return HealthOut(status="ok", chain_id=service.chain_id, block=block, chain_time=now, scheduler=state,
                     scheduler_last_error=None if sched is None else sched.last_error)


@router.get("/info", response_model=InfoOut, tags=["service"])
def info(service: Service = Depends(get_service)) -> InfoOut:
    """The tournament, the receipt signer and the limits (what a client needs to check receipts offline)."""
    return InfoOut(chain_id=service.chain_id, tournament=service.tournament, operator=service.config.operator.address,
                   receipt_domain={"name": RECEIPT_DOMAIN_NAME, "version": RECEIPT_DOMAIN_VERSION,
                                   "chainId": service.chain_id, "verifyingContract": service.tournament},
                   max_body_bytes=service.config.max_body_bytes, max_file_bytes=service.config.max_file_bytes,
                   rate_limit={"burst": service.config.rate_capacity, "per_second": service.config.rate_per_second})


@router.get("/metrics", response_class=PlainTextResponse, tags=["service"],
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(service: Service = Depends(get_service)) -> Response:
    """Prometheus text format: submissions accepted/rejected by reason, round state, last block seen."""
    try:
        service.chain_clock()
        service.refresh_round_metrics()  # the round gauges are current even when no scheduler runs in this process
    except ApiError:
        pass  # metrics must render even when the chain is down; last_block then stays at its last value
    return Response(service.metrics.render(), media_type=CONTENT_TYPE)
