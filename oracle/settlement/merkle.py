"""OpenZeppelin-compatible Merkle trees (``@openzeppelin/merkle-tree`` 1.0.x, dump format ``standard-v1``).

Maths, identical to the npm package and to ``MerkleProof.sol``:

* leaf hash      ``L(v) = keccak256(keccak256(abi.encode(types, v)))`` (double hash, so a 64-byte
  internal node can never be passed off as a leaf);
* node hash      ``H(a, b) = keccak256(min(a, b) || max(a, b))`` (pairs sorted as 256-bit integers,
  so a proof needs no left/right flags);
* layout         a flat array ``tree`` of ``2n - 1`` nodes, heap-ordered: children of ``i`` are
  ``2i + 1`` and ``2i + 2``, the root is ``tree[0]`` and leaf ``k`` (after the optional sort by
  leaf hash) lives at ``tree[2n - 2 - k]``;
* proof of node ``i``: the siblings on the path to the root, bottom-up;
* multiproof: the npm package's algorithm, node for node (see :func:`_multi_proof`).

Why not a generic Merkle library: none reproduces this exact layout, the sorted-pair hash and the
multiproof ordering byte for byte, and the dumps must load in the JS library.
"""

from __future__ import annotations

import json
import re
from array import array
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import eth_abi
from eth_abi.grammar import ABIType, BasicType, TupleType, parse as parse_abi_type

from oracle.errors import TourneyError

try:
    # safe-pysha3 is a thin C binding: ~0.9 us per 64-byte hash, against ~6 us for pycryptodome's and
    # eth_hash's Python-level wrappers (measured); hashing dominates building a tree.
    from sha3 import keccak_256 as _keccak_ctor
except ImportError:  # pragma: no cover - only on machines without safe-pysha3
    from Crypto.Hash import keccak as _crypto_keccak

    def _keccak_ctor(data: bytes = b"") -> Any:
        return _crypto_keccak.new(digest_bits=256, data=data)


def keccak256(data: bytes) -> bytes:
    """keccak256(data) as 32 raw bytes."""
    return _keccak_ctor(data).digest()


FORMAT = "standard-v1"
LeafValue = Sequence[Any]

__all__ = [
    "FORMAT",
    "MultiProof",
    "StandardMerkleTree",
    "keccak256",
    "leaf_hash",
    "node_hash",
    "process_proof",
    "process_multi_proof",
]


# ---------------------------------------------------------------------------------------------
# hashing primitives
# ---------------------------------------------------------------------------------------------


def node_hash(a: bytes, b: bytes) -> bytes:
    """H(a, b) = keccak256(min(a, b) || max(a, b)); byte order of equal-length words = integer order."""
    return keccak256(a + b if a <= b else b + a)


def leaf_hash(leaf_encoding: Sequence[str], value: LeafValue) -> bytes:
    """L(v) = keccak256(keccak256(abi.encode(leaf_encoding, v))) as raw bytes."""
    return keccak256(keccak256(_encoder_for(tuple(leaf_encoding))(value)))


def _to_hex(node: bytes) -> str:
    return "0x" + node.hex()


_HEX_NODE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


def _node_from_hex(node: Any, where: str) -> bytes:
    """Parse a 32-byte node given as hex (``0x`` optional, as the JS library accepts) or bytes."""
    if isinstance(node, (bytes, bytearray)) and len(node) == 32:
        return bytes(node)
    if isinstance(node, str) and _HEX_NODE.match(node):
        return bytes.fromhex(node[2:] if node.startswith("0x") else node)
    raise ValueError(f"{where}: Merkle tree nodes must be 32-byte hex strings, got {node!r}")


def process_proof(leaf: bytes, proof: Sequence[Any]) -> bytes:
    """Fold a proof: ``r = leaf; for p in proof: r = H(r, p)``."""
    node = _node_from_hex(leaf, "leaf")
    for i, sibling in enumerate(proof):
        node = node_hash(node, _node_from_hex(sibling, f"proof[{i}]"))
    return node


def process_multi_proof(leaves: Sequence[bytes], proof: Sequence[Any], proof_flags: Sequence[bool]) -> bytes:
    """Rebuild the root from a multiproof, as ``MerkleProof.processMultiProof`` does.

    A queue starts with the leaves; each flag pops one node ``a`` and pairs it with the next queued node
    (flag true) or the next proof node (flag false), appending ``H(a, b)``. Valid iff
    ``len(leaves) + len(proof) == len(proof_flags) + 1``.
    """
    queue = deque(_node_from_hex(leaf, f"leaves[{i}]") for i, leaf in enumerate(leaves))
    siblings = deque(_node_from_hex(p, f"proof[{i}]") for i, p in enumerate(proof))
    flags = list(proof_flags)
    if len(siblings) < sum(1 for f in flags if not f):
        raise ValueError("Invalid multiproof format: fewer proof nodes than false proof flags")
    if len(queue) + len(siblings) != len(flags) + 1:
        raise ValueError(
            "Provided leaves and multiproof are not compatible: "
            f"{len(queue)} leaves + {len(siblings)} proof nodes != {len(flags)} flags + 1"
        )
    for step, flag in enumerate(flags):
        if not queue or (flag and len(queue) < 2):
            raise ValueError(f"Invalid multiproof: queue exhausted at flag {step}")
        a = queue.popleft()
        b = queue.popleft() if flag else siblings.popleft()
        queue.append(node_hash(a, b))
    if len(queue) + len(siblings) != 1:
        raise ValueError("Invalid multiproof: nodes left over after processing all flags")
    return queue.pop() if queue else siblings.popleft()


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


class _EncodingError(TourneyError, ValueError):
    """A value that does not fit its ABI type; the tree adds which leaf it was."""


def _hex_to_bytes(text: str, abi_type: str) -> bytes:
    if not _HEX_BYTES.match(text):
        raise _EncodingError(f"{abi_type} expects bytes or a 0x-prefixed hex string, got {text!r}")
    digits = text[2:]
    # abi-utils pads an odd number of hex digits on the left ("0x123" is 0x0123).
    return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)


def _as_bytes(value: Any, abi_type: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return _hex_to_bytes(value, abi_type)
    raise _EncodingError(f"{abi_type} expects bytes or a 0x-prefixed hex string, got {value!r}")


def _as_int(value: Any, abi_type: str) -> int:
    """Integer from int, integral float, or a string JavaScript's ``BigInt()`` would parse."""
    if isinstance(value, bool):
        raise _EncodingError(f"{abi_type} expects an integer, got the bool {value!r}")
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
    raise _EncodingError(f"{abi_type} expects an integer (int or decimal/0x string), got {value!r}")


def _int_range(abi_type: str, bits: int) -> tuple[int, int, str]:
    """[low, high) of an ABI integer type, and that range written with powers of two."""
    if abi_type.startswith("uint"):
        return 0, 1 << bits, f"[0, 2**{bits})"
    return -(1 << (bits - 1)), 1 << (bits - 1), f"[-2**{bits - 1}, 2**{bits - 1})"


def _static_word_encoder(basic: BasicType) -> Callable[[Any], bytes] | None:
    """A value -> 32-byte word encoder for a static elementary type, or None if the type is not one."""
    if basic.arrlist:
        return None
    name, base, sub = basic.to_type_str(), basic.base, basic.sub
    if base in ("uint", "int"):
        bits = int(sub) if sub else 256
        low, high, span = _int_range(base, bits)
        signed = base == "int"

        def encode_int(value: Any) -> bytes:
            n = value if type(value) is int else _as_int(value, name)
            if not low <= n < high:
                raise _EncodingError(f"{name} value {n} is out of range {span}")
            return n.to_bytes(32, "big", signed=signed)

        return encode_int
    if base == "address":

        def encode_address(value: Any) -> bytes:
            raw = _as_bytes(value, name)
            if len(raw) > 20:
                raise _EncodingError(f"address must be at most 20 bytes, got {len(raw)} bytes: {value!r}")
            return raw.rjust(32, b"\0")

        return encode_address
    if base == "bool":

        def encode_bool(value: Any) -> bytes:
            if value is True or value == "true":
                return (1).to_bytes(32, "big")
            if value is False or value == "false":
                return bytes(32)
            raise _EncodingError(f'bool expects True/False or "true"/"false", got {value!r}')

        return encode_bool
    if base == "bytes" and sub:
        size = int(sub)

        def encode_fixed_bytes(value: Any) -> bytes:
            raw = _as_bytes(value, name)
            if len(raw) > size:
                raise _EncodingError(f"{name} value is {len(raw)} bytes long, at most {size} allowed: {value!r}")
            return raw.ljust(32, b"\0")

        return encode_fixed_bytes
    return None


def _normalise(abi: ABIType, value: Any) -> Any:
    """Convert a value to the Python form eth_abi encodes, validating it against ``abi``."""
    name = abi.to_type_str()
    if abi.arrlist:
        if not isinstance(value, (list, tuple)):
            raise _EncodingError(f"{name} expects a list, got {value!r}")
        length = abi.arrlist[-1]
        if length and len(value) != length[0]:
            raise _EncodingError(f"{name} expects {length[0]} items, got {len(value)}")
        return [_normalise(abi.item_type, item) for item in value]
    if isinstance(abi, TupleType):
        if not isinstance(value, (list, tuple)) or len(value) != len(abi.components):
            raise _EncodingError(f"{name} expects a list of {len(abi.components)} items, got {value!r}")
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
            raise _EncodingError(f"string expects a str, got {value!r}")
        return value
    if abi.base == "bytes":
        return _as_bytes(value, "bytes")
    raise _EncodingError(f"unsupported ABI type {name!r}")


_SEQUENCES = (tuple, list)
# abi-utils reads a bare "uint"/"int" as the 256-bit type; eth_abi's grammar insists on the size.
_BARE_INT = re.compile(r"\b(u?int)(?![0-9A-Za-z_])")
_ENCODER_CACHE: dict[tuple[str, ...], Callable[[LeafValue], bytes]] = {}


def _encoder_for(leaf_encoding: tuple[str, ...]) -> Callable[[LeafValue], bytes]:
    """``abi.encode(leaf_encoding, value)`` as a function of the value, validated."""
    cached = _ENCODER_CACHE.get(leaf_encoding)
    if cached is not None:
        return cached
    if not leaf_encoding:
        raise ValueError("leaf encoding must list at least one ABI type")
    parsed: list[ABIType] = []
    for i, type_str in enumerate(leaf_encoding):
        if not isinstance(type_str, str):
            raise ValueError(f"leaf encoding[{i}] must be an ABI type string, got {type_str!r}")
        try:
            abi = parse_abi_type(_BARE_INT.sub(r"\g<1>256", type_str))
            abi.validate()
        except Exception as exc:  # eth_abi raises several parse/validation error types
            raise ValueError(f"leaf encoding[{i}] {type_str!r} is not a valid ABI type: {exc}") from None
        parsed.append(abi)
    arity = len(parsed)
    words = [_static_word_encoder(abi) if isinstance(abi, BasicType) else None for abi in parsed]

    def check_arity(value: Any) -> None:
        if not isinstance(value, (list, tuple)) or len(value) != arity:
            raise _EncodingError(f"expected a list of {arity} values for {list(leaf_encoding)}, got {value!r}")

    if all(w is not None for w in words):
        # Fast path: every type is a static 32-byte word, so abi.encode is just the words concatenated.
        # eth_abi's generic encoder costs ~30 us per (uint256, uint256, uint256) leaf and ~45 us per
        # (address, uint256) (type dispatch, validation objects); this path ~0.6 us and ~3 us (measured),
        # which is what makes a 100k-leaf tree build in well under a second.
        static_words: list[Callable[[Any], bytes]] = [w for w in words if w is not None]
        if all(t in ("uint256", "uint") for t in leaf_encoding):

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

            encoder = encode_uints
        else:

            def encode_static(value: LeafValue) -> bytes:
                check_arity(value)
                return b"".join([w(v) for w, v in zip(static_words, value)])

            encoder = encode_static
    else:
        type_strs = [abi.to_type_str() for abi in parsed]

        def encode_general(value: LeafValue) -> bytes:
            check_arity(value)
            normalised = [_normalise(abi, v) for abi, v in zip(parsed, value)]
            try:
                return eth_abi.encode(type_strs, normalised)
            except Exception as exc:  # e.g. a str that is not valid UTF-8 (lone surrogates)
                raise _EncodingError(f"cannot ABI-encode {value!r} as {type_strs}: {exc}") from None

        encoder = encode_general
    _ENCODER_CACHE[leaf_encoding] = encoder
    return encoder


def _json_value(value: Any) -> Any:
    """A leaf value in the JSON form the JS library reads: big ints as decimal strings, bytes as 0x-hex."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else value
    raise ValueError(f"cannot write leaf value {value!r} to a dump")


# ---------------------------------------------------------------------------------------------
# multiproof construction (the JS algorithm, node for node)
# ---------------------------------------------------------------------------------------------


def _multi_proof(tree: Sequence[bytes], tree_indices: Sequence[int]) -> tuple[list[int], list[bytes], list[bool]]:
    """Multiproof of leaf positions ``tree_indices``: (leaf positions in proof order, proof, flags).

    Positions are processed in decreasing order (deepest, right-most first); each step takes the
    first queued node ``j``: if its sibling is the next queued node the pair is merged (flag true),
    otherwise the sibling is a proof node (flag false); the parent is queued. Proving nothing yields
    ``proof = [root]``.
    """
    indices = sorted(tree_indices, reverse=True)
    for a, b in zip(indices, indices[1:]):
        if a == b:
            raise ValueError(f"Cannot prove duplicated index (tree position {a} requested twice)")
    queue = deque(indices)
    proof: list[bytes] = []
    flags: list[bool] = []
    while queue and queue[0] > 0:
        j = queue.popleft()
        sibling = j - 1 if j % 2 == 0 else j + 1
        if queue and queue[0] == sibling:
            flags.append(True)
            queue.popleft()
        else:
            flags.append(False)
            proof.append(tree[sibling])
        queue.append((j - 1) // 2)
    if not indices:
        proof.append(tree[0])
    return indices, proof, flags


# ---------------------------------------------------------------------------------------------
# the tree
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MultiProof:
    """What ``MerkleProof.multiProofVerify`` takes: leaf values (in proof order), proof nodes, flags."""

    leaves: list[Any]
    proof: list[str]
    proof_flags: list[bool]

    def to_json(self) -> dict[str, Any]:
        """The JS library's field names (``proofFlags``), values JSON-safe."""
        return {"leaves": [_json_value(v) for v in self.leaves], "proof": list(self.proof), "proofFlags": list(self.proof_flags)}


def _multiproof_parts(multiproof: MultiProof | Mapping[str, Any]) -> tuple[Sequence[Any], Sequence[Any], Sequence[bool]]:
    if isinstance(multiproof, MultiProof):
        return multiproof.leaves, multiproof.proof, multiproof.proof_flags
    try:
        flags = multiproof["proofFlags"] if "proofFlags" in multiproof else multiproof["proof_flags"]
        return multiproof["leaves"], multiproof["proof"], flags
    except (KeyError, TypeError):
        raise ValueError("multiproof must have leaves, proof and proofFlags (or proof_flags)") from None


class StandardMerkleTree:
    """Python twin of the npm ``StandardMerkleTree``: same root, proofs, multiproofs and dump."""

    __slots__ = ("_tree", "_values", "_tree_index", "_leaf_encoding", "_encode", "_lookup")

    def __init__(self, tree: list[bytes], values: list[Any], tree_index: array, leaf_encoding: Sequence[str]):
        """Internal: use :meth:`of` or :meth:`load`. ``tree`` holds raw 32-byte nodes."""
        self._tree = tree
        self._values = values
        self._tree_index = tree_index
        self._leaf_encoding = list(leaf_encoding)
        self._encode = _encoder_for(tuple(leaf_encoding))
        self._lookup: dict[bytes, int] | None = None

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def of(cls, values: Iterable[LeafValue], leaf_encoding: Sequence[str], sort_leaves: bool = True) -> "StandardMerkleTree":
        """Build the tree of ``values``; with ``sort_leaves`` leaves are ordered by hash (stable)."""
        if isinstance(leaf_encoding, str):
            raise ValueError(f"leaf_encoding must be a list of ABI types, got the string {leaf_encoding!r}")
        encoding = tuple(leaf_encoding)
        encode = _encoder_for(encoding)
        values = list(values)
        if not values:
            raise ValueError("Expected non-zero number of leaves")
        hashes = _hash_leaves(values, encode)
        n = len(hashes)
        order: Sequence[int] = sorted(range(n), key=hashes.__getitem__) if sort_leaves else range(n)
        tree: list[bytes] = [b""] * (2 * n - 1)
        tree_index = array("q", bytes(8 * n))
        last = 2 * n - 2
        for leaf_pos, value_index in enumerate(order):
            tree[last - leaf_pos] = hashes[value_index]
            tree_index[value_index] = last - leaf_pos
        del hashes, order
        _hash_internal_nodes(tree, n)
        return cls(tree, values, tree_index, encoding)

    @classmethod
    def load(cls, data: Mapping[str, Any] | str) -> "StandardMerkleTree":
        """Load a ``standard-v1`` dump (a dict, or its JSON text), validating every node and leaf."""
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ValueError(f"dump is not valid JSON: {exc}") from None
        if not isinstance(data, Mapping):
            raise ValueError(f"dump must be a JSON object, got {type(data).__name__}")
        if data.get("format") != FORMAT:
            raise ValueError(f"Unknown format {data.get('format')!r} (expected {FORMAT!r})")
        if data.get("leafEncoding") is None:
            raise ValueError("Expected leaf encoding (dump has no 'leafEncoding')")
        encoding = data["leafEncoding"]
        if not isinstance(encoding, list):
            raise ValueError(f"dump 'leafEncoding' must be a list of ABI types, got {encoding!r}")
        raw_tree, raw_values = data.get("tree"), data.get("values")
        if not isinstance(raw_tree, list):
            raise ValueError("dump 'tree' must be a list of 32-byte hex nodes")
        if not isinstance(raw_values, list):
            raise ValueError("dump 'values' must be a list of {value, treeIndex} objects")
        tree = [_node_from_hex(node, f"dump tree[{i}]") for i, node in enumerate(raw_tree)]
        values: list[Any] = []
        tree_index = array("q")
        for i, entry in enumerate(raw_values):
            if not isinstance(entry, Mapping) or "value" not in entry:
                raise ValueError(f"dump values[{i}] must be an object with 'value' and 'treeIndex'")
            if isinstance(entry["value"], (int, float)) and not isinstance(entry["value"], bool):
                raise ValueError(f"dump values[{i}]: Leaf values cannot be numbers")
            position = entry.get("treeIndex")
            if type(position) is not int or not 0 <= position < len(tree):
                raise ValueError(f"dump values[{i}]: treeIndex {position!r} is not a node of the {len(tree)}-node tree")
            # The JS library compares leaf nodes to its own lowercase 0x-hex hash as strings.
            if raw_tree[position] != _to_hex(tree[position]):
                raise ValueError(f"dump tree[{position}] (leaf of values[{i}]) is not lowercase 0x-prefixed hex")
            values.append(entry["value"])
            tree_index.append(position)
        loaded = cls(tree, values, tree_index, encoding)
        loaded._validate()
        return loaded

    def _validate(self) -> None:
        for i in range(len(self._values)):
            try:
                expected = keccak256(keccak256(self._encode(self._values[i])))
            except _EncodingError as exc:
                raise ValueError(f"values[{i}] does not match leaf encoding {self._leaf_encoding}: {exc}") from None
            if self._tree[self._tree_index[i]] != expected:
                raise ValueError(f"Merkle tree does not contain the expected value: values[{i}] hashes to "
                                 f"{_to_hex(expected)}, tree[{self._tree_index[i]}] is {_to_hex(self._tree[self._tree_index[i]])}")
        _check_tree_shape(self._tree)

    # -- accessors ---------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """The root as 0x-prefixed lowercase hex."""
        return _to_hex(self._tree[0])

    @property
    def leaf_encoding(self) -> list[str]:
        return list(self._leaf_encoding)

    def __len__(self) -> int:
        return len(self._values)

    def at(self, index: int) -> Any:
        """The value given at position ``index`` of the input (not of the tree)."""
        return self._values[self._check_index(index)]

    def entries(self) -> Iterator[tuple[int, Any]]:
        """(input index, value) pairs in input order."""
        return iter(enumerate(self._values))

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        return self.entries()

    def leaf_hash(self, value: LeafValue) -> str:
        """L(value) as 0x-hex; raises ValueError if the value does not fit the leaf encoding."""
        return _to_hex(self._hash(value))

    def tree_index(self, index: int) -> int:
        """Position in the flat node array of the leaf for input ``index``."""
        return self._tree_index[self._check_index(index)]

    # -- proofs --------------------------------------------------------------------------------

    def get_proof(self, index_or_value: int | LeafValue) -> list[str]:
        """Siblings from the leaf up to (excluding) the root, as 0x-hex."""
        position = self._tree_index[self._value_index(index_or_value)]
        tree, proof = self._tree, []
        # No re-verification against the root as the JS library does: the node array is private,
        # built here or fully validated by load(), and never mutated.
        while position > 0:
            proof.append(tree[position - 1 if position % 2 == 0 else position + 1])
            position = (position - 1) // 2
        return [_to_hex(node) for node in proof]

    def all_proofs(self) -> list[list[str]]:
        """``[get_proof(i) for i in range(len(self))]``, sharing one hex string per node."""
        hexes = self._hex_nodes()
        proofs = []
        for position in self._tree_index:
            proof = []
            while position > 0:
                proof.append(hexes[position - 1 if position % 2 == 0 else position + 1])
                position = (position - 1) // 2
            proofs.append(proof)
        return proofs

    def get_multi_proof(self, indices_or_values: Iterable[int | LeafValue]) -> MultiProof:
        """Multiproof of several leaves; leaves come back in the order the verifier consumes them."""
        value_indices = [self._value_index(x) for x in indices_or_values]
        if len(set(value_indices)) != len(value_indices):
            repeated = sorted(i for i, count in Counter(value_indices).items() if count > 1)
            raise ValueError(f"Cannot prove duplicated index: value indices {repeated} requested more than once "
                             "(equal values map to the same index)")
        positions, proof, flags = _multi_proof(self._tree, [self._tree_index[i] for i in value_indices])
        lookup = self._leaf_lookup()
        leaves = [self._values[lookup[self._tree[p]]] for p in positions]
        return MultiProof(leaves=leaves, proof=[_to_hex(p) for p in proof], proof_flags=flags)

    def verify_proof(self, index_or_value: int | LeafValue, proof: Sequence[str]) -> bool:
        """Whether ``proof`` proves the value (or the value at an input index) against this root."""
        value = self._values[self._check_index(index_or_value)] if _is_index(index_or_value) else index_or_value
        return process_proof(self._hash(value), proof) == self._tree[0]

    def verify_multi_proof_self(self, multiproof: MultiProof | Mapping[str, Any]) -> bool:
        """Whether ``multiproof`` proves its leaves against this root."""
        return StandardMerkleTree.verify_multi_proof(self.root, self._leaf_encoding, multiproof)

    @staticmethod
    def verify(root: str, leaf_encoding: Sequence[str], value: LeafValue, proof: Sequence[str]) -> bool:
        """Whether ``proof`` proves ``value`` (encoded per ``leaf_encoding``) under ``root``."""
        return process_proof(leaf_hash(leaf_encoding, value), proof) == _node_from_hex(root, "root")

    @staticmethod
    def verify_multi_proof(root: str, leaf_encoding: Sequence[str], multiproof: MultiProof | Mapping[str, Any]) -> bool:
        """Whether a multiproof (MultiProof or JS-shaped dict) proves its leaf values under ``root``."""
        leaves, proof, flags = _multiproof_parts(multiproof)
        hashed = [leaf_hash(leaf_encoding, v) for v in leaves]
        return process_multi_proof(hashed, proof, flags) == _node_from_hex(root, "root")

    # -- dump ----------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The ``standard-v1`` dump: JSON-safe, loadable by ``StandardMerkleTree.load`` in JS."""
        return {
            "format": FORMAT,
            "leafEncoding": list(self._leaf_encoding),
            "tree": self._hex_nodes(),
            "values": [{"value": _json_value(v), "treeIndex": t} for v, t in zip(self._values, self._tree_index)],
        }

    def render(self) -> str:
        """ASCII drawing of the tree (as the JS ``render``), for debugging small trees."""
        lines, stack = [], [(0, [])]
        while stack:
            i, path = stack.pop()
            prefix = "".join("│  " if p else "   " for p in path[:-1]) + ("├─ " if path[-1:] == [1] else "└─ " if path else "")
            lines.append(f"{prefix}{i}) {_to_hex(self._tree[i])}")
            if 2 * i + 2 < len(self._tree):
                stack.append((2 * i + 2, path + [0]))
                stack.append((2 * i + 1, path + [1]))
        return "\n".join(lines)

    # -- internals -----------------------------------------------------------------------------

    def _hash(self, value: LeafValue) -> bytes:
        try:
            return keccak256(keccak256(self._encode(value)))
        except _EncodingError as exc:
            raise ValueError(f"value does not match leaf encoding {self._leaf_encoding}: {exc}") from None

    def _hex_nodes(self) -> list[str]:
        # Not cached: for a million leaves the hex strings take ~230 MB, more than the tree itself.
        return [_to_hex(node) for node in self._tree]

    def _leaf_lookup(self) -> dict[bytes, int]:
        # Built on first use: a million-leaf tree should not pay for a dict it may never need.
        # Later duplicates overwrite earlier ones, as Object.fromEntries does in the JS library.
        if self._lookup is None:
            tree = self._tree
            self._lookup = {tree[t]: i for i, t in enumerate(self._tree_index)}
        return self._lookup

    def _check_index(self, index: Any) -> int:
        if not _is_index(index) or not 0 <= index < len(self._values):
            raise ValueError(f"Index out of bounds: {index!r} (tree has {len(self._values)} values)")
        return index

    def _value_index(self, index_or_value: Any) -> int:
        if _is_index(index_or_value):
            return self._check_index(index_or_value)
        found = self._leaf_lookup().get(self._hash(index_or_value))
        if found is None:
            raise ValueError(f"Leaf is not in tree: {index_or_value!r}")
        return found


def _is_index(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _hash_leaves(values: list[Any], encode: Callable[[LeafValue], bytes]) -> list[bytes]:
    keccak = _keccak_ctor
    hashes: list[bytes] = []
    append = hashes.append
    i = 0
    try:
        for i, value in enumerate(values):
            append(keccak(keccak(encode(value)).digest()).digest())
    except _EncodingError as exc:
        raise ValueError(f"values[{i}] does not match leaf encoding: {exc}") from None
    return hashes


def _hash_internal_nodes(tree: list[bytes], n_leaves: int) -> None:
    """Fill internal nodes ``tree[n-2] .. tree[0]`` bottom-up: ``tree[i] = H(tree[2i+1], tree[2i+2])``."""
    keccak = _keccak_ctor
    for i in range(n_leaves - 2, -1, -1):
        a, b = tree[2 * i + 1], tree[2 * i + 2]
        tree[i] = keccak(a + b if a <= b else b + a).digest()


def _check_tree_shape(tree: list[bytes]) -> None:
    """The JS ``isValidMerkleTree``: non-empty, every node with children hashes them, no lone child."""
    if not tree:
        raise ValueError("Merkle tree is invalid: it has no nodes")
    size = len(tree)
    for i in range(size):
        left, right = 2 * i + 1, 2 * i + 2
        if right >= size:
            if left < size:
                raise ValueError(f"Merkle tree is invalid: node {i} has a left child but no right child")
        elif tree[i] != node_hash(tree[left], tree[right]):
            raise ValueError(f"Merkle tree is invalid: node {i} is not the hash of nodes {left} and {right}")
