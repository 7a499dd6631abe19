"""What wraps every request: a body limit with per-route request metrics (ASGI), and the handlers that turn every
refusal into the one error body ``{"error": {"code", "message", ...}}``."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oracle.service.metrics import Metrics
from oracle.service.schemas import ApiError

__all__ = ["BodyLimit", "install_error_handlers"]


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes with a JSON 413 before the app parses them, and count
    every request in the metrics by route template."""

    def __init__(self, app: ASGIApp, limit: int, metrics: Metrics) -> None:
        self.app, self.limit, self.metrics = app, limit, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status_seen: list[int] = []

        async def send_counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(int(message["status"]))
            await send(message)

        try:
            declared = int(dict(scope.get("headers") or []).get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        if declared > self.limit:
            await self._too_large(send_counting)
        else:
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.limit:  # a client that lied about (or omitted) Content-Length
                    await self._too_large(send_counting)
                    break
                chunks.append(chunk)
                more = bool(message.get("more_body"))
            else:
                body = b"".join(chunks)
                replayed = False

                async def replay() -> Message:
                    nonlocal replayed
                    if not replayed:
                        replayed = True
                        # B023: the while's else runs once, after the loop, so `body` is bound for good.
                        return {"type": "http.request", "body": body, "more_body": False}  # noqa: B023
                    return await receive()

                await self.app(scope, replay, send_counting)
        route = scope.get("route")
        self.metrics.request(
            scope.get("method", "?"), getattr(route, "path", "unmatched"), status_seen[0] if status_seen else 0
        )

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "request_too_large",
                    "message": f"the request body is over {self.limit} bytes; send a smaller prediction file",
                }
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


def install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    """API refusals, invalid requests and unknown paths all answer with the one error body."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        detail: dict[str, Any] = {"code": exc.code, "message": exc.message}
        for key, value in exc.extra.items():
            detail[key] = value.model_dump() if isinstance(value, BaseModel) else value
        headers = {"Retry-After": str(int(exc.extra["retry_after"]) + 1)} if "retry_after" in exc.extra else None
        return JSONResponse({"error": detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()]
        if problems and request.url.path.endswith("/submissions") and request.method == "POST":
            metrics.submission_rejected("invalid_request")
        return JSONResponse(
            {
                "error": {
                    "code": "invalid_request",
                    "message": "the request does not match the API: " + "; ".join(problems)[:800],
                    "problems": problems[:20],
                }
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return JSONResponse(
            {
                "error": {
                    "code": codes.get(exc.status_code, "http_error"),
                    "message": f"{request.method} {request.url.path}: {exc.detail}",
                }
            },
            status_code=exc.status_code,
        )
