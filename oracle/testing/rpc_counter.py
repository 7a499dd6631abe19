"""A JSON-RPC proxy that counts what goes through it, by method: how tests and benchmarks see how many requests a
command makes (its own process, its own web3), on the wire rather than by patching a client.

    with RpcCounter(anvil.url) as rpc:
        run_command(rpc_url=rpc.url)
        rpc.counts["eth_call"]

A batch request counts each call in it. Shared by the end-to-end tests and ``bench/scale.py``.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["RpcCounter"]


class RpcCounter:
    """Forward JSON-RPC POSTs to ``upstream`` and count their methods (``counts``); ``url`` is where to send them."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        if not self.upstream.hostname:
            raise ValueError(f"upstream {upstream!r} is not an http://host:port URL")
        self._host = self.upstream.hostname
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        counter = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                counter._count(body)
                status, payload = counter._forward(body, self.headers.get("Content-Type", "application/json"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def total(self, *methods: str) -> int:
        """Requests of ``methods`` (all of them when none is named)."""
        with self._lock:
            return sum(self.counts.values()) if not methods else sum(self.counts[m] for m in methods)

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    def _count(self, body: bytes) -> None:
        try:
            request = json.loads(body)
        except ValueError:
            return
        calls = request if isinstance(request, list) else [request]
        with self._lock:
            for call in calls:
                if isinstance(call, dict):
                    self.counts[str(call.get("method"))] += 1

    def _forward(self, body: bytes, content_type: str) -> tuple[int, bytes]:
        connection = getattr(self._local, "connection", None)
        for attempt in range(2):
            if connection is None:
                connection = http.client.HTTPConnection(self._host, self.upstream.port, timeout=300)
                self._local.connection = connection
            try:
                connection.request("POST", self.upstream.path or "/", body, {"Content-Type": content_type})
                response = connection.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = self._local.connection = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def __enter__(self) -> "RpcCounter":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
