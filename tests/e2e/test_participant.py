"""The participant side end to end on a real Anvil: wallets, staking with permit, withdrawals, signed submissions,
settlement by a third party, status."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from eth_account import Account

from oracle.bundle.write import amounts_by_model_id, write_round_bundle
from oracle.chain.client import ModelState
from oracle.chain.connection import connect
from oracle.chain.deploy import UNIT
from oracle.chain.keystore import Keystore
from oracle.chain.tx import ContractReverted
from oracle.cli import main
from oracle.participant.settle import settle_model
from oracle.protocol.inbox import Inbox
from oracle.protocol.submission import predictions_hash, sign_submission, submission_digest, verify_submission
from oracle.scoring.params import RoundParams
from oracle.scoring.pipeline import score_round
from oracle.settlement.leaves import cumulative_leaves, settlement_tree


def test_python_digest_equals_contract_submission_digest(chain, participants) -> None:
    sub = sign_submission(
        participants[0].account,
        chain.deployment.chain_id,
        chain.deployment.tournament,
        3,
        7,
        b"id,prediction\nn1,0.5\n",
        1_900_000_000,
    )
    onchain = chain.tournament.functions.submissionDigest(
        3, 7, bytes.fromhex(sub.predictions_hash[2:]), 1_900_000_000
    ).call()
    assert "0x" + onchain.hex() == submission_digest(
        sub.chain_id, sub.tournament, sub.round, sub.model_id, sub.predictions_hash, sub.deadline
    )


# ------------------------------------------------------------------------------------------------ helpers

IDS = [f"n{i}" for i in range(8)]
TARGETS = [0.0, 0.25, 0.5, 0.75, 1.0, 0.25, 0.75, 0.5]
PARAMS = RoundParams(corr_weight=1.0, mmc_weight=0.0, clip=0.05, payout_threshold=10**30)


def run(env: dict, *args: str, input: str | None = None) -> tuple[int, str, dict | None]:
    """Run ``tourney --json ...``; returns (exit code, stdout, parsed JSON or None)."""
    result = CliRunner().invoke(main, ["--json", *args], env=env, input=input, catch_exceptions=False)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        data = None
    return result.exit_code, result.stdout + result.stderr, data


def as_env(chain, participant) -> dict:
    return {
        "TOURNEY_RPC": chain.url,
        "TOURNEY_DEPLOYMENT": str(chain.deployment_file),
        "TOURNEY_KEYSTORE_DIR": str(participant.keystore_dir),
        "TOURNEY_PASSWORD": participant.password,
        "TOURNEY_ACCOUNT": participant.name,
    }


def register_and_stake(chain, participant, tokens: int) -> int:
    """Register a model for ``participant`` and stake ``tokens`` whole tokens, straight through the contract."""
    sender = chain.sender(participant.account)
    receipt = sender.transact(chain.tournament.functions.registerModel())
    model_id = chain.tournament.events.ModelRegistered().process_receipt(receipt)[0]["args"]["modelId"]
    sender.transact(chain.token.functions.approve(chain.tournament.address, tokens * UNIT))
    sender.transact(chain.tournament.functions.stake(model_id, tokens * UNIT))
    return int(model_id)


def open_round(chain, seconds: int = 1000) -> tuple[int, int]:
    closes_at = chain.now() + seconds
    receipt = chain.oracle.transact(chain.tournament.functions.openRound(closes_at))
    round_ = chain.tournament.events.RoundOpened().process_receipt(receipt)[0]["args"]["round"]
    return int(round_), closes_at


def close_round(chain, round_: int, closes_at: int) -> None:
    chain.advance(max(0, closes_at - chain.now()))
    chain.oracle.transact(chain.tournament.functions.closeRound(round_))


def resolve_round(
    chain,
    store: Path,
    round_: int,
    stake_at_risk: dict[int, int],
    columns: dict[int, list[float]],
    previous: dict[int, tuple[int, int]] | None = None,
) -> tuple[str, dict[int, int], dict[int, int]]:
    """Score a closed round, publish its bundle, propose, wait out the challenge window and activate.

    Returns (manifest URI, payout by model id, burn by model id). Stakes at risk are given by the test."""
    previous = previous or {}
    predictions = pd.DataFrame({"id": IDS, **{str(m): v for m, v in columns.items()}})
    targets = pd.DataFrame({"id": IDS, "target": TARGETS})
    stakes = pd.DataFrame(
        {
            "model": [str(m) for m in stake_at_risk],
            "model_id": list(stake_at_risk),
            "stake_at_risk": list(stake_at_risk.values()),
        }
    )
    scored = score_round(
        predictions, targets, pd.DataFrame({"model": stakes["model"], "stake": stakes["stake_at_risk"]}), PARAMS
    )
    ids = {str(m): m for m in stake_at_risk}
    payouts, burns = amounts_by_model_id(scored.scores, ids)
    leaves = cumulative_leaves(previous, payouts, burns, set(previous) | set(stake_at_risk))
    _, uri, digest = write_round_bundle(
        store,
        round_,
        predictions=predictions,
        targets=targets,
        stakes=stakes,
        scores=scored.scores,
        params=PARAMS,
        previous_cumulative=previous,
        leaves=leaves,
    )
    root = settlement_tree(leaves).root
    chain.oracle.transact(
        chain.tournament.functions.proposeRoot(round_, root, sum(payouts.values()), sum(burns.values()), digest, uri)
    )
    chain.advance(700)  # the deployment's challenge window is 600 s
    chain.keeper.transact(chain.tournament.functions.activateRoot(round_))
    return uri, payouts, burns


def model_state(chain, model_id: int) -> ModelState:
    return ModelState.of(model_id, chain.tournament.functions.modelState(model_id).call())


# ------------------------------------------------------------------------------------------------ accounts


def test_account_create_import_list_through_the_cli(tmp_path: Path) -> None:
    env = {"TOURNEY_KEYSTORE_DIR": str(tmp_path / "ks"), "TOURNEY_PASSWORD": "pw-from-env"}
    code, out, created = run(env, "account", "create", "alice")
    assert code == 0, out
    key = "0x" + "5a" * 32
    code, out, imported = run(env, "account", "import", "bob", input=key + "\n")
    assert code == 0, out
    assert imported["address"] == Account.from_key(key).address
    exported = tmp_path / "exported.json"
    other = Account.create()
    exported.write_text(json.dumps(Account.encrypt(other.key, "pw-from-env", iterations=2**10)))
    code, out, copied = run(env, "account", "import", "carol", "--keystore-file", str(exported))
    assert code == 0 and copied["address"] == other.address, out
    code, out, listed = run(env, "account", "list")
    assert code == 0, out
    assert [(a["name"], a["address"]) for a in listed["accounts"]] == [
        ("alice", created["address"]),
        ("bob", Account.from_key(key).address),
        ("carol", other.address),
    ]
    # The files are standard keystores: eth-account alone decrypts them with the password from the env.
    document = json.loads((tmp_path / "ks" / "bob.json").read_text())
    assert Account.from_key(Account.decrypt(document, "pw-from-env")).address == imported["address"]
    code, out, _ = run(env, "account", "create", "alice")
    assert code == 1 and "already exists" in out
    code, out, _ = run(env, "account", "import", "dave", input="0x1234\n")
    assert code == 1 and "64 hex digits" in out and not (tmp_path / "ks" / "dave.json").exists()


def test_wrong_password_is_refused_before_any_transaction(chain, participants) -> None:
    env = {**as_env(chain, participants[0]), "TOURNEY_PASSWORD": "not-the-password"}
    before = chain.tournament.functions.modelCount().call()
    code, _out, data = run(env, "model", "register")
    assert code == 1 and "wrong password" in data["error"]
    assert chain.tournament.functions.modelCount().call() == before


# ------------------------------------------------------------------------------------------------ register, stake


def test_register_and_stake_with_permit_in_one_transaction(chain, participants) -> None:
    p = participants[0]
    env = as_env(chain, p)
    code, out, registered = run(env, "model", "register")
    assert code == 0, out
    model_id = int(registered["model_id"])
    assert model_state(chain, model_id).owner == p.address
    nonce = chain.w3.eth.get_transaction_count(p.address)
    balance = chain.token.functions.balanceOf(p.address).call()
    code, out, _staked = run(env, "stake", "--model", str(model_id), "12.5")
    assert code == 0, out
    assert chain.w3.eth.get_transaction_count(p.address) == nonce + 1  # permit + stake: one transaction
    assert chain.token.functions.allowance(p.address, chain.tournament.address).call() == 0
    assert chain.token.functions.balanceOf(p.address).call() == balance - 125 * 10**17
    assert model_state(chain, model_id).net_deposits == 125 * 10**17
    code, out, listed = run(env, "model", "list")
    assert listed["models"] == [model_id]
    # Too many decimals, not a number, someone else's model: refused with the reason, nothing sent.
    for args, expected in (
        (("stake", "--model", str(model_id), "0.0000000000000000001"), "decimal places"),
        (("stake", "--model", str(model_id), "ten"), "not a number"),
        (("stake", "--model", "999", "1"), "not registered"),
    ):
        code, out, data = run(env, *args)
        assert code == 1 and expected in data["error"], (args, out)
    other = as_env(chain, participants[1])
    code, out, data = run(other, "stake", "--model", str(model_id), "1")
    assert code == 1 and "owned by" in data["error"]
    assert chain.w3.eth.get_transaction_count(p.address) == nonce + 1


# ------------------------------------------------------------------------------------------------ withdrawals


def test_withdrawal_waits_for_the_at_risk_round_then_settles_and_pays(chain, participants, tmp_path: Path) -> None:
    p = participants[0]
    env = as_env(chain, p)
    model_id = register_and_stake(chain, p, 100)
    round_, closes_at = open_round(chain)
    close_round(chain, round_, closes_at)
    code, out, requested = run(env, "unstake", "--model", str(model_id), "40")
    assert code == 0, out
    assert int(requested["pending"]) == 40 * UNIT and requested["after_round"] == round_

    # Before round 1 resolves: the CLI explains (and says by when it can be taken at the latest: the round's close
    # plus D), and the contract itself refuses with RoundNotResolved.
    lapses_at = chain.tournament.functions.roundInfo(round_).call()[4]
    code, out, data = run(env, "withdraw", "--model", str(model_id))
    assert code == 1 and f"waits for round {round_} to be resolved" in data["error"]
    assert f"by {lapses_at} at the latest" in data["error"]
    with pytest.raises(ContractReverted) as refused:
        chain.sender(p.account).transact(chain.tournament.functions.withdraw(model_id))
    assert refused.value.error == "RoundNotResolved"
    assert refused.value.args_by_name == {"round": round_, "lapsesAt": lapses_at}
    code, out, status = run(env, "status", "--model", str(model_id))
    assert code == 0, out
    [entry] = status["models"]
    assert entry["exit"]["ready"] is False and entry["exit"]["deadline"] == lapses_at
    assert entry["exit_bound"] == chain.tournament.functions.exitBound().call()

    good = [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.8, 0.6]  # close to the targets' order: a positive CORR
    _, payouts, burns = resolve_round(chain, tmp_path / "store", round_, {model_id: 100 * UNIT}, {model_id: good})
    assert payouts[model_id] > 0 and burns[model_id] == 0
    balance = chain.token.functions.balanceOf(p.address).call()
    code, out, paid = run(env, "withdraw", "--model", str(model_id))
    assert code == 0, out
    assert int(paid["paid"]) == 40 * UNIT
    assert chain.token.functions.balanceOf(p.address).call() == balance + 40 * UNIT
    state = model_state(chain, model_id)
    assert (state.settled_round, state.cumulative_payout, state.cumulative_burn, state.withdrawal) == (
        round_,
        payouts[model_id],
        0,
        0,
    )
    assert chain.tournament.functions.stakeOf(model_id).call() == 60 * UNIT + payouts[model_id]


# ------------------------------------------------------------------------------------------------ settlement, status


def test_settle_by_a_third_party_single_and_batch(chain, participants, tmp_path: Path) -> None:
    models = [register_and_stake(chain, p, 50 + 10 * i) for i, p in enumerate(participants[:3])]
    round_, closes_at = open_round(chain)
    close_round(chain, round_, closes_at)
    at_risk = {m: (50 + 10 * i) * UNIT for i, m in enumerate(models)}
    columns = {
        models[0]: [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.8, 0.6],  # right order: paid
        models[1]: [0.9, 0.7, 0.5, 0.3, 0.1, 0.8, 0.2, 0.4],  # reversed: burned
        models[2]: [0.2, 0.1, 0.6, 0.5, 0.9, 0.4, 0.7, 0.3],
    }
    uri, payouts, burns = resolve_round(chain, tmp_path / "store", round_, at_risk, columns)
    assert burns[models[1]] > 0
    keeper_dir = tmp_path / "keeper-ks"
    Keystore(keeper_dir, scrypt_n=2**10).import_key("keeper", bytes(chain.keeper.account.key), "kpw")
    keeper_env = {
        "TOURNEY_RPC": chain.url,
        "TOURNEY_DEPLOYMENT": str(chain.deployment_file),
        "TOURNEY_KEYSTORE_DIR": str(keeper_dir),
        "TOURNEY_PASSWORD": "kpw",
        "TOURNEY_ACCOUNT": "keeper",
    }

    # Library: the keeper settles the burned model alone.
    keeper = connect(chain.url, chain.deployment_file, chain.keeper.account)
    single = settle_model(keeper, models[1])
    assert single.settled == [models[1]] and single.gas_used > 0
    assert chain.tournament.functions.stakeOf(models[1]).call() == at_risk[models[1]] - burns[models[1]]

    # CLI: --all settles the rest in one batch and skips the one already settled.
    code, out, batch = run(keeper_env, "settle", "--all")
    assert code == 0, out
    assert sorted(batch["settled"]) == [models[0], models[2]] and batch["already_settled"] == [models[1]]
    assert len(batch["transactions"]) == 1
    for m in models:
        assert chain.tournament.functions.stakeOf(m).call() == at_risk[m] + payouts[m] - burns[m]
        assert model_state(chain, m).settled_round == round_
    code, out, again = run(keeper_env, "settle", "--all")
    assert code == 0 and again["settled"] == [] and again["transactions"] == []

    # Status shows the score, the amounts, the settled flag and a proof that the contract accepts.
    code, out, status = run(as_env(chain, participants[1]), "status")
    assert code == 0, out
    [entry] = status["models"]
    assert entry["model_id"] == models[1] and int(entry["stake"]) == at_risk[models[1]] - burns[models[1]]
    [r] = entry["rounds"]
    assert r["round"] == round_ and r["status"] == "active" and r["settled"] is True and r["manifest_uri"] == uri
    assert r["corr"] < 0 and int(r["burn"]) == burns[models[1]] and int(r["payout"]) == 0
    assert chain.tournament.functions.leafHash(models[1], 0, burns[models[1]]).call()  # leaf the proof is for
    proof = [bytes.fromhex(x[2:]) for x in r["proof"]]
    with pytest.raises(ContractReverted) as already:
        chain.keeper.transact(chain.tournament.functions.settle(round_, models[1], 0, burns[models[1]], proof))
    assert already.value.error == "AlreadySettled"  # proof valid: the contract got past InvalidProof


# ------------------------------------------------------------------------------------------------ submissions


def _write(path: Path, values: list) -> Path:
    path.write_text("id,prediction\n" + "".join(f"{i},{v}\n" for i, v in zip(IDS, values)))
    return path


def test_submit_resubmit_invalid_late_and_wrong_signer(chain, participants, tmp_path: Path) -> None:
    p = participants[0]
    env = as_env(chain, p)
    model_id = register_and_stake(chain, p, 10)
    round_, closes_at = open_round(chain)
    inbox_url = str(tmp_path / "inbox")
    # The round's live data where `tourney data download` puts it: submit checks every file against its ids.
    env["TOURNEY_DATA_DIR"] = str(tmp_path / "data")
    (tmp_path / "data").mkdir()
    pd.DataFrame({"id": IDS}).to_parquet(tmp_path / "data" / f"live_{round_}.parquet")
    first = _write(tmp_path / "first.csv", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    code, out, sent = run(
        env, "submit", "--round", str(round_), "--model", str(model_id), "--inbox", inbox_url, "--create", str(first)
    )
    assert code == 0, out
    assert sent["replaced"] is False and sent["deadline"] == closes_at
    sub, data = Inbox(inbox_url).get(round_, model_id)
    assert data == first.read_bytes() and sub.predictions_hash == predictions_hash(first.read_bytes())
    assert (
        verify_submission(
            sub,
            data,
            p.address,
            chain.now(),
            chain_id=chain.deployment.chain_id,
            tournament=chain.deployment.tournament,
            round=round_,
        )
        == []
    )
    onchain = chain.tournament.functions.submissionDigest(
        round_, model_id, bytes.fromhex(sub.predictions_hash[2:]), closes_at
    ).call()
    assert Account._recover_hash(onchain, signature=bytes.fromhex(sub.signature[2:])) == p.address

    second = _write(tmp_path / "second.csv", [0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    code, out, resent = run(
        env, "submit", "--round", str(round_), "--model", str(model_id), "--inbox", inbox_url, str(second)
    )
    assert code == 0 and resent["replaced"] is True, out
    [(latest, latest_data)] = Inbox(inbox_url).collect(round_)
    assert latest_data == second.read_bytes() and latest.predictions_hash == predictions_hash(second.read_bytes())

    bad = _write(tmp_path / "bad.csv", [0.1, 0.2, 1.5, 0.4, 0.5, 0.6, 0.7, 0.8])
    code, out, refused = run(
        env, "submit", "--round", str(round_), "--model", str(model_id), "--inbox", inbox_url, str(bad)
    )
    assert code == 1 and "out_of_range" in refused["error"] and f"model {model_id}" in refused["error"]
    assert Inbox(inbox_url).get(round_, model_id)[1] == second.read_bytes()  # the valid one is kept

    # Someone else's key over this model's file: the signature is genuine but not the owner's.
    forged = sign_submission(
        participants[1].account,
        chain.deployment.chain_id,
        chain.deployment.tournament,
        round_,
        model_id,
        first.read_bytes(),
        closes_at,
    )
    problems = verify_submission(forged, first.read_bytes(), p.address, chain.now())
    assert len(problems) == 1 and "not the model's owner" in problems[0]

    chain.advance(closes_at - chain.now())
    code, out, late = run(
        env, "submit", "--round", str(round_), "--model", str(model_id), "--inbox", inbox_url, str(first)
    )
    assert code == 1 and "too late" in late["error"]
    assert Inbox(inbox_url).get(round_, model_id)[1] == second.read_bytes()


def test_unstake_lower_and_cancel_through_the_cli(chain, participants, tmp_path: Path) -> None:
    p = participants[0]
    env = as_env(chain, p)
    model_id = register_and_stake(chain, p, 100)
    code, out, requested = run(env, "unstake", "--model", str(model_id), "40")
    assert code == 0 and int(requested["pending"]) == 40 * UNIT, out
    # Before the next close, lowering is free: the released amount is at risk again from the next round.
    code, out, lowered = run(env, "unstake", "--model", str(model_id), "--lower", "10")
    assert code == 0, out
    assert int(lowered["pending"]) == 10 * UNIT and lowered["at_risk_from"] == 1
    assert model_state(chain, model_id).withdrawal == 10 * UNIT
    for args, expected in (
        (("--lower", "10"), "does not lower"),
        (("--cancel", "5"), "--cancel takes no AMOUNT"),
        ((), "pass AMOUNT"),
    ):
        code, out, data = run(env, "unstake", "--model", str(model_id), *args)
        assert code != 0 and expected in out, (args, out)
    # After a close the model's request stays at risk in that round; cancelling it then is allowed too, and the
    # amount is at risk again from the round after.
    round_, closes_at = open_round(chain)
    close_round(chain, round_, closes_at)
    code, out, cancelled = run(env, "unstake", "--model", str(model_id), "--cancel")
    assert code == 0, out
    assert int(cancelled["pending"]) == 0 and cancelled["at_risk_from"] == round_ + 1
    state = model_state(chain, model_id)
    assert state.withdrawal == 0
    code, out, data = run(env, "unstake", "--model", str(model_id), "--cancel")
    assert code == 1 and "no pending withdrawal" in data["error"]


def test_a_second_top_up_settles_the_model_first(chain, participants, tmp_path: Path) -> None:
    """Deposits after two closes the model is not settled through would need two tranches: the contract refuses
    (TopUpPending) and ``tourney stake`` settles the model against the newest active root first."""
    p = participants[0]
    env = as_env(chain, p)
    model_id = register_and_stake(chain, p, 100)
    round1, closes_at = open_round(chain)
    close_round(chain, round1, closes_at)
    code, out, _ = run(env, "stake", "--model", str(model_id), "5")  # a tranche at risk from round 2
    assert code == 0, out
    good = [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.8, 0.6]
    resolve_round(chain, tmp_path / "store", round1, {model_id: 100 * UNIT}, {model_id: good})
    round2, closes_at = open_round(chain)
    close_round(chain, round2, closes_at)
    with pytest.raises(ContractReverted) as refused:
        chain.sender(p.account).transact(chain.tournament.functions.stake(model_id, 1))
    assert refused.value.error == "TopUpPending" and refused.value.args_by_name["settleThrough"] == round1
    nonce = chain.w3.eth.get_transaction_count(p.address)
    code, out, _staked = run(env, "stake", "--model", str(model_id), "7")
    assert code == 0, out
    assert chain.w3.eth.get_transaction_count(p.address) == nonce + 2  # settle, then stake
    state = model_state(chain, model_id)
    assert state.settled_round == round1 and state.tranche == 7 * UNIT and state.tranche_from == round2 + 1


def test_a_model_left_out_of_a_tree_stakes_and_leaves_at_once(chain, participants, tmp_path: Path) -> None:
    """A model with no stake when round 1 closed has no leaf in its tree (L-8). It stakes afterwards, asks for
    everything back before the next close, and the oracle goes silent: nothing of it was ever at risk, so the
    withdrawal pays at once, through the CLI."""
    env = as_env(chain, participants[1])
    staked = register_and_stake(chain, participants[0], 100)
    code, out, registered = run(env, "model", "register")
    assert code == 0, out
    late = int(registered["model_id"])
    round1, closes_at = open_round(chain)
    close_round(chain, round1, closes_at)
    good = [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.8, 0.6]
    resolve_round(chain, tmp_path / "store", round1, {staked: 100 * UNIT}, {staked: good})
    for args in (("stake", "--model", str(late), "20"), ("unstake", "--model", str(late), "20")):
        code, out, _ = run(env, *args)
        assert code == 0, out
    code, out, status = run(env, "status", "--model", str(late))
    assert code == 0 and status["models"][0]["exit"]["ready"] is True, out
    balance = chain.token.functions.balanceOf(participants[1].address).call()
    code, out, paid = run(env, "withdraw", "--model", str(late))
    assert code == 0 and int(paid["paid"]) == 20 * UNIT, out
    assert chain.token.functions.balanceOf(participants[1].address).call() == balance + 20 * UNIT
