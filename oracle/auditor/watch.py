"""The guardian's loop: follow new proposals, audit each, and veto every one that does not verify while its
challenge window is open."""

from __future__ import annotations

import time
from typing import Callable

from oracle.auditor.verify import ReceiptEvidence, Verdict, verify_proposal
from oracle.chain.client import Proposal, RoundStatus, TournamentClient
from oracle.chain.tx import Sender

__all__ = ["watch"]


def watch(
    client: TournamentClient,
    guardian: Sender | None = None,
    interval: float = 2.0,
    stop: Callable[[], bool] = lambda: False,
    on_verdict: Callable[[Verdict, str], None] = lambda verdict, action: None,
    receipts: ReceiptEvidence | None = None,
) -> list[Verdict]:
    """Follow new proposals; veto (with ``guardian``) every one that does not verify while its window is open.

    Returns when ``stop()`` says so, or, without a guardian, at the first proposal that does not verify (the
    caller exits non-zero). Returns every verdict reached."""
    seen: set[tuple[int, int]] = set()
    verdicts: list[Verdict] = []
    while True:
        for event in client.events(["RootProposed"]):
            proposal = Proposal.of(event)
            if proposal.position_key() in seen:
                continue
            seen.add(proposal.position_key())
            verdict = verify_proposal(client, proposal, receipts)
            verdicts.append(verdict)
            action = "ok" if verdict.ok else "mismatch"
            if not verdict.ok and verdict.standing and client.round_state(proposal.round).status is RoundStatus.PROPOSED:
                if guardian is None:
                    on_verdict(verdict, action)
                    return verdicts
                if client.now() < proposal.activates_at:
                    guardian.transact(client.tournament.functions.vetoRoot(proposal.round), f"veto round {proposal.round}")
                    action = "vetoed"
                else:
                    action = "too late to veto"
            on_verdict(verdict, action)
        if stop():
            return verdicts
        time.sleep(interval)
