"""A JSON-RPC proxy in front of a real node that counts every call and can fail chosen ones: a test-and-benchmark
harness for the guardian (what it costs per poll; how it behaves when its endpoint is down or half down).

Requests are forwarded unchanged to ``upstream`` over HTTP. ``fail`` decides, per request, whether to answer HTTP 503
instead (the node is never reached then): a real transport failure, as a load balancer in front of a dead node gives.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import requests

__all__ = ["RpcProxy", "start_rpc_proxy"]


@dataclass
class RpcProxy:
    """A running proxy: ``url`` for clients, ``counts`` of forwarded and failed calls by method."""

    server: ThreadingHTTPServer
    upstream: str
    fail: Callable[[dict[str, Any]], bool] | None = None
    counts: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def total(self) -> int:
        with self.lock:
            return sum(self.counts.values())

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.failed.clear()

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(sorted(self.counts.items()))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "RpcProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_rpc_proxy(upstream: str) -> RpcProxy:
    """Start a proxy to ``upstream`` on a free loopback port, serving from a daemon thread."""
    session = requests.Session()
    proxy: RpcProxy

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            calls = json.loads(body)
            calls = calls if isinstance(calls, list) else [calls]
            refuse = proxy.fail is not None and any(proxy.fail(call) for call in calls)
            with proxy.lock:
                for call in calls:
                    (proxy.failed if refuse else proxy.counts)[call.get("method", "?")] += 1
            if refuse:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            answer = session.post(proxy.upstream, data=body, headers={"Content-Type": "application/json"}, timeout=60)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy = RpcProxy(server, upstream)
    threading.Thread(target=server.serve_forever, name="rpc-proxy", daemon=True).start()
    return proxy
