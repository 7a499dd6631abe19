"""EIP-2612 permits: the token-holder's signature that lets the tournament take a stake in the same transaction
(``stakeWithPermit``), so staking needs no separate approval. Domain: the token's name, version "1"."""

from __future__ import annotations

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from oracle.protocol.eip712 import eip712_document

__all__ = ["PERMIT_TYPES", "permit_signature"]


#: EIP-2612's Permit struct (the token's domain: its name, version "1").
PERMIT_TYPES: dict[str, list[dict[str, str]]] = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


def permit_signature(
    account: LocalAccount,
    token: Contract,
    spender: str,
    value: int,
    deadline: int,
    chain_id: int,
    nonce: int | None = None,
    name: str | None = None,
) -> tuple[int, bytes, bytes]:
    """(v, r, s) of an EIP-2612 permit for ``spender`` to take ``value`` of ``token`` from ``account``.

    The one implementation in the project (participants, the demo, the test builder and the gas bench use it).
    ``nonce`` defaults to the token's current nonce for ``account``; pass one to sign ahead of pending permits.
    ``name`` (the token's, its EIP-712 domain name) is read from the chain unless given: signing thousands of
    permits then needs no call each."""
    if nonce is None:
        nonce = token.functions.nonces(account.address).call()
    if name is None:
        name = token.functions.name().call()
    message = eip712_document(
        name,
        "1",
        chain_id,
        token.address,
        PERMIT_TYPES,
        "Permit",
        {
            "owner": account.address,
            "spender": Web3.to_checksum_address(spender),
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    )
    signed = account.sign_message(encode_typed_data(full_message=message))
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
