"""Receipts end to end on a real Anvil and a real ``tourney serve --no-scheduler`` beside an operator (reading the
service's database):
``tourney submit --to`` keeps the operator's receipt, ``tourney status`` marks it against the published bundle,
``tourney verify --receipts`` fails a round whose bundle drops or swaps a receipted file (naming the model) and only
warns about forged receipts; and the operator's close snapshot, taken after the close is mined, keeps exactly the
submissions stamped before ``closesAt``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import pytest
from eth_account import Account

from oracle.bundle.manifest import canonical_json
from oracle.bundle.round_bundle import load_bundle
from oracle.chain.anvil import dev_private_keys
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.clock import format_time
from oracle.chain.connection import connect
from oracle.chain.deploy import UNIT
from oracle.operator.config import OperatorConfig
from oracle.operator.intake import submission_file_name
from oracle.operator.rounds import Operator
from oracle.participant.models import register_model
from oracle.participant.receipts import load_receipts, save_receipt
from oracle.participant.stake import stake
from oracle.protocol.inbox import Inbox
from oracle.protocol.receipt import sign_receipt
from oracle.protocol.submission import sign_submission
from oracle.scoring.params import RoundParams
from oracle.testing.harness import ServiceProcess, prediction_csv, start_service, write_live, write_targets
from oracle.testing.service_state import service_submissions

TOURNEY = str(Path(sys.executable).with_name("tourney"))
WINDOW = 900
LIVE = 40
PARAMS = RoundParams(corr_weight=1.0, mmc_weight=0.0, clip=0.05, payout_threshold=10**30)


def tourney(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # PYTHONPATH passes through: a checkout other than the installed one runs its own package.
    inherited = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
    return subprocess.run(
        [TOURNEY, *args],
        env={**env, "PATH": "/usr/bin:/bin", **inherited},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def make_operator(chain: Any, workdir: Path, submissions: Any = None) -> Operator:
    config = OperatorConfig(
        store=str(workdir / "store"),
        inbox=str(workdir / "inbox"),
        round_data=str(workdir / "rounds"),
        params=PARAMS,
        submission_window=WINDOW,
        max_rounds=1,
    )
    return Operator(
        TournamentClient(chain.w3, chain.deployment), chain.oracle, config, hang_at=None, submissions=submissions
    )


def staked_models(chain: Any, participant: Any, count: int) -> list[int]:
    conn = connect(chain.url, chain.deployment, participant.account)
    models = [register_model(conn)[0] for _ in range(count)]
    for model_id in models:
        stake(conn, model_id, 100 * UNIT)
    return models


@pytest.fixture
def service(chain: Any, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The service without its scheduler: the operator runs beside it, as ``tourney operator run`` would."""
    (tmp_path / "rounds").mkdir()
    process = start_service(chain.url, chain.deployment_file, dev_private_keys(2)[1], tmp_path, scheduler=False)
    try:
        yield process
    finally:
        process.stop()


def censor(op: Operator, round: int, keep: Any) -> None:
    """Rewrite the operator's stored snapshot: what a dishonest operator would do before proposing."""
    snapshot = op.load_snapshot(round)
    snapshot["submissions"] = [keep(item) for item in snapshot["submissions"]]
    snapshot["submissions"] = [item for item in snapshot["submissions"] if item is not None]
    op.store.put_record(op.snapshot_name(round), canonical_json(snapshot))


def test_submit_to_service_then_status_and_verify_hold_the_bundle_to_its_receipts(
    chain: Any, participants: list[Any], participant_env: dict[str, str], service: ServiceProcess, tmp_path: Path
) -> None:
    p0 = participants[0]
    a, b = staked_models(chain, p0, 2)
    # The operator beside the service snapshots rounds from the service's database (tourney operator run --db).
    op = make_operator(chain, tmp_path, submissions=service_submissions(tmp_path))
    ids = write_live(tmp_path / "rounds", 1, LIVE)
    assert [x.step for x in op.open_due()] == ["open"]
    receipts_dir = tmp_path / "receipts"
    env = {
        **participant_env,
        "TOURNEY_RECEIPTS_DIR": str(receipts_dir),
        "TOURNEY_MANIFEST_ROOTS": str(tmp_path / "store"),
    }
    files = {}
    for name, seed in (("a.csv", 1), ("b1.csv", 2), ("b2.csv", 3)):
        files[name] = tmp_path / name
        files[name].write_bytes(prediction_csv(ids, seed))

    # Exactly one way of delivering.
    neither = tourney(env, "submit", "--round", "1", "--model", str(a), str(files["a.csv"]))
    both = tourney(
        env,
        "submit",
        "--round",
        "1",
        "--model",
        str(a),
        "--to",
        service.url,
        "--inbox",
        str(tmp_path / "inbox"),
        str(files["a.csv"]),
    )
    assert neither.returncode == both.returncode == 2
    assert "exactly one of --to" in neither.stderr and "exactly one of --to" in both.stderr

    sent = tourney(env, "submit", "--round", "1", "--model", str(a), "--to", service.url, "--json", str(files["a.csv"]))
    assert sent.returncode == 0, sent.stderr
    out = json.loads(sent.stdout)
    receipt = out["receipt"]
    assert receipt["operator"] == chain.oracle.address and int(receipt["model_id"]) == a
    assert receipt["predictions_hash"] == out["predictions_hash"]
    assert Path(out["receipt_path"]).parent.parent.parent == receipts_dir
    human = tourney(env, "submit", "--round", "1", "--model", str(b), "--to", service.url, str(files["b1.csv"]))
    assert human.returncode == 0, human.stderr
    assert "receipt: received at" in human.stdout and chain.oracle.address in human.stdout
    first_b = next(r for r in load_receipts(receipts_dir)[0] if r.model_id == b)
    # Chain time moves on (a block), then B is replaced: its newest receipt names b2.
    chain.advance(5)
    again = tourney(env, "submit", "--round", "1", "--model", str(b), "--to", service.url, str(files["b2.csv"]))
    assert again.returncode == 0, again.stderr
    receipts, problems = load_receipts(receipts_dir)
    assert problems == [] and len(receipts) == 3

    chain.advance(WINDOW + 1)
    assert [x.step for x in op.close_due()] == ["close"]
    write_targets(tmp_path / "rounds", 1, ids)
    assert [x.step for x in op.propose_due()] == ["propose"]

    status = tourney(env, "status", "--model", str(a), "--model", str(b), "--json")
    assert status.returncode == 0, status.stderr
    marks = {
        m["model_id"]: [(r["round"], r["bundle"], r["genuine"]) for r in m["receipts"]]
        for m in json.loads(status.stdout)["models"]
    }
    assert marks == {a: [(1, "in bundle", True)], b: [(1, "in bundle", True)]}

    honest = tourney(env, "verify", "--round", "1", "--receipts", str(receipts_dir), "--json")
    assert honest.returncode == 0, honest.stdout + honest.stderr

    # A forged receipt (not signed by the chain's oracle) is a warning, not a failure.
    forged_dir = tmp_path / "forged"
    for r in receipts:
        save_receipt(forged_dir, r)
    save_receipt(
        forged_dir,
        sign_receipt(
            Account.create(),
            chain.deployment.chain_id,
            chain.tournament.address,
            1,
            a,
            "0x" + "11" * 32,
            receipt["received_at"] + 1,
        ),
    )
    warned = tourney(env, "verify", "--round", "1", "--receipts", str(forged_dir), "--json")
    assert warned.returncode == 0, warned.stdout + warned.stderr
    [verdict] = json.loads(warned.stdout)["verdicts"]
    assert len(verdict["warnings"]) == 1 and "not genuine" in verdict["warnings"][0]

    # The guardian vetoes; the operator re-proposes a bundle that drops A and carries B's older file (properly
    # signed by the participant, so every other check passes): the receipts prove censorship of both.
    chain.guardian.transact(chain.tournament.functions.vetoRoot(1))
    older = sign_submission(
        p0.account,
        chain.deployment.chain_id,
        chain.tournament.address,
        1,
        b,
        files["b1.csv"].read_bytes(),
        op.client.round_state(1).closes_at,
        file_name="b1.csv",
    )
    older = replace(older, received_at=first_b.received_at)
    entry = op.store.put_object(submission_file_name(b, "b1.csv"), files["b1.csv"].read_bytes())

    def drop_a_swap_b(item: dict[str, Any]) -> dict[str, Any] | None:
        model = item["record"]["model_id"]
        if model == a:
            return None
        return {"record": older.to_json(), "object": op.store.object_uri(entry)} if model == b else item

    censor(op, 1, drop_a_swap_b)
    assert [x.step for x in op.propose_due()] == ["propose"]
    assert op.client.round_state(1).status is RoundStatus.PROPOSED

    caught = tourney(env, "verify", "--round", "1", "--receipts", str(receipts_dir), "--json")
    assert caught.returncode == 1, caught.stdout + caught.stderr
    [verdict] = json.loads(caught.stdout)["verdicts"]
    kinds = {(d["subject"], d["field"]) for d in verdict["differences"] if d["scope"] == "receipt"}
    assert kinds == {(str(a), "missing"), (str(b), "hash_mismatch")}
    assert {str(a), str(b)} <= set(verdict["models"])
    # Without the receipts the censored round verifies: only the participant's evidence shows the censorship.
    blind = tourney(env, "verify", "--round", "1", "--json")
    assert blind.returncode == 0, blind.stdout
    human = tourney(env, "verify", "--round", "1", "--receipts", str(receipts_dir))
    assert human.returncode == 1 and "missing" in human.stdout and "hash_mismatch" in human.stdout

    status = tourney(env, "status", "--model", str(a), "--model", str(b), "--json")
    marks = {m["model_id"]: [r["bundle"] for r in m["receipts"]] for m in json.loads(status.stdout)["models"]}
    assert marks == {a: ["missing from bundle"], b: ["other hash"]}


class CloseRace(Operator):
    """An operator during whose close transaction the service stores one more on-time submission (as it may when
    it runs beside ``tourney operator run`` without the in-process gate). Only the timing is staged; the chain,
    the inbox and the transaction are real."""

    during_close: Any = None

    def _transact(self, fn: Any, action: str) -> Any:
        if action.startswith("close round") and self.during_close is not None:
            self.during_close()
        return super()._transact(fn, action)


def test_close_snapshot_is_taken_after_the_close_and_judged_by_closes_at(
    chain: Any, participants: list[Any], tmp_path: Path
) -> None:
    p0, p1, p2 = participants[:3]
    [a], [b], [c] = (staked_models(chain, p, 1) for p in (p0, p1, p2))
    config = make_operator(chain, tmp_path).config
    op = CloseRace(TournamentClient(chain.w3, chain.deployment), chain.oracle, config, hang_at=None)
    (tmp_path / "rounds").mkdir()
    ids = write_live(tmp_path / "rounds", 1, LIVE)
    op.open_due()
    closes_at = op.client.round_state(1).closes_at
    inbox = Inbox(tmp_path / "inbox")

    def deliver(account: Any, model: int, seed: int, received_at: int) -> str:
        data = prediction_csv(ids, seed)
        sub = sign_submission(account, chain.deployment.chain_id, chain.tournament.address, 1, model, data, closes_at)
        return inbox.put(replace(sub, received_at=received_at), data).signature

    on_time = deliver(p0.account, a, 1, closes_at - 100)
    chain.advance(WINDOW + 1)
    late = deliver(p1.account, b, 2, closes_at)  # stamped at closesAt: the round is closed by then
    stored_in_flight: list[str] = []
    op.during_close = lambda: stored_in_flight.append(deliver(p2.account, c, 3, closes_at - 1))
    assert [x.step for x in op.close_due()] == ["close"]
    assert stored_in_flight

    snapshot_bytes = op.store.get_record(op.snapshot_name(1))
    snapshotted = {item["record"]["signature"] for item in json.loads(snapshot_bytes)["submissions"]}
    assert snapshotted == {on_time, stored_in_flight[0]}
    assert late not in snapshotted

    # A crash between the close and the snapshot: the resumed operator takes the very same snapshot.
    op.store.fs.rm(op.store.record_path(op.snapshot_name(1)))
    op.close_due()
    assert op.store.get_record(op.snapshot_name(1)) == snapshot_bytes

    write_targets(tmp_path / "rounds", 1, ids)
    op.propose_due()
    proposal = op.client.current_proposal(1)
    bundle = load_bundle(proposal.manifest_uri, proposal.manifest_hash)
    assert sorted(e["model_id"] for e in bundle.json("submissions.json")) == sorted([a, c])
    [rejection] = bundle.json("rejections.json")
    assert (rejection["model_id"], rejection["reason"]) == (b, "late")
    assert rejection["detail"] == (
        f"received at {format_time(closes_at)}, at or after the round's close at {format_time(closes_at)} (chain time)"
    )


def test_submit_to_an_unreachable_service_fails_cleanly(
    chain: Any, participants: list[Any], participant_env: dict[str, str], tmp_path: Path
) -> None:
    from oracle.chain.anvil import free_port

    [a] = staked_models(chain, participants[0], 1)
    op = make_operator(chain, tmp_path)
    (tmp_path / "rounds").mkdir()
    ids = write_live(tmp_path / "rounds", 1, LIVE)
    op.open_due()
    path = tmp_path / "p.csv"
    path.write_bytes(prediction_csv(ids, 4))
    env = {**participant_env, "TOURNEY_RECEIPTS_DIR": str(tmp_path / "receipts")}
    done = tourney(
        env, "submit", "--round", "1", "--model", str(a), "--to", f"http://127.0.0.1:{free_port()}", str(path)
    )
    assert done.returncode == 1
    assert "does not answer" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "receipts").exists()
