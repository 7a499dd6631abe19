"""The operator guide and the participant quickstart, followed literally by two terminal users.

Every shell block of ``docs/operator-guide.md`` and ``docs/participant-quickstart.md`` tagged ``operator:NAME`` or
``participant:NAME`` runs here, in the order of :data:`SCHEDULE`, as its user would type it: each user has a
terminal (one bash process, so ``cd`` and ``export`` carry over from block to block) with its own home directory
and so its own keystore; blocks tagged ``background`` run in a terminal of their own (a new shell, as a new window
would be) and stay up (the chain, the service). The chain is started as the guide says (``anvil --block-time 1``).
Nothing else drives the tournament: no helper code, no clock tricks. A block that fails (non-zero exit) fails the
test, unless tagged ``fails``, in which case the text block after it must appear in its output.

What the test changes in the blocks, and only this: the ports 8545 and 8000 become free ports (several test runs
share the machine), the participant's address in the operator's ``PARTICIPANT=`` line becomes the address the
participant's ``account create`` printed, and the inbox path in the participant's ``INBOX=`` line becomes the
operator's inbox (the two users have separate home directories here). The ``setup`` block is checked, not run:
the test puts the same two directories on PATH.

While round 3 resolves, the test submits (against round 2's live data) one bad file per row of the validation
table in ``docs/data-formats.md`` and checks each refusal names the rule and carries the documented message. After
the walk-through it checks the outcome on-chain and in the published bundles, and prints how long each block took.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oracle.chain.anvil import free_port

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
GUIDES = ("operator-guide.md", "participant-quickstart.md")

#: (user, block name) in the order the two users act. "bad-files" is the test's own step (see the docstring).
SCHEDULE = [
    ("operator", "chain"),
    ("operator", "keys"),
    ("operator", "deploy"),
    ("operator", "data"),
    ("operator", "serve"),
    ("participant", "account"),
    ("operator", "fund"),
    ("participant", "connect"),
    ("participant", "model"),
    ("participant", "stake"),
    ("participant", "round1"),
    ("participant", "round2"),
    ("participant", "refused"),
    ("participant", "round3"),
    ("test", "bad-files"),
    ("participant", "results"),
    ("participant", "leave"),
    ("operator", "check"),
]

_FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```\n(?:\n```text\n(.*?)^```)?", re.M | re.S)
BLOCK_TIMEOUT = 420.0


@dataclass
class Block:
    user: str
    name: str
    text: str
    tags: dict[str, str] = field(default_factory=dict)
    expected: str | None = None


def doc_blocks() -> tuple[dict[tuple[str, str], Block], list[str]]:
    """Every tagged block of the two guides, and the untagged setup blocks' texts."""
    found: dict[tuple[str, str], Block] = {}
    setup: list[str] = []
    for guide in GUIDES:
        for match in _FENCE.finditer((DOCS / guide).read_text()):
            lang, info, text, expected = match.groups()
            words = info.split()
            if lang not in ("bash", "sh") or not words:
                continue
            if words[0] == "setup":
                setup.append(text)
                continue
            user, _, name = words[0].partition(":")
            tags = dict(w.partition("=")[::2] for w in words[1:])
            assert (user, name) not in found, f"block {user}:{name} appears twice"
            found[(user, name)] = Block(user, name, text, tags, expected)
    return found, setup


# ------------------------------------------------------------------------------------------------ terminals


class Terminal:
    """One user's terminal: a bash process fed one block at a time (``cd``/``export`` persist between blocks)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self._send("set -e\n")

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def run(self, text: str, fails: bool = False, timeout: float = BLOCK_TIMEOUT) -> tuple[int, str]:
        """Run a block; (exit code, output). Stdin is /dev/null: no command may wait for typing."""
        marker = f"__block_done_{uuid.uuid4().hex}"
        if fails:
            self._send(f"set +e\n( set -e\n{text}\n) < /dev/null 2>&1\necho {marker} $?\nset -e\n")
        else:
            self._send(f"{{\n{text}\n}} < /dev/null 2>&1\necho {marker} $?\n")
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"block still running after {timeout:.0f} s; output so far:\n{''.join(out)}"
                ) from None
            if line is None:
                raise AssertionError(f"the terminal exited (a command failed); output:\n{''.join(out)}")
            if line.startswith(marker):
                return int(line.split()[1]), "".join(out)
            out.append(line)

    def close(self) -> None:
        _stop(self.proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"background block exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _normal(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------------------------------------ bad files


def rules_table() -> list[dict[str, str]]:
    """The rows of the validation table under "Prediction files" in docs/data-formats.md."""
    text = (DOCS / "data-formats.md").read_text()
    section = text.split("## Prediction files", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    table = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        table.append({"rule": cells[0].strip("`"), "example": cells[1].strip("`"), "message": cells[3].strip("`")})
    return table


def bad_file(example: str, good: pd.DataFrame) -> bytes:
    """The documented example of a broken rule, made from a good prediction file of the round."""

    def csv(frame: pd.DataFrame) -> bytes:
        return frame.to_csv(index=False).encode()

    changed = good.copy()
    if example == "predictions.tsv":
        return csv(good)
    if example == "garbage.parquet":
        return b"PAR1 this is not a parquet file"
    if example == "no_id.csv":
        return csv(good.rename(columns={"id": "row"}))
    if example == "two_columns.csv":
        return csv(changed.assign(second=0.5))
    if example == "repeated.csv":
        return csv(pd.concat([good, good.iloc[:1]]))
    if example == "text.csv":
        changed["prediction"] = changed["prediction"].astype(object)
        changed.loc[3, "prediction"] = "high"
        return csv(changed)
    if example in ("inf.csv", "range.csv", "nan.csv"):
        changed.loc[2, "prediction"] = {"inf.csv": np.inf, "range.csv": 1.5, "nan.csv": np.nan}[example]
        return csv(changed)
    if example == "half.csv":
        return csv(good.iloc[: len(good) // 2])
    if example == "constant.csv":
        return csv(changed.assign(prediction=0.5))
    if example == "foreign.csv":
        return csv(pd.concat([good, pd.DataFrame({"id": ["not-a-live-id"], "prediction": [0.5]})]))
    if example == "empty.csv":
        return b"id,prediction\n"
    raise AssertionError(f"docs/data-formats.md documents {example}, which this test cannot make")


# ------------------------------------------------------------------------------------------------ the walk


@pytest.mark.slow
def test_the_guides_run_as_written(tmp_path: Path) -> None:
    blocks, setup = doc_blocks()
    scheduled = {(u, n) for u, n in SCHEDULE if u != "test"}
    assert set(blocks) == scheduled, (
        f"blocks not in the schedule: {set(blocks) - scheduled}; scheduled but not "
        f"in the docs: {scheduled - set(blocks)}"
    )
    assert setup and all(".venv/bin" in s and "node_modules/.bin" in s for s in setup)

    ports = {"8545": free_port(), "8000": free_port()}
    homes = {user: tmp_path / user for user in ("operator", "participant")}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("TOURNEY_") and k != "HOME"}
    base_env["PATH"] = f"{REPO / '.venv' / 'bin'}:{REPO / 'node_modules' / '.bin'}:{os.environ.get('PATH', '')}"
    base_env["PYTHONPATH"] = str(REPO)  # this checkout's oracle package, in every subprocess
    envs = {}
    for user, home in homes.items():
        home.mkdir()
        envs[user] = {**base_env, "HOME": str(home)}
    terminals = {user: Terminal(envs[user], homes[user]) for user in homes}
    background: list[subprocess.Popen] = []
    timings: list[tuple[str, float]] = []
    facts: dict[str, str] = {}

    def prepare(block: Block) -> str:
        text = block.text
        for port, free in ports.items():
            text = re.sub(rf"\b{port}\b", str(free), text)
        if "address" in facts:
            text = re.sub(r"^PARTICIPANT=\S+", f"PARTICIPANT={facts['address']}", text, flags=re.M)
        text = re.sub(r"^INBOX=\S+", f"INBOX={homes['operator'] / 'tournament' / 'inbox'}", text, flags=re.M)
        return text

    try:
        for user, name in SCHEDULE:
            started = time.monotonic()
            if user == "test":
                _submit_bad_files(terminals["participant"], homes["participant"] / "tourney")
                timings.append((f"test:{name}", time.monotonic() - started))
                continue
            block = blocks[(user, name)]
            text = prepare(block)
            if "background" in block.tags:
                log = tmp_path / f"{user}-{name}.log"
                with open(log, "w") as handle:
                    proc = subprocess.Popen(
                        ["bash", "--noprofile", "--norc", "-c", text],
                        stdin=subprocess.DEVNULL,
                        stdout=handle,
                        stderr=subprocess.STDOUT,
                        env=envs[user],
                        cwd=homes[user],
                        start_new_session=True,
                    )
                background.append(proc)
                _wait_port(ports[block.tags["port"]], proc, log)
            else:
                code, output = terminals[user].run(text, fails="fails" in block.tags)
                if "fails" in block.tags:
                    assert code != 0, f"{user}:{name} should fail:\n{output}"
                    assert block.expected, f"{user}:{name} shows no expected output"
                    assert _normal(block.expected) in _normal(output), output
                else:
                    assert code == 0, f"{user}:{name} failed ({code}):\n{output}"
                (tmp_path / f"{user}-{name}.out").write_text(output)  # what the user saw, kept for a look
                if (user, name) == ("participant", "account"):
                    facts["address"] = re.search(r"created alice (0x[0-9a-fA-F]{40})", output).group(1)
                facts[f"{user}:{name}"] = output
            timings.append((f"{user}:{name}", time.monotonic() - started))
        _check_outcome(terminals, facts, ports["8000"], homes)
    finally:
        for terminal in terminals.values():
            terminal.close()
        for proc in reversed(background):
            _stop(proc)
        print("\n".join(f"{label:<24}{seconds:7.1f} s" for label, seconds in timings))
        (tmp_path / "timings.json").write_text(json.dumps(timings))


def _submit_bad_files(terminal: Terminal, workdir: Path) -> None:
    """One bad file per documented rule, submitted by the participant as the quickstart submits: each refused
    before anything is signed, with the rule and the documented message."""
    good = pd.read_csv(workdir / "predictions_2.csv", dtype={"id": str})
    table = rules_table()
    assert len({row["rule"] for row in table}) >= 12, table
    for row in table:
        (workdir / row["example"]).write_bytes(bad_file(row["example"], good))
        code, output = terminal.run(f"tourney submit --round 2 --model 1 {row['example']}", fails=True)
        text = _normal(output)
        assert code == 1, f"{row['example']}: {output}"
        assert f"[{row['rule']}]" in text and _normal(row["message"]) in text, (row, output)
        assert "nothing signed or sent" in text or row["rule"] == "unknown_format", output


def _check_outcome(
    terminals: dict[str, Terminal], facts: dict[str, str], service_port: int, homes: dict[str, Path]
) -> None:
    """What the walk-through must have produced, read back as JSON by the participant's terminal."""
    participant = terminals["participant"]
    code, out = participant.run("tourney --json status 2>/dev/null")
    assert code == 0, out
    [model] = json.loads(out)["models"]
    rounds = {r["round"]: r for r in model["rounds"]}
    assert sorted(rounds) == [1, 2, 3]
    for number, entry in rounds.items():
        # Rounds 1 and 3 came through the service, round 2 through the inbox: each one scored.
        assert entry["status"] == "active" and entry["corr"] is not None and "why" not in entry, entry
        assert entry["manifest_uri"].startswith(f"http://127.0.0.1:{service_port}/bundles/rounds/{number}/"), entry
    assert {r["round"] for r in model["receipts"]} == {1, 3}
    assert all(r["bundle"] == "in bundle" and r["genuine"] for r in model["receipts"]), model["receipts"]
    assert "withdrew 100 " in _normal(facts["participant:leave"]), facts["participant:leave"]
    assert "MISMATCH" not in facts["participant:results"] and "MISMATCH" not in facts["operator:check"]
    # The refused file of round 2 was never delivered: the inbox holds the one good record of model 1.
    records = list((homes["operator"] / "tournament" / "inbox" / "round-2").glob("model-*.json"))
    assert [r.name for r in records] == ["model-1.json"]
