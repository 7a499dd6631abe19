"""What a newcomer meets on a real chain (issue 16), through the ``tourney`` command: gas and tokens from the CLI,
the reward reserve funded in one command, a deployment by RPC URL, reverts in words with role names, the operator
naming the file it lacks and saying what comes next, a round not yet opened, and ``status`` saying why a model was
not scored. Each message is checked for what is wrong and what to do."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner
from test_operator import WINDOW, prediction_file, register, submit, write_round_data

from oracle.bundle.round_bundle import load_bundle
from oracle.chain.anvil import dev_private_keys, start_anvil
from oracle.chain.client import TournamentClient
from oracle.chain.deploy import UNIT
from oracle.chain.keystore import Keystore
from oracle.cli import main
from oracle.operator.config import OperatorConfig
from oracle.operator.rounds import Operator
from oracle.protocol.inbox import Inbox
from oracle.scoring.params import RoundParams
from oracle.testing.local import LocalTournament, local_tournament

KEYSTORE_PASSWORD = "newcomer-test"
TEST_SCRYPT_N = 2**10
PARAMS = RoundParams(corr_weight=1.0, mmc_weight=0.0, clip=0.05, payout_threshold=10**30)


def run(env: dict, *args: str) -> tuple[int, str, dict | None]:
    """``tourney ARGS`` in process; (exit code, the whole output on one line, the JSON document when --json)."""
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        data = None
    return result.exit_code, " ".join((result.stdout + result.stderr).split()), data


@pytest.fixture
def keys(tmp_path: Path) -> Keystore:
    """A keystore holding the admin's key (Anvil's account 0: the token supply, gas) as ``admin``."""
    keystore = Keystore(tmp_path / "keys", scrypt_n=TEST_SCRYPT_N)
    keystore.import_key("admin", bytes.fromhex(dev_private_keys(1)[0].removeprefix("0x")), KEYSTORE_PASSWORD)
    return keystore


def env_for(chain, keystore: Keystore, account: str, **extra: str) -> dict:
    return {
        "TOURNEY_RPC": chain.url,
        "TOURNEY_DEPLOYMENT": str(chain.deployment_file),
        "TOURNEY_KEYSTORE_DIR": str(keystore.directory),
        "TOURNEY_PASSWORD": KEYSTORE_PASSWORD,
        "TOURNEY_ACCOUNT": account,
        **extra,
    }


def operator_args(tmp_path: Path) -> list[str]:
    return [
        "--store",
        str(tmp_path / "store"),
        "--inbox",
        str(tmp_path / "inbox"),
        "--round-data",
        str(tmp_path / "data"),
        "--window",
        str(WINDOW),
    ]


# ------------------------------------------------------------------------------------------------ gas, tokens, reserve


@pytest.fixture
def paid_chain(tmp_path: Path) -> Iterator[LocalTournament]:
    """A chain of its own that charges for gas, as real chains do (the shared test chain has no base fee, so that
    gas figures are pure gas and a fresh account could transact without ether)."""
    node = start_anvil(accounts=4)
    try:
        node.web3().provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(10**9)])
        node.web3().provider.make_request("evm_mine", [])
        yield local_tournament(node, save_to=tmp_path / "paid-deployment.json")
    finally:
        node.stop()


def test_a_fresh_account_learns_it_needs_gas_and_gets_it_from_the_cli(paid_chain, keys: Keystore) -> None:
    chain = paid_chain
    fresh = keys.create("fresh", KEYSTORE_PASSWORD)
    code, out, _ = run(env_for(chain, keys, "fresh"), "model", "register")
    assert code == 1 and f"{fresh.address} has 0 ETH, not enough ether to pay for the gas" in out
    assert f"tourney token transfer --to {fresh.address} --eth 1" in out and "Traceback" not in out

    code, out, _ = run(env_for(chain, keys, "admin"), "token", "transfer", "--to", "fresh", "25.5", "--eth", "0.5")
    assert code == 0 and "sent 0.5 ETH to fresh" in out and "sent 25.5 STK to fresh" in out, out
    code, _, data = run(env_for(chain, keys, "admin"), "--json", "token", "balance", "fresh")
    assert code == 0
    [balance] = data["balances"]
    assert balance == {
        "name": "fresh",
        "address": fresh.address,
        "tokens": str(25_500_000_000_000_000_000),
        "ether": str(5 * 10**17),
    }
    code, out, _ = run(env_for(chain, keys, "fresh"), "model", "register")
    assert code == 0 and "registered model" in out


def test_the_reserve_is_funded_in_one_command_approving_first(chain, keys: Keystore) -> None:
    before = chain.tournament.functions.reserve().call()
    code, out, data = run(env_for(chain, keys, "admin"), "--json", "reserve", "fund", "1234.5")
    assert code == 0, out
    assert int(data["reserve"]) == before + 1_234_500_000_000_000_000_000 and len(data["transactions"]) == 2
    code, out, _ = run(env_for(chain, keys, "admin"), "reserve", "show")
    assert code == 0 and "reward reserve:" in out and "STK" in out
    poor = keys.create("poor", KEYSTORE_PASSWORD)
    chain.admin.send_ether(poor.address, 10**18)
    code, out, _ = run(env_for(chain, keys, "poor"), "reserve", "fund", "5")
    assert code == 1 and f"funding the reserve needs 5 STK but {poor.address} holds 0 STK" in out


def test_deploy_by_rpc_url_records_the_url_and_the_parameters(chain, keys: Keystore, tmp_path: Path) -> None:
    out_file = tmp_path / "mine.json"
    env = {"TOURNEY_KEYSTORE_DIR": str(keys.directory), "TOURNEY_PASSWORD": KEYSTORE_PASSWORD}
    code, out, data = run(
        env,
        "--json",
        "deploy",
        "--rpc",
        chain.url,
        "--account",
        "admin",
        "--out",
        str(out_file),
        "--challenge-period",
        "123",
        "--token-symbol",
        "TRY",
    )
    assert code == 0, out
    recorded = json.loads(out_file.read_text())
    assert recorded["rpc"] == chain.url and recorded["tournament"] == data["tournament"]
    tournament = chain.w3.eth.contract(address=recorded["tournament"], abi=chain.tournament.abi)
    assert tournament.functions.bounds().call()[0] == 123
    # Every role is the deployer's on a local chain, as `tourney deploy --help` says, in the file and on-chain.
    deployer = keys.address("admin")
    assert recorded["admin"] == deployer
    assert recorded["roles"] == {role: [deployer] for role in ("ORACLE_ROLE", "GUARDIAN_ROLE", "PAUSER_ROLE")}
    for role in ("ORACLE_ROLE", "GUARDIAN_ROLE", "PAUSER_ROLE", "DEFAULT_ADMIN_ROLE"):
        assert tournament.functions.hasRole(getattr(tournament.functions, role)().call(), deployer).call(), role
    assert chain.w3.eth.contract(address=recorded["token"], abi=chain.token.abi).functions.symbol().call() == "TRY"
    # The file now names its chain: the commands need neither --rpc nor anything else to reach it.
    code, out, _ = run({**env, "TOURNEY_DEPLOYMENT": str(out_file)}, "reserve", "show")
    assert code == 0 and "reward reserve: 0 TRY" in out
    code, out, _ = run(env, "deploy", "--rpc", chain.url, "--account", "admin", "--out", str(out_file))
    assert code == 1 and "refusing to replace it" in out
    assert json.loads(out_file.read_text()) == recorded


# ------------------------------------------------------------------------------------------------ reverts in words


def test_a_missing_role_and_an_oversized_withdrawal_read_as_sentences(
    chain, participants, keys: Keystore, tmp_path: Path
) -> None:
    p = participants[0]
    register(chain, p.account, 0)
    write_round_data(tmp_path / "data", 1)
    env = {**env_for(chain, keys, p.name), "TOURNEY_KEYSTORE_DIR": str(p.keystore_dir), "TOURNEY_PASSWORD": p.password}
    code, out, _ = run(env, "round", "open", *operator_args(tmp_path))
    assert code == 1, out
    assert f"open round 1 refused by the contract: {p.address} does not hold ORACLE_ROLE" in out
    assert "0x" + "0" * 10 not in out.split("ORACLE_ROLE")[0][-80:]  # the role by name, not as a hash

    code, out, data = run(env, "--json", "model", "register")
    model = str(data["model_id"])
    assert run(env, "stake", "--model", model, "10")[0] == 0
    code, out, _ = run(env, "unstake", "--model", model, "20")
    assert code == 1
    assert f"model {model} has 10 STK that can be withdrawn, less than the 20 STK asked: ask for at most 10 STK" in out


# ------------------------------------------------------------------------------------------------ the operator's inputs


def test_the_operator_names_the_file_it_lacks_and_what_comes_next(
    chain, participants, keys: Keystore, tmp_path: Path
) -> None:
    oracle_keys = Keystore(tmp_path / "oracle-keys", scrypt_n=TEST_SCRYPT_N)
    oracle_keys.import_key("oracle", bytes.fromhex(dev_private_keys(2)[1].removeprefix("0x")), KEYSTORE_PASSWORD)
    env = env_for(chain, oracle_keys, "oracle")
    (tmp_path / "data").mkdir()
    args = operator_args(tmp_path)

    code, out, _ = run(env, "round", "open", *args[:4], "--round-data", str(tmp_path / "nowhere"))
    assert code == 1 and f"round 1 is not opened: round data {tmp_path / 'nowhere'} does not exist" in out
    code, out, _ = run(env, "operator", "run", "--once", *args[:4], "--round-data", str(tmp_path / "nowhere"))
    assert code == 0 and f"next: round 1 is not opened: round data {tmp_path / 'nowhere'} does not exist" in out
    code, out, _ = run(env, "round", "open", *args)
    assert (
        code == 1
        and (
            f"round 1 is not opened: its live data is not published: no live_00001.parquet (or "
            f"live_1.parquet) under {tmp_path / 'data'}"
        )
        in out
    )
    code, out, _ = run(env, "operator", "run", "--once", *args)
    assert code == 0 and "nothing due now" in out and "next: round 1 is not opened: its live data" in out

    ids = write_round_data(tmp_path / "data", 1)
    (tmp_path / "data" / "targets_00001.parquet").unlink()
    code, out, _ = run(env, "round", "open", *args)
    assert code == 1 and "round 1 is not opened: no model is registered yet" in out
    register(chain, participants[0].account, 10 * UNIT)
    code, out, data = run(env, "--json", "operator", "run", "--once", *args)
    assert code == 0 and [a["step"] for a in data["actions"]] == ["open"]
    assert re.fullmatch(
        r"round 1 is open; it closes \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in (9 min \d+ s|10 min)\)", data["next"][-1]
    ), data["next"]
    rules = json.loads((tmp_path / "store" / "rules" / "round-1.json").read_text())
    assert rules["live"]["ids"] == len(ids) and rules["params"]["min_live_share"] == 1.0

    chain.advance(WINDOW + 1)
    code, out, data = run(env, "--json", "operator", "run", "--once", *args)
    assert [a["step"] for a in data["actions"]] == ["close"]
    assert data["next"][0] == (
        f"round 1 waits for its targets: publish targets_00001.parquet (or targets_1.parquet) under {tmp_path / 'data'}"
    )


def test_the_operator_warns_when_the_chains_clock_stands_still(
    chain, participants, tmp_path: Path, monkeypatch
) -> None:
    import oracle.chain.clock as clock

    register(chain, participants[0].account, 0)
    said: list[str] = []
    config = OperatorConfig(
        store=str(tmp_path / "store"),
        inbox=str(tmp_path / "inbox"),
        round_data=str(tmp_path / "data"),
        params=PARAMS,
        submission_window=WINDOW,
    )
    (tmp_path / "data").mkdir()
    operator = Operator(TournamentClient(chain.w3, chain.deployment), chain.oracle, config, log=said.append)
    latest = chain.now()
    # The wall clock as a chain with --block-time 1 would keep up with it, then minutes past its latest block.
    monkeypatch.setattr(clock.time, "time", lambda: latest + 5.0)
    operator.step()
    assert not [m for m in said if "clock" in m]
    monkeypatch.setattr(clock.time, "time", lambda: latest + 400.0)  # the wall clock moved on, the chain did not
    operator.step()
    [warning] = [m for m in said if "clock" in m]
    assert "6 min" in warning and "anvil --block-time 1" in warning


# ------------------------------------------------------------------------------------------------ participant


def test_a_participant_meets_the_frozen_clock_with_its_reason_and_fix(
    chain, participants, tmp_path: Path, monkeypatch
) -> None:
    """On a chain that mines only on transactions the round's deadline passes by the wall clock while the chain
    still says open: ``submit`` delivers (the service, the operator and the contract go by the chain, which has the
    round open) and ``round wait`` waits, both warning with the cause and the fix."""
    import time as wall

    p = participants[0]
    model = register(chain, p.account, 10 * UNIT)
    operator = Operator(
        TournamentClient(chain.w3, chain.deployment),
        chain.oracle,
        OperatorConfig(
            store=str(tmp_path / "store"),
            inbox=str(tmp_path / "inbox"),
            round_data=str(tmp_path / "data"),
            params=PARAMS,
            submission_window=WINDOW,
        ),
    )
    ids = write_round_data(tmp_path / "data", 1)
    assert [a.step for a in operator.open_due()] == ["open"]
    closes_at = operator.client.round_state(1).closes_at
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    (data_dir / "live_1.parquet").write_bytes((tmp_path / "data" / "live_00001.parquet").read_bytes())
    (tmp_path / "p.csv").write_bytes(prediction_file(ids, 1))
    env = {
        "TOURNEY_RPC": chain.url,
        "TOURNEY_DEPLOYMENT": str(chain.deployment_file),
        "TOURNEY_KEYSTORE_DIR": str(p.keystore_dir),
        "TOURNEY_PASSWORD": p.password,
        "TOURNEY_ACCOUNT": p.name,
    }
    assert chain.now() < closes_at
    # The wall clock 400 s past the deadline; no block has been mined since the round opened.
    monkeypatch.setattr(wall, "time", lambda: closes_at + 400.0)
    code, out, _ = run(
        env,
        "submit",
        "--round",
        "1",
        "--model",
        str(model),
        "--inbox",
        str(tmp_path / "inbox"),
        "--create",
        "--data-dir",
        str(data_dir),
        str(tmp_path / "p.csv"),
    )
    assert code == 0 and f"submitted model {model} for round 1" in out, out
    assert "warning: round 1 closed at" in out and "by the wall clock but is still open by the chain's clock" in out
    assert "its clock stands still between transactions" in out and "`anvil --block-time 1`" in out
    delivered = Inbox(str(tmp_path / "inbox")).collect(1)
    assert [sub.model_id for sub, _ in delivered] == [model]
    assert all(sub.received_at < closes_at for sub, _ in delivered)  # stamped by the chain: the snapshot keeps it
    code, out, data = run(
        env,
        "--json",
        "submit",
        "--round",
        "1",
        "--model",
        str(model),
        "--inbox",
        str(tmp_path / "inbox"),
        "--data-dir",
        str(data_dir),
        str(tmp_path / "p.csv"),
    )
    assert code == 0 and "`anvil --block-time 1`" in data["clock_warning"], out

    code, out, _ = run(env, "round", "wait", "1", "--until", "closed", "--timeout", "0", "--poll", "0.1")
    assert code == 1 and "round 1 is not closed after 0 s" in out, out
    assert "warning: the chain's latest block is" in out and "`anvil --block-time 1`" in out

    # The operator's `round close` past the deadline: nothing is due by the chain, and it says why.
    oracle_keys = Keystore(tmp_path / "oracle-keys", scrypt_n=TEST_SCRYPT_N)
    oracle_keys.import_key("oracle", bytes.fromhex(dev_private_keys(2)[1].removeprefix("0x")), KEYSTORE_PASSWORD)
    operator_env = env_for(chain, oracle_keys, "oracle")
    code, out, _ = run(operator_env, "round", "close", *operator_args(tmp_path))
    assert code == 0 and "nothing due now" in out and "next: round 1 is open; it closes" in out, out
    assert "warning: the chain's latest block is" in out and "`anvil --block-time 1`" in out
    code, out, data = run(operator_env, "--json", "round", "close", *operator_args(tmp_path))
    assert code == 0 and data["actions"] == [] and "`anvil --block-time 1`" in data["clock_warning"], out
    monkeypatch.undo()
    chain.w3.provider.make_request("evm_mine", [])  # a fresh block, as a chain with --block-time 1 keeps
    code, out, data = run(operator_env, "--json", "round", "close", *operator_args(tmp_path))
    assert data["clock_warning"] is None  # the wall clock back with the chain's


def test_a_round_not_opened_yet_is_named_with_the_open_one(chain, participants, tmp_path: Path) -> None:
    p = participants[0]
    model = register(chain, p.account, 10 * UNIT)
    operator = Operator(
        TournamentClient(chain.w3, chain.deployment),
        chain.oracle,
        OperatorConfig(
            store=str(tmp_path / "store"),
            inbox=str(tmp_path / "inbox"),
            round_data=str(tmp_path / "data"),
            params=PARAMS,
            submission_window=WINDOW,
        ),
    )
    write_round_data(tmp_path / "data", 1)
    ids = write_round_data(tmp_path / "data", 2)
    assert [a.step for a in operator.open_due()] == ["open"]
    data_dir = tmp_path / "mine"
    data_dir.mkdir()
    (data_dir / "live_2.parquet").write_bytes((tmp_path / "data" / "live_00002.parquet").read_bytes())
    (tmp_path / "p.csv").write_bytes(prediction_file(ids, 1))
    env = {
        "TOURNEY_RPC": chain.url,
        "TOURNEY_DEPLOYMENT": str(chain.deployment_file),
        "TOURNEY_KEYSTORE_DIR": str(p.keystore_dir),
        "TOURNEY_PASSWORD": p.password,
        "TOURNEY_ACCOUNT": p.name,
    }
    code, out, _ = run(
        env,
        "submit",
        "--round",
        "2",
        "--model",
        str(model),
        "--inbox",
        str(tmp_path / "inbox"),
        "--data-dir",
        str(data_dir),
        str(tmp_path / "p.csv"),
    )
    assert (
        code == 1
        and (
            "round 2 has not been opened yet (round 1 is the open one; `tourney round wait 2 --until "
            "open` waits for it)"
        )
        in out
    )
    assert " is none" not in out
    code, out, _ = run(env, "settle", "--model", str(model), "--round", "2")
    assert code == 1 and "round 2 is not opened yet, not active: settle against an active round" in out, out


def test_status_says_why_a_model_was_not_scored(chain, participants, tmp_path: Path) -> None:
    good, short, silent = (register(chain, p.account, 100 * UNIT) for p in participants[:3])
    operator = Operator(
        TournamentClient(chain.w3, chain.deployment),
        chain.oracle,
        OperatorConfig(
            store=str(tmp_path / "store"),
            inbox=str(tmp_path / "inbox"),
            round_data=str(tmp_path / "data"),
            params=PARAMS,
            submission_window=WINDOW,
            max_rounds=1,
        ),
    )
    ids = write_round_data(tmp_path / "data", 1)
    operator.step()
    inbox = Inbox(tmp_path / "inbox")
    submit(chain, inbox, participants[0].account, 1, good, prediction_file(ids, 1))
    # A file missing half the live ids, put in the inbox directly (an old client, or a script): the operator's own
    # check refuses it with the rule it broke.
    half = b"\n".join(prediction_file(ids, 2).splitlines()[: len(ids) // 2 + 1]) + b"\n"
    submit(chain, inbox, participants[1].account, 1, short, half)
    chain.advance(WINDOW + 1)
    assert [a.step for a in operator.step()] == ["close", "propose"]

    proposal = operator.client.current_proposal(1)
    rejections = load_bundle(proposal.manifest_uri, proposal.manifest_hash).json("rejections.json")
    assert [(r["model_id"], r["reason"]) for r in rejections] == [(short, "missing_ids")]
    env = {
        "TOURNEY_RPC": chain.url,
        "TOURNEY_DEPLOYMENT": str(chain.deployment_file),
        "TOURNEY_RECEIPTS_DIR": str(tmp_path / "receipts"),
    }
    code, out, data = run(env, "--json", "status", "--model", str(good), "--model", str(short), "--model", str(silent))
    assert code == 0, out
    rounds = {m["model_id"]: m["rounds"][0] for m in data["models"]}
    assert rounds[good]["corr"] is not None and "why" not in rounds[good]
    assert rounds[short]["unscored"] == "missing_ids"
    assert "refused by the operator: missing_ids" in rounds[short]["why"] and "absent" in rounds[short]["why"]
    assert rounds[silent]["unscored"] == "no_submission"
    code, out, _ = run(env, "status", "--model", str(short))
    assert "refused by the operator: missing_ids" in out
    # The auditor's recomputation agrees: the refused file is not in the scored predictions, so nothing reads 'nan'.
    code, out, report = run(env, "--json", "round", "recompute", proposal.manifest_uri)
    assert code == 0 and not [e for e in report["prediction_errors"] if e["model"] == str(short)]


def test_a_remote_auditor_recomputes_from_the_service_url_alone(chain, participants, tmp_path: Path) -> None:
    """The manifest URI on-chain is the operator's local path; an auditor that cannot open it reads the same files
    from the service (checked against the on-chain keccak)."""
    from oracle.bundle.mirrors import _added
    from oracle.service.config import ServiceConfig
    from oracle.testing.harness import service_thread

    model = register(chain, participants[0].account, 100 * UNIT)
    config = OperatorConfig(
        store=str(tmp_path / "store"),
        inbox=str(tmp_path / "inbox"),
        round_data=str(tmp_path / "data"),
        params=PARAMS,
        submission_window=WINDOW,
        max_rounds=1,
    )
    operator = Operator(TournamentClient(chain.w3, chain.deployment), chain.oracle, config)
    ids = write_round_data(tmp_path / "data", 1)
    operator.step()
    submit(chain, Inbox(tmp_path / "inbox"), participants[0].account, 1, model, prediction_file(ids, 3))
    chain.advance(WINDOW + 1)
    operator.step()
    proposal = operator.client.current_proposal(1)
    assert proposal.manifest_uri.startswith(str(tmp_path / "store"))
    moved = tmp_path / "elsewhere"
    service_config = ServiceConfig(
        rpc=chain.url,
        deployment=chain.deployment,
        operator=chain.oracle.account,
        inbox=str(tmp_path / "inbox"),
        store=str(moved),
        round_data=str(tmp_path / "data"),
        state=str(tmp_path / "state"),
        params=PARAMS,
        scheduler=False,
    )
    (tmp_path / "store").rename(moved)  # the on-chain URI no longer opens here
    env = {"TOURNEY_RPC": chain.url, "TOURNEY_DEPLOYMENT": str(chain.deployment_file)}
    try:
        with service_thread(service_config) as url:
            code, out, data = run(env, "--json", "verify", "--round", "1", "--allow-root", str(tmp_path))
            assert code == 1 and not data["ok"]
            assert "manifest not found" in out and "reads it from the operator's service: --service URL" in out
            # --service both allows the service's host and reads the bundle from it.
            code, out, data = run(env, "--json", "verify", "--round", "1", "--service", url)
            assert code == 0 and data["ok"], out
            code, out, report = run(env, "--json", "round", "recompute", "--round", "1", "--service", url)
            assert code == 0 and report["root"] == proposal.root, out
    finally:
        _added.clear()  # the mirror was added for this process


def test_data_download_reports_progress_and_refuses_what_the_rules_do_not_name(
    chain, participants, tmp_path: Path
) -> None:
    """``tourney data download``: a round not opened yet says what to wait for; the live data arrives with its
    progress (bytes so far of the announced total) and the round's rules; a live file that is not the one the
    rules name is refused and nothing is saved."""
    from oracle.participant.data import download_round
    from oracle.service.config import ServiceConfig
    from oracle.testing.harness import service_thread

    register(chain, participants[0].account, 10 * UNIT)
    config = OperatorConfig(
        store=str(tmp_path / "store"),
        inbox=str(tmp_path / "inbox"),
        round_data=str(tmp_path / "data"),
        params=PARAMS,
        submission_window=WINDOW,
    )
    operator = Operator(TournamentClient(chain.w3, chain.deployment), chain.oracle, config)
    ids = write_round_data(tmp_path / "data", 1, rows=20_000)  # several chunks of the stream
    assert [a.step for a in operator.open_due()] == ["open"]
    service_config = ServiceConfig(
        rpc=chain.url,
        deployment=chain.deployment,
        operator=chain.oracle.account,
        inbox=str(tmp_path / "inbox"),
        store=str(tmp_path / "store"),
        round_data=str(tmp_path / "data"),
        state=str(tmp_path / "state"),
        params=PARAMS,
        scheduler=False,
    )
    mine = tmp_path / "mine"
    with service_thread(service_config) as url:
        code, out, _ = run({}, "data", "download", "--round", "2", "--from", url, "--data-dir", str(mine))
        assert code == 1 and f"round 2 has no live data at {url} yet: it has not been opened" in out
        assert "`tourney round wait 2 --until open`" in out and not mine.exists()

        seen: list[tuple[int, int | None]] = []
        done = download_round(url, 1, mine, on_progress=lambda received, total: seen.append((received, total)))
        published = (tmp_path / "data" / "live_00001.parquet").read_bytes()
        size = len(published)
        assert done.rows == len(ids) and done.live.read_bytes() == published
        assert len(seen) > 1 and seen[-1] == (size, size)
        assert [r for r, _ in seen] == sorted({r for r, _ in seen})  # strictly growing
        assert json.loads(done.rules.read_text())["live"]["ids"] == len(ids)

        # The operator's live file replaced after the round opened: not what the published rules name.
        write_round_data(tmp_path / "data", 1, rows=50)
        other = tmp_path / "other"
        code, out, _ = run({}, "data", "download", "--round", "1", "--from", url, "--data-dir", str(other))
        assert code == 1 and "round 1's live data (sha256 " in out and "is not the file its rules name" in out
        assert "nothing saved: ask the operator" in out and not list(other.glob("*"))


def test_every_route_docs_http_api_documents_is_served(chain, tmp_path: Path) -> None:
    """docs/http-api.md cannot rot: each ``METHOD /path`` it documents is in the running service's OpenAPI."""
    import requests

    from oracle.service.config import ServiceConfig
    from oracle.testing.harness import service_thread

    text = (Path(__file__).resolve().parents[2] / "docs" / "http-api.md").read_text()
    documented = {
        (method, re.split(r"[?\[]", path)[0])  # the path without its query ("/rounds?limit=N")
        for method, path in re.findall(r"`(GET|POST) (/[^` ]*)`", text)
    }
    assert len(documented) >= 15, documented
    (tmp_path / "data").mkdir()
    config = ServiceConfig(
        rpc=chain.url,
        deployment=chain.deployment,
        operator=chain.oracle.account,
        inbox=str(tmp_path / "inbox"),
        store=str(tmp_path / "store"),
        round_data=str(tmp_path / "data"),
        state=str(tmp_path / "state"),
        params=PARAMS,
        scheduler=False,
    )
    with service_thread(config) as url:
        spec = requests.get(f"{url}/openapi.json", timeout=30).json()
        # The documented error body, for a round not opened yet in words (not the enum's "none").
        answer = requests.get(f"{url}/rounds/1/scores", timeout=30)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "no_proposal"
        assert answer.json()["error"]["message"].startswith("round 1 is not opened yet: it has no proposed root")
    # A documented path matches a served one segment by segment, a placeholder matching anything (the docs may
    # name it differently, or write a file name's pattern such as manifest-<seq>-<keccak>.json).
    served = {(method.upper(), path) for path, methods in spec["paths"].items() for method in methods}
    served.add(("GET", "/openapi.json"))  # FastAPI's own, not in the description it serves

    def matches(method: str, path: str) -> bool:
        def same(doc: str, route: str) -> bool:
            return doc == route or any(c in doc + route for c in "{<")

        return any(
            m == method
            and len(p.split("/")) == len(path.split("/"))
            and all(same(d, r) for d, r in zip(path.split("/"), p.split("/")))
            for m, p in served
        )

    missing = sorted(f"{m} {p}" for m, p in documented if not matches(m, p))
    assert not missing, f"docs/http-api.md documents routes the service does not serve: {missing}"
