"""Every route of the operator service, in process: FastAPI's TestClient on the app ``create_app`` builds, over a
real Anvil and a real deployment (oracle.testing.local), with the operator's state machine driven by hand (the
scheduler is off) so each state of a round is observed through the API. The end-to-end tests (tests/e2e) run the
same service as ``tourney serve`` over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from fastapi.testclient import TestClient
from web3 import Web3

from oracle.chain.client import TournamentClient
from oracle.chain.connection import Connection
from oracle.chain.deploy import UNIT
from oracle.operator.config import OperatorConfig
from oracle.operator.rounds import Operator
from oracle.participant.models import register_model
from oracle.participant.stake import stake
from oracle.protocol.inbox import Inbox
from oracle.protocol.receipt import Receipt, verify_receipt
from oracle.protocol.submission import sign_submission
from oracle.scoring.params import RoundParams
from oracle.service.app import create_app
from oracle.service.config import ServiceConfig
from oracle.settlement.leaves import LEAF_ENCODING
from oracle.settlement.standard import StandardMerkleTree
from oracle.testing.harness import encode_request, prediction_csv, write_live, write_targets
from oracle.testing.local import LocalTournament, local_tournament

LIVE_IDS = 40


@dataclass
class World:
    chain: LocalTournament
    http: TestClient
    operator: Operator
    owner: LocalAccount
    staked: int
    unstaked: int
    live: list[str]
    rounds_dir: Path
    requested: set[tuple[str, str]] = field(default_factory=set)

    def call(self, method: str, path: str, template: str, **kwargs: Any) -> Any:
        """A request, recorded by its route template so the last test can check every route was exercised."""
        self.requested.add((method, template))
        return self.http.request(method, path, **kwargs)

    def signed(self, model_id: int, data: bytes, round: int = 1, account: LocalAccount | None = None) -> dict[str, Any]:
        closes_at = self.operator.client.round_state(1).closes_at
        sub = sign_submission(
            account or self.owner,
            self.chain.deployment.chain_id,
            self.chain.deployment.tournament,
            round,
            model_id,
            data,
            closes_at,
        )
        return encode_request(sub, data)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("routes")
    chain = local_tournament(save_to=work / "deployment.json")
    try:
        owner = Account.create()
        chain.fund(owner.address, 1_000 * UNIT)
        conn = Connection(chain.w3, chain.deployment, owner)
        staked, _ = register_model(conn)
        unstaked, _ = register_model(conn)
        stake(conn, staked, 100 * UNIT)
        rounds_dir = work / "rounds"
        rounds_dir.mkdir()
        live = write_live(rounds_dir, 1, LIVE_IDS)
        params = RoundParams.numerai_default()
        config = ServiceConfig(
            rpc=chain.url,
            deployment=chain.deployment,
            operator=chain.oracle.account,
            inbox=str(work / "inbox"),
            store=str(work / "store"),
            round_data=str(rounds_dir),
            state=str(work / "state"),
            params=params,
            scheduler=False,
            max_file_bytes=20_000,
        )
        app = create_app(config)
        # The operator snapshots rounds from the service's database, as the service's own scheduler does.
        operator = Operator(
            TournamentClient(chain.w3, chain.deployment),
            chain.oracle,
            OperatorConfig(
                store=str(work / "store"), inbox=str(work / "inbox"), round_data=str(rounds_dir), params=params
            ),
            submissions=app.state.service.submissions_source(),
        )
        assert [a.step for a in operator.open_due()] == ["open"]
        with TestClient(app) as http:
            yield World(chain, http, operator, owner, staked, unstaked, live, rounds_dir)
    finally:
        chain.stop()


def test_service_routes(world: World) -> None:
    health = world.call("GET", "/health", "/health").json()
    assert (
        health["status"] == "ok" and health["scheduler"] == "off" and health["chain_id"] == world.chain.w3.eth.chain_id
    )
    info = world.call("GET", "/info", "/info").json()
    assert (
        info["operator"] == world.chain.oracle.address
        and info["receipt_domain"]["verifyingContract"] == info["tournament"]
    )
    assert info["max_file_bytes"] == 20_000
    metrics = world.call("GET", "/metrics", "/metrics")
    assert metrics.status_code == 200 and "tourney_" in metrics.text


def test_round_routes(world: World) -> None:
    rounds = world.call("GET", "/rounds", "/rounds").json()
    assert [r["round"] for r in rounds["open"]] == [1] and rounds["open"][0]["seconds_left"] > 0
    one = world.call("GET", "/rounds/1", "/rounds/{round}").json()
    assert one["status"] == "open" and one["closes_at"] == world.operator.client.round_state(1).closes_at
    for missing in (2, 0):
        refused = world.call("GET", f"/rounds/{missing}", "/rounds/{round}")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "unknown_round"
    live = world.call("GET", "/rounds/1/live", "/rounds/{round}/live")
    assert live.status_code == 200
    assert sorted(pd.read_parquet(io.BytesIO(live.content))["id"].astype(str)) == sorted(world.live)
    absent = world.call("GET", "/rounds/2/live", "/rounds/{round}/live")
    assert absent.status_code == 404 and absent.json()["error"]["code"] == "no_live_data"


def test_results_are_404_before_a_proposal(world: World) -> None:
    for path, template in (
        ("/rounds/1/manifest", "/rounds/{round}/manifest"),
        ("/rounds/1/scores", "/rounds/{round}/scores"),
        (f"/rounds/1/models/{world.staked}/proof", "/rounds/{round}/models/{model_id}/proof"),
    ):
        refused = world.call("GET", path, template)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "no_proposal", path


def test_submission_route_receipts_and_refusals(world: World) -> None:
    post = "/rounds/{round}/submissions"
    data = prediction_csv(world.live, seed=1)
    body = world.signed(world.staked, data)
    accepted = world.call("POST", "/rounds/1/submissions", post, json=body)
    assert accepted.status_code == 201, accepted.text
    receipt = Receipt.from_json(accepted.json())
    assert (
        verify_receipt(
            receipt,
            world.chain.oracle.address,
            chain_id=world.chain.deployment.chain_id,
            tournament=world.chain.deployment.tournament,
        )
        == []
    )
    again = world.call("POST", "/rounds/1/submissions", post, json=body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate"
    assert Receipt.from_json(again.json()["error"]["receipt"]) == receipt

    stranger = Account.create()
    cases = [
        ("/rounds/2/submissions", body, 400, "wrong_round"),
        ("/rounds/1/submissions", {**body, "file": "not base64!"}, 400, "malformed_file"),
        ("/rounds/1/submissions", world.signed(world.unstaked, data, account=stranger), 403, "not_owner"),
        ("/rounds/1/submissions", world.signed(999, data), 404, "unknown_model"),
        ("/rounds/1/submissions", {"submission": body["submission"]}, 422, "invalid_request"),
        ("/rounds/1/submissions", world.signed(world.unstaked, b"id,prediction\nx,1\n"), 422, "invalid_predictions"),
        (
            "/rounds/1/submissions",
            {**world.signed(world.unstaked, data), "file": base64.b64encode(b"other").decode()},
            400,
            "hash_mismatch",
        ),
    ]
    for path, request, status, code in cases:
        refused = world.call("POST", path, post, json=request)
        assert (refused.status_code, refused.json()["error"]["code"]) == (status, code), (code, refused.text)


def test_model_route_before_results(world: World) -> None:
    model = world.call("GET", f"/models/{world.staked}", "/models/{model_id}").json()
    assert model["owner"] == world.owner.address and int(model["stake"]) == 100 * UNIT
    [round_one] = model["rounds"]
    assert round_one["submitted"] and round_one["payout"] is None
    for missing in (999, 0):
        refused = world.call("GET", f"/models/{missing}", "/models/{model_id}")
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "unknown_model"


def _bundle_hash(world: World, store: Path, inbox: str = "unused", submissions: Any = None) -> str:
    """The manifest hash of round 1's bundle built into a fresh store from ``submissions`` or the ``inbox``."""
    config = replace(world.operator.config, store=str(store), inbox=inbox)
    operator = Operator(world.operator.client, world.chain.oracle, config, submissions=submissions)
    return operator.build_bundle(1)[1]


def test_result_routes_after_the_proposal(world: World, tmp_path: Path) -> None:
    closes_at = world.operator.client.round_state(1).closes_at
    world.chain.advance(closes_at - world.chain.now() + 1)
    world.http.app.state.service.chain.refresh()  # the service's view of the chain catches up with the jump
    assert [a.step for a in world.operator.close_due()] == ["close"]
    write_targets(world.rounds_dir, 1, world.live)
    # The snapshot comes from the database; the same submissions delivered to a plain inbox (as before the
    # database) give a byte-identical bundle, hence the same manifest hash on-chain.
    from_db = _bundle_hash(world, tmp_path / "a", submissions=world.http.app.state.service.submissions_source())
    inbox = Inbox(tmp_path / "inbox")
    delivered = world.http.app.state.service.submissions_source().current(1)
    assert [sub.model_id for sub, _ in delivered] == [world.staked]
    for sub, data in delivered:
        inbox.put(sub, data)
    from_inbox = _bundle_hash(world, tmp_path / "b", inbox=str(tmp_path / "inbox"))
    assert [a.step for a in world.operator.propose_due()] == ["propose"]
    proposal = world.operator.client.current_proposal(1)
    assert proposal is not None
    assert from_db == from_inbox == proposal.manifest_hash

    manifest = world.call("GET", "/rounds/1/manifest", "/rounds/{round}/manifest").json()
    assert manifest["manifest_hash"] == proposal.manifest_hash and manifest["status"] == "proposed"
    scores = world.call("GET", "/rounds/1/scores", "/rounds/{round}/scores").json()["scores"]
    row = next(r for r in scores if r["model"] == str(world.staked))
    assert int(row["stake_at_risk"]) == 100 * UNIT and row["corr"] is not None
    proof = world.call(
        "GET", f"/rounds/1/models/{world.staked}/proof", "/rounds/{round}/models/{model_id}/proof"
    ).json()
    leaf = [world.staked, int(proof["cumulative_payout"]), int(proof["cumulative_burn"])]
    assert proof["root"] == proposal.root
    assert StandardMerkleTree.verify(proposal.root, LEAF_ENCODING, leaf, proof["proof"])
    outside = world.call("GET", "/rounds/1/models/999/proof", "/rounds/{round}/models/{model_id}/proof")
    assert outside.status_code == 404 and outside.json()["error"]["code"] == "not_in_tree"

    model = world.call("GET", f"/models/{world.staked}", "/models/{model_id}").json()
    [round_one] = model["rounds"]
    assert round_one["payout"] == row["payout"] and round_one["burn"] == row["burn"]
    late = world.call(
        "POST",
        "/rounds/1/submissions",
        "/rounds/{round}/submissions",
        json=world.signed(world.unstaked, prediction_csv(world.live, seed=2)),
    )
    assert late.status_code == 409 and late.json()["error"]["code"] in ("late", "expired")


def test_web_app_routes(world: World) -> None:
    """The routes the web app adds (web/API.md), on round 1 as proposed above; tests/service/test_web_api.py and
    tests/web walk them through vetoes, activations and withdrawals."""
    proposal = world.operator.client.current_proposal(1)
    assert proposal is not None
    contract = world.call("GET", "/contract", "/contract").json()
    assert contract["tournament"]["address"] == world.chain.deployment.tournament
    assert {i["name"] for i in contract["tournament"]["abi"] if i["type"] == "function"} >= {
        "registerModel",
        "stakeWithPermit",
    }
    board = world.call("GET", "/leaderboard", "/leaderboard").json()
    assert [m["model_id"] for m in board["models"]] == [world.staked, world.unstaked] and board["latest_round"] == 1
    mine = world.call("GET", f"/leaderboard?owner={world.owner.address.lower()}", "/leaderboard").json()
    assert len(mine["models"]) == 2
    bad = world.call("GET", "/leaderboard?owner=nobody", "/leaderboard")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_address"
    raw = world.call(
        "GET", f"/bundles/{proposal.manifest_hash}/manifest.json", "/bundles/{manifest_hash}/manifest.json"
    )
    assert raw.status_code == 200 and "0x" + Web3.keccak(raw.content).hex().removeprefix("0x") == proposal.manifest_hash
    tree = world.call(
        "GET", f"/bundles/{proposal.manifest_hash}/files/tree.json", "/bundles/{manifest_hash}/files/{name}"
    )
    assert tree.status_code == 200 and tree.json()["format"] == "standard-v1"
    unknown = world.call("GET", f"/bundles/0x{'ab' * 32}/files/tree.json", "/bundles/{manifest_hash}/files/{name}")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_bundle"
    closed = world.call(
        "POST",
        "/rounds/1/validate",
        "/rounds/{round}/validate",
        json={"file": base64.b64encode(prediction_csv(world.live, seed=3)).decode()},
    )
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "round_not_open"


def test_published_routes_deployment_rules_and_bundles_by_content_address(world: World) -> None:
    """What a participant joins with, the rules its files are checked against, and the bundle files an auditor
    anywhere reads: the manifest by name (its keccak is on-chain) and every object by its SHA-256."""
    deployment = world.call("GET", "/deployment", "/deployment").json()
    assert deployment["tournament"] == world.chain.deployment.tournament and deployment["chain_id"] == 31337
    rules = world.call("GET", "/rounds/1/rules", "/rounds/{round}/rules").json()
    assert rules["round"] == 1 and rules["live"]["ids"] == LIVE_IDS and rules["params"]["min_live_share"] == 1.0
    unopened = world.call("GET", "/rounds/2/rules", "/rounds/{round}/rules")
    assert unopened.status_code == 404 and unopened.json()["error"]["code"] == "no_rules"

    proposal = world.operator.client.current_proposal(1)
    name = proposal.manifest_uri.rsplit("/", 1)[-1]
    manifest = world.call("GET", f"/bundles/rounds/1/{name}", "/bundles/rounds/{round}/{name}")
    assert manifest.status_code == 200
    assert "0x" + keccak(manifest.content).hex() == proposal.manifest_hash
    entry = next(iter(json.loads(manifest.content)["files"].values()))
    some = next(
        p.rsplit("/", 1)[-1]
        for p in world.operator.store.fs.ls(world.operator.store.root + "/objects", detail=False)
        if p.rsplit("/", 1)[-1].startswith(entry["sha256"])
    )
    blob = world.call("GET", f"/bundles/objects/{some}", "/bundles/objects/{name}")
    assert blob.status_code == 200 and hashlib.sha256(blob.content).hexdigest() == some.split(".")[0]
    for path in (
        "/bundles/objects/..%2Fdeployment.json",
        "/bundles/objects/notahash.json",
        "/bundles/rounds/1/manifest.json",
    ):
        refused = world.http.get(path)
        assert refused.status_code == 404, path


def test_metrics_show_the_open_round_without_a_scheduler(world: World) -> None:
    write_live(world.rounds_dir, 2, LIVE_IDS)
    assert [a.step for a in world.operator.open_due()] == ["open"]
    metrics = world.call("GET", "/metrics", "/metrics").text
    assert "tourney_open_round 2" in metrics


def test_unknown_paths_and_methods_use_the_error_body(world: World) -> None:
    missing = world.http.get("/nothing/here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = world.http.delete("/rounds")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_every_route_was_exercised(world: World) -> None:
    spec = world.call("GET", "/openapi.json", "/openapi.json").json()
    routes = {(method.upper(), path) for path, methods in spec["paths"].items() for method in methods}
    assert len(routes) >= 11
    assert routes - world.requested == set()
