"""The ``world`` fixture of the ``tourney mcp`` tests (helpers in mcp_world.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from mcp_world import World, make_world


@pytest.fixture
def world(chain: Any, participants: list[Any], tmp_path: Path) -> Iterator[World]:
    """A tournament with the operator's service and round 1 open, on the reverted chain; p0 is the agent."""
    found = make_world(chain, participants[0], tmp_path)
    try:
        yield found
    finally:
        found.stop_service()
