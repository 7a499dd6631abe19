"""The receipt's EIP-712 digest, which the intake signs for every submission, with the domain separator worked out
once.

For a domain D and a struct of four 32-byte words (a receipt is)::

    digest = keccak256(0x19 || 0x01 || keccak256(encode(EIP712Domain(D)))
                       || keccak256(typeHash || w1 || w2 || w3 || w4))

``oracle.protocol`` builds the whole typed-data document per call (a few hundred microseconds, mostly re-hashing the
domain); the value here is the same (tests/service/test_digests.py checks it against
:func:`oracle.protocol.receipt.receipt_digest` and :func:`oracle.protocol.receipt.sign_receipt`). The type string is
derived from the protocol's type list, so the two cannot drift apart. Duplicates and replays are keyed by the
protocol's own :func:`oracle.protocol.submission.replay_key`.
"""

from __future__ import annotations

from functools import lru_cache

from eth_abi import encode
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils import keccak
from web3 import Web3

from oracle.protocol.eip712 import EIP712_DOMAIN_FIELDS
from oracle.protocol.receipt import RECEIPT_DOMAIN_NAME, RECEIPT_DOMAIN_VERSION, RECEIPT_TYPES

__all__ = ["receipt_signature"]


def _type_string(name: str, fields: list[dict[str, str]]) -> bytes:
    return f"{name}({','.join(f['type'] + ' ' + f['name'] for f in fields)})".encode()


_DOMAIN_TYPEHASH = keccak(_type_string("EIP712Domain", EIP712_DOMAIN_FIELDS))
_RECEIPT_TYPEHASH = keccak(_type_string("Receipt", RECEIPT_TYPES["Receipt"]))


@lru_cache(maxsize=64)
def _separator(name: str, version: str, chain_id: int, contract: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                _DOMAIN_TYPEHASH,
                keccak(name.encode()),
                keccak(version.encode()),
                chain_id,
                Web3.to_checksum_address(contract),
            ],
        )
    )


def _digest(separator: bytes, typehash: bytes, a: int, b: int, hash_hex: str, d: int) -> Hash32:
    words = (
        typehash + a.to_bytes(32, "big") + b.to_bytes(32, "big") + bytes.fromhex(hash_hex[2:]) + d.to_bytes(32, "big")
    )
    return Hash32(keccak(b"\x19\x01" + separator + keccak(words)))


def receipt_signature(
    operator: LocalAccount,
    chain_id: int,
    tournament: str,
    round: int,
    model_id: int,
    predictions_hash: str,
    received_at: int,
) -> str:
    """The signature :func:`oracle.protocol.receipt.sign_receipt` puts in the receipt (RFC 6979: the same bytes)."""
    separator = _separator(RECEIPT_DOMAIN_NAME, RECEIPT_DOMAIN_VERSION, int(chain_id), tournament)
    digest = _digest(separator, _RECEIPT_TYPEHASH, round, model_id, predictions_hash, received_at)
    return "0x" + bytes(operator.unsafe_sign_hash(digest).signature).hex()
