"""The guardian's watch: follow proposals, verify each pending one, veto what does not verify. It fails closed.

Each poll:

1. brings the tournament's event log up to date (:class:`~oracle.chain.event_log.EventLog`: incremental from a cursor
   persisted in ``<state>/events.sqlite``, with a reorg margin), so a poll costs the same after five rounds or five
   hundred;
2. takes the *pending* proposals: those no later ``RootProposed``, ``RootVetoed``, ``RootActivated`` or
   ``RoundLapsed`` of their round replaced or resolved. Proposals already resolved when the watch first sees them
   are history, not fetched (auditing those is ``tourney verify --all``);
3. gives each pending proposal one verdict, kept in ``<state>/watch.json`` (so a restart neither re-verifies nor
   forgets a veto it still owes): :func:`~oracle.auditor.verify.verify_proposal`, reading the bundle through a
   bounded :class:`~oracle.bundle.fetch.Fetcher` whose deadline leaves ``veto_margin`` seconds of the window;
4. vetoes every pending proposal whose verdict is bad, after re-reading the log to be sure it is still the one
   pending (a veto that did not land, e.g. lost in a reorg or a crash, is sent again).

Failing closed: any error, timeout or oversize read while verifying is a bad verdict that says why, and leads to a
veto. The one exception is an RPC outage (the chain cannot be read, so nothing can be decided): the poll is retried
with exponential backoff and the watch never dies of it; a proposal still without a verdict ``veto_margin`` seconds
before its window ends is vetoed as unverified.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from oracle.auditor.differences import Difference
from oracle.auditor.verify import ReceiptEvidence, Verdict, verify_proposal
from oracle.bundle.fetch import Fetcher, FetchPolicy
from oracle.bundle.store import atomic_put
from oracle.chain.client import ChainEvent, Proposal, TournamentClient
from oracle.chain.event_log import DEFAULT_REORG_MARGIN
from oracle.chain.tx import ContractReverted, Sender, is_rpc_outage

__all__ = ["WatchConfig", "Watcher", "watch"]

_STATE_SCHEMA = 1


@dataclass(frozen=True)
class WatchConfig:
    """How the watch polls and when it gives up on verifying.

    ``veto_margin``: chain seconds before a proposal's ``activatesAt`` by which it must have a verdict; at that point
    an unverified proposal is vetoed, and the rest of the window is left for the veto to be mined. ``backoff`` and
    ``max_backoff``: the first and the longest wait after an RPC outage (doubling in between)."""

    interval: float = 2.0
    veto_margin: int = 120
    backoff: float = 1.0
    max_backoff: float = 60.0
    reorg_margin: int = DEFAULT_REORG_MARGIN

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.backoff <= 0 or self.max_backoff < self.backoff:
            raise ValueError(f"interval and backoff must be positive and max_backoff >= backoff, got {self}")
        if self.veto_margin < 0:
            raise ValueError(f"veto_margin must be >= 0 seconds, got {self.veto_margin}")


def pending_proposals(client: TournamentClient) -> list[Proposal]:
    """Proposals that no later event of their round resolved or replaced (no later ``RootProposed``,
    ``RootVetoed``, ``RootActivated`` or ``RoundLapsed``), oldest first: what a guardian may still have to veto.

    From events alone, so it answers for the block the event log was synced to, like every other event read."""
    names = [n for n in ("RootProposed", "RootVetoed", "RootActivated", "RoundLapsed") if client.has_event(n)]
    last: dict[int, ChainEvent] = {}
    for event in client.events(names):
        last[int(event.args["round"])] = event
    return [Proposal.of(e) for e in sorted(last.values(), key=lambda e: e.position) if e.name == "RootProposed"]


def proposal_key(proposal: Proposal) -> str:
    """A proposal's identity in the watch's state: where it sits in the chain and its transaction."""
    return f"{proposal.block}:{proposal.log_index}:{proposal.tx_hash}"


@dataclass
class _Attempt:
    """A pending proposal without a verdict yet: when to try again and what went wrong last."""

    not_before: float = 0.0
    failures: int = 0
    last_error: str = ""


@dataclass
class Watcher:
    """One guardian (or, without ``guardian``, one auditor that stops at the first bad proposal) on one tournament.

    ``state_dir`` keeps the event log and the verdicts across restarts (None: in memory). ``verify`` is the audit of
    one proposal (the default checks everything :mod:`oracle.auditor.verify` checks)."""

    client: TournamentClient
    policy: FetchPolicy
    guardian: Sender | None = None
    config: WatchConfig = field(default_factory=WatchConfig)
    state_dir: Path | str | None = None
    receipts: ReceiptEvidence | None = None
    on_verdict: Callable[[Verdict, str], None] = lambda verdict, action: None
    on_note: Callable[[str], None] = lambda message: None
    verify: Callable[..., Verdict] = verify_proposal
    verdicts: list[Verdict] = field(default_factory=list, init=False)
    stopped: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        state = Path(self.state_dir) if self.state_dir is not None else None
        self._state_path = state / "watch.json" if state is not None else None
        # A client of its own: following an event log changes where a client reads events, the caller's stays as is.
        self.client = TournamentClient(self.client.w3, self.client.deployment, self.client.chunk)
        self.client.follow(
            str(state / "events.sqlite") if state is not None else None,
            self.config.reorg_margin,
            on_rescan=self.on_note,
        )
        self._records: dict[str, dict[str, Any]] = self._load_state()
        self._attempts: dict[str, _Attempt] = {}
        self._clock: tuple[int, float] | None = None
        self._outages = 0
        self._next_poll = 0.0

    # -------------------------------------------------------------- state

    def _load_state(self) -> dict[str, dict[str, Any]]:
        if self._state_path is None or not self._state_path.exists():
            return {}
        data = json.loads(self._state_path.read_text())
        identity = {"chain_id": self.client.deployment.chain_id, "tournament": self.client.tournament.address}
        if data.get("schema") != _STATE_SCHEMA or {k: data.get(k) for k in identity} != identity:
            raise ValueError(
                f"{self._state_path} belongs to another tournament or version "
                f"({ {k: data.get(k) for k in ('schema', *identity)} }): use another state directory"
            )
        return dict(data["proposals"])

    def _save_state(self) -> None:
        if self._state_path is None:
            return
        import fsspec

        body = {
            "schema": _STATE_SCHEMA,
            "chain_id": self.client.deployment.chain_id,
            "tournament": self.client.tournament.address,
            "proposals": self._records,
        }
        atomic_put(
            fsspec.filesystem("file"),
            str(self._state_path),
            (json.dumps(body, indent=1, sort_keys=True) + "\n").encode(),
        )

    def _record(self, proposal: Proposal, verdict: Verdict, action: str | None) -> None:
        self._records[proposal_key(proposal)] = {
            "round": proposal.round,
            "root": proposal.root,
            "manifest_uri": proposal.manifest_uri,
            "ok": verdict.ok,
            "reason": verdict.reason(),
            "action": action,
        }
        self._save_state()

    # -------------------------------------------------------------- clock

    def chain_now(self) -> int | None:
        """The chain's clock: the last block timestamp read, plus the wall time since (None before any read)."""
        if self._clock is None:
            return None
        timestamp, seen = self._clock
        return timestamp + int(time.monotonic() - seen)

    def _outage(self, what: str, exc: BaseException, failures: int) -> float:
        """Note the ``failures``-th RPC outage in a row and return how long to wait before trying again (doubling
        from ``backoff``, capped at ``max_backoff``)."""
        delay = min(self.config.max_backoff, self.config.backoff * 2 ** (failures - 1))
        self.on_note(f"RPC unavailable while {what} ({type(exc).__name__}: {exc}); retrying in {delay:.1f}s")
        return delay

    # -------------------------------------------------------------- one poll

    def poll(self) -> None:
        """One pass: sync, verify what is pending, veto what is bad. Never raises for an RPC outage."""
        try:
            self.client.sync_events()
            log = self.client.event_log
            assert log is not None and log.head_timestamp is not None
            self._clock = (log.head_timestamp, time.monotonic())
            pending = pending_proposals(self.client)
        except Exception as exc:  # classified just below
            if not is_rpc_outage(exc):
                raise
            self._outages += 1
            self._next_poll = time.monotonic() + self._outage("reading events", exc, self._outages)
            return
        self._outages = 0
        for proposal in pending:
            if self.stopped:
                return
            key = proposal_key(proposal)
            record = self._records.get(key)
            if record is None:
                verdict = self._judge(proposal)
                if verdict is None:
                    continue  # an RPC outage: tried again later
                self.verdicts.append(verdict)
                if verdict.ok or not verdict.standing:
                    action = "ok" if verdict.ok else "not standing"
                    self._record(proposal, verdict, action)
                    self.on_verdict(verdict, action)
                    continue
                self._record(proposal, verdict, None)
            elif record["ok"] or record["action"] is not None:
                continue  # decided, and nothing left to do
            else:
                verdict = _recorded_verdict(proposal, record)
            self._act(proposal, verdict)

    def _judge(self, proposal: Proposal) -> Verdict | None:
        """The verdict on a pending proposal, or None when an RPC outage prevented one (and there is still time)."""
        key = proposal_key(proposal)
        attempt = self._attempts.setdefault(key, _Attempt())
        now = self.chain_now()
        assert now is not None
        budget = proposal.activates_at - self.config.veto_margin - now
        if budget <= 0:
            return _failed(
                proposal,
                "deadline",
                f"not verified {self.config.veto_margin}s before its window ends at "
                f"{proposal.activates_at} (chain time {now})"
                + (f"; last error: {attempt.last_error}" if attempt.last_error else ""),
            )
        if time.monotonic() < attempt.not_before:
            return None
        fetcher = Fetcher(self.policy, deadline=time.monotonic() + budget)
        try:
            verdict = self.verify(self.client, proposal, self.receipts, fetcher=fetcher)
        except Exception as exc:  # noqa: BLE001 - classified just below: only an outage is not a verdict
            if not is_rpc_outage(exc):
                return _failed(proposal, "error", f"verification failed: {type(exc).__name__}: {exc}")
            attempt.failures += 1
            attempt.last_error = f"{type(exc).__name__}: {exc}"
            attempt.not_before = time.monotonic() + self._outage(
                f"verifying round {proposal.round}", exc, attempt.failures
            )
            return None
        self._attempts.pop(key, None)
        return verdict

    def _act(self, proposal: Proposal, verdict: Verdict) -> None:
        """Veto a bad pending proposal (or, without a guardian, report it and stop)."""
        if self.guardian is None:
            self._record(proposal, verdict, "mismatch")
            self.on_verdict(verdict, "mismatch")
            self.stopped = True
            return
        now = self.chain_now()
        if now is not None and now >= proposal.activates_at:
            action = "too late to veto"
        else:
            try:
                # The log may be a poll old: veto only what is still pending (vetoRoot names a round, not a root).
                self.client.sync_events()
                if proposal_key(proposal) not in {proposal_key(p) for p in pending_proposals(self.client)}:
                    action = "resolved before the veto"
                else:
                    self.guardian.transact(
                        self.client.tournament.functions.vetoRoot(proposal.round), f"veto round {proposal.round}"
                    )
                    action = "vetoed"
            except ContractReverted as exc:
                action = f"veto refused: {exc}"
            except Exception as exc:  # classified just below
                if not is_rpc_outage(exc):
                    raise
                self._outages += 1
                self._next_poll = time.monotonic() + self._outage(f"vetoing round {proposal.round}", exc, self._outages)
                return  # the verdict is recorded: the veto is tried again next poll
        self._record(proposal, verdict, action)
        self.on_verdict(verdict, action)

    # -------------------------------------------------------------- the loop

    def run(self, stop: Callable[[], bool] = lambda: False) -> list[Verdict]:
        """Poll until ``stop()`` (checked after every poll) or, without a guardian, the first bad proposal."""
        while True:
            self.poll()
            if self.stopped or stop():
                return self.verdicts
            time.sleep(max(self.config.interval, self._next_poll - time.monotonic()))


def _failed(proposal: Proposal, field_name: str, message: str) -> Verdict:
    """A bad verdict that is not a comparison: the proposal could not be verified, and this is why."""
    verdict = Verdict(proposal.round, proposal, "proposed", True)
    verdict.differences.append(Difference("verify", "watch", field_name, "verified", message))
    return verdict


def _recorded_verdict(proposal: Proposal, record: dict[str, Any]) -> Verdict:
    """The bad verdict a previous run recorded but did not act on (it died before the veto landed)."""
    return _failed(proposal, "recorded", f"judged bad before a restart: {record['reason']}")


def watch(
    client: TournamentClient,
    guardian: Sender | None = None,
    *,
    policy: FetchPolicy,
    interval: float = 2.0,
    stop: Callable[[], bool] = lambda: False,
    on_verdict: Callable[[Verdict, str], None] = lambda verdict, action: None,
    receipts: ReceiptEvidence | None = None,
    state_dir: Path | str | None = None,
    config: WatchConfig | None = None,
    on_note: Callable[[str], None] = lambda message: None,
) -> list[Verdict]:
    """Follow proposals and veto (with ``guardian``) every pending one that does not verify; see the module docstring.

    Returns when ``stop()`` says so, or, without a guardian, at the first pending proposal that does not verify (the
    caller exits non-zero). Returns every verdict reached."""
    config = config or WatchConfig(interval=interval)
    watcher = Watcher(client, policy, guardian, config, state_dir, receipts, on_verdict, on_note)
    return watcher.run(stop)
