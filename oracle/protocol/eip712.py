"""EIP-712 typed-data documents: one builder and one digest for every signed document of the project
(submissions, receipts, permits), so a domain can never be spelt differently in two places.

    digest = keccak256(0x19 || 0x01 || domainSeparator || hashStruct(message))
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from eth_account.messages import encode_typed_data
from eth_utils import keccak
from web3 import Web3

__all__ = ["EIP712_DOMAIN_FIELDS", "checksum_address", "eip712_digest", "eip712_document"]


#: The EIP-712 domain fields every typed document of the project uses (submissions, receipts, token permits).
EIP712_DOMAIN_FIELDS: list[dict[str, str]] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def checksum_address(value: object) -> str | None:
    """``value`` in EIP-55 checksum form, or None when it is not an address (any non-text value included). Cached:
    every record checks its tournament and signer each time it is built, and the service builds several per
    submission from a few thousand distinct addresses."""
    return _checksum_text(value) if isinstance(value, str) else None


@lru_cache(maxsize=1 << 16)
def _checksum_text(value: str) -> str | None:
    return Web3.to_checksum_address(value) if Web3.is_address(value) else None


def eip712_document(
    name: str,
    version: str,
    chain_id: int,
    contract: str,
    types: dict[str, list[dict[str, str]]],
    primary_type: str,
    message: dict[str, Any],
) -> dict[str, Any]:
    """A full EIP-712 typed-data document for a contract's domain (name, version, chainId, verifyingContract).

    One builder for every signed document, so the domain can never be spelt differently in two places."""
    return {
        "types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, **types},
        "primaryType": primary_type,
        "domain": {
            "name": name,
            "version": version,
            "chainId": int(chain_id),
            "verifyingContract": Web3.to_checksum_address(contract),
        },
        "message": message,
    }


def eip712_digest(document: dict[str, Any]) -> str:
    """The 32-byte EIP-712 digest of a typed-data document, 0x hex (what the signer signed and contracts hash)."""
    message = encode_typed_data(full_message=document)
    return "0x" + keccak(b"\x19" + message.version + message.header + message.body).hex()
