"""How the project spells a transaction hash: 0x-prefixed lowercase hex, everywhere it prints or stores one.

Kept free of web3 so the command line can import it without paying web3's start-up time."""

from __future__ import annotations

from typing import Any

__all__ = ["hex_hash", "tx_hash"]


def hex_hash(value: Any) -> str:
    """A transaction (or block) hash as 0x-prefixed lowercase hex: the one spelling the project prints and stores
    (``HexBytes.hex()`` drops the prefix since hexbytes 1.0)."""
    from hexbytes import HexBytes  # here, not at import: `tourney --help` imports this module (70 ms, measured)

    return "0x" + bytes(HexBytes(value)).hex()


def tx_hash(receipt: Any) -> str:
    """A receipt's transaction hash, spelt as :func:`hex_hash` does."""
    return hex_hash(receipt["transactionHash"])
