"""The round scheduler: the operator's state machine run beside the request handlers, on a timer.

Several workers (or hosts) may share one database; only the holder of the database lease ``scheduler`` steps the
rounds, so round transactions are sent from one place. The holder renews the lease from its own thread while a
step runs (resolving a large round takes a while); a holder that dies stops renewing, and another worker takes
over once the lease expires.

The operator snapshots a closed round from the ledger (:class:`oracle.service.db.source.LedgerInbox`): taking
the snapshot closes the round's gate in the database, so no submission is receipted after it. Every step re-reads
the chain and the store (the operator keeps no state in memory), so a killed service resumes its rounds on restart
like ``tourney operator run`` does."""

from __future__ import annotations

import contextlib
import logging
import threading

from web3 import Web3

from oracle.chain.client import TournamentClient
from oracle.chain.tx import Sender
from oracle.operator.config import OperatorConfig
from oracle.operator.rounds import Operator
from oracle.service.config import LOGGER_NAME
from oracle.service.db.engine import worker_id
from oracle.service.db.lease import Lease
from oracle.service.state import Service

__all__ = ["Scheduler"]

log = logging.getLogger(LOGGER_NAME)

#: Seconds a scheduler lease lasts without renewal (renewed every third of it).
LEASE_SECONDS = 15.0


class Scheduler(threading.Thread):
    """Runs the operator's round state machine beside the request handlers, on a timer, while it holds the lease."""

    def __init__(self, service: Service) -> None:
        super().__init__(name="round-scheduler", daemon=True)
        config = service.config
        w3 = Web3(Web3.HTTPProvider(config.rpc, request_kwargs={"timeout": 60}))
        self.service = service
        self.operator = Operator(
            TournamentClient(w3, config.deployment),
            Sender(w3, config.operator),
            OperatorConfig(
                store=config.store,
                inbox=config.inbox,
                round_data=config.round_data,
                params=config.params,
                submission_window=config.submission_window,
                max_rounds=config.max_rounds,
                public_url=config.public_url,
            ),
            log=lambda message: log.info(message, extra={"fields": {"event": "scheduler", "detail": message}}),
            submissions=service.submissions_source(),
        )
        self.lease = Lease(service.db, "scheduler", worker_id(), LEASE_SECONDS)
        self.stop_event = threading.Event()
        self.last_error: str | None = None
        self.leading = False
        self._renewer = threading.Thread(target=self._renew, name="scheduler-lease", daemon=True)

    def step(self) -> list[str]:
        """One pass over every due transition; returns the step names done."""
        return [a.step for a in self.operator.step()]

    def _renew(self) -> None:
        while not self.stop_event.wait(LEASE_SECONDS / 3):
            if self.leading:
                try:
                    self.leading = self.lease.acquire()
                except Exception:  # noqa: BLE001 - a database hiccup: the main loop tries again
                    self.leading = False

    def run(self) -> None:
        self._renewer.start()
        while not self.stop_event.is_set():
            failed = False
            steps: list[str] = []
            try:
                self.leading = self.lease.acquire()
                if self.leading:
                    steps = self.step()
                self.last_error = None
                self.service.refresh_round_metrics()
            except Exception as exc:  # noqa: BLE001 - a failed step is retried next tick; the service stays up
                failed = True
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error(
                    "scheduler step failed", extra={"fields": {"event": "scheduler_failed", "error": self.last_error}}
                )
            self.service.metrics.scheduler_step(steps, failed)
            self.stop_event.wait(self.service.config.scheduler_poll)
        if self.leading:
            with contextlib.suppress(Exception):  # any failure is harmless: the lease expires on its own
                self.lease.release()
