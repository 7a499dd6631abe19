"""An HTTP server that misbehaves on purpose: what a stolen oracle key could point a manifest URI at. Used by the
tests of the bounded fetcher and of the guardian (``tests/oracle/test_fetch.py``, ``tests/e2e/test_guardian.py``).

Paths (everything else is a 404):

* ``/ok/<name>``: the bytes registered under ``<name>`` in ``files``, with their length;
* ``/stall``: reads the request and never answers;
* ``/drip``: announces a megabyte, then sends one byte every 0.1 s, forever (slow loris);
* ``/endless``: no length, zeros as fast as the client takes them, forever;
* ``/huge``: announces 10**12 bytes, then streams zeros;
* ``/redirect?to=URL``: 302 to URL.

Every request is recorded in ``hits`` (its path), so a test can show that a refused URL was never requested. The
endless handlers stop when the server stops.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["HostileServer", "start_hostile_server"]


@dataclass
class HostileServer:
    server: ThreadingHTTPServer
    files: dict[str, bytes] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def host(self) -> str:
        """``host:port``, as an allow-list entry names it."""
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "HostileServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_hostile_server() -> HostileServer:
    """Start the server on a free loopback port, serving from a daemon thread."""
    hostile: HostileServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _stream(self, chunk: bytes, pause: float) -> None:
            try:
                while not hostile.stopping.is_set():
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    if pause:
                        time.sleep(pause)
            except OSError:
                pass  # the client gave up, as it should

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            hostile.hits.append(parts.path)
            if parts.path.startswith("/ok/") and parts.path[4:] in hostile.files:
                data = hostile.files[parts.path[4:]]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            elif parts.path == "/stall":
                hostile.stopping.wait()
            elif parts.path == "/drip":
                self.send_response(200)
                self.send_header("Content-Length", str(10**6))
                self.end_headers()
                self._stream(b"{", 0.1)
            elif parts.path == "/endless":
                self.send_response(200)
                self.end_headers()
                self._stream(b"\0" * 65536, 0)
            elif parts.path == "/huge":
                self.send_response(200)
                self.send_header("Content-Length", str(10**12))
                self.end_headers()
                self._stream(b"\0" * 65536, 0)
            elif parts.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", parse_qs(parts.query)["to"][0])
                self.end_headers()
            else:
                self.send_response(404)
                self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hostile = HostileServer(server)
    threading.Thread(target=server.serve_forever, name="hostile-http", daemon=True).start()
    return hostile
