"""Shared fixtures for the oracle tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MERKLE_JS = REPO_ROOT / "tests" / "oracle" / "merkle_js.mjs"


def run_merkle_js(jobs: list[dict[str, Any]], timeout: float = 120) -> list[dict[str, Any]]:
    """Run jobs through the real @openzeppelin/merkle-tree in one node process; one result per job."""
    completed = subprocess.run(
        ["node", str(MERKLE_JS.relative_to(REPO_ROOT))],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"merkle_js.mjs failed ({completed.returncode}): {completed.stderr[-2000:]}")
    results = json.loads(completed.stdout)
    assert len(results) == len(jobs)
    return results


@pytest.fixture(scope="session")
def merkle_js() -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """``merkle_js(jobs) -> results``: batch calls to the npm Merkle library (see merkle_js.mjs)."""
    return run_merkle_js
