"""Canonical secp256k1 signatures: exactly one accepted encoding per signed message.

An ECDSA signature (r, s) over secp256k1 stays valid as (r, n - s) with the other recovery id, and libraries
accept the recovery byte ``v`` as 0/1 as well as 27/28, so one signature has four encodings that recover the same
signer. Anything keyed on signature bytes (a replay list, a duplicate check) can be dodged by re-encoding. We do not
normalise: a signature is accepted only in the form every standard wallet produces (EIP-2 "low s", Ethereum's
``v`` of 27 or 28), and refused otherwise, naming the rule, so the signer re-signs with a standard wallet.

    canonical  <=>  len = 65,  v in {27, 28},  0 < r < n,  0 < s <= n / 2     (n: the secp256k1 group order)
"""

from __future__ import annotations

from eth_keys.constants import SECPK1_N
from hexbytes import HexBytes

__all__ = ["SECPK1_HALF_N", "non_canonical_reason"]

#: The largest ``s`` of a canonical signature (EIP-2).
SECPK1_HALF_N = SECPK1_N // 2


def non_canonical_reason(signature: str | bytes) -> str | None:
    """Why ``signature`` (65 bytes r || s || v, or its 0x hex) is not canonical, or None when it is."""
    try:
        raw = bytes(HexBytes(signature))
    except (TypeError, ValueError):
        return "not hex"
    if len(raw) != 65:
        return f"{len(raw)} bytes, a signature has 65 (r, s, v)"
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v not in (27, 28):
        return f"v is {v}; canonical signatures use 27 or 28"
    if not 0 < r < SECPK1_N:
        return "r is outside (0, n)"
    if not 0 < s < SECPK1_N:
        return "s is outside (0, n)"
    if s > SECPK1_HALF_N:
        return "s is in the upper half of the curve order (high-s, EIP-2)"
    return None
