"""Several uvicorn worker processes on one port (``tourney serve --workers N``).

The parent binds the socket, then forks the workers; each builds its own application (database engine, chain
view, thread pool) after the fork and serves the shared socket, the kernel spreading connections over them. The
workers share nothing but the database, which is what makes their receipts consistent (see
:mod:`oracle.service.db.ledger`), so a worker that dies loses nothing that was receipted: the parent starts a new
one. SIGTERM or SIGINT to the parent stops the workers gracefully (each drains its requests in flight); a worker
whose parent dies is sent SIGTERM by the kernel (``PR_SET_PDEATHSIG``), so no worker outlives ``tourney serve``.

Forking (rather than uvicorn's spawn-based workers) keeps the operator's decrypted key in memory only: it never
travels through an environment variable or a file to reach the workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import time
from typing import Any, Callable

from oracle.service.config import LOGGER_NAME

__all__ = ["serve_workers"]

log = logging.getLogger(LOGGER_NAME)

_PR_SET_PDEATHSIG = 1
#: A worker that dies sooner than this after its start is restarted only after this long (a crash loop).
_RESTART_BACKOFF = 2.0


def _die_with_parent() -> None:
    # Not Linux: the parent's SIGTERM handler is then the only way workers stop.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _worker(sock: socket.socket, make_app: Callable[[], Any], graceful: int) -> int:
    import uvicorn

    _die_with_parent()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    config = uvicorn.Config(make_app(), log_config=None, access_log=False, timeout_graceful_shutdown=graceful)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def serve_workers(make_app: Callable[[], Any], host: str, port: int, workers: int, graceful: int = 30) -> None:
    """Serve ``make_app()`` from ``workers`` forked processes on ``host:port`` until SIGTERM/SIGINT; on SIGTERM each
    worker drains its requests in flight for up to ``graceful`` seconds (uvicorn takes whole seconds)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    children: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _worker(sock, make_app, graceful)
            except BaseException:  # a worker must never return into the parent's loop
                log.exception("worker failed", extra={"fields": {"event": "worker_failed", "pid": os.getpid()}})
            finally:
                os._exit(code)
        children[pid] = time.monotonic()
        log.info("worker started", extra={"fields": {"event": "worker_started", "pid": pid}})

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        spawn()
    while children:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        started = children.pop(pid, None)
        if started is None:
            continue
        log.info(
            "worker exited",
            extra={"fields": {"event": "worker_exited", "pid": pid, "status": os.waitstatus_to_exitcode(status)}},
        )
        if not stopping:
            if time.monotonic() - started < _RESTART_BACKOFF:
                time.sleep(_RESTART_BACKOFF)
            if not stopping:
                spawn()
    sock.close()
