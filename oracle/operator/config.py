"""The operator's settings, its errors, and the record of what it did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oracle.chain.tx import ChainError
from oracle.scoring.params import RoundParams

__all__ = ["HANG_ENV", "STEPS", "Action", "OperatorConfig", "OperatorError"]

#: Names of the points an operator can be told to stop at (tests kill it there): after each transaction, and
#: after the bundle is written but before the proposal is sent.
STEPS = ("opened", "closed", "bundled", "proposed", "activated")
#: Environment variable naming a step in STEPS: the operator announces it on stderr and hangs there.
HANG_ENV = "TOURNEY_OPERATOR_HANG_AT"


class OperatorError(ChainError):
    """The operator cannot go on with a round; the message says which round and why."""


@dataclass(frozen=True)
class OperatorConfig:
    """Where the operator reads and writes, and how rounds are run.

    ``params`` is the scoring template; each round gets a copy with ``round_number`` set. ``max_rounds`` stops the
    operator from opening rounds past that number (None: no limit). ``public_url``: see the field."""

    store: str
    inbox: str
    round_data: str
    params: RoundParams
    submission_window: int = 3600
    max_rounds: int | None = None
    inflight_timeout: float = 120.0
    #: The service URL that serves the store (``<url>/bundles/...``): manifest URIs are posted under it, so anyone
    #: can open them; None posts the store's own URI.
    public_url: str | None = None

    def __post_init__(self) -> None:
        if self.submission_window < 1:
            raise ValueError(f"submission_window must be at least 1 second, got {self.submission_window}")
        if self.max_rounds is not None and self.max_rounds < 1:
            raise ValueError(f"max_rounds must be at least 1, got {self.max_rounds}")


@dataclass(frozen=True)
class Action:
    """One thing the operator did (or found already done)."""

    step: str
    round: int
    detail: str = ""
    tx: str | None = None
    gas: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "round": self.round, "detail": self.detail, "tx": self.tx, "gas": self.gas}
