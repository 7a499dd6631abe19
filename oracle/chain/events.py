"""A decoded tournament event, as every reader of the chain sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["ChainEvent"]


@dataclass(frozen=True)
class ChainEvent:
    """One decoded tournament event; ``position`` orders events as the chain applied them."""

    name: str
    args: Mapping[str, Any]
    block: int
    log_index: int
    tx_hash: str

    @property
    def position(self) -> tuple[int, int]:
        return (self.block, self.log_index)
