"""A bounded, paced load on the real service: the benchmark of ``tourney serve`` (``bench/service_bench.py``).

``participants`` simulated participants, each with ``models_each`` models, submit at a fixed total ``rate`` for
``seconds``: every participant sends its submissions one after the other at its own evenly spaced times (open
loop: a late answer delays the participant's next send, and latency is counted from the *scheduled* time, so a
service that falls behind shows it in the percentiles instead of slowing the load). Each model alternates between
two prediction files and re-signs with a new deadline every time, so every submission is a new request that
replaces the model's previous one. Requests, counts and time are bounded; only loopback addresses are used.

After the burst the round is closed and resolved by the service's scheduler, and the proposed bundle is checked
against every receipt: the model's latest receipt names exactly the bundle's record (hash and stamp), no model
twice, every receipt signed by the operator.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from eth_account import Account
from eth_account.signers.local import LocalAccount

from oracle.protocol.receipt import Receipt, check_receipts, latest_receipts
from oracle.protocol.submission import sign_submission

__all__ = ["LoadPlan", "PacedResult", "make_plan", "run_paced", "run_paced_scenario"]

#: Signed deadlines are this plus the submission's index (far in the future: the round's window decides).
DEADLINE_BASE = 2**40


@dataclass
class LoadPlan:
    """Who sends what: per participant, the (model id, request body) pairs in sending order."""

    sends: list[list[tuple[int, bytes]]]
    tournament: str
    chain_id: int

    @property
    def total(self) -> int:
        return sum(len(s) for s in self.sends)


@dataclass
class PacedResult:
    receipts: list[Receipt] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    offered: int = 0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else 0.0


def participant_accounts(n: int) -> list[LocalAccount]:
    """Deterministic participant keys (the same models and signatures on every fresh chain of a benchmark)."""
    return [Account.from_key((10**6 + i).to_bytes(32, "big")) for i in range(n)]


def _sign_chunk(args: tuple) -> list[tuple[int, str]]:
    keys, chain_id, tournament, round, jobs, files = args
    out = []
    for n, owner, model_id, index, variant in jobs:
        sub = sign_submission(
            Account.from_key(keys[owner]),
            chain_id,
            tournament,
            round,
            model_id,
            files[(model_id, variant)],
            DEADLINE_BASE + index,
        )
        out.append((n, json.dumps({k: v for k, v in sub.to_json().items() if k != "received_at"})))
    return out


def make_plan(
    accounts: list[LocalAccount],
    owners: dict[int, int],
    files: dict[tuple[int, int], bytes],
    chain_id: int,
    tournament: str,
    round: int,
    per_participant: int,
    processes: int = 2,
) -> LoadPlan:
    """Sign every submission up front (on every core): participant ``p`` cycles over its models (``owners``:
    model id -> participant index), each model alternating between its two files."""
    by_owner: dict[int, list[int]] = {}
    for model_id, owner in sorted(owners.items()):
        by_owner.setdefault(owner, []).append(model_id)
    jobs: list[tuple[int, int, int, int, int]] = []  # (n, owner, model id, j, file variant)
    for owner, models in sorted(by_owner.items()):
        for j in range(per_participant):
            jobs.append((len(jobs), owner, models[j % len(models)], j, (j // len(models)) % 2))
    keys = [a.key for a in accounts]
    chunks = [jobs[i :: processes * 4] for i in range(processes * 4)]
    with ProcessPoolExecutor(processes) as pool:
        records = dict(
            row
            for part in pool.map(_sign_chunk, [(keys, chain_id, tournament, round, c, files) for c in chunks])
            for row in part
        )
    encoded = {key: base64.b64encode(data) for key, data in files.items()}
    sends: list[list[tuple[int, bytes]]] = [[] for _ in accounts]
    for n, owner, model_id, _, variant in jobs:
        body = b'{"submission": ' + records[n].encode() + b', "file": "' + encoded[(model_id, variant)] + b'"}'
        sends[owner].append((model_id, body))
    return LoadPlan(sends=sends, tournament=tournament, chain_id=chain_id)


async def _participant(
    session: Any,
    url: str,
    sends: list[tuple[int, bytes]],
    start: float,
    offset: float,
    interval: float,
    result: PacedResult,
) -> None:
    for n, (_, body) in enumerate(sends):
        due = start + offset + n * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            async with session.post(url, data=body, headers={"content-type": "application/json"}) as response:
                payload = await response.read()
                status = response.status
        except Exception as exc:  # noqa: BLE001 - a refused or reset connection is a counted failure
            result.errors[f"connection: {type(exc).__name__}"] += 1
            result.latencies.append(time.perf_counter() - due)
            continue
        result.latencies.append(time.perf_counter() - due)
        document = json.loads(payload) if payload else {}
        if status == 201:
            result.receipts.append(Receipt.from_json(document))
        else:
            result.errors[f"{status} {document.get('error', {}).get('code', '?')}"] += 1


def run_paced(url: str, plan: LoadPlan, round: int, rate: float) -> PacedResult:
    """Send the plan at ``rate`` submissions per second in total; bounded by the plan's size."""
    import aiohttp

    result = PacedResult(offered=plan.total)
    participants = len(plan.sends)
    interval = participants / rate

    async def main() -> None:
        connector = aiohttp.TCPConnector(limit=0, force_close=False)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            start = time.perf_counter() + 0.5
            target = f"{url}/rounds/{round}/submissions"
            await asyncio.gather(
                *(
                    _participant(session, target, sends, start, i / rate, interval, result)
                    for i, sends in enumerate(plan.sends)
                )
            )
            result.elapsed = time.perf_counter() - start

    asyncio.run(main())
    return result


def bundle_check(
    bundle_submissions: list[dict[str, Any]],
    receipts: list[Receipt],
    *,
    round: int,
    operator: str,
    chain_id: int,
    tournament: str,
) -> dict[str, int]:
    """What the bundle owes the receipts: problems by check (all zero when every receipt is honoured)."""
    in_bundle = Counter(int(e["model_id"]) for e in bundle_submissions)
    records = {int(e["model_id"]): e["record"] for e in bundle_submissions}
    latest = latest_receipts(receipts)
    stale = sum(
        1
        for r in latest.values()
        if records.get(r.model_id, {}).get("received_at") != r.received_at
        or records.get(r.model_id, {}).get("predictions_hash") != r.predictions_hash
    )
    return {
        "in_bundle": len(in_bundle),
        "duplicated_in_bundle": sum(1 for n in in_bundle.values() if n > 1),
        "receipted_models": len(latest),
        "latest_receipt_not_in_bundle": stale,
        "receipt_problems": len(
            check_receipts(
                bundle_submissions, receipts, round=round, operator=operator, chain_id=chain_id, tournament=tournament
            )
        ),
    }


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children (the workers), so far."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def run_paced_scenario(
    workdir: Path,
    db_url: str,
    workers: int,
    participants: int,
    models_each: int,
    live_ids: int,
    rate: float,
    seconds: float,
    plans: dict[str, LoadPlan],
    budget: float = 1800.0,
) -> dict[str, Any]:
    """One benchmark run on its own Anvil: set up, burst, close, resolve, check; returns the figures."""
    from oracle.bundle.round_bundle import load_bundle
    from oracle.chain.anvil import start_anvil
    from oracle.chain.client import RoundStatus, TournamentClient
    from oracle.chain.deploy import UNIT
    from oracle.testing.harness import (
        close_and_await_proposal,
        fund_participants,
        prediction_csv,
        register_models,
        stake_models,
        start_service,
        write_live,
    )
    from oracle.testing.local import local_tournament

    t0 = time.perf_counter()
    deadline = time.monotonic() + budget
    node = start_anvil(accounts=4)
    service = None
    try:
        local = local_tournament(node, reserve=10**6 * UNIT, save_to=workdir / "deployment.json")
        w3, deployment = local.w3, local.deployment
        accounts = participant_accounts(participants)
        index = {a.address: i for i, a in enumerate(accounts)}
        fund_participants(w3, local.admin.local_account, deployment, accounts, tokens=1_000 * UNIT)
        owned = register_models(w3, deployment, accounts, models_each)
        owners = {m: index[a.address] for m, a in owned.items()}
        firsts: dict[int, tuple[int, LocalAccount]] = {}
        for model_id, account in sorted(owned.items()):
            firsts.setdefault(index[account.address], (model_id, account))
        stake_models(w3, deployment, {m: (a, 100 * UNIT) for m, a in firsts.values()})
        (workdir / "rounds").mkdir(parents=True, exist_ok=True)
        ids = write_live(workdir / "rounds", 1, live_ids)
        per_participant = int(np.ceil(rate * seconds / participants))
        key = f"{deployment.chain_id}:{deployment.tournament}:{sorted(owners.items())}:{live_ids}:{per_participant}"
        if key not in plans:
            files = {(m, v): prediction_csv(ids, seed=2 * m + v) for m in owners for v in (0, 1)}
            plans.clear()
            plans[key] = make_plan(
                accounts, owners, files, deployment.chain_id, deployment.tournament, 1, per_participant
            )
        plan = plans[key]
        service = start_service(
            node.url,
            workdir / "deployment.json",
            local.oracle.local_account.key.hex(),
            workdir,
            extra_args=[
                "--max-rounds",
                "1",
                "--window",
                "3600",
                "--db",
                db_url,
                "--workers",
                str(workers),
                "--rate-burst",
                "60",
                "--rate-per-second",
                "10",
                "--log-level",
                "warning",
                "--poll",
                "2",
            ],
        )
        client = TournamentClient(w3, deployment)
        while client.round_state(1).status is not RoundStatus.OPEN:
            if time.monotonic() > deadline:
                raise TimeoutError("the service's scheduler did not open round 1")
            time.sleep(0.2)
        closes_at = client.round_state(1).closes_at
        setup = time.perf_counter() - t0
        cpu_before = _cpu_seconds(service.process.pid), time.process_time()
        burst = run_paced(service.url, plan, 1, rate)
        server_cpu = _cpu_seconds(service.process.pid) - cpu_before[0]
        client_cpu = time.process_time() - cpu_before[1]
        t1 = time.perf_counter()
        proposal = close_and_await_proposal(w3, client, service, workdir / "rounds", ids, closes_at, deadline, 0.5)
        resolve = time.perf_counter() - t1
        bundle = load_bundle(proposal.manifest_uri, expected_keccak=proposal.manifest_hash)
        checked = bundle_check(
            bundle.json("submissions.json"),
            burst.receipts,
            round=1,
            operator=local.oracle.address,
            chain_id=deployment.chain_id,
            tournament=deployment.tournament,
        )
        return {
            "submissions": burst.offered,
            "participants": participants,
            "models": len(owners),
            "offered_rate_per_second": rate,
            "live_ids_per_file": live_ids,
            "accepted_with_valid_receipt": len(burst.receipts) if checked["receipt_problems"] == 0 else None,
            "refused": sum(burst.errors.values()),
            "refusals": dict(burst.errors),
            **checked,
            "burst_seconds": round(burst.elapsed, 3),
            "throughput_per_second": round(len(burst.receipts) / burst.elapsed, 1) if burst.elapsed else 0.0,
            "latency_ms": {
                q: round(burst.percentile(p) * 1000, 1)
                for q, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
            },
            # CPU per submission: what the figures would be on an idle machine does not depend on other load.
            "server_cpu_ms_per_submission": round(server_cpu * 1000 / max(1, burst.offered), 2),
            "client_cpu_ms_per_submission": round(client_cpu * 1000 / max(1, burst.offered), 2),
            "load_average_1min": round(os.getloadavg()[0], 1),
            "close_resolve_propose_seconds": round(resolve, 2),
            "setup_seconds": round(setup, 2),
        }
    finally:
        if service is not None:
            service.stop()
        node.stop()
