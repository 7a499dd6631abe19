"""The operator's round state machine on a real Anvil: open, close, resolve (signatures, ownership, lateness, stakes
at risk replayed from chain events), propose, activate; veto and corrected re-proposal; idempotent bundles."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from eth_account import Account

from oracle.bundle.fetch import FetchPolicy
from oracle.bundle.round_bundle import load_bundle
from oracle.bundle.store import list_manifests
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.deploy import UNIT
from oracle.chain.tx import Sender
from oracle.operator.config import OperatorConfig
from oracle.operator.rounds import Operator
from oracle.protocol.inbox import Inbox
from oracle.protocol.submission import sign_submission
from oracle.scoring.params import RoundParams

WINDOW = 600
ROWS = 60
PARAMS = RoundParams(corr_weight=1.0, mmc_weight=0.0, clip=0.05, payout_threshold=10**30)


def write_round_data(directory: Path, round: int, rows: int = ROWS) -> list[str]:
    """live_<r>.parquet and targets_<r>.parquet with ids and five-level targets; returns the ids."""
    rng = np.random.default_rng(round)
    ids = [f"r{round}id{i:04d}" for i in range(rows)]
    directory.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ids, "feature_0": rng.random(rows)}).to_parquet(directory / f"live_{round:05d}.parquet")
    targets = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=rows)
    pd.DataFrame({"id": ids, "target": targets}).to_parquet(directory / f"targets_{round:05d}.parquet")
    return ids


def prediction_file(ids: list[str], seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.StringIO()
    pd.DataFrame({"id": ids, "prediction": np.round(rng.random(len(ids)), 6)}).to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def register(chain, account, stake: int) -> int:
    sender = Sender(chain.w3, account)
    receipt = sender.transact(chain.tournament.functions.registerModel())
    model_id = int(chain.tournament.events.ModelRegistered().process_receipt(receipt)[0]["args"]["modelId"])
    if stake:
        sender.transact(chain.token.functions.approve(chain.tournament.address, stake))
        sender.transact(chain.tournament.functions.stake(model_id, stake))
    return model_id


def submit(chain, inbox: Inbox, account, round: int, model_id: int, data: bytes) -> None:
    """Deliver as ``tourney submit --inbox`` does: stamped with the chain's clock, which the close snapshot judges
    against closesAt (a wall-clock stamp would turn late once the session has run longer than the window)."""
    closes_at = TournamentClient(chain.w3, chain.deployment).round_state(round).closes_at
    sub = sign_submission(
        account, chain.deployment.chain_id, chain.tournament.address, round, model_id, data, closes_at
    )
    inbox.put(replace(sub, received_at=chain.now()), data)


def make_operator(chain, tmp_path: Path, max_rounds: int | None = None) -> Operator:
    config = OperatorConfig(
        store=str(tmp_path / "store"),
        inbox=str(tmp_path / "inbox"),
        round_data=str(tmp_path / "data"),
        params=PARAMS,
        submission_window=WINDOW,
        max_rounds=max_rounds,
    )
    return Operator(TournamentClient(chain.w3, chain.deployment), chain.oracle, config, hang_at=None)


def count(chain, event: str) -> int:
    return len(TournamentClient(chain.w3, chain.deployment).events([event]))


def test_round_resolves_with_rejections_and_chain_stakes(chain, participants, tmp_path: Path) -> None:
    p0, p1, p2, p3 = (p.account for p in participants)
    a = register(chain, p0, 1_000 * UNIT)
    b = register(chain, p1, 2_000 * UNIT)
    c = register(chain, p2, 500 * UNIT)
    d = register(chain, p3, 800 * UNIT)
    # b asks for 300 back before round 1 closes: that part is not at risk in round 1.
    Sender(chain.w3, p1).transact(chain.tournament.functions.requestWithdrawal(b, 300 * UNIT))
    op = make_operator(chain, tmp_path, max_rounds=1)
    ids = write_round_data(tmp_path / "data", 1)
    assert [x.step for x in op.step()] == ["open"]
    inbox = Inbox(tmp_path / "inbox")
    submit(chain, inbox, p0, 1, a, prediction_file(ids, 1))
    submit(chain, inbox, p1, 1, b, prediction_file(ids, 2))
    submit(chain, inbox, p3, 1, c, prediction_file(ids, 3))  # signed by someone who does not own c
    submit(chain, inbox, p3, 1, 99, prediction_file(ids, 4))  # no such model
    # Stake added while the round is open counts: it is in before the close.
    Sender(chain.w3, p3).transact(chain.token.functions.approve(chain.tournament.address, 200 * UNIT))
    Sender(chain.w3, p3).transact(chain.tournament.functions.stake(d, 200 * UNIT))
    chain.advance(WINDOW + 1)
    assert [x.step for x in op.close_due()] == ["close"]
    # After the close: a late submission, a model registered too late, stake that no longer counts.
    submit(chain, inbox, p3, 1, d, prediction_file(ids, 5))
    late_model = register(chain, p2, 100 * UNIT)
    Sender(chain.w3, p0).transact(chain.token.functions.approve(chain.tournament.address, 50 * UNIT))
    Sender(chain.w3, p0).transact(chain.tournament.functions.stake(a, 50 * UNIT))

    actions = op.step()
    assert [x.step for x in actions] == ["propose"]
    proposal = op.client.current_proposal(1)
    bundle = load_bundle(proposal.manifest_uri, proposal.manifest_hash)
    stakes = dict(zip(bundle.stakes()["model_id"], bundle.stakes()["stake_at_risk"]))
    assert stakes == {a: 1_000 * UNIT, b: 1_700 * UNIT, c: 500 * UNIT, d: 1_000 * UNIT}
    assert late_model not in stakes
    assert bundle.manifest.totals.stake_at_risk == 4_200 * UNIT
    reasons = {(r["model_id"], r["reason"]) for r in bundle.json("rejections.json")}
    assert reasons == {(c, "not_owner"), (99, "unknown_model"), (d, "late")}
    assert sorted(c for c in bundle.predictions().columns if c != "id") == sorted([str(a), str(b)])
    # Only the scored models move; the proposal commits to the bundle's totals.
    scores = bundle.scores().set_index("model")
    assert int(scores.loc[str(c), "payout"]) == int(scores.loc[str(c), "burn"]) == 0
    assert proposal.payout_total == bundle.manifest.totals.round_payout
    assert proposal.burn_total == bundle.manifest.totals.round_burn
    assert proposal.manifest_hash == bundle.keccak256

    chain.advance(op.client.round_state(1).challenge_period + 1)
    assert [x.step for x in op.step()] == ["activate"]  # max_rounds=1: no round 2
    assert op.client.round_state(1).status is RoundStatus.ACTIVE
    assert op.step() == []


def test_same_inputs_reuse_the_bundle_and_nothing_posts_twice(chain, participants, tmp_path: Path) -> None:
    acct = participants[0].account
    model = register(chain, acct, 1_000 * UNIT)
    op = make_operator(chain, tmp_path, max_rounds=1)
    ids = write_round_data(tmp_path / "data", 1)
    op.step()
    submit(chain, Inbox(tmp_path / "inbox"), acct, 1, model, prediction_file(ids, 9))
    chain.advance(WINDOW + 1)
    op.close_due()
    first = op.build_bundle(1)[:2]
    second = op.build_bundle(1)[:2]
    assert first == second
    nonce = chain.w3.eth.get_transaction_count(chain.oracle.address)
    op.resolve_and_propose(1)
    again = op.resolve_and_propose(1)
    assert again.detail == "already proposed" and again.tx is None
    assert chain.w3.eth.get_transaction_count(chain.oracle.address) == nonce + 1
    assert len(list_manifests(tmp_path / "store", 1)) == 1


def test_veto_then_corrected_reproposal(chain, participants, tmp_path: Path) -> None:
    accounts = [p.account for p in participants[:2]]
    models = [register(chain, acct, 1_000 * UNIT) for acct in accounts]
    op = make_operator(chain, tmp_path, max_rounds=2)
    ids = write_round_data(tmp_path / "data", 1)
    op.step()
    for i, (acct, model) in enumerate(zip(accounts, models)):
        submit(chain, Inbox(tmp_path / "inbox"), acct, 1, model, prediction_file(ids, 20 + i))
    chain.advance(WINDOW + 1)
    op.close_due()

    def inflate(scores: pd.DataFrame) -> pd.DataFrame:
        scores.loc[scores["model"] == str(models[0]), "payout"] = 7 * UNIT
        scores.loc[scores["model"] == str(models[0]), "burn"] = 0
        return scores

    bad = op.resolve_and_propose(1, tamper=inflate)
    chain.guardian.transact(chain.tournament.functions.vetoRoot(1))
    assert op.client.round_state(1).status is RoundStatus.VETOED
    good = [x for x in op.step() if x.step == "propose"]
    assert len(good) == 1 and good[0].detail != bad.detail
    proposals = op.client.proposals(1)
    assert len(proposals) == 2 and proposals[0].manifest_hash != proposals[1].manifest_hash
    honest = load_bundle(proposals[1].manifest_uri, proposals[1].manifest_hash).scores().set_index("model")
    assert int(honest.loc[str(models[0]), "payout"]) != 7 * UNIT
    assert len(list_manifests(tmp_path / "store", 1)) == 2


def test_round_waits_for_targets(chain, participants, tmp_path: Path) -> None:
    register(chain, participants[0].account, 0)  # the operator opens no round before the first model
    op = make_operator(chain, tmp_path, max_rounds=1)
    write_round_data(tmp_path / "data", 1)
    (tmp_path / "data" / "targets_00001.parquet").unlink()
    op.step()
    chain.advance(WINDOW + 1)
    assert [x.step for x in op.step()] == ["close"]
    assert op.client.round_state(1).status is RoundStatus.CLOSED
    assert count(chain, "RootProposed") == 0


def test_operator_without_rpc_exits_nonzero_with_a_clear_error(tmp_path: Path, participants, deployed) -> None:
    import subprocess
    import sys

    from oracle.chain.anvil import free_port
    from oracle.chain.keystore import Keystore

    Keystore(tmp_path / "ks", scrypt_n=2**10).import_key("oracle", bytes(Account.create().key), "pw")
    env = {
        "TOURNEY_RPC": f"http://127.0.0.1:{free_port()}",
        "TOURNEY_DEPLOYMENT": str(deployed.deployment_file),
        "TOURNEY_KEYSTORE_DIR": str(tmp_path / "ks"),
        "TOURNEY_ACCOUNT": "oracle",
        "TOURNEY_PASSWORD": "pw",
        "PATH": "/usr/bin:/bin",
    }
    tourney = str(Path(sys.executable).parent / "tourney")
    done = subprocess.run(
        [
            tourney,
            "operator",
            "run",
            "--once",
            "--store",
            str(tmp_path / "s"),
            "--inbox",
            str(tmp_path / "i"),
            "--round-data",
            str(tmp_path / "d"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "does not answer" in done.stderr
    assert "Traceback" not in done.stderr


def test_event_reads_in_small_windows_equal_one_read(chain, participants, tmp_path: Path) -> None:
    # The same events whether the node is asked 2,000 blocks at a time or one block at a time.
    for p in participants[:2]:
        register(chain, p.account, 10 * UNIT)
    wide = TournamentClient(chain.w3, chain.deployment).events()
    narrow = TournamentClient(chain.w3, chain.deployment, chunk=1).events()
    assert [(e.name, e.block, e.log_index) for e in narrow] == [(e.name, e.block, e.log_index) for e in wide]
    names = [e.name for e in wide]
    assert names.count("ModelRegistered") >= 2 and names.count("Staked") >= 2
    with pytest.raises(ValueError, match="no event"):
        TournamentClient(chain.w3, chain.deployment).events(["NoSuchEvent"])


# ------------------------------------------------------------------------------------------ one pending round, lapse


def test_one_pending_round_at_a_time_and_a_lapsed_round_adds_nothing(chain, participants, tmp_path: Path) -> None:
    accounts = [p.account for p in participants[:2]]
    models = [register(chain, acct, 1_000 * UNIT) for acct in accounts]
    op = make_operator(chain, tmp_path, max_rounds=3)
    inbox = Inbox(tmp_path / "inbox")
    for r in (1, 2, 3):
        write_round_data(tmp_path / "data", r)
    assert [x.step for x in op.step()] == ["open"]
    for i, (acct, model) in enumerate(zip(accounts, models)):
        submit(chain, inbox, acct, 1, model, prediction_file(write_round_data(tmp_path / "data", 1), 60 + i))
    chain.advance(WINDOW + 1)
    # Round 1 closes and is proposed; round 2 opens.
    assert [x.step for x in op.step()] == ["close", "propose", "open"]
    chain.advance(WINDOW + 1)
    # Round 2 closes while round 1 still waits out its window (600 s; 601 s passed, so it is due): activating
    # round 1 comes first, then round 2 may be proposed. Before that, round 2 is not proposed.
    op.close_due()
    assert op.propose_due() == [] and count(chain, "RootProposed") == 1
    assert [x.step for x in op.step()] == ["activate", "propose", "open"]

    # Round 2's proposal is never activated: the oracle goes quiet. A day after its close it lapses.
    client = op.client
    state2 = client.round_state(2)
    chain.advance(state2.lapses_at - chain.now())
    # Round 3 closes, round 2 lapses, and round 3 (closed later, so still before its own deadline) is proposed.
    assert [x.step for x in op.step()] == ["close", "lapse", "propose"]
    assert client.round_state(2).status is RoundStatus.LAPSED
    assert client.round_state(2).last_active_at_or_before == 1
    assert client.cursor() == (3, 2, 1)

    # Round 3 builds on round 1's leaves: round 2's result is zero and has no tree.
    proposal3 = client.current_proposal(3)
    bundle3 = load_bundle(proposal3.manifest_uri, proposal3.manifest_hash)
    bundle1 = load_bundle(client.current_proposal(1).manifest_uri)
    assert bundle3.manifest.previous.round == 1 and bundle3.manifest.previous.keccak256 == bundle1.keccak256
    leaves1 = {
        int(m): (int(p), int(b))
        for m, p, b in zip(bundle1.scores()["model"], bundle1.scores()["payout"], bundle1.scores()["burn"])
    }
    assert bundle3.previous_cumulative() == leaves1
    stakes3 = dict(zip(bundle3.stakes()["model_id"], bundle3.stakes()["stake_at_risk"]))
    assert stakes3 == {m: 1_000 * UNIT + leaves1[m][0] - leaves1[m][1] for m in models}
    from oracle.auditor.verify import verify_round

    verdict = verify_round(client, 3, policy=FetchPolicy(roots=(str(tmp_path / "store"),)))
    assert verdict.ok, [d.describe() for d in verdict.differences]


def test_a_round_too_close_to_its_deadline_is_not_proposed_and_lapses(chain, participants, tmp_path: Path) -> None:
    model = register(chain, participants[0].account, 1_000 * UNIT)
    op = make_operator(chain, tmp_path, max_rounds=1)
    ids = write_round_data(tmp_path / "data", 1)
    (tmp_path / "data" / "targets_00001.parquet").unlink()
    op.step()
    submit(chain, Inbox(tmp_path / "inbox"), participants[0].account, 1, model, prediction_file(ids, 3))
    chain.advance(WINDOW + 1)
    assert [x.step for x in op.step()] == ["close"]
    state = op.client.round_state(1)
    # The targets arrive when less than a challenge window is left before the deadline: no proposal can be
    # activated in time, so the operator does not send one (the contract would refuse it: ProposalPastLapse).
    chain.advance(state.lapses_at - state.challenge_period - chain.now() + 1)
    write_round_data(tmp_path / "data", 1)
    assert op.step() == [] and count(chain, "RootProposed") == 0
    chain.advance(state.challenge_period)
    assert [x.step for x in op.step()] == ["lapse"]
    assert op.client.round_state(1).status is RoundStatus.LAPSED
    assert op.client.cursor() == (1, 1, 0)


# ------------------------------------------------------------------------------------------ payouts within the reserve


def test_payouts_are_scaled_to_the_free_reserve_and_the_auditor_recomputes_it(
    chain, participants, tmp_path: Path
) -> None:
    """A tournament whose reserve holds 1 token: the round's payouts (tens of tokens unscaled) are scaled down to
    it by the manifest's rule, the proposal fits, activates and settles; a limit misstated in the manifest is
    named by the auditor."""
    from dataclasses import replace as replace_field

    from oracle.auditor.verify import verify_round
    from oracle.bundle.manifest import PayoutLimit
    from oracle.bundle.write import write_round_bundle
    from oracle.chain.connection import Connection
    from oracle.chain.deploy import DeployParams, deploy
    from oracle.participant.settle import settle_all
    from oracle.scoring.pipeline import score_round

    challenge = int(chain.tournament.functions.bounds().call()[0])  # the session deployment's, reused here
    deployment = deploy(
        chain.admin,
        DeployParams(challenge_period=challenge),
        oracle=chain.oracle.address,
        guardian=chain.guardian.address,
        pauser=chain.admin.address,
    )
    small = replace_field(chain, deployment=deployment)
    small.admin.transact(small.token.functions.approve(small.tournament.address, UNIT))
    small.admin.transact(small.tournament.functions.fundReserve(UNIT))
    accounts = [p.account for p in participants[:3]]
    for acct in accounts:
        small.admin.transact(small.token.functions.transfer(acct.address, 10_000 * UNIT))
    models = [register(small, acct, 5_000 * UNIT) for acct in accounts]
    op = make_operator(small, tmp_path, max_rounds=1)
    ids = write_round_data(tmp_path / "data", 1)
    op.step()
    # Predictions equal to the targets score the highest CORR: every model is paid its 5% cap unscaled.
    targets = pd.read_parquet(tmp_path / "data" / "targets_00001.parquet")["target"].tolist()
    good = io.StringIO()
    pd.DataFrame({"id": ids, "prediction": targets}).to_csv(good, index=False)
    for acct, model in zip(accounts, models):
        submit(small, Inbox(tmp_path / "inbox"), acct, 1, model, good.getvalue().encode())
    small.advance(WINDOW + 1)
    assert [x.step for x in op.step()] == ["close", "propose"]

    client = op.client
    proposal = client.current_proposal(1)
    bundle = load_bundle(proposal.manifest_uri, proposal.manifest_hash)
    assert bundle.manifest.payout_limit == PayoutLimit(UNIT, client.close_event(1).block)
    payouts = [int(v) for v in bundle.scores()["payout"]]
    unscaled = score_round(bundle.predictions(), bundle.targets(), bundle.stake_map(), bundle.params())
    assert unscaled.total_payout > 10 * UNIT  # far above the reserve before scaling
    assert sum(payouts) == proposal.payout_total <= UNIT
    assert payouts == [p * UNIT // unscaled.total_payout for p in (int(v) for v in unscaled.scores["payout"])]
    verdict = verify_round(client, 1, policy=FetchPolicy(roots=(str(tmp_path / "store"),)))
    assert verdict.ok, [d.describe() for d in verdict.differences]

    small.advance(challenge + 1)
    assert [x.step for x in op.step()] == ["activate"]
    keeper = Connection(small.w3, deployment, small.keeper.account, _sender=small.keeper)
    assert sorted(settle_all(keeper, 1).settled) == sorted(models)
    assert client.reserve() == UNIT - sum(payouts) and client.free_reserve() == UNIT - sum(payouts)
    for model, payout in zip(sorted(models), (int(v) for v in bundle.scores().sort_values("model")["payout"])):
        assert client.stake_of(model) == 5_000 * UNIT + payout

    # A manifest whose limit is understated (and payouts scaled to it) is caught.
    lower = PayoutLimit(UNIT // 2, bundle.manifest.payout_limit.block)
    rescored = score_round(
        bundle.predictions(), bundle.targets(), bundle.stake_map(), bundle.params(), payout_limit=lower.limit
    )
    extras = {
        name: bundle.raw(name) for name in bundle.files if name.startswith("submission") or name == "rejections.json"
    }
    write_round_bundle(
        tmp_path / "store",
        1,
        predictions=bundle.predictions(),
        targets=bundle.targets(),
        stakes=bundle.stakes(),
        scores=rescored.scores,
        params=bundle.params(),
        previous_cumulative={},
        chain=bundle.manifest.chain,
        extra_files=extras,
        payout_limit=lower,
    )
    from oracle.auditor.verify import check_payout_limit
    from oracle.bundle.round_bundle import latest_manifest

    tampered = load_bundle(latest_manifest(tmp_path / "store", 1))
    assert tampered.keccak256 != bundle.keccak256
    found = {(d.scope, d.subject, d.field) for d in check_payout_limit(client, proposal, tampered)}
    assert found == {("payout_limit", "manifest", "limit")}


def test_operator_refuses_a_clip_above_the_rounds_caps(chain, participants, tmp_path: Path) -> None:
    """L-6: the clip bounds each model's payout and burn; a clip above the round's on-chain caps contradicts them, so
    the operator neither opens nor resolves such a round (it says which cap and what clip would fit)."""
    from dataclasses import replace

    from oracle.operator.config import OperatorError

    _, payout_cap, burn_cap = TournamentClient(chain.w3, chain.deployment).bounds()
    assert (payout_cap, burn_cap) == (500, 500)  # the test deployment's caps: 5%
    wide = replace(PARAMS, clip=0.06)
    op = make_operator(chain, tmp_path, max_rounds=1)
    greedy = Operator(op.client, chain.oracle, replace(op.config, params=wide), hang_at=None)
    # The live data published first: without it the operator stops at the missing data and never reaches the caps.
    write_round_data(tmp_path / "data", 1)
    with pytest.raises(
        OperatorError,
        match=r"round 1 \(not opened\): params.clip 0.06 \(600 bps\) exceeds the "
        r"payout cap of 500 bps .* at most 0.05",
    ):
        greedy.open_due()
    assert count(chain, "RoundOpened") == 0
    # Opened with a clip that fits, resolved with one that does not: refused before any bundle is written.
    register(chain, participants[0].account, 100 * UNIT)
    assert [a.step for a in op.open_due()] == ["open"]
    chain.advance(WINDOW + 1)
    op.close_due()
    with pytest.raises(OperatorError, match=r"round 1 \(not resolved\): params.clip 0.06"):
        greedy.propose_due()
    assert list_manifests(tmp_path / "store", 1) == [] and count(chain, "RootProposed") == 0
    assert [a.step for a in op.propose_due()] == ["propose"]


def test_closing_beside_the_service_without_its_database_is_refused(chain, tmp_path: Path) -> None:
    """The service keeps receipts in its database and only the files in the inbox: an operator command pointed at
    such an inbox without ``--db`` would snapshot a round of no submissions, so it refuses and says why."""
    import subprocess
    import sys

    from oracle.chain.keystore import Keystore

    Keystore(tmp_path / "ks", scrypt_n=2**10).import_key("oracle", bytes(chain.oracle.local_account.key), "pw")
    (tmp_path / "inbox" / "objects").mkdir(parents=True)
    (tmp_path / "inbox" / "objects" / f"{'ab' * 32}.csv").write_text("id,prediction\na,0.5\n")
    env = {
        "TOURNEY_RPC": chain.url,
        "TOURNEY_DEPLOYMENT": str(chain.deployment_file),
        "TOURNEY_KEYSTORE_DIR": str(tmp_path / "ks"),
        "TOURNEY_ACCOUNT": "oracle",
        "TOURNEY_PASSWORD": "pw",
        "TOURNEY_STORE": str(tmp_path / "store"),
        "TOURNEY_INBOX": str(tmp_path / "inbox"),
        "TOURNEY_ROUND_DATA": str(tmp_path / "data"),
        "PATH": "/usr/bin:/bin",
    }
    tourney = str(Path(sys.executable).parent / "tourney")

    def close(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tourney, "round", "close", *extra], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    refused = close()
    assert refused.returncode == 2
    assert "holds prediction files but no submission records" in refused.stderr
    assert "--db" in refused.stderr
    # With the service's database the command goes on (no round is open: nothing to close).
    done = close("--db", f"sqlite:///{tmp_path / 'state' / 'service.db'}")
    assert done.returncode == 0, done.stderr
    assert "holds prediction files" not in done.stderr + done.stdout
