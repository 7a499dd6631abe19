"""The spending limit of one ``tourney mcp`` session: how much an agent may stake, per call and in all.

Amounts are integers in the token's smallest unit. With a session cap ``S``, a per-call cap ``C``, ``spent`` (stakes
that moved or may have moved) and ``held`` (stakes being sent right now), a stake of ``a`` is allowed iff

    0 < a <= C   and   spent + held + a <= S

and then the largest stake allowed is ``min(C, S - spent - held)``. A stake is held while its transaction is sent;
it becomes spent when it lands or when its outcome is unknown (a timeout may still land: paranoid), and is released
only when the chain certainly did not take it (a revert, or a refusal before anything was sent). Withdrawals give
nothing back: the limit bounds what the agent may put at risk in one session, not its net position.

The session is the server process: over stdio that is one agent's connection; over HTTP every client shares it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from oracle.mcp.errors import ToolFailure

__all__ = ["SpendingLimit"]


@dataclass
class SpendingLimit:
    """Per-session and per-call caps on stakes (smallest units); see the module docstring for the rule."""

    session_cap: int
    per_call_cap: int
    spent: int = 0
    held: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.session_cap <= 0 or self.per_call_cap <= 0:
            raise ValueError(
                f"spending caps must be positive, got session {self.session_cap}, per call {self.per_call_cap}"
            )
        if self.per_call_cap > self.session_cap:
            raise ValueError(f"the per-call cap {self.per_call_cap} exceeds the session cap {self.session_cap}")

    @property
    def remaining(self) -> int:
        """What the session may still stake, ignoring the per-call cap: ``S - spent - held``."""
        return self.session_cap - self.spent - self.held

    @property
    def max_allowed(self) -> int:
        """The largest single stake allowed now: ``min(C, S - spent - held)`` (0 when the session is used up)."""
        return max(0, min(self.per_call_cap, self.remaining))

    def hold(self, amount: int, describe: Callable[[int], str] = str) -> None:
        """Reserve ``amount`` for a stake about to be sent, or refuse with ``spending_limit``.

        ``describe`` renders smallest units for the message (token text)."""
        with self._lock:
            allowed = self.max_allowed
            if amount <= 0:
                raise ToolFailure("invalid_amount", f"a stake must be positive, got {describe(amount)}")
            if amount > allowed:
                which = "the per-call limit" if amount > self.per_call_cap else "what is left of the session limit"
                raise ToolFailure(
                    "spending_limit",
                    f"stake {describe(amount)} exceeds {which}: at most {describe(allowed)} now (per call "
                    f"{describe(self.per_call_cap)}, session {describe(self.session_cap)}, already staked "
                    f"{describe(self.spent)})",
                    max_allowed=describe(allowed),
                    per_call=describe(self.per_call_cap),
                    session=describe(self.session_cap),
                    spent=describe(self.spent),
                )
            self.held += amount

    def commit(self, amount: int) -> None:
        """The held stake moved (or may have moved): count it as spent."""
        with self._lock:
            self.held -= amount
            self.spent += amount

    def release(self, amount: int) -> None:
        """The held stake certainly did not move: give it back to the session."""
        with self._lock:
            self.held -= amount
