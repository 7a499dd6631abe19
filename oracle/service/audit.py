"""The auditor's verdicts for the web app, computed in the background and cached: a request never waits for one.

Each proposal the rounds page shows is checked once by :func:`oracle.auditor.verify.verify_proposal` (the same
check as ``tourney verify``) on this thread, and checked again when its round's status changes (an activation adds
the activation checks, a veto makes it non-standing). Until a verdict exists the API answers ``null``.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable

from oracle.auditor.verify import Verdict, verify_proposal
from oracle.bundle.fetch import FetchPolicy
from oracle.chain.client import Proposal, TournamentClient
from oracle.service.config import LOGGER_NAME
from oracle.service.web_schemas import MAX_DIFFERENCES, DifferenceOut, VerdictOut

__all__ = ["Auditor", "verdict_out"]

log = logging.getLogger(LOGGER_NAME)

_Key = tuple[str, int, int]  # manifest hash, block, log index: one proposal


def _text(value: Any) -> Any:
    """Amounts as decimal strings (they exceed 2^53); booleans, strings and None as they are."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def verdict_out(verdict: Verdict, checked_at: int) -> VerdictOut:
    """The API's form of a verdict: the first differences, their count, every model that differs."""
    return VerdictOut(
        ok=verdict.ok,
        checked_at=checked_at,
        status=verdict.status,
        standing=verdict.standing,
        models=verdict.models(),
        differences=[
            DifferenceOut(
                scope=d.scope,
                subject=str(d.subject),
                field=d.field,
                recorded=_text(d.recorded),
                recomputed=_text(d.recomputed),
            )
            for d in verdict.differences[:MAX_DIFFERENCES]
        ],
        differences_count=len(verdict.differences),
        notes=list(verdict.notes),
        warnings=list(verdict.warnings),
    )


@dataclass(frozen=True)
class _Done:
    status: str
    out: VerdictOut


class Auditor(threading.Thread):
    """Checks queued proposals one at a time with its own chain client."""

    def __init__(self, client: Callable[[], TournamentClient], policy: FetchPolicy) -> None:
        super().__init__(name="web-auditor", daemon=True)
        self._client = client
        self._policy = policy
        self._queue: queue.Queue[tuple[_Key, Proposal, str]] = queue.Queue()
        self._queued: set[tuple[_Key, str]] = set()
        self._done: dict[_Key, _Done] = {}
        self._lock = threading.Lock()
        self.stop_event = threading.Event()

    def verdict(self, proposal: Proposal, round_status: str) -> VerdictOut | None:
        """The cached verdict (possibly from an earlier status of the round, while the new one is computed); queues
        a check when there is none for this status."""
        key = (proposal.manifest_hash, proposal.block, proposal.log_index)
        with self._lock:
            done = self._done.get(key)
            if (done is None or done.status != round_status) and (key, round_status) not in self._queued:
                self._queued.add((key, round_status))
                self._queue.put((key, proposal, round_status))
        return None if done is None else done.out

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                key, proposal, status = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                client = self._client()
                checked_at = client.now()
                out = verdict_out(verify_proposal(client, proposal, policy=self._policy), checked_at)
                with self._lock:
                    self._done[key] = _Done(status, out)
            except Exception as exc:  # noqa: BLE001 - a failed check is retried when the proposal is asked for again
                log.warning(
                    "verdict failed",
                    extra={
                        "fields": {
                            "event": "verdict_failed",
                            "round": proposal.round,
                            "error": f"{type(exc).__name__}: {exc}",
                        }
                    },
                )
            finally:
                with self._lock:
                    self._queued.discard((key, status))
