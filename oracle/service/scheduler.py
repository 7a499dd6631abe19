"""The round scheduler: the operator's state machine run beside the request handlers, on a timer."""

from __future__ import annotations

import logging
import threading

from web3 import Web3

from oracle.chain.client import TournamentClient
from oracle.chain.tx import Sender
from oracle.operator.config import OperatorConfig
from oracle.operator.rounds import Operator
from oracle.service.config import LOGGER_NAME
from oracle.service.state import Service

__all__ = ["Scheduler"]

log = logging.getLogger(LOGGER_NAME)


class Scheduler(threading.Thread):
    """Runs the operator's round state machine beside the request handlers, on a timer.

    Closing takes the :class:`CloseGate` exclusively so no submission is stored between the inbox snapshot and
    the close. Every step re-reads the chain and the store (the operator keeps no state in memory), so a killed
    service resumes its rounds on restart like ``tourney operator run`` does."""

    def __init__(self, service: Service) -> None:
        super().__init__(name="round-scheduler", daemon=True)
        config = service.config
        w3 = Web3(Web3.HTTPProvider(config.rpc, request_kwargs={"timeout": 60}))
        self.service = service
        self.operator = Operator(
            TournamentClient(w3, config.deployment), Sender(w3, config.operator),
            OperatorConfig(store=config.store, inbox=config.inbox, round_data=config.round_data,
                           params=config.params, submission_window=config.submission_window,
                           max_rounds=config.max_rounds, public_url=config.public_url),
            log=lambda message: log.info(message, extra={"fields": {"event": "scheduler", "detail": message}}),
        )
        self.stop_event = threading.Event()
        self.last_error: str | None = None

    def step(self) -> list[str]:
        """One pass over every due transition; returns the step names done."""
        done = []
        with self.service.intake.gate.closing():
            done += self.operator.close_due()
        done += self.operator.propose_due()
        done += self.operator.activate_due()
        done += self.operator.open_due(wait_for_models=True)
        return [a.step for a in done]

    def run(self) -> None:
        while not self.stop_event.is_set():
            failed = False
            steps: list[str] = []
            try:
                steps = self.step()
                self.last_error = None
                self.service.refresh_round_metrics()
            except Exception as exc:  # noqa: BLE001 - a failed step is retried next tick; the service stays up
                failed = True
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("scheduler step failed", extra={"fields": {"event": "scheduler_failed",
                                                                     "error": self.last_error}})
            self.service.metrics.scheduler_step(steps, failed)
            self.stop_event.wait(self.service.config.scheduler_poll)
