"""The web app's API (web/API.md) through a tournament's life, in process (FastAPI's TestClient) over a real Anvil:
two rounds scored, round 1 activated, round 2's first root wrong (one model's payout inflated) and vetoed, then
proposed again; a withdrawal requested; round 3 open. Every figure is checked against the chain or the bundle it
comes from."""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from web3 import Web3

from oracle.chain.connection import Connection
from oracle.chain.deploy import UNIT
from oracle.participant.models import register_model
from oracle.participant.stake import stake
from oracle.protocol.receipt import Receipt, verify_receipt
from oracle.protocol.submission import sign_submission
from oracle.service.app import create_app
from oracle.service.proposals import LINKED_FILES
from oracle.testing.driven import DrivenTournament, driven_tournament, inflate_payout
from oracle.testing.harness import encode_request, prediction_csv


@dataclass
class World:
    t: DrivenTournament
    http: TestClient
    owner: LocalAccount
    models: list[int]  # staked 100, staked 50, never staked


def _submit(world: World, round: int, model_id: int, seed: int) -> None:
    closes_at = world.t.client.round_state(round).closes_at
    data = prediction_csv(world.t.live[round], seed=seed)
    sub = sign_submission(
        world.owner,
        world.t.chain.deployment.chain_id,
        world.t.chain.deployment.tournament,
        round,
        model_id,
        data,
        closes_at,
    )
    answer = world.http.post(f"/rounds/{round}/submissions", json=encode_request(sub, data))
    assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    t = driven_tournament(tmp_path_factory.mktemp("web-api"), live_ids=60)
    try:
        owner = t.participant(0)
        conn = Connection(t.chain.w3, t.chain.deployment, owner)
        models = [register_model(conn)[0] for _ in range(3)]
        stake(conn, models[0], 100 * UNIT)
        stake(conn, models[1], 50 * UNIT)
        with TestClient(create_app(t.service_config)) as http:
            w = World(t, http, owner, models)
            t.open_round()
            for i, model_id in enumerate(models[:2]):
                _submit(w, 1, model_id, seed=i)
            t.close(1)
            t.open_round()
            _submit(w, 2, models[0], seed=10)
            t.resolve(1)
            assert t.activate() == [1]
            t.close(2)
            t.resolve(2, tamper=inflate_payout(models[0], 5 * UNIT))
            t.veto(2)
            t.resolve(2)
            t.chain.sender(owner).transact(
                t.chain.tournament.functions.requestWithdrawal(models[1], 10 * UNIT), action="request a withdrawal"
            )
            t.open_round()
            yield w
    finally:
        t.stop()


def _rounds_with_verdicts(world: World, timeout: float = 120) -> dict[int, dict[str, Any]]:
    """GET /rounds?limit=64 until the background auditor has a verdict on every proposal (a request never waits)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = world.http.get("/rounds?limit=64")
        assert answer.status_code == 200, answer.text
        rounds = {r["round"]: r for r in answer.json()["recent"]}
        if all(p["verdict"] is not None for r in rounds.values() for p in r["proposals"]):
            return rounds
        assert time.monotonic() < deadline, "the auditor gave no verdict on some proposal in time"
        time.sleep(0.5)


def test_rounds_show_every_proposal_with_its_verdict(world: World) -> None:
    first = world.http.get("/rounds").json()
    assert [r["round"] for r in first["recent"]] == [3, 2, 1] and [r["round"] for r in first["open"]] == [3]
    assert world.http.get("/rounds?limit=2").json()["recent"][-1]["round"] == 2
    refused = world.http.get("/rounds?limit=65")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request"

    rounds = _rounds_with_verdicts(world)
    assert rounds[3]["status"] == "open" and rounds[3]["proposals"] == [] and rounds[3]["lapses_at"] is None
    for r in (1, 2):  # closed rounds lapse at their close + D unless a root is active by then
        assert rounds[r]["lapses_at"] == world.t.client.round_state(r).lapses_at > rounds[r]["closed_at"]
    [active] = rounds[1]["proposals"]
    assert active["state"] == "active" and active["verdict"]["ok"] and active["verdict"]["status"] == "active"
    bad, good = rounds[2]["proposals"]
    assert (bad["seq"], bad["state"], good["seq"], good["state"]) == (0, "vetoed", 1, "pending")
    assert bad["vetoed_by"] == world.t.chain.guardian.address and bad["vetoed_at"] >= bad["proposed_at"]
    assert not bad["verdict"]["ok"] and not bad["verdict"]["standing"]
    assert bad["verdict"]["models"] == [str(world.models[0])] and bad["verdict"]["differences_count"] >= 1
    assert all(isinstance(d["recorded"], (str, type(None), bool)) for d in bad["verdict"]["differences"])
    assert good["verdict"]["ok"] and good["verdict"]["standing"] and good["root"] == rounds[2]["root"]
    chain = world.t.client.proposals(2)
    assert [p["manifest_hash"] for p in (bad, good)] == [p.manifest_hash for p in chain]
    assert [p["proposed_tx"] for p in (bad, good)] == [p.tx_hash for p in chain]
    assert int(bad["totals"]["round_payout"]) == int(good["totals"]["round_payout"]) + 5 * UNIT
    assert int(good["totals"]["round_payout"]) == chain[1].payout_total


def test_bundle_files_are_the_published_bytes(world: World) -> None:
    [proposal] = world.http.get("/rounds?limit=64").json()["recent"][-1]["proposals"]
    manifest = world.http.get(proposal["files"]["manifest.json"])
    assert manifest.status_code == 200 and manifest.headers["content-type"] == "application/json"
    assert "0x" + Web3.keccak(manifest.content).hex().removeprefix("0x") == proposal["manifest_hash"]
    assert manifest.headers["content-disposition"] == 'attachment; filename="1-manifest.json"'
    entries = manifest.json()["files"]
    signed = {name for name in entries if name not in LINKED_FILES}
    assert set(proposal["files"]) == set(entries) - signed | {"manifest.json"} and len(signed) == 2  # two models
    for name in signed:  # not linked (one per model), but served all the same
        assert world.http.get(f"bundles/{proposal['manifest_hash']}/files/{name}").content.startswith(b"id,")
    scores = world.http.get(proposal["files"]["scores.parquet"])
    assert scores.headers["content-type"] == "application/vnd.apache.parquet"
    assert hashlib.sha256(scores.content).hexdigest() == entries["scores.parquet"]["sha256"].removeprefix("0x")
    missing = world.http.get(f"bundles/{proposal['manifest_hash']}/files/nothing.json")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_file"
    malformed = world.http.get("bundles/0x12/manifest.json")
    assert malformed.status_code == 404 and malformed.json()["error"]["code"] == "unknown_bundle"


def test_leaderboard_figures_come_from_the_chain_and_the_standing_bundles(world: World) -> None:
    answer = world.http.get("/leaderboard", headers={"accept-encoding": "gzip"})
    assert answer.headers.get("content-encoding") == "gzip"  # requests decoded it; the service sent it gzipped
    board = answer.json()
    assert (board["latest_round"], board["cumulative_through"], board["rolling_window"]) == (2, 1, 20)
    rows = {m["model_id"]: m for m in board["models"]}
    assert list(rows) == world.models
    scores1 = {r["model"]: r for r in world.http.get("/rounds/1/scores").json()["scores"]}
    scores2 = {r["model"]: r for r in world.http.get("/rounds/2/scores").json()["scores"]}
    first, second, idle = (rows[m] for m in world.models)
    key = str(world.models[0])
    assert first["corr"] == round(scores2[key]["corr"], 6) and first["scored_round"] == 2
    assert first["rounds_scored"] == 2
    assert first["corr_rolling"] == round((scores1[key]["corr"] + scores2[key]["corr"]) / 2, 6)
    assert second["scored_round"] == 1 and second["rounds_scored"] == 1
    assert second["mmc_rolling"] == round(scores1[str(world.models[1])]["mmc"], 6)
    assert idle["corr"] is None and idle["rounds_scored"] == 0 and idle["stake"] == "0"
    proof = world.http.get(f"/rounds/1/models/{world.models[0]}/proof").json()
    assert (first["cumulative_payout"], first["cumulative_burn"]) == (
        proof["cumulative_payout"],
        proof["cumulative_burn"],
    )
    for model_id, row in rows.items():
        info = world.t.client.model_info(model_id)
        assert (row["owner"], int(row["stake"]), int(row["pending_withdrawal"])) == (
            world.owner.address,
            world.t.client.stake_of(model_id),
            info.withdrawal,
        )
    assert int(second["pending_withdrawal"]) == 10 * UNIT


def test_model_page_has_settlement_withdrawal_leaves_and_receipts(world: World) -> None:
    model = world.http.get(f"/models/{world.models[1]}").json()
    assert (model["settled_through"], model["settled_payout"]) == (0, "0")
    withdrawal = model["withdrawal"]
    request_block = world.t.client.events(["WithdrawalRequested"], indexed=world.models[1])[-1].block
    # At risk through round 2 (proposed, not resolved): takeable by round 2's close + D whatever any key does.
    round2 = world.t.client.round_state(2)
    assert round2.lapses_at == round2.closed_at + world.t.client.exit_bound()
    assert withdrawal == {
        "amount": str(10 * UNIT),
        "after_round": 2,
        "withdrawable": False,
        "requested_at": int(world.t.chain.w3.eth.get_block(request_block)["timestamp"]),
        "available_at_latest": round2.lapses_at,
        "waiting_for": f"round 2 to be resolved (activated, or lapsed at {round2.lapses_at} at the latest)",
    }
    first = world.http.get(f"/models/{world.models[0]}").json()
    assert first["withdrawal"] is None
    by_round = {r["round"]: r for r in first["rounds"]}
    assert [by_round[r]["status"] for r in (1, 2)] == ["active", "proposed"]
    proof = world.http.get(f"/rounds/2/models/{world.models[0]}/proof").json()
    assert by_round[2]["cumulative_payout"] == proof["cumulative_payout"]
    for round in (1, 2):
        receipt = Receipt.from_json(by_round[round]["receipt"])
        assert receipt.predictions_hash == by_round[round]["predictions_hash"]
        assert (
            verify_receipt(
                receipt,
                world.t.chain.oracle.address,
                chain_id=world.t.chain.deployment.chain_id,
                tournament=world.t.chain.deployment.tournament,
            )
            == []
        )


def test_validate_lists_every_problem_and_stores_nothing(world: World) -> None:
    live = world.t.live[3]
    good = prediction_csv(live, seed=5)
    answer = world.http.post(
        "/rounds/3/validate",
        json={"file": base64.b64encode(good).decode(), "file_name": "p.csv", "model_id": world.models[0]},
    )
    assert answer.status_code == 200, answer.text
    checked = answer.json()
    assert checked == {
        "round": 3,
        "ok": True,
        "rows": len(live),
        "live_ids": len(live),
        "problems": [],
        "predictions_hash": "0x" + Web3.keccak(good).hex().removeprefix("0x"),
    }
    lines = good.decode().splitlines()
    broken = "\n".join([lines[0], f"{lines[1].split(',')[0]},1.5"] + lines[2:-5] + ["not-live,0.5"]).encode()
    refused = world.http.post(
        "/rounds/3/validate", json={"file": base64.b64encode(broken).decode(), "model_id": world.models[0]}
    ).json()
    assert not refused["ok"] and len(refused["problems"]) >= 3, refused
    assert any("out_of_range" in p for p in refused["problems"]) and any(
        "missing_ids" in p for p in refused["problems"]
    )
    unreadable = world.http.post(
        "/rounds/3/validate", json={"file": base64.b64encode(b"\x00\x01binary").decode(), "file_name": "p.parquet"}
    ).json()
    assert unreadable["ok"] is False and unreadable["rows"] is None and unreadable["problems"]
    assert world.t.operator.inbox.get(3, world.models[0]) is None
    for round, code in ((9, "unknown_round"), (1, "round_not_open")):
        answer = world.http.post(f"/rounds/{round}/validate", json={"file": base64.b64encode(good).decode()})
        assert answer.json()["error"]["code"] == code


def test_info_names_the_token_and_contract_publishes_the_abis(world: World) -> None:
    token = world.t.chain.token.functions
    assert world.http.get("/info").json()["token"] == {
        "address": world.t.chain.deployment.token,
        "name": token.name().call(),
        "symbol": token.symbol().call(),
        "decimals": token.decimals().call(),
    }
    contract = world.http.get("/contract")
    assert contract.headers["cache-control"] == "public, max-age=300"
    body = contract.json()
    assert body["tournament"]["deployment_block"] == world.t.chain.deployment.block
    errors = {i["name"] for i in body["tournament"]["abi"] if i["type"] == "error"}
    assert {"WithdrawalExceedsStake", "UnsettledRounds"} <= errors
    assert {i["name"] for i in body["token"]["abi"] if i["type"] == "function"} >= {"permit", "nonces", "balanceOf"}
