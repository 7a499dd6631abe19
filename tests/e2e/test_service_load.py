"""A bounded load test: 500 submissions from 50 participants, concurrently, over real HTTP to a real service on
its own Anvil. Every accepted submission has a valid receipt and is in the round's bundle; nothing is lost or
duplicated. Throughput and p99 latency are a benchmark (``bench/service_bench.py``), not asserted here; the time
budget only turns a hung service into a failure."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from oracle.protocol.receipt import check_receipts, verify_receipt
from oracle.testing.burst import run_load_scenario

PARTICIPANTS = 50
MODELS_EACH = 10


def test_500_concurrent_submissions_all_receipted_and_in_the_bundle(tmp_path: Path) -> None:
    run = run_load_scenario(tmp_path, participants=PARTICIPANTS, models_each=MODELS_EACH, budget=300.0)
    burst = run.burst
    assert len(run.jobs) == PARTICIPANTS * MODELS_EACH == 500
    assert burst.errors == {}, f"refused submissions: {dict(list(burst.errors.items())[:5])}"
    assert sorted(burst.receipts) == sorted(run.jobs)
    for receipt in burst.receipts.values():
        assert verify_receipt(receipt, run.oracle, chain_id=run.chain_id, tournament=run.tournament) == []
    in_bundle = Counter(entry["model_id"] for entry in run.bundle_submissions)
    assert set(in_bundle) == set(run.jobs) and max(in_bundle.values()) == 1  # nothing lost, nothing twice
    hashes = {entry["model_id"]: entry["record"]["predictions_hash"] for entry in run.bundle_submissions}
    assert all(hashes[m] == r.predictions_hash for m, r in burst.receipts.items())
    assert (
        check_receipts(
            run.bundle_submissions,
            list(burst.receipts.values()),
            round=run.round,
            operator=run.oracle,
            chain_id=run.chain_id,
            tournament=run.tournament,
        )
        == []
    )
