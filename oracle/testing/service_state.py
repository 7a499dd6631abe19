"""What a service started by :func:`oracle.testing.harness.start_service` has receipted, read from its database:
for tests that check the service's state directly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

__all__ = ["service_submissions", "wait_view"]


def wait_view(url: str, block: int, timeout: float = 30.0) -> None:
    """Wait until the service at ``url`` has seen ``block`` in its chain view (the clock submissions are judged
    by), e.g. after a test moved the chain's clock."""
    deadline = time.monotonic() + timeout
    while (requests.get(f"{url}/health", timeout=5).json().get("view_block") or 0) < block:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the service's chain view did not reach block {block} within {timeout:.0f}s")
        time.sleep(0.05)


def service_submissions(workdir: Path, db: str | None = None) -> Any:
    """What a service started by :func:`start_service` in ``workdir`` has receipted (its database, default the
    SQLite file in ``workdir/state``), with ``get``/``current``/``collect`` like the inbox (``collect`` closes the
    round's gate, as the operator's snapshot does)."""
    from oracle.protocol.inbox import Inbox
    from oracle.service.db.engine import Database, default_url
    from oracle.service.db.ledger import Ledger
    from oracle.service.db.source import LedgerInbox

    return LedgerInbox(
        Ledger(Database(db or default_url(str(workdir / "state")), pool_size=2)), Inbox(workdir / "inbox")
    )
