"""Prometheus text-format metrics of the submission service (no client library: a few counters and gauges).

Exposed at ``/metrics`` (text format 0.0.4): submissions accepted, rejected by reason, intake latency histograms
by outcome, database errors by kind, HTTP requests by route and status, the state of each recent round, the last
block the service saw, and scheduler steps and failures. Each worker process counts its own requests (a scrape
through a load balancer sees one worker; scrape the workers' ports or sum over them).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Iterable

__all__ = ["Metrics", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Upper bounds (seconds) of the intake latency histogram's buckets.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Iterable[tuple[str, object]]) -> str:
    text = ",".join(f'{k}="{_escape(str(v))}"' for k, v in pairs)
    return "{" + text + "}" if text else ""


class Metrics:
    """Thread-safe counters and gauges, rendered in the Prometheus exposition format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.rejected: dict[str, int] = defaultdict(int)
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.round_status: dict[int, int] = {}
        self.open_round = 0
        self.last_block = 0
        self.scheduler_steps = 0
        self.scheduler_failures = 0
        self.scheduler_actions: dict[str, int] = defaultdict(int)
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.db_errors: dict[str, int] = defaultdict(int)

    def intake_latency(self, outcome: str, seconds: float) -> None:
        """One submission's time in the intake (accepted, refused or error)."""
        with self._lock:
            counts = self.latency.setdefault(outcome, [0] * (len(LATENCY_BUCKETS) + 1))
            slot = next((i for i, bound in enumerate(LATENCY_BUCKETS) if seconds <= bound), len(LATENCY_BUCKETS))
            counts[slot] += 1
            self.latency_sum[outcome] += seconds

    def db_error(self, kind: str) -> None:
        with self._lock:
            self.db_errors[kind] += 1

    def submission_accepted(self) -> None:
        with self._lock:
            self.accepted += 1

    def submission_rejected(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] += 1

    def request(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1

    def saw_block(self, number: int) -> None:
        with self._lock:
            self.last_block = max(self.last_block, int(number))

    def set_round(self, round: int, status: int, is_open: bool) -> None:
        with self._lock:
            self.round_status[int(round)] = int(status)
            if is_open:
                self.open_round = int(round)
            elif self.open_round == round:
                self.open_round = 0
            # Only recent rounds are interesting on a dashboard; keep the series count bounded.
            for old in sorted(self.round_status)[:-16]:
                del self.round_status[old]

    def scheduler_step(self, actions: Iterable[str], failed: bool) -> None:
        with self._lock:
            self.scheduler_steps += 1
            self.scheduler_failures += int(failed)
            for step in actions:
                self.scheduler_actions[step] += 1

    def render(self) -> str:
        """The exposition text (one HELP and TYPE line per family)."""
        with self._lock:
            lines = [
                "# HELP tourney_submissions_accepted_total Submissions stored and receipted.",
                "# TYPE tourney_submissions_accepted_total counter",
                f"tourney_submissions_accepted_total {self.accepted}",
                "# HELP tourney_submissions_rejected_total Submissions refused, by reason code.",
                "# TYPE tourney_submissions_rejected_total counter",
            ]
            lines += [
                f"tourney_submissions_rejected_total{_labels([('reason', r)])} {n}"
                for r, n in sorted(self.rejected.items())
            ]
            lines += [
                "# HELP tourney_intake_seconds Time from a submission's body to its answer, by outcome.",
                "# TYPE tourney_intake_seconds histogram",
            ]
            for outcome, counts in sorted(self.latency.items()):
                running = 0
                for bound, count in zip([*map(str, LATENCY_BUCKETS), "+Inf"], counts):
                    running += count
                    lines.append(
                        f"tourney_intake_seconds_bucket{_labels([('outcome', outcome), ('le', bound)])} {running}"
                    )
                lines.append(
                    f"tourney_intake_seconds_sum{_labels([('outcome', outcome)])} {self.latency_sum[outcome]:.6f}"
                )
                lines.append(f"tourney_intake_seconds_count{_labels([('outcome', outcome)])} {running}")
            lines += [
                "# HELP tourney_db_errors_total Database errors, by exception class.",
                "# TYPE tourney_db_errors_total counter",
            ]
            lines += [f"tourney_db_errors_total{_labels([('kind', k)])} {n}" for k, n in sorted(self.db_errors.items())]
            lines += [
                "# HELP tourney_http_requests_total HTTP requests by method, route template and status.",
                "# TYPE tourney_http_requests_total counter",
            ]
            lines += [
                f"tourney_http_requests_total{_labels([('method', m), ('route', r), ('status', s)])} {n}"
                for (m, r, s), n in sorted(self.requests.items())
            ]
            lines += [
                (
                    "# HELP tourney_round_status On-chain status of recent rounds "
                    "(1 open, 2 closed, 3 proposed, 4 vetoed, 5 active)."
                ),
                "# TYPE tourney_round_status gauge",
            ]
            lines += [
                f"tourney_round_status{_labels([('round', r)])} {s}" for r, s in sorted(self.round_status.items())
            ]
            lines += [
                "# HELP tourney_open_round The round open for submissions (0: none).",
                "# TYPE tourney_open_round gauge",
                f"tourney_open_round {self.open_round}",
                "# HELP tourney_last_block The latest block number the service has seen.",
                "# TYPE tourney_last_block gauge",
                f"tourney_last_block {self.last_block}",
                "# HELP tourney_scheduler_steps_total Round scheduler steps run.",
                "# TYPE tourney_scheduler_steps_total counter",
                f"tourney_scheduler_steps_total {self.scheduler_steps}",
                "# HELP tourney_scheduler_failures_total Round scheduler steps that raised.",
                "# TYPE tourney_scheduler_failures_total counter",
                f"tourney_scheduler_failures_total {self.scheduler_failures}",
                "# HELP tourney_scheduler_actions_total Round transitions done by the scheduler, by step.",
                "# TYPE tourney_scheduler_actions_total counter",
            ]
            lines += [
                f"tourney_scheduler_actions_total{_labels([('step', s)])} {n}"
                for s, n in sorted(self.scheduler_actions.items())
            ]
        return "\n".join(lines) + "\n"
