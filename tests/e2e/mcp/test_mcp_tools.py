"""``tourney mcp`` through the MCP SDK's own client, on a real Anvil with the operator's service: the tool listing
and its schemas, each tool's refusals (structured: code, message, next step), the spending limit, idempotent
retries, and that no answer ever carries key material. Every tool's success path runs in
test_mcp_skills_doc.py (the document's walkthrough)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import requests
from click.testing import CliRunner
from eth_account import Account
from mcp import Client
from mcp_world import TOURNEY, McpClient, World

from oracle.chain.anvil import dev_private_keys, free_port, start_anvil
from oracle.chain.connection import connect
from oracle.chain.deploy import UNIT, DeployParams, deploy
from oracle.chain.tx import Sender
from oracle.cli import main as tourney
from oracle.mcp.policy import ChainNotAllowed
from oracle.mcp.server import SKILLS_PATH, build_server
from oracle.mcp.session import McpSettings, ParticipantSession
from oracle.participant.models import ParticipantError, register_model

ALL_TOOLS = {
    "account_info",
    "list_rounds",
    "download_live",
    "download_targets",
    "validate_predictions",
    "submit_predictions",
    "model_status",
    "verify_round",
    "register_model",
    "settle",
    "stake",
    "request_withdrawal",
    "withdraw",
}
VALUE_TOOLS = {"stake", "request_withdrawal", "withdraw"}
SIGNING_TOOLS = {"submit_predictions", "register_model", "settle", *VALUE_TOOLS}


def assert_no_key_material(server: McpClient, world: World, participants: list) -> None:
    """No answer the client received contains the account's private key (any case, with or without 0x) or the
    keystore password."""
    p0 = next(p for p in participants if p.name == world.account)
    key = bytes(p0.account.key).hex()
    assert server.outputs
    for output in server.outputs:
        assert key not in output.lower(), "private key in an answer"
        assert p0.password not in output, "keystore password in an answer"


def test_tool_listing_schemas_and_resources(world: World, participants: list) -> None:
    with world.server() as server:
        tools = server.tools()
        assert set(tools) == ALL_TOOLS
        for name, tool in tools.items():
            assert tool.description and len(tool.description) > 40, name
            assert tool.input_schema["type"] == "object", name
            assert tool.output_schema and tool.output_schema["type"] == "object" and tool.output_schema["properties"]
            hints = tool.annotations
            assert hints.read_only_hint is (
                name in {"account_info", "list_rounds", "validate_predictions", "model_status", "verify_round"}
            ), name
            assert hints.destructive_hint is (name in VALUE_TOOLS), name
            if name in SIGNING_TOOLS:
                assert "Signs with the server's account" in tool.description
        stake = tools["stake"].input_schema
        assert stake["required"] == ["model_id", "amount"]
        assert set(stake["properties"]) == {"model_id", "amount", "request_id"}
        assert stake["properties"]["amount"]["pattern"] and stake["properties"]["model_id"]["minimum"] == 1
        assert set(tools["submit_predictions"].input_schema["required"]) == {"round", "model_id", "path"}
        assert {"receipt", "predictions_hash", "repeated"} <= set(
            tools["submit_predictions"].output_schema["properties"]
        )
        assert tools["account_info"].input_schema.get("properties", {}) == {}

        assert {str(r.uri) for r in server.resources()} == {"tourney://skills", "tourney://params"}
        assert [t.uri_template for t in server.templates()] == ["tourney://rounds/{round}/params"]
        assert server.read("tourney://skills") == SKILLS_PATH.read_text()
        params = json.loads(server.read("tourney://params"))
        assert params["bounds"]["challenge_period"] == int(world.chain.tournament.functions.bounds().call()[0])
        assert params["limits"]["max_stake_session"] == "100" and params["scoring"] is None
        round1 = json.loads(server.read("tourney://rounds/1/params"))
        assert round1["round"]["status"] == "open" and round1["round"]["payout_cap_bps"] == 500
        assert_no_key_material(server, world, participants)

    # Without --max-stake the value-moving tools do not exist, and calling one says why.
    with world.in_process(max_stake=None, per_call=None) as server:
        assert set(server.tools()) == ALL_TOOLS - VALUE_TOOLS
        assert server.ok("account_info")["limits"]["value_tools"] is False
        error = server.fails("stake", "value_tools_off", model_id=1, amount="1")
        assert "--max-stake" in error["next"]

    # Without an account nor a service: reading works, signing and service tools say what is missing.
    with world.in_process(account=None, service=None) as server:
        info = server.ok("account_info")
        assert info["address"] is None and info["models"] == [] and info["service"] is None
        assert server.ok("list_rounds")["open_round"]["round"] == 1
        server.fails("register_model", "no_account")
        server.fails("submit_predictions", "no_account", round=1, model_id=1, path="p.csv")
        server.fails("download_live", "no_service", round=1)


def test_validate_predictions_reports_every_rule_the_document_lists(world: World, participants: list) -> None:
    ids = world.live_ids[1]
    good = pd.Series(range(len(ids))).rank(pct=True)
    files = {
        "missing_id_column": pd.DataFrame({"row": ids, "prediction": good}),
        "non_numeric": pd.DataFrame({"id": ids, "prediction": ["x", *good[1:]]}),
        "duplicate_ids": pd.DataFrame({"id": [ids[0], *ids[:-1]], "prediction": good}),
        "inf": pd.DataFrame({"id": ids, "prediction": [float("inf"), *good[1:]]}),
        "out_of_range": pd.DataFrame({"id": ids, "prediction": [1.5, *good[1:]]}),
        "nan": pd.DataFrame({"id": ids, "prediction": [None, *good[1:]]}),
        "missing_ids": pd.DataFrame({"id": ids[1:], "prediction": good[1:]}),
        "constant": pd.DataFrame({"id": ids, "prediction": 0.5}),
        "empty": pd.DataFrame({"id": [f"not-live-{i}" for i in range(5)], "prediction": good[:5]}),
    }
    for rule, frame in files.items():
        frame.to_csv(world.workdir / f"{rule}.csv", index=False)
    (world.workdir / "unreadable.parquet").write_bytes(b"this is not parquet")
    (world.workdir / "unknown_format.txt").write_text("id,prediction\n")
    documented = set()
    section = SKILLS_PATH.read_text().split("## The prediction file", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        if line.startswith("| `"):
            documented.add(line.split("`")[1])
    others = {"unreadable": "unreadable.parquet", "unknown_format": "unknown_format.txt"}
    assert documented == set(files) | set(others)

    with world.in_process() as server:
        for name in [*files, *others]:
            path = others.get(name, f"{name}.csv")
            checked = server.ok("validate_predictions", round=1, model_id=1, path=path)
            assert checked["ok"] is False and checked["live_ids"] == len(ids), checked
            assert name in [p["rule"] for p in checked["problems"]], (name, checked["problems"])
        world.write_predictions(1, "good.csv")
        assert server.ok("validate_predictions", round=1, model_id=1, path="good.csv")["problems"] == []
        assert_no_key_material(server, world, participants)


def test_refusals_are_structured_with_a_next_step(world: World, participants: list) -> None:
    other = connect(world.chain.url, world.chain.deployment, participants[1].account)
    foreign_model, _ = register_model(other)
    world.write_predictions(1, "a.csv", seed=1)
    world.write_predictions(1, "b.csv", seed=2)
    pd.DataFrame({"id": world.live_ids[1], "prediction": 0.5}).to_csv(world.workdir / "constant.csv", index=False)
    (world.workdir / "keys").symlink_to(next(participants[0].keystore_dir.iterdir()))

    with world.in_process() as server:
        error = server.fails("no_such_tool", "unknown_tool")
        assert "account_info" in error["message"]
        error = server.fails("model_status", "invalid_arguments", model_id=1, owner="me")
        assert error["details"]["unknown"] == ["owner"]
        server.fails("model_status", "invalid_arguments", model_id="one")
        server.fails("stake", "invalid_arguments", model_id=1, amount="-5")
        server.fails("validate_predictions", "key_material_refused", round=1, model_id=1, path="ab" * 32)
        server.fails("model_status", "unknown_model", model_id=999)
        model = server.ok("register_model")["model_id"]
        server.fails("stake", "not_owner", model_id=foreign_model, amount="1")
        server.fails("validate_predictions", "path_outside_workdir", round=1, model_id=model, path="../x.csv")
        server.fails("validate_predictions", "path_outside_workdir", round=1, model_id=model, path="keys")
        server.fails("validate_predictions", "file_not_found", round=1, model_id=model, path="missing.csv")
        error = server.fails("submit_predictions", "invalid_predictions", round=1, model_id=model, path="constant.csv")
        assert [p["rule"] for p in error["details"]["problems"]] == ["constant"]
        server.fails("download_live", "unknown_round", round=7)
        server.fails("download_targets", "not_published", round=1)
        server.fails("verify_round", "not_published", round=1)
        server.fails("settle", "not_active")
        server.fails("withdraw", "nothing_pending", model_id=model)
        server.fails("stake", "invalid_amount", model_id=model, amount="0")
        server.fails("stake", "invalid_amount", model_id=model, amount="0." + "0" * 18 + "1")
        server.fails("request_withdrawal", "invalid_amount", model_id=model, amount="all")

        # Submissions: the same file returns its receipt (even when the local copy is gone: the service answers
        # "duplicate" with the original); another file replaces it, and so does the first file sent again (its old
        # signature would be a refused replay: the server signs it anew, with a deadline one second earlier).
        first = server.ok("submit_predictions", round=1, model_id=model, path="a.csv")
        assert server.ok("submit_predictions", round=1, model_id=model, path="a.csv")["receipt"] == first["receipt"]
        shutil.rmtree(world.workdir / "receipts")
        again = server.ok("submit_predictions", round=1, model_id=model, path="a.csv")
        assert again["receipt"] == first["receipt"] and again["repeated"] is False
        world.chain.advance(2)  # receipts are stamped in chain seconds: keep "the latest" unambiguous
        second = server.ok("submit_predictions", round=1, model_id=model, path="b.csv")
        assert second["receipt"]["predictions_hash"] != first["receipt"]["predictions_hash"]
        world.chain.advance(2)
        back = server.ok("submit_predictions", round=1, model_id=model, path="a.csv")
        assert back["predictions_hash"] == first["predictions_hash"] and back["deadline"] == first["deadline"] - 1
        assert back["receipt"]["signature"] != first["receipt"]["signature"]
        assert server.ok("model_status", model_id=model)["receipts"][0]["predictions_hash"] == first["predictions_hash"]
        assert server.ok("download_live", round=1)["sha256"] == server.ok("download_live", round=1)["sha256"]

        # The deadline is chain time: past it the round is still open on chain, but the file is late.
        world.chain.advance(3600)
        error = server.fails("submit_predictions", "late", round=1, model_id=model, path="constant.csv")
        assert error["details"]["closes_at"] < world.chain.now()
        world.stop_service()
        server.fails("download_live", "service_unavailable", round=1)
        assert_no_key_material(server, world, participants)


def test_spending_limit_per_call_and_per_session(world: World, participants: list) -> None:
    with world.in_process() as server:  # 100 per session, 40 per call
        model = server.ok("register_model")["model_id"]
        error = server.fails("stake", "spending_limit", model_id=model, amount="40.5")
        assert error["details"] == {"max_allowed": "40", "per_call": "40", "session": "100", "spent": "0"}
        assert server.ok("stake", model_id=model, amount="40", request_id="s-1")["limits"]["max_allowed_now"] == "40"
        # A retry of the same request moves nothing and costs nothing; the id cannot be reused for another amount.
        assert server.ok("stake", model_id=model, amount="40", request_id="s-1")["repeated"] is True
        server.fails("stake", "request_id_reused", model_id=model, amount="39", request_id="s-1")
        staked = server.ok("stake", model_id=model, amount="40")
        assert staked["limits"]["staked_this_session"] == "80" and staked["limits"]["max_allowed_now"] == "20"
        error = server.fails("stake", "spending_limit", model_id=model, amount="21")
        assert error["details"]["max_allowed"] == "20" and "session" in error["message"]

        # A transaction the chain refuses moves nothing: the limit is given back.
        world.chain.admin.transact(world.chain.tournament.functions.pause(), action="pause")
        error = server.fails("stake", "reverted", model_id=model, amount="20", request_id="s-paused")
        assert error["details"]["revert"] == "EnforcedPause" and "paused" in error["next"]
        world.chain.admin.transact(world.chain.tournament.functions.unpause(), action="unpause")
        assert server.ok("stake", model_id=model, amount="20", request_id="s-paused")["repeated"] is False
        info = server.ok("account_info")["limits"]
        assert info["staked_this_session"] == "100" and info["max_allowed_now"] == "0"
        server.fails("stake", "spending_limit", model_id=model, amount="0.000001")
        assert world.chain.tournament.functions.stakeOf(model).call() == 100 * UNIT
        assert_no_key_material(server, world, participants)

    # The limit is per session: a new server starts afresh, and within a larger limit the balance still binds.
    with world.in_process(max_stake="20000", per_call="20000") as server:
        server.fails("stake", "insufficient_balance", model_id=model, amount="15000")
        server.ok("stake", model_id=model, amount="1")


def test_an_answer_with_key_material_is_withheld(world: World, participants: list) -> None:
    """A file whose ids are the account's key: the validation problems would quote it, so the answer is withheld."""
    key = bytes(participants[0].account.key).hex()
    pd.DataFrame({"id": [key, key.upper()], "prediction": [0.1, 0.2]}).to_csv(world.workdir / "leak.csv", index=False)
    with world.server() as server:
        server.fails("validate_predictions", "output_withheld", round=1, model_id=1, path="leak.csv")
        server.ok("list_rounds")  # the session goes on
        assert_no_key_material(server, world, participants)


def test_streamable_http_transport_on_loopback_only(world: World, participants: list) -> None:
    port = free_port()
    log = (world.workdir / "http.log").open("wb")
    process = subprocess.Popen(
        [TOURNEY, "mcp", "--account", world.account, "--transport", "http", "--port", str(port)],
        env=world.env,
        stdout=log,
        stderr=log,
    )
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (world.workdir / "http.log").read_text()[-2000:]
            try:
                requests.get(url, timeout=1)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "tourney mcp --transport http did not listen"
                time.sleep(0.2)

        async def session() -> tuple[set[str], dict]:
            async with Client(url) as client:
                listed = {t.name for t in (await client.list_tools()).tools}
                info = await client.call_tool("account_info", {})
                return listed, info.structured_content

        import anyio

        listed, info = anyio.run(session)
        assert listed == ALL_TOOLS - VALUE_TOOLS
        assert info["address"] == participants[0].address
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()

    refused = CliRunner().invoke(tourney, ["mcp", "--transport", "http", "--host", "0.0.0.0"], env=world.env)
    assert refused.exit_code == 2 and "not a loopback address" in refused.stderr


def test_startup_refuses_what_it_cannot_do_safely(world: World) -> None:
    # From the command line: no password in the environment is an error on stderr, and nothing on stdout (the
    # protocol's channel); tourney mcp never prompts.
    no_password = {**world.env, "TOURNEY_PASSWORD": None}
    done = CliRunner().invoke(tourney, ["mcp", "--account", world.account], env=no_password, input="")
    assert done.exit_code == 1 and "TOURNEY_PASSWORD" in done.stderr and done.stdout == ""
    settings = McpSettings(
        rpc=world.env["TOURNEY_RPC"], deployment=world.env["TOURNEY_DEPLOYMENT"], workdir=str(world.workdir)
    )
    with pytest.raises(ParticipantError, match="needs --max-stake"):
        ParticipantSession.open(replace(settings, max_stake_per_call="5"), None)
    with pytest.raises(ParticipantError, match="exceeds the session's --max-stake"):
        ParticipantSession.open(replace(settings, max_stake="10", max_stake_per_call="20"), None)
    with pytest.raises(ParticipantError, match="more than 18 decimal places"):
        ParticipantSession.open(replace(settings, max_stake="0." + "0" * 18 + "1"), None)


def test_only_local_chains_unless_one_is_named(tmp_path: Path) -> None:
    """A chain whose id is not a development chain's (here Anvil as chain 5) needs --allow-chain 5."""
    with start_anvil(extra_args=["--chain-id", "5"]) as node:
        w3 = node.web3()
        admin = Sender(w3, Account.from_key(dev_private_keys(1)[0]))
        deployment = deploy(admin, DeployParams(), oracle=admin.address, guardian=admin.address, pauser=admin.address)
        settings = McpSettings(
            rpc=node.url, deployment=str(deployment.save(tmp_path / "deployment.json")), workdir=str(tmp_path / "work")
        )
        with pytest.raises(ChainNotAllowed, match="--allow-chain 5"):
            ParticipantSession.open(settings, None)
        with McpClient(
            server=build_server(ParticipantSession.open(replace(settings, allow_chains=(5,)), None))
        ) as server:
            assert server.ok("account_info")["chain"] == "allowed"
            assert json.loads(server.read("tourney://params"))["chain"] == "allowed"
