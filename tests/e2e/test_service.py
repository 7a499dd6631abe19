"""The operator service over real HTTP: uvicorn on loopback (``tourney serve`` as a subprocess), real Anvil, real
keystores. Receipts, resubmission, replays, every bad input (clear error, nothing stored), rate limits, metrics,
the in-process scheduler carrying receipted submissions into the round's bundle, and SIGKILL during a burst."""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pytest
import requests
from eth_account import Account

from oracle.bundle.round_bundle import load_bundle
from oracle.chain.anvil import dev_private_keys
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.deploy import UNIT
from oracle.participant.receipts import load_receipts
from oracle.participant.service_client import ServiceClient, ServiceError, submit_over_http
from oracle.protocol.receipt import Receipt, check_receipts, sign_receipt, verify_receipt
from oracle.protocol.submission import sign_submission
from oracle.testing.burst import run_submissions
from oracle.testing.harness import (
    ServiceProcess,
    encode_request,
    prediction_csv,
    register_models,
    stake_models,
    start_service,
    write_live,
    write_targets,
)
from oracle.testing.service_state import service_submissions, wait_view

LIVE_IDS = 60


class World:
    """The module's chain, service and participants."""

    def __init__(self, chain: Any, participants: list[Any], workdir: Path, service: ServiceProcess):
        self.chain, self.participants, self.workdir, self.service = chain, participants, workdir, service
        self.oracle = chain.oracle.address
        self.client = TournamentClient(chain.w3, chain.deployment)
        self.inbox = service_submissions(workdir)
        self.live: dict[int, list[str]] = {}
        self.models: dict[int, Any] = {}

    @property
    def url(self) -> str:
        return self.service.url

    def open_round(self) -> tuple[int, int]:
        """(round, closesAt) of the round the service's scheduler has open."""
        rounds = requests.get(f"{self.url}/rounds", timeout=10).json()
        assert rounds["open"], f"no open round: {rounds}"
        return rounds["open"][0]["round"], rounds["open"][0]["closes_at"]

    def wait_for(self, predicate: Any, what: str, timeout: float = 60.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; service log tail:\n{self.service.log()[-3000:]}")

    def post(self, round: int, body: dict[str, Any]) -> requests.Response:
        return requests.post(f"{self.url}/rounds/{round}/submissions", json=body, timeout=30)

    def rejected(self, reason: str) -> int:
        for line in requests.get(f"{self.url}/metrics", timeout=10).text.splitlines():
            if line.startswith(f'tourney_submissions_rejected_total{{reason="{reason}"}}'):
                return int(float(line.split()[-1]))
        return 0


@pytest.fixture(scope="module")
def world(deployed: Any, participants: list[Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A service with the scheduler inside on the session chain (reverted afterwards); 3 models per participant,
    the first of each staked; live data for rounds 1-3."""
    snapshot = deployed.snapshot()
    workdir = tmp_path_factory.mktemp("service")
    (workdir / "rounds").mkdir()
    live = {r: write_live(workdir / "rounds", r, LIVE_IDS) for r in (1, 2, 3)}
    accounts = [p.account for p in participants]
    owners = register_models(deployed.w3, deployed.deployment, accounts, 3)
    firsts = {}
    for model_id, account in sorted(owners.items()):
        firsts.setdefault(account.address, (model_id, account))
    stake_models(deployed.w3, deployed.deployment, {m: (a, 100 * UNIT) for m, a in firsts.values()})
    service = start_service(
        deployed.url,
        deployed.deployment_file,
        dev_private_keys(2)[1],
        workdir,
        extra_args=["--rate-burst", "20", "--rate-per-second", "0.5", "--max-file-bytes", "20000", "--window", "3600"],
    )
    w = World(deployed, participants, workdir, service)
    w.live, w.models = live, owners
    try:
        w.wait_for(lambda: requests.get(f"{w.url}/rounds", timeout=5).json()["open"], "the scheduler to open round 1")
        yield w
    finally:
        w.service.stop()
        deployed.revert(snapshot)


def _model_of(world: World, participant: int, nth: int = 0) -> tuple[int, Any]:
    account = world.participants[participant].account
    mine = sorted(m for m, a in world.models.items() if a.address == account.address)
    return mine[nth], account


def _submit(world: World, model_id: int, account: Any, data: bytes, tmp_path: Path, deadline: int | None = None):
    round, closes_at = world.open_round()
    return submit_over_http(
        account,
        world.url,
        world.chain.deployment.chain_id,
        world.chain.deployment.tournament,
        world.oracle,
        round,
        model_id,
        data,
        deadline or closes_at,
        receipts_dir=tmp_path,
    )


# ------------------------------------------------------------------------------------------ reads


def test_openapi_health_rounds_and_live_data(world: World) -> None:
    spec = requests.get(f"{world.url}/openapi.json", timeout=10).json()
    for path in (
        "/rounds",
        "/rounds/{round}",
        "/rounds/{round}/live",
        "/rounds/{round}/submissions",
        "/rounds/{round}/manifest",
        "/rounds/{round}/scores",
        "/rounds/{round}/models/{model_id}/proof",
        "/models/{model_id}",
        "/health",
        "/metrics",
    ):
        assert path in spec["paths"], path
    health = requests.get(f"{world.url}/health", timeout=10).json()
    assert health["status"] == "ok" and health["scheduler"] == "running"
    assert health["chain_id"] == world.chain.deployment.chain_id
    round, closes_at = world.open_round()
    state = world.client.round_state(round)
    assert state.status is RoundStatus.OPEN and state.closes_at == closes_at
    live = requests.get(f"{world.url}/rounds/{round}/live", timeout=10)
    assert live.status_code == 200
    frame = pd.read_parquet(__import__("io").BytesIO(live.content))
    assert list(frame["id"]) == world.live[round]
    missing = requests.get(f"{world.url}/rounds/99/live", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_live_data"
    info = requests.get(f"{world.url}/info", timeout=10).json()
    assert info["operator"] == world.oracle


# ------------------------------------------------------------------------------------------ receipts


def _reencoded(sub: Any) -> list[Any]:
    """The other encodings of ``sub``'s signature that recover the same signer (v - 27; n - s with the other v)."""
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    raw = bytes.fromhex(sub.signature[2:])
    r, s, v = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
    return [
        replace(sub, signature="0x" + (r + raw[32:64] + bytes([v - 27])).hex()),
        replace(sub, signature="0x" + (r + (n - s).to_bytes(32, "big") + bytes([55 - v])).hex()),
    ]


def test_receipt_resubmission_duplicate_and_replay(world: World, tmp_path: Path) -> None:
    model_id, account = _model_of(world, 0)
    round, _closes_at = world.open_round()
    first_file = prediction_csv(world.live[round], seed=1)
    first = _submit(world, model_id, account, first_file, tmp_path)
    assert (
        verify_receipt(
            first.receipt,
            world.oracle,
            chain_id=world.chain.deployment.chain_id,
            tournament=world.chain.deployment.tournament,
        )
        == []
    )
    assert first.receipt.predictions_hash == first.submission.predictions_hash
    stored, data = world.inbox.get(round, model_id)
    assert data == first_file and stored.received_at == first.receipt.received_at
    assert first.saved_to is not None and first.saved_to.exists()

    second_file = prediction_csv(world.live[round], seed=2)
    second = _submit(world, model_id, account, second_file, tmp_path)
    assert second.receipt.received_at > first.receipt.received_at
    assert world.inbox.get(round, model_id)[1] == second_file

    # The first request again: it was replaced, so it is a replay and must not roll the model back.
    replay = world.post(round, encode_request(first.submission, first_file))
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "replayed"
    assert world.inbox.get(round, model_id)[1] == second_file
    # Re-encoded (v as 0/1, or the mirrored high s): the same signature to ecrecover, other bytes. Refused as
    # non-canonical, and the replay list is keyed on the signed content anyway: still no roll-back.
    for forged in _reencoded(first.submission):
        answer = world.post(round, encode_request(forged, first_file))
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "bad_signature", answer.text
        assert "non-canonical signature" in answer.json()["error"]["message"]
    assert world.inbox.get(round, model_id)[1] == second_file
    # The current request again: a duplicate, answered with the original receipt, nothing re-stored.
    again = world.post(round, encode_request(second.submission, second_file))
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate"
    assert Receipt.from_json(again.json()["error"]["receipt"]) == second.receipt
    assert world.inbox.get(round, model_id)[0].received_at == second.receipt.received_at
    receipts, problems = load_receipts(tmp_path)
    assert problems == [] and {r.predictions_hash for r in receipts} == {
        first.receipt.predictions_hash,
        second.receipt.predictions_hash,
    }


def test_forged_receipt_does_not_verify(world: World, tmp_path: Path) -> None:
    model_id, account = _model_of(world, 1)
    round, _ = world.open_round()
    result = _submit(world, model_id, account, prediction_csv(world.live[round], seed=3), tmp_path)
    earlier = replace(result.receipt, received_at=result.receipt.received_at - 100)
    assert any("signed by" in p for p in verify_receipt(earlier, world.oracle))
    assert any(
        "claims operator" in p
        for p in verify_receipt(replace(result.receipt, operator=Account.create().address), world.oracle)
    )
    r = result.receipt
    self_signed = sign_receipt(
        Account.create(), r.chain_id, r.tournament, r.round, r.model_id, r.predictions_hash, r.received_at
    )
    assert verify_receipt(self_signed) == []  # internally consistent, but not the operator's
    assert any("not by the tournament's operator" in p for p in verify_receipt(self_signed, world.oracle))


# ------------------------------------------------------------------------------------------ bad inputs


def _bad_cases(world: World) -> list[tuple[str, int, str, dict[str, Any]]]:
    """(name, expected HTTP status, expected code, request body) for every kind of bad input."""
    chain_id, tournament = world.chain.deployment.chain_id, world.chain.deployment.tournament
    round, closes_at = world.open_round()
    model_id, owner = _model_of(world, 2)
    other_model, _ = _model_of(world, 3)
    data = prediction_csv(world.live[round], seed=4)
    good = sign_submission(owner, chain_id, tournament, round, model_id, data, closes_at)
    stranger = Account.create()
    by_stranger = sign_submission(stranger, chain_id, tournament, round, model_id, data, closes_at)
    other_chain = sign_submission(owner, chain_id + 1, tournament, round, model_id, data, closes_at)
    other_contract = sign_submission(owner, chain_id, Account.create().address, round, model_id, data, closes_at)
    other_round = sign_submission(owner, chain_id, tournament, round + 1, model_id, data, closes_at)
    not_owned = sign_submission(owner, chain_id, tournament, round, other_model, data, closes_at)
    unknown = sign_submission(owner, chain_id, tournament, round, 10_000, data, closes_at)
    non_numeric = b"id,prediction\n" + b"".join(f"{i},high\n".encode() for i in world.live[round])
    missing_ids = prediction_csv(world.live[round][: LIVE_IDS // 2], seed=5)
    oversized = b"id,prediction\n" + b"x" * 30_000
    return [
        (
            "signature by a key that is not the claimed signer",
            401,
            "bad_signature",
            encode_request(replace(by_stranger, signer=owner.address), data),
        ),
        ("signed for another chain", 400, "wrong_chain", encode_request(other_chain, data)),
        (
            "signed for another chain, record altered to this chain",
            401,
            "bad_signature",
            encode_request(replace(other_chain, chain_id=chain_id), data),
        ),
        ("signed for another contract", 400, "wrong_contract", encode_request(other_contract, data)),
        (
            "signed for another contract, record altered",
            401,
            "bad_signature",
            encode_request(replace(other_contract, tournament=tournament), data),
        ),
        ("signed for another round", 400, "wrong_round", encode_request(other_round, data)),
        (
            "signed for another round, record altered",
            401,
            "bad_signature",
            encode_request(replace(other_round, round=round), data),
        ),
        ("a model the signer does not own", 403, "not_owner", encode_request(not_owned, data)),
        ("a model that does not exist", 404, "unknown_model", encode_request(unknown, data)),
        (
            "a file that is not the signed one",
            400,
            "hash_mismatch",
            encode_request(good, prediction_csv(world.live[round], seed=6)),
        ),
        (
            "predictions that are not numbers",
            422,
            "invalid_predictions",
            encode_request(
                sign_submission(owner, chain_id, tournament, round, model_id, non_numeric, closes_at), non_numeric
            ),
        ),
        (
            "predictions for half the live ids",
            422,
            "invalid_predictions",
            encode_request(
                sign_submission(owner, chain_id, tournament, round, model_id, missing_ids, closes_at), missing_ids
            ),
        ),
        (
            "a file that is not a CSV at all",
            400,
            "malformed_file",
            encode_request(
                sign_submission(
                    owner, chain_id, tournament, round, model_id, b"\x00\xff\x00", closes_at, file_name="p.parquet"
                ),
                b"\x00\xff\x00",
            ),
        ),
        (
            "an oversized file",
            413,
            "file_too_large",
            encode_request(
                sign_submission(owner, chain_id, tournament, round, model_id, oversized, closes_at), oversized
            ),
        ),
        (
            "a file field that is not base64",
            400,
            "malformed_file",
            {**encode_request(good, data), "file": "not base64!"},
        ),
        ("a body that is not a submission", 422, "invalid_request", {"submission": {"round": "x"}, "file": ""}),
        (
            "a signed deadline already past",
            409,
            "expired",
            encode_request(sign_submission(owner, chain_id, tournament, round, model_id, data, 1), data),
        ),
    ]


def test_bad_inputs_get_clear_errors_and_store_nothing(world: World) -> None:
    round, _ = world.open_round()
    model_id, _ = _model_of(world, 2)
    other_model, _ = _model_of(world, 3)
    assert world.inbox.get(round, model_id) is None and world.inbox.get(round, other_model) is None
    for name, status, code, body in _bad_cases(world):
        before = world.rejected(code)
        response = world.post(round, body)
        error = response.json().get("error", {})
        assert (response.status_code, error.get("code")) == (status, code), f"{name}: {response.text[:400]}"
        assert isinstance(error.get("message"), str) and len(error["message"]) > 10, name
        assert world.rejected(code if code != "invalid_request" else "invalid_request") == before + 1, name
    assert world.inbox.get(round, model_id) is None and world.inbox.get(round, other_model) is None
    assert not list((world.workdir / "inbox" / "objects").glob("*")) or all(
        p.stat().st_size > 0 for p in (world.workdir / "inbox" / "objects").glob("*")
    )


def test_request_body_over_the_limit_is_refused_before_parsing(world: World) -> None:
    round, _ = world.open_round()
    response = requests.post(
        f"{world.url}/rounds/{round}/submissions",
        data=b"{" + b" " * 200_000 + b"}",
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


def test_rate_limit_per_signer_address(world: World) -> None:
    round, closes_at = world.open_round()
    model_id, _ = _model_of(world, 0)
    spammer = Account.create()
    data = prediction_csv(world.live[round], seed=7)
    codes = []
    started = time.monotonic()
    # The bucket refills while we send (about one request a second): on a loaded machine the burst takes a few
    # seconds, so the limit is checked against what the elapsed time allows rather than at exactly request 21.
    for i in range(60):
        sub = sign_submission(
            spammer,
            world.chain.deployment.chain_id,
            world.chain.deployment.tournament,
            round,
            model_id,
            data,
            closes_at - i,
        )
        response = world.post(round, encode_request(sub, data))
        codes.append(response.json()["error"]["code"])
        if response.status_code == 429:
            assert int(response.headers["Retry-After"]) >= 1
            break
    elapsed = time.monotonic() - started
    assert codes[:20] == ["not_owner"] * 20 and codes[-1] == "rate_limited"
    assert len(codes) - 1 <= 20 + math.ceil(elapsed) + 1
    # Another address is not affected by the spammer's bucket.
    other = _model_of(world, 1)[1]
    sub = sign_submission(
        other, world.chain.deployment.chain_id, world.chain.deployment.tournament, round, model_id, data, closes_at
    )
    assert world.post(round, encode_request(sub, data)).json()["error"]["code"] == "not_owner"


# ------------------------------------------------------------------------------------------ crash safety


def test_sigkill_during_a_burst_loses_no_receipted_submission(world: World, tmp_path: Path) -> None:
    """A second service (no scheduler, its own inbox) is killed mid-burst; after restart every receipted
    submission is there intact, nothing is half-stored, and re-sending the rest completes the set exactly once."""
    round, closes_at = world.open_round()
    workdir = tmp_path / "crash"
    (workdir / "rounds").mkdir(parents=True)
    write_live(workdir / "rounds", round, LIVE_IDS)
    service = start_service(
        world.chain.url, world.chain.deployment_file, dev_private_keys(2)[1], workdir, scheduler=False
    )
    owners = register_models(world.chain.w3, world.chain.deployment, [p.account for p in world.participants], 10)
    jobs = {m: (a, prediction_csv(world.live[round], seed=m)) for m, a in owners.items()}
    chain_id, tournament = world.chain.deployment.chain_id, world.chain.deployment.tournament
    killed = threading.Event()

    def kill_after_some(progress: Any) -> None:
        if len(progress.receipts) >= 8 and not killed.is_set():
            killed.set()
            service.kill()

    try:
        burst = run_submissions(
            service.url,
            chain_id,
            tournament,
            world.oracle,
            round,
            closes_at,
            jobs,
            threads=8,
            on_receipt=kill_after_some,
        )
    finally:
        service.kill()
    inbox = service_submissions(workdir)
    assert burst.receipts, "the burst should have had time to get some receipts before the kill"
    assert len(burst.receipts) < len(jobs), "the kill should have interrupted the burst"
    collected = inbox.current(round)
    assert collected.problems == []
    stored = {sub.model_id: sub for sub, _ in collected}
    for model_id, receipt in burst.receipts.items():
        assert stored[model_id].predictions_hash == receipt.predictions_hash
        assert stored[model_id].received_at == receipt.received_at
    service = service.restart()
    try:
        rest = {m: j for m, j in jobs.items() if m not in burst.receipts}
        client = ServiceClient(service.url)
        for model_id, (account, data) in rest.items():
            sub = sign_submission(account, chain_id, tournament, round, model_id, data, closes_at)
            try:
                receipt = client.post_submission(sub, data)
            except ServiceError as exc:
                # Stored just before the kill but never answered: the receipt comes with the duplicate refusal.
                assert exc.code == "duplicate", exc
                receipt = Receipt.from_json(exc.body["receipt"])
            assert verify_receipt(receipt, world.oracle) == [] and receipt.predictions_hash == sub.predictions_hash
        final = inbox.current(round)
        assert final.problems == [] and sorted(s.model_id for s, _ in final) == sorted(jobs)
    finally:
        service.stop()


# ------------------------------------------------------------------------------------------ into the bundle


def test_late_submission_then_scheduler_resolves_and_bundle_honours_receipts(world: World, tmp_path: Path) -> None:
    round, closes_at = world.open_round()
    receipts = []
    for participant in range(len(world.participants)):
        model_id, account = _model_of(world, participant, 1)
        receipts.append(
            _submit(
                world, model_id, account, prediction_csv(world.live[round], seed=20 + participant), tmp_path
            ).receipt
        )
    late_model, late_owner = _model_of(world, 0, 2)
    late = sign_submission(
        late_owner,
        world.chain.deployment.chain_id,
        world.chain.deployment.tournament,
        round,
        late_model,
        prediction_csv(world.live[round], seed=30),
        closes_at,
    )
    world.chain.advance(closes_at - world.chain.now() + 1)
    wait_view(world.url, world.chain.w3.eth.block_number)  # the service judges by its view of the chain
    response = world.post(round, encode_request(late, prediction_csv(world.live[round], seed=30)))
    assert response.status_code == 409 and response.json()["error"]["code"] == "late"
    assert world.inbox.get(round, late_model) is None

    world.wait_for(lambda: world.client.round_state(round).status is RoundStatus.CLOSED, f"round {round} closed")
    write_targets(world.workdir / "rounds", round, world.live[round])
    world.wait_for(lambda: world.client.round_state(round).status is RoundStatus.PROPOSED, f"round {round} proposed")

    manifest = requests.get(f"{world.url}/rounds/{round}/manifest", timeout=30).json()
    bundle = load_bundle(manifest["manifest_uri"], expected_keccak=manifest["manifest_hash"])
    submitted = bundle.json("submissions.json")
    all_receipts, _ = load_receipts(tmp_path)
    kwargs = dict(
        round=round,
        operator=world.oracle,
        chain_id=world.chain.deployment.chain_id,
        tournament=world.chain.deployment.tournament,
    )
    assert check_receipts(submitted, all_receipts, **kwargs) == []
    # Censorship is named: drop one receipted model from the bundle's list, or swap its hash.
    victim = receipts[1].model_id
    problems = check_receipts([s for s in submitted if s["model_id"] != victim], all_receipts, **kwargs)
    assert [(p.model_id, p.kind) for p in problems] == [(victim, "missing")]
    swapped = [json.loads(json.dumps(s)) for s in submitted]
    for s in swapped:
        if s["model_id"] == victim:
            s["record"]["predictions_hash"] = "0x" + "ab" * 32
    problems = check_receipts(swapped, all_receipts, **kwargs)
    assert [(p.model_id, p.kind) for p in problems] == [(victim, "hash_mismatch")]

    scores = requests.get(f"{world.url}/rounds/{round}/scores", timeout=30).json()["scores"]
    assert {str(r.model_id) for r in receipts} <= {str(s["model"]) for s in scores}
    # The submitting models hold no stake: they are scored but have no leaf (L-8); a staked model has one.
    unstaked = requests.get(f"{world.url}/rounds/{round}/models/{victim}/proof", timeout=30)
    assert unstaked.status_code == 404 and unstaked.json()["error"]["code"] == "not_in_tree"
    staked, _ = _model_of(world, 1, 0)
    proof = requests.get(f"{world.url}/rounds/{round}/models/{staked}/proof", timeout=30).json()
    assert proof["root"] == world.client.round_state(round).root
    history = requests.get(f"{world.url}/models/{victim}", timeout=30).json()
    entry = next(h for h in history["rounds"] if h["round"] == round)
    assert entry["predictions_hash"] == receipts[1].predictions_hash and entry["payout"] is not None

    metrics = requests.get(f"{world.url}/metrics", timeout=10).text
    assert f'tourney_round_status{{round="{round}"}} 3' in metrics
    assert 'tourney_submissions_rejected_total{reason="late"} 1' in metrics
    accepted = next(line for line in metrics.splitlines() if line.startswith("tourney_submissions_accepted_total"))
    assert int(accepted.split()[-1]) >= len(receipts)
    assert (
        int(next(line for line in metrics.splitlines() if line.startswith("tourney_last_block ")).split()[-1])
        >= world.chain.w3.eth.block_number - 5
    )
    log_events = [json.loads(line) for line in world.service.log().splitlines() if line.startswith("{")]
    assert any(e.get("event") == "submission_accepted" and e.get("model_id") == victim for e in log_events)
