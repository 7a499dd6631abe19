"""A burst of concurrent signed submissions against the real service, and the load scenario built on it.

``run_submissions`` posts one submission per model at once from a thread pool and checks every receipt against
its request; ``run_load_scenario`` deploys a tournament on its own Anvil, starts ``tourney serve`` with the
scheduler inside, fires the burst, and lets the round close and resolve so that the proposed bundle can be compared
with the receipts (``tests/e2e/test_service_load.py``, ``tests/e2e/test_service.py``).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from eth_account import Account
from eth_account.signers.local import LocalAccount

from oracle.participant.service_client import ServiceClient, ServiceError, check_receipt_matches
from oracle.protocol.receipt import Receipt
from oracle.protocol.submission import sign_submission
from oracle.testing.harness import (
    close_and_await_proposal,
    fund_participants,
    prediction_csv,
    register_models,
    stake_models,
    start_service,
    write_live,
)

__all__ = ["LoadResult", "run_submissions", "new_accounts", "LoadScenario", "run_load_scenario"]


@dataclass
class LoadResult:
    """What a burst of submissions produced: receipts by (round, model), refusals, latencies (seconds)."""

    receipts: dict[int, Receipt] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.receipts) / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else 0.0


def run_submissions(
    url: str,
    chain_id: int,
    tournament: str,
    oracle: str,
    round: int,
    deadline: int,
    jobs: dict[int, tuple[LocalAccount, bytes]],
    threads: int = 50,
    on_receipt: Callable[[LoadResult], None] | None = None,
) -> LoadResult:
    """Post one signed submission per model concurrently (``threads`` workers, one HTTP session each) and check
    every receipt against the request (signed by ``oracle``, same round/model/hash). ``on_receipt`` is called
    after each receipt (the crash test kills the service from there, on observed progress rather than a timer)."""
    result = LoadResult()
    signed = {
        m: (sign_submission(acct, chain_id, tournament, round, m, data, deadline), data)
        for m, (acct, data) in jobs.items()
    }
    sessions: dict[int, ServiceClient] = {}

    def one(model_id: int) -> None:
        client = sessions.setdefault(threading.get_ident(), ServiceClient(url))
        sub, data = signed[model_id]
        started = time.perf_counter()
        try:
            receipt = client.post_submission(sub, data)
        except ServiceError as exc:
            result.errors[model_id] = f"{exc.code}: {exc.message}"
            return
        finally:
            result.latencies.append(time.perf_counter() - started)
        problems = check_receipt_matches(receipt, sub, oracle)
        if problems:
            result.errors[model_id] = "bad receipt: " + "; ".join(problems)
        else:
            result.receipts[model_id] = receipt
            if on_receipt is not None:
                on_receipt(result)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, list(signed)))
    result.elapsed = time.perf_counter() - started
    return result


def new_accounts(n: int) -> list[LocalAccount]:
    return [Account.create() for _ in range(n)]


# ------------------------------------------------------------------------------------------ the load scenario


@dataclass
class LoadScenario:
    """A finished load run: the burst, and the round's bundle as proposed on-chain afterwards."""

    burst: LoadResult
    jobs: dict[int, tuple[LocalAccount, bytes]]
    bundle_submissions: list[dict[str, Any]]
    round: int
    oracle: str
    chain_id: int
    tournament: str
    participants: int
    setup_seconds: float
    resolve_seconds: float


def run_load_scenario(
    workdir: Path,
    participants: int = 50,
    models_each: int = 10,
    live_ids: int = 100,
    threads: int = 50,
    budget: float = 300.0,
) -> LoadScenario:
    """Own Anvil and deployment; ``participants`` x ``models_each`` models (one staked per participant) each
    submit once, concurrently, to a service with the scheduler inside; then the round closes and resolves and
    the proposed bundle is read back. ``budget`` bounds the whole run (a hung service fails instead of stalling)."""
    from oracle.bundle.round_bundle import load_bundle
    from oracle.chain.anvil import start_anvil
    from oracle.chain.client import RoundStatus, TournamentClient
    from oracle.chain.deploy import UNIT
    from oracle.testing.local import local_tournament

    t0 = time.perf_counter()
    deadline = time.monotonic() + budget
    node = start_anvil(accounts=4)
    service = None
    try:
        local = local_tournament(node, reserve=10**6 * UNIT, save_to=workdir / "deployment.json")
        w3, deployment, deployment_file = local.w3, local.deployment, local.deployment_file
        assert deployment_file is not None  # save_to was given
        admin, oracle = local.admin.local_account, local.oracle.local_account
        accounts = new_accounts(participants)
        fund_participants(w3, admin, deployment, accounts, tokens=1_000 * UNIT)
        owners = register_models(w3, deployment, accounts, models_each)
        firsts: dict[str, tuple[int, LocalAccount]] = {}
        for model_id, account in sorted(owners.items()):
            firsts.setdefault(account.address, (model_id, account))
        stake_models(w3, deployment, {m: (a, 100 * UNIT) for m, a in firsts.values()})
        (workdir / "rounds").mkdir(parents=True, exist_ok=True)
        ids = write_live(workdir / "rounds", 1, live_ids)
        service = start_service(
            node.url, deployment_file, oracle.key.hex(), workdir, extra_args=["--max-rounds", "1", "--window", "3600"]
        )
        client = TournamentClient(w3, deployment)
        while client.round_state(1).status is not RoundStatus.OPEN:
            if time.monotonic() > deadline:
                raise TimeoutError("the service's scheduler did not open round 1")
            time.sleep(0.2)
        closes_at = client.round_state(1).closes_at
        jobs = {m: (a, prediction_csv(ids, seed=m)) for m, a in owners.items()}
        setup = time.perf_counter() - t0
        burst = run_submissions(
            service.url, deployment.chain_id, deployment.tournament, oracle.address, 1, closes_at, jobs, threads=threads
        )
        t1 = time.perf_counter()
        proposal = close_and_await_proposal(w3, client, service, workdir / "rounds", ids, closes_at, deadline, 0.25)
        bundle = load_bundle(proposal.manifest_uri, expected_keccak=proposal.manifest_hash)
        return LoadScenario(
            burst=burst,
            jobs=jobs,
            bundle_submissions=bundle.json("submissions.json"),
            round=1,
            oracle=oracle.address,
            chain_id=deployment.chain_id,
            tournament=deployment.tournament,
            participants=participants,
            setup_seconds=setup,
            resolve_seconds=time.perf_counter() - t1,
        )
    finally:
        if service is not None:
            service.stop()
        node.stop()
