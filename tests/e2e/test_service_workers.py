"""Two ``tourney serve`` workers sharing one database (SQLite, and a real PostgreSQL server the test starts)
hammered with the same round's submissions: each model's requests (first files, duplicates, re-submissions,
replays of replaced requests) are sent concurrently in random order, and one worker is SIGKILLed mid-burst
(its parent starts another). Requests cut off by the kill are sent again, as a client would.

What must hold: no answer is a 5xx; one signed request gets at most one receipt (a duplicate is answered with the
very same receipt); a model's receipts have strictly increasing stamps; and once the scheduler (in whichever
worker holds the lease) has closed and resolved the round, the bundle carries every model exactly once, with the
file and stamp of its latest receipt. Everything is real: Anvil, HTTP, processes, the databases."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest
import requests

from oracle.bundle.round_bundle import load_bundle
from oracle.chain.anvil import dev_private_keys
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.deploy import UNIT
from oracle.protocol.receipt import Receipt, check_receipts, latest_receipts, verify_receipt
from oracle.protocol.submission import sign_submission
from oracle.testing.harness import (
    encode_request,
    prediction_csv,
    register_models,
    stake_models,
    start_service,
    write_live,
    write_targets,
)
from oracle.testing.postgres import Postgres, start_postgres
from oracle.testing.service_state import service_submissions

MODELS_EACH = 4
LIVE = 50


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


def _requests_for(
    chain: Any, owners: dict[int, Any], ids: list[str], deadline: int
) -> dict[int, list[tuple[str, dict]]]:
    """Per model: three files A, B, C signed once each; A and B are also sent twice more (duplicates or, once
    replaced, replays)."""
    plan: dict[int, list[tuple[str, dict]]] = {}
    for model_id, account in owners.items():
        bodies = {}
        for tag, seed in (("A", 1), ("B", 2), ("C", 3)):
            data = prediction_csv(ids, seed=model_id * 10 + seed)
            sub = sign_submission(
                account, chain.deployment.chain_id, chain.deployment.tournament, 1, model_id, data, deadline
            )
            bodies[tag] = encode_request(sub, data)
        plan[model_id] = [(t, bodies[t]) for t in ("A", "A", "B", "B", "A", "C", "B")]
    return plan


def _post(url: str, body: dict) -> tuple[int, dict] | None:
    try:
        response = requests.post(f"{url}/rounds/1/submissions", json=body, timeout=60)
    except requests.RequestException:
        return None  # the connection died with the worker: the client sends it again
    return response.status_code, response.json()


def _checked_receipts(answers: list[tuple[int, str, int, dict]], chain: Any) -> list[Receipt]:
    """The receipts in the burst's ``(model, request tag, status, body)`` answers, checked: no 5xx and no refusal but
    duplicate or replayed; one receipt per signed request (a duplicate hands over the very same one, or the one
    whose 201 was lost with the killed worker), each valid; a model's receipts never share a stamp."""
    statuses = Counter((status, body.get("error", {}).get("code")) for _, _, status, body in answers)
    assert all(status < 500 for status, _ in statuses), statuses
    assert set(statuses) <= {(201, None), (409, "duplicate"), (409, "replayed")}, statuses
    operator = chain.oracle.address
    receipted: dict[tuple[int, str], list[Receipt]] = defaultdict(list)
    for model_id, tag, status, body in answers:
        if status == 201:
            receipted[(model_id, tag)].append(Receipt.from_json(body))
    assert all(len(r) == 1 for r in receipted.values()), "a signed request was receipted twice"
    for model_id, tag, status, body in answers:
        if status == 409 and body["error"]["code"] == "duplicate":
            again = Receipt.from_json(body["error"]["receipt"])
            if receipted[(model_id, tag)]:
                assert again == receipted[(model_id, tag)][0], (model_id, tag)
            else:  # its 201 was lost with the killed worker: the duplicate hands the receipt over now
                assert verify_receipt(again, operator) == [], (model_id, tag)
                receipted[(model_id, tag)].append(again)
    receipts = [r for rs in receipted.values() for r in rs]
    assert all(
        verify_receipt(r, operator, chain_id=chain.deployment.chain_id, tournament=chain.deployment.tournament) == []
        for r in receipts
    )
    stamps: dict[int, list[int]] = defaultdict(list)
    for r in receipts:
        stamps[r.model_id].append(r.received_at)
    assert all(len(set(s)) == len(s) for s in stamps.values()), "two receipts of a model share a stamp"
    return receipts


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_workers_one_database_duplicates_replays_and_a_killed_worker(
    backend: str, chain: Any, participants: list[Any], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db_url = (
        request.getfixturevalue("postgres").create_database(f"workers_{int(time.time() * 1000)}")
        if backend == "postgres"
        else f"sqlite:///{tmp_path}/state/service.db"
    )
    accounts = [p.account for p in participants]
    owners = register_models(chain.w3, chain.deployment, accounts, MODELS_EACH)
    firsts: dict[str, tuple[int, Any]] = {}
    for model_id, account in sorted(owners.items()):
        firsts.setdefault(account.address, (model_id, account))
    stake_models(chain.w3, chain.deployment, {m: (a, 100 * UNIT) for m, a in firsts.values()})
    (tmp_path / "rounds").mkdir()
    ids = write_live(tmp_path / "rounds", 1, LIVE)
    service = start_service(
        chain.url,
        chain.deployment_file,
        dev_private_keys(2)[1],
        tmp_path,
        extra_args=[
            "--db",
            db_url,
            "--workers",
            "2",
            "--max-rounds",
            "1",
            "--window",
            "3600",
            "--rate-burst",
            "1000",
            "--rate-per-second",
            "100",
        ],
    )
    try:
        client = TournamentClient(chain.w3, chain.deployment)
        deadline_at = time.monotonic() + 60
        while client.round_state(1).status is not RoundStatus.OPEN:
            assert time.monotonic() < deadline_at, f"round 1 not opened:\n{service.log()[-3000:]}"
            time.sleep(0.2)
        closes_at = client.round_state(1).closes_at
        plan = _requests_for(chain, owners, ids, closes_at)
        sends = [(m, tag, body) for m, items in plan.items() for tag, body in items]
        random.Random(7).shuffle(sends)
        workers = psutil.Process(service.process.pid).children()
        assert len(workers) == 2, f"expected two worker processes, found {workers}"
        answers: list[tuple[int, str, int, dict]] = []
        cut_off: list[tuple[int, str, dict]] = []
        lock = threading.Lock()
        killed = threading.Event()

        def one(item: tuple[int, str, dict]) -> None:
            model_id, tag, body = item
            answer = _post(service.url, body)
            with lock:
                if answer is None:
                    cut_off.append(item)
                    return
                answers.append((model_id, tag, *answer))
                if len(answers) >= len(sends) // 3 and not killed.is_set():
                    killed.set()
                    workers[0].kill()  # SIGKILL: no shutdown handler runs

        with ThreadPoolExecutor(12) as pool:
            list(pool.map(one, sends))
        assert killed.is_set()
        service.wait_ready()
        for item in cut_off:  # what a client does when its connection dies: send the same request again
            answer = None
            for _ in range(20):
                answer = _post(service.url, item[2])
                if answer is not None:
                    break
                time.sleep(0.5)
            assert answer is not None, f"no answer after the restart:\n{service.log()[-3000:]}"
            answers.append((item[0], item[1], *answer))

        operator = chain.oracle.address
        receipts = _checked_receipts(answers, chain)
        assert {r.model_id for r in receipts} == set(owners), "every model got at least one receipt"

        chain.advance(closes_at - chain.now() + 1)
        write_targets(tmp_path / "rounds", 1, ids)
        deadline_at = time.monotonic() + 180
        while client.round_state(1).status is not RoundStatus.PROPOSED:
            assert time.monotonic() < deadline_at, f"round 1 not proposed:\n{service.log()[-3000:]}"
            time.sleep(0.5)
        proposal = client.current_proposal(1)
        bundle = load_bundle(proposal.manifest_uri, expected_keccak=proposal.manifest_hash)
        entries = bundle.json("submissions.json")
        in_bundle = Counter(int(e["model_id"]) for e in entries)
        assert set(in_bundle) == set(owners) and max(in_bundle.values()) == 1
        records = {int(e["model_id"]): e["record"] for e in entries}
        for receipt in latest_receipts(receipts).values():
            record = records[receipt.model_id]
            assert (record["predictions_hash"], record["received_at"]) == (
                receipt.predictions_hash,
                receipt.received_at,
            ), receipt.model_id
        assert (
            check_receipts(
                entries,
                receipts,
                round=1,
                operator=operator,
                chain_id=chain.deployment.chain_id,
                tournament=chain.deployment.tournament,
            )
            == []
        )
        assert '"status": 500' not in service.log() and "Traceback" not in service.log()
    finally:
        service.stop()


def test_sigterm_drains_the_submissions_in_flight(chain: Any, participants: list[Any], tmp_path: Path) -> None:
    """SIGTERM mid-burst: the worker stops taking connections but finishes what it took, so every submission it
    committed was also answered (a receipt delivered for each row in the database, none committed unanswered)."""
    owners = register_models(chain.w3, chain.deployment, [p.account for p in participants], MODELS_EACH)
    (tmp_path / "rounds").mkdir()
    ids = write_live(tmp_path / "rounds", 1, LIVE)
    service = start_service(
        chain.url,
        chain.deployment_file,
        dev_private_keys(2)[1],
        tmp_path,
        extra_args=["--max-rounds", "1", "--window", "3600", "--rate-burst", "1000"],
    )
    try:
        client = TournamentClient(chain.w3, chain.deployment)
        deadline_at = time.monotonic() + 60
        while client.round_state(1).status is not RoundStatus.OPEN:
            assert time.monotonic() < deadline_at, f"round 1 not opened:\n{service.log()[-3000:]}"
            time.sleep(0.2)
        bodies = [
            body
            for m, items in _requests_for(chain, owners, ids, client.round_state(1).closes_at).items()
            for tag, body in items
            if tag == "A"
        ][:40]
        answered: list[tuple[int, dict]] = []
        lock = threading.Lock()
        stopping = threading.Event()

        def one(body: dict) -> None:
            answer = _post(service.url, body)
            with lock:
                if answer is not None:
                    answered.append(answer)
                if len(answered) >= 5 and not stopping.is_set():
                    stopping.set()
                    service.process.terminate()  # SIGTERM: the graceful path

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, bodies))
        # uvicorn re-raises the signal it stopped on once its graceful shutdown is done, so the exit status is the
        # SIGTERM's; the drain itself shows in the log (the app's shutdown ran) and in the receipts below.
        assert service.process.wait(timeout=60) in (0, -signal.SIGTERM), service.log()[-3000:]
        assert "Application shutdown complete" in service.log(), service.log()[-3000:]
    finally:
        service.stop()
    receipts = {Receipt.from_json(body).model_id for status, body in answered if status == 201}
    committed = {s.sub.model_id for s in service_submissions(tmp_path).ledger.receipted(1)}
    assert committed and committed == receipts, (sorted(committed - receipts), sorted(receipts - committed))
    assert all(status in (201, 409) for status, _ in answered)
