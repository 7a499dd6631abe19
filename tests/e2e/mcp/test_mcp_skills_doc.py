"""docs/skills.md cannot drift from the code: every command in it runs, and every tool call and resource read in
it runs in document order against a real chain and the operator's service, with the result it shows.

The document is read as a sequence of events: ``sh`` blocks (each ``tourney`` line is run; ``tourney mcp`` is the
server the calls go to), the ``json`` client configuration (its arguments must be the same server's), ``mcp``
blocks (a call with ``returns`` or ``fails_with``, or a resource read) and ``> Time passes: ...`` lines (the
operator moves the round on). The tables of error codes and validation rules are held to the code as well.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any, Callable

import pandas as pd
from mcp_world import TOURNEY, McpClient, World

from oracle.chain.deploy import UNIT
from oracle.chain.keystore import Keystore
from oracle.mcp.errors import CODES, SERVICE_CODES
from oracle.mcp.server import SKILLS_PATH

TIME_PASSES = "> Time passes: "


def doc_events(text: str) -> list[tuple[str, Any]]:
    """(kind, payload) in document order: ("sh", lines), ("json", object), ("mcp", object), ("time", sentence)."""
    events: list[tuple[str, Any]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence:
            kind, body = fence.group(1), []
            i += 1
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if kind == "sh":
                events.append(("sh", [b for b in body if b.strip() and not b.startswith("#")]))
            elif kind in ("json", "mcp"):
                events.append((kind, json.loads("\n".join(body))))
        elif line.startswith(TIME_PASSES):
            events.append(("time", line[len(TIME_PASSES) :].strip()))
        i += 1
    return events


def table_codes(text: str, heading: str) -> list[str]:
    """The backquoted first-column entries of the markdown table that follows ``heading``'s line."""
    section = text.split(heading, 1)[1]
    codes = []
    for line in section.splitlines()[1:]:
        if line.startswith("|"):
            cell = line.split("|")[1].strip()
            found = re.fullmatch(r"`([a-z_]+)`", cell)
            if found:
                codes.append(found.group(1))
        elif codes:
            break
    return codes


def matches(expected: Any, actual: Any, where: str = "result") -> None:
    """``expected`` is a part of ``actual``: dicts by key, lists element by element, "*" = any value present."""
    if expected == "*":
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: no {key!r} in {sorted(actual)}"
            matches(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        if not expected:
            assert actual == [], f"{where}: expected [], got {actual!r}"
        assert len(actual) >= len(expected), f"{where}: expected at least {len(expected)} items, got {actual!r}"
        for n, (want, got) in enumerate(zip(expected, actual)):
            matches(want, got, f"{where}[{n}]")
    else:
        assert expected == actual, f"{where}: expected {expected!r}, got {actual!r}"


def test_the_error_table_is_the_registry_and_covers_the_service() -> None:
    text = SKILLS_PATH.read_text()
    documented = table_codes(text, "## Every error code")
    assert len(documented) == len(set(documented)), "a code is listed twice"
    assert set(documented) == set(CODES)
    assert set(CODES) >= SERVICE_CODES
    # Every code the operator's service can answer with is known here (so passes through with its advice).
    service = Path(__file__).resolve().parents[3] / "oracle" / "service"
    source = "\n".join(path.read_text() for path in sorted(service.rglob("*.py")))
    raised = set(re.findall(r'ApiError\(\s*\d+,\s*"([a-z_]+)"', source))
    assert raised and raised <= SERVICE_CODES, raised - SERVICE_CODES


def test_every_command_and_call_in_the_skills_document_runs_as_written(world: World, tmp_path: Path) -> None:
    events = doc_events(SKILLS_PATH.read_text())
    keystore_dir = tmp_path / "keystores"
    env = {**world.env, "TOURNEY_KEYSTORE_DIR": str(keystore_dir), "TOURNEY_PASSWORD": "skills-doc-password"}

    # The human's setup, command by command; `tourney mcp ...` is the server the calls below go to.
    server_args: list[str] | None = None
    commands = [line for kind, lines in events if kind == "sh" for line in lines]
    assert commands and all(line.startswith("tourney ") for line in commands), commands
    for line in commands:
        argv = shlex.split(line)[1:]
        if argv[0] == "mcp":
            server_args = argv
            continue
        done = subprocess.run([TOURNEY, *argv], env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"{line}: {done.stdout}{done.stderr}"
    assert server_args is not None, "the document starts no server"
    config = [payload for kind, payload in events if kind == "json" and "mcpServers" in payload]
    assert len(config) == 1 and config[0]["mcpServers"]["tourney"]["command"] == "tourney"
    assert config[0]["mcpServers"]["tourney"]["args"] == server_args
    assert set(config[0]["mcpServers"]["tourney"]["env"]) <= {k for k in env if k.startswith("TOURNEY_")}

    # The human funds the account the document created.
    address = Keystore(keystore_dir).address("agent")
    world.chain.admin.send_ether(address, 10**18)
    world.chain.admin.transact(world.chain.token.functions.transfer(address, 1_000 * UNIT), action="fund agent")

    # The files the walkthrough validates and submits, written by "the agent".
    world.write_predictions(1, "predictions.csv")
    pd.DataFrame({"id": world.live_ids[1], "prediction": 0.5}).to_csv(world.workdir / "constant.csv", index=False)
    files = {"predictions.csv", "constant.csv"}
    time_passes: dict[str, Callable[[], None]] = {
        "round 1 closes and its results are proposed.": world.close_and_propose,
        "the challenge window ends and round 1's root is activated.": world.activate,
    }

    called: set[str] = set()
    with McpClient(server_args, env, world.workdir) as server:
        listed = server.tools()
        for kind, payload in events:
            if kind == "time":
                assert payload in time_passes, f"the test does not know how to make this happen: {payload!r}"
                time_passes[payload]()
            elif kind == "mcp" and "resource" in payload:
                matches(payload["returns"], json.loads(server.read(payload["resource"])), payload["resource"])
            elif kind == "mcp":
                tool, arguments = payload["tool"], payload["arguments"]
                assert set(payload) <= {"tool", "arguments", "returns", "fails_with"}, payload
                assert "path" not in arguments or arguments["path"] in files, f"unknown file in {payload}"
                if "fails_with" in payload:
                    server.fails(tool, payload["fails_with"], **arguments)
                else:
                    matches(payload["returns"], server.ok(tool, **arguments), tool)
                called.add(tool)
        assert called == set(listed), "every tool the server lists is shown in the document"

    password, key = env["TOURNEY_PASSWORD"], bytes(Keystore(keystore_dir).unlock("agent", env["TOURNEY_PASSWORD"]).key)
    for output in server.outputs:
        assert key.hex() not in output.lower() and password not in output
