"""Bytes, hashes and ABI encoding of leaf values, as ``@openzeppelin/merkle-tree`` does them (its ``bytes`` and
``hashes`` modules, with ``@metamask/abi-utils`` for the encoding).

* leaf hash      ``L(v) = keccak256(keccak256(abi.encode(types, v)))`` (double hash, so a 64-byte internal node can
  never be passed off as a leaf);
* node hash      ``H(a, b) = keccak256(min(a, b) || max(a, b))`` (pairs sorted as 256-bit integers, so a proof
  needs no left/right flags).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import eth_abi
from eth_abi.grammar import BasicType, TupleType
from eth_abi.grammar import parse as parse_abi_type

from oracle.errors import TourneyError

try:
    # safe-pysha3 is a thin C binding: ~0.9 us per 64-byte hash, against ~6 us for pycryptodome's and
    # eth_hash's Python-level wrappers (measured); hashing dominates building a tree.
    from sha3 import keccak_256 as keccak_ctor
except ImportError:  # pragma: no cover - only on machines without safe-pysha3
    from Crypto.Hash import keccak as _crypto_keccak

    def keccak_ctor(data: bytes = b"") -> Any:
        return _crypto_keccak.new(digest_bits=256, data=data)


def keccak256(data: bytes) -> bytes:
    """keccak256(data) as 32 raw bytes."""
    result: bytes = keccak_ctor(data).digest()
    return result


LeafValue = Sequence[Any]

# What eth_abi's parser yields: its ABIType base class declares neither ``base`` nor ``components``.
AbiType = BasicType | TupleType


def _type_str(abi: AbiType) -> str:
    """The canonical type string of a parsed ABI type (``uint256``, ``(address,bool)[]``)."""
    name: str = abi.to_type_str()  # type: ignore[no-untyped-call]  # eth_abi leaves to_type_str unannotated
    return name


__all__ = [
    "EncodingError",
    "LeafValue",
    "encoder_for",
    "json_value",
    "keccak256",
    "keccak_ctor",
    "leaf_hash",
    "node_from_hex",
    "node_hash",
    "to_hex",
]


def node_hash(a: bytes, b: bytes) -> bytes:
    """H(a, b) = keccak256(min(a, b) || max(a, b)); byte order of equal-length words = integer order."""
    return keccak256(a + b if a <= b else b + a)


def leaf_hash(leaf_encoding: Sequence[str], value: LeafValue) -> bytes:
    """L(v) = keccak256(keccak256(abi.encode(leaf_encoding, v))) as raw bytes."""
    return keccak256(keccak256(encoder_for(tuple(leaf_encoding))(value)))


def to_hex(node: bytes) -> str:
    return "0x" + node.hex()


_HEX_NODE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


def node_from_hex(node: Any, where: str) -> bytes:
    """Parse a 32-byte node given as hex (``0x`` optional, as the JS library accepts) or bytes."""
    if isinstance(node, (bytes, bytearray)) and len(node) == 32:
        return bytes(node)
    if isinstance(node, str) and _HEX_NODE.match(node):
        return bytes.fromhex(node[2:] if node.startswith("0x") else node)
    raise ValueError(f"{where}: Merkle tree nodes must be 32-byte hex strings, got {node!r}")


# ---------------------------------------------------------------------------------------------
# ABI encoding of leaf values
# ---------------------------------------------------------------------------------------------
#
# Values are accepted in the same forms as @metamask/abi-utils (which the JS library uses), so that a
# dump written by either side hashes the same on the other: integers as int or decimal / 0x-hex
# strings, addresses and bytes as 0x-hex strings or bytes (short addresses are left-padded and short
# bytesN right-padded, as abi-utils does), bools as bool or "true"/"false".

_HEX_BYTES = re.compile(r"^0[xX][0-9a-fA-F]*$")
_DECIMAL = re.compile(r"^\s*[+-]?[0-9]+\s*$")
_PREFIXED_INT = re.compile(r"^\s*0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)\s*$")


class EncodingError(TourneyError, ValueError):
    """A value that does not fit its ABI type; the tree adds which leaf it was."""


def _hex_to_bytes(text: str, abi_type: str) -> bytes:
    if not _HEX_BYTES.match(text):
        raise EncodingError(f"{abi_type} expects bytes or a 0x-prefixed hex string, got {text!r}")
    digits = text[2:]
    # abi-utils pads an odd number of hex digits on the left ("0x123" is 0x0123).
    return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)


def _as_bytes(value: Any, abi_type: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return _hex_to_bytes(value, abi_type)
    raise EncodingError(f"{abi_type} expects bytes or a 0x-prefixed hex string, got {value!r}")


def _as_int(value: Any, abi_type: str) -> int:
    """Integer from int, integral float, or a string JavaScript's ``BigInt()`` would parse."""
    if isinstance(value, bool):
        raise EncodingError(f"{abi_type} expects an integer, got the bool {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        if not value.strip():
            return 0  # JavaScript: BigInt("") === 0n, and abi-utils passes strings to BigInt
        if _DECIMAL.match(value):
            return int(value.strip(), 10)
        if _PREFIXED_INT.match(value):
            return int(value.strip(), 0)
    raise EncodingError(f"{abi_type} expects an integer (int or decimal/0x string), got {value!r}")


def _int_range(abi_type: str, bits: int) -> tuple[int, int, str]:
    """[low, high) of an ABI integer type, and that range written with powers of two."""
    if abi_type.startswith("uint"):
        return 0, 1 << bits, f"[0, 2**{bits})"
    return -(1 << (bits - 1)), 1 << (bits - 1), f"[-2**{bits - 1}, 2**{bits - 1})"


def _static_word_encoder(basic: BasicType) -> Callable[[Any], bytes] | None:
    """A value -> 32-byte word encoder for a static elementary type, or None if the type is not one."""
    if basic.arrlist:
        return None
    name, base, sub = _type_str(basic), basic.base, basic.sub
    if base in ("uint", "int"):
        bits = int(sub) if sub else 256
        low, high, span = _int_range(base, bits)
        signed = base == "int"

        def encode_int(value: Any) -> bytes:
            n = value if type(value) is int else _as_int(value, name)
            if not low <= n < high:
                raise EncodingError(f"{name} value {n} is out of range {span}")
            return n.to_bytes(32, "big", signed=signed)

        return encode_int
    if base == "address":

        def encode_address(value: Any) -> bytes:
            raw = _as_bytes(value, name)
            if len(raw) > 20:
                raise EncodingError(f"address must be at most 20 bytes, got {len(raw)} bytes: {value!r}")
            return raw.rjust(32, b"\0")

        return encode_address
    if base == "bool":

        def encode_bool(value: Any) -> bytes:
            if value is True or value == "true":
                return (1).to_bytes(32, "big")
            if value is False or value == "false":
                return bytes(32)
            raise EncodingError(f'bool expects True/False or "true"/"false", got {value!r}')

        return encode_bool
    if base == "bytes" and sub:
        size = int(sub)

        def encode_fixed_bytes(value: Any) -> bytes:
            raw = _as_bytes(value, name)
            if len(raw) > size:
                raise EncodingError(f"{name} value is {len(raw)} bytes long, at most {size} allowed: {value!r}")
            return raw.ljust(32, b"\0")

        return encode_fixed_bytes
    return None


def _normalise(abi: AbiType, value: Any) -> Any:
    """Convert a value to the Python form eth_abi encodes, validating it against ``abi``."""
    name = _type_str(abi)
    if abi.arrlist:
        if not isinstance(value, (list, tuple)):
            raise EncodingError(f"{name} expects a list, got {value!r}")
        length = abi.arrlist[-1]
        if length and len(value) != length[0]:
            raise EncodingError(f"{name} expects {length[0]} items, got {len(value)}")
        return [_normalise(abi.item_type, item) for item in value]
    if isinstance(abi, TupleType):
        if not isinstance(value, (list, tuple)) or len(value) != len(abi.components):
            raise EncodingError(f"{name} expects a list of {len(abi.components)} items, got {value!r}")
        return tuple(_normalise(c, v) for c, v in zip(abi.components, value))
    word = _static_word_encoder(abi)
    if word is not None:
        # eth_abi accepts raw 32-byte words for nothing, so decode our own canonical word back.
        encoded = word(value)
        if abi.base == "address":
            return "0x" + encoded[12:].hex()
        if abi.base == "bool":
            return encoded[-1] == 1
        if abi.base == "bytes":
            return encoded[: int(abi.sub)]
        return int.from_bytes(encoded, "big", signed=abi.base == "int")
    if abi.base == "string":
        if not isinstance(value, str):
            raise EncodingError(f"string expects a str, got {value!r}")
        return value
    if abi.base == "bytes":
        return _as_bytes(value, "bytes")
    raise EncodingError(f"unsupported ABI type {name!r}")


_SEQUENCES = (tuple, list)
# abi-utils reads a bare "uint"/"int" as the 256-bit type; eth_abi's grammar insists on the size.
_BARE_INT = re.compile(r"\b(u?int)(?![0-9A-Za-z_])")
_ENCODER_CACHE: dict[tuple[str, ...], Callable[[LeafValue], bytes]] = {}


def _parse_encoding(leaf_encoding: tuple[str, ...]) -> list[AbiType]:
    """The ABI types of a leaf encoding, validated (a bare ``uint``/``int`` is the 256-bit type, as in abi-utils)."""
    if not leaf_encoding:
        raise ValueError("leaf encoding must list at least one ABI type")
    parsed: list[AbiType] = []
    for i, type_str in enumerate(leaf_encoding):
        if not isinstance(type_str, str):
            raise ValueError(f"leaf encoding[{i}] must be an ABI type string, got {type_str!r}")
        try:
            abi = parse_abi_type(_BARE_INT.sub(r"\g<1>256", type_str))
            abi.validate()
        except Exception as exc:  # noqa: BLE001 - eth_abi raises several parse/validation error types
            raise ValueError(f"leaf encoding[{i}] {type_str!r} is not a valid ABI type: {exc}") from None
        parsed.append(abi)
    return parsed


def _uint_encoder(
    arity: int, static_words: list[Callable[[Any], bytes]], check_arity: Callable[[Any], None]
) -> Callable[[LeafValue], bytes]:
    """The encoder of an all-``uint256`` leaf: plain non-negative ints are written directly, anything else goes
    through the validating per-word encoders (which convert or explain)."""

    def encode_uints(value: LeafValue) -> bytes:
        if arity == 3 and type(value) in _SEQUENCES and len(value) == 3:
            # the settlement leaf: unrolled, ~2x faster than the general loop below
            a, b, c = value
            if type(a) is int and type(b) is int and type(c) is int and a >= 0 and b >= 0 and c >= 0:
                try:
                    return a.to_bytes(32, "big") + b.to_bytes(32, "big") + c.to_bytes(32, "big")
                except OverflowError:
                    pass
        check_arity(value)
        try:
            # type(n) is int, not isinstance: bools are ints in Python but abi-utils rejects them
            chunks = [n.to_bytes(32, "big") for n in value if type(n) is int]
            if len(chunks) == arity:
                return b"".join(chunks)
        except OverflowError:
            pass
        # not all plain non-negative ints below 2**256: the validating path converts or explains
        return b"".join([w(v) for w, v in zip(static_words, value)])

    return encode_uints


def encoder_for(leaf_encoding: tuple[str, ...]) -> Callable[[LeafValue], bytes]:
    """``abi.encode(leaf_encoding, value)`` as a function of the value, validated."""
    cached = _ENCODER_CACHE.get(leaf_encoding)
    if cached is not None:
        return cached
    parsed = _parse_encoding(leaf_encoding)
    arity = len(parsed)
    words = [_static_word_encoder(abi) if isinstance(abi, BasicType) else None for abi in parsed]

    def check_arity(value: Any) -> None:
        if not isinstance(value, (list, tuple)) or len(value) != arity:
            raise EncodingError(f"expected a list of {arity} values for {list(leaf_encoding)}, got {value!r}")

    if all(w is not None for w in words):
        # Fast path: every type is a static 32-byte word, so abi.encode is just the words concatenated.
        # eth_abi's generic encoder costs ~30 us per (uint256, uint256, uint256) leaf and ~45 us per
        # (address, uint256) (type dispatch, validation objects); this path ~0.6 us and ~3 us (measured),
        # which is what makes a 100k-leaf tree build in well under a second.
        static_words: list[Callable[[Any], bytes]] = [w for w in words if w is not None]
        if all(t in ("uint256", "uint") for t in leaf_encoding):
            encoder = _uint_encoder(arity, static_words, check_arity)
        else:

            def encode_static(value: LeafValue) -> bytes:
                check_arity(value)
                return b"".join([w(v) for w, v in zip(static_words, value)])

            encoder = encode_static
    else:
        type_strs = [_type_str(abi) for abi in parsed]

        def encode_general(value: LeafValue) -> bytes:
            check_arity(value)
            normalised = [_normalise(abi, v) for abi, v in zip(parsed, value)]
            try:
                return eth_abi.encode(type_strs, normalised)
            except Exception as exc:  # noqa: BLE001 - e.g. a str that is not valid UTF-8 (lone surrogates)
                raise EncodingError(f"cannot ABI-encode {value!r} as {type_strs}: {exc}") from None

        encoder = encode_general
    _ENCODER_CACHE[leaf_encoding] = encoder
    return encoder


def json_value(value: Any) -> Any:
    """A leaf value in the JSON form the JS library reads: big ints as decimal strings, bytes as 0x-hex."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else value
    raise ValueError(f"cannot write leaf value {value!r} to a dump")
