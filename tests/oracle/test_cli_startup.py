"""The ``tourney`` command starts instantly: importing it, ``--help``, ``--version`` and every subcommand's ``--help``
import none of the heavy libraries (they cost seconds to import; a command imports what it uses when it runs).

Asserted on the import boundary, in a fresh interpreter each, never on a time."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Libraries that take from a tenth of a second to seconds to import, and that no help text needs.
HEAVY = (
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "sklearn",
    "numerai_tools",
    "matplotlib",
    "web3",
    "eth_account",
    "eth_keys",
    "eth_abi",
    "fastapi",
    "uvicorn",
    "starlette",
    "fsspec",
    "rich",
    "hexbytes",
)


def _run(script: str) -> dict:
    """Run ``script`` in a fresh interpreter (this checkout first on the path); it prints one JSON document."""
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.splitlines()[-1])


_LOADED = f"sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))"


def test_importing_the_cli_imports_nothing_heavy() -> None:
    found = _run(f"""
        import json, sys
        import oracle.cli
        print(json.dumps({{"heavy": {_LOADED}}}))
    """)
    assert found["heavy"] == []


def test_help_and_version_of_every_command_import_nothing_heavy() -> None:
    found = _run(f"""
        import json, sys
        import click
        from click.testing import CliRunner
        from oracle.cli import main

        runner = CliRunner()
        seen, failures = [], []

        def walk(path, command):
            seen.append(" ".join(path))
            result = runner.invoke(main, [*path, "--help"])
            if result.exit_code != 0 or "Usage:" not in result.output:
                failures.append([" ".join(path), result.exit_code, result.output[-500:]])
            if isinstance(command, click.Group):
                ctx = click.Context(command)
                for name in command.list_commands(ctx):
                    walk([*path, name], command.get_command(ctx, name))

        walk([], main)
        version = runner.invoke(main, ["--version"])
        print(json.dumps({{"heavy": {_LOADED}, "seen": seen, "failures": failures,
                          "version": version.output}}))
    """)
    assert found["failures"] == []
    assert found["heavy"] == []
    # Every command was reached, nested ones included (the operator's steps live in the round group).
    for path in (
        "score",
        "round recompute",
        "round open",
        "round activate",
        "round lapse",
        "round wait",
        "operator run",
        "account create",
        "settle",
        "verify",
        "serve",
        "simulate",
        "mcp",
        "deploy",
        "token balance",
        "token transfer",
        "reserve fund",
        "reserve show",
        "data download",
        "data generate",
    ):
        assert path in found["seen"]
    assert found["version"].startswith("tourney, version ")


def test_installed_console_script_help_imports_nothing_heavy() -> None:
    """The console script itself, with Python's own import log: the help path of a real process."""
    tourney = Path(sys.executable).with_name("tourney")
    if not tourney.exists():
        pytest.skip("console script not installed")
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", str(tourney), "verify", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 0, completed.stderr
    assert "--round" in completed.stdout
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in completed.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "click" in imported  # the log is read correctly
    assert sorted(imported & set(HEAVY)) == []


def test_lazy_commands_are_the_registered_ones() -> None:
    from click import Context

    from oracle.cli import COMMANDS, main

    ctx = Context(main)
    names = main.list_commands(ctx)
    assert names[:2] == ["score", "round"]
    assert len(names) == len(set(names)), "a command is registered twice"
    for name in COMMANDS:
        assert main.get_command(ctx, name).name == name
    assert main.get_command(ctx, "no-such-command") is None


def test_recompute_tolerance_help_names_the_auditors_default() -> None:
    from click.testing import CliRunner

    from oracle.auditor.recompute import FLOAT_TOLERANCE
    from oracle.cli import main

    shown = " ".join(CliRunner().invoke(main, ["round", "recompute", "--help"]).output.split())
    stated = re.search(r"Tolerance for corr and mmc \[default: ([^\]]+)\]", shown)
    assert stated is not None and float(stated.group(1)) == FLOAT_TOLERANCE
