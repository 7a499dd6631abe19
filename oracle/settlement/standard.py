"""``StandardMerkleTree`` of ``@openzeppelin/merkle-tree`` 1.0.x (dump format ``standard-v1``): same root, proofs,
multiproofs and dump as the npm package and ``MerkleProof.sol``; leaves are optionally sorted by hash (stable), so
leaf ``k`` after the sort lives at ``tree[2n - 2 - k]``.

The port is split as the npm library is: :mod:`oracle.settlement.encoding` (bytes, hashes, ABI encoding),
:mod:`oracle.settlement.core` (layout, proofs, multiproofs, validity), this module (the tree of typed values).

Why not a generic Merkle library: none reproduces this exact layout, the sorted-pair hash and the multiproof
ordering byte for byte, and the dumps must load in the JS library.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from oracle.settlement.core import (
    check_tree_shape,
    hash_internal_nodes,
    multi_proof,
    process_multi_proof,
    process_proof,
)
from oracle.settlement.encoding import (
    EncodingError,
    LeafValue,
    encoder_for,
    json_value,
    keccak256,
    keccak_ctor,
    leaf_hash,
    node_from_hex,
    to_hex,
)

FORMAT = "standard-v1"

__all__ = ["FORMAT", "MultiProof", "StandardMerkleTree"]


@dataclass(frozen=True)
class MultiProof:
    """What ``MerkleProof.multiProofVerify`` takes: leaf values (in proof order), proof nodes, flags."""

    leaves: list[Any]
    proof: list[str]
    proof_flags: list[bool]

    def to_json(self) -> dict[str, Any]:
        """The JS library's field names (``proofFlags``), values JSON-safe."""
        return {
            "leaves": [json_value(v) for v in self.leaves],
            "proof": list(self.proof),
            "proofFlags": list(self.proof_flags),
        }


def _multiproof_parts(
    multiproof: MultiProof | Mapping[str, Any],
) -> tuple[Sequence[Any], Sequence[Any], Sequence[bool]]:
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

    def __init__(self, tree: list[bytes], values: list[Any], tree_index: array[int], leaf_encoding: Sequence[str]):
        """Internal: use :meth:`of` or :meth:`load`. ``tree`` holds raw 32-byte nodes."""
        self._tree = tree
        self._values = values
        self._tree_index = tree_index
        self._leaf_encoding = list(leaf_encoding)
        self._encode = encoder_for(tuple(leaf_encoding))
        self._lookup: dict[bytes, int] | None = None

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def of(
        cls, values: Iterable[LeafValue], leaf_encoding: Sequence[str], sort_leaves: bool = True
    ) -> "StandardMerkleTree":
        """Build the tree of ``values``; with ``sort_leaves`` leaves are ordered by hash (stable)."""
        if isinstance(leaf_encoding, str):
            raise ValueError(f"leaf_encoding must be a list of ABI types, got the string {leaf_encoding!r}")
        encoding = tuple(leaf_encoding)
        encode = encoder_for(encoding)
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
        hash_internal_nodes(tree, n)
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
        tree = [node_from_hex(node, f"dump tree[{i}]") for i, node in enumerate(raw_tree)]
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
            if raw_tree[position] != to_hex(tree[position]):
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
            except EncodingError as exc:
                raise ValueError(f"values[{i}] does not match leaf encoding {self._leaf_encoding}: {exc}") from None
            if self._tree[self._tree_index[i]] != expected:
                raise ValueError(
                    f"Merkle tree does not contain the expected value: values[{i}] hashes to "
                    f"{to_hex(expected)}, tree[{self._tree_index[i]}] is {to_hex(self._tree[self._tree_index[i]])}"
                )
        check_tree_shape(self._tree)

    # -- accessors ---------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """The root as 0x-prefixed lowercase hex."""
        return to_hex(self._tree[0])

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
        return to_hex(self._hash(value))

    def tree_index(self, index: int) -> int:
        """Position in the flat node array of the leaf for input ``index``."""
        result: int = self._tree_index[self._check_index(index)]
        return result

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
        return [to_hex(node) for node in proof]

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
            raise ValueError(
                f"Cannot prove duplicated index: value indices {repeated} requested more than once "
                "(equal values map to the same index)"
            )
        positions, proof, flags = multi_proof(self._tree, [self._tree_index[i] for i in value_indices])
        lookup = self._leaf_lookup()
        leaves = [self._values[lookup[self._tree[p]]] for p in positions]
        return MultiProof(leaves=leaves, proof=[to_hex(p) for p in proof], proof_flags=flags)

    def verify_proof(self, index_or_value: int | LeafValue, proof: Sequence[str]) -> bool:
        """Whether ``proof`` proves the value (or the value at an input index) against this root."""
        # Any: a bool is an int to the type checker but a (refused) value here, so the other branch is not narrowed.
        value: Any = index_or_value
        if _is_index(index_or_value):
            value = self._values[self._check_index(index_or_value)]
        return process_proof(self._hash(value), proof) == self._tree[0]

    def verify_multi_proof_self(self, multiproof: MultiProof | Mapping[str, Any]) -> bool:
        """Whether ``multiproof`` proves its leaves against this root."""
        return StandardMerkleTree.verify_multi_proof(self.root, self._leaf_encoding, multiproof)

    @staticmethod
    def verify(root: str, leaf_encoding: Sequence[str], value: LeafValue, proof: Sequence[str]) -> bool:
        """Whether ``proof`` proves ``value`` (encoded per ``leaf_encoding``) under ``root``."""
        return process_proof(leaf_hash(leaf_encoding, value), proof) == node_from_hex(root, "root")

    @staticmethod
    def verify_multi_proof(root: str, leaf_encoding: Sequence[str], multiproof: MultiProof | Mapping[str, Any]) -> bool:
        """Whether a multiproof (MultiProof or JS-shaped dict) proves its leaf values under ``root``."""
        leaves, proof, flags = _multiproof_parts(multiproof)
        hashed = [leaf_hash(leaf_encoding, v) for v in leaves]
        return process_multi_proof(hashed, proof, flags) == node_from_hex(root, "root")

    # -- dump ----------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The ``standard-v1`` dump: JSON-safe, loadable by ``StandardMerkleTree.load`` in JS."""
        return {
            "format": FORMAT,
            "leafEncoding": list(self._leaf_encoding),
            "tree": self._hex_nodes(),
            "values": [{"value": json_value(v), "treeIndex": t} for v, t in zip(self._values, self._tree_index)],
        }

    def render(self) -> str:
        """ASCII drawing of the tree (as the JS ``render``), for debugging small trees."""
        lines: list[str] = []
        stack: list[tuple[int, list[int]]] = [(0, [])]
        while stack:
            i, path = stack.pop()
            prefix = "".join("│  " if p else "   " for p in path[:-1]) + (
                "├─ " if path[-1:] == [1] else "└─ " if path else ""
            )
            lines.append(f"{prefix}{i}) {to_hex(self._tree[i])}")
            if 2 * i + 2 < len(self._tree):
                stack.append((2 * i + 2, path + [0]))
                stack.append((2 * i + 1, path + [1]))
        return "\n".join(lines)

    # -- internals -----------------------------------------------------------------------------

    def _hash(self, value: LeafValue) -> bytes:
        try:
            return keccak256(keccak256(self._encode(value)))
        except EncodingError as exc:
            raise ValueError(f"value does not match leaf encoding {self._leaf_encoding}: {exc}") from None

    def _hex_nodes(self) -> list[str]:
        # Not cached: for a million leaves the hex strings take ~230 MB, more than the tree itself.
        return [to_hex(node) for node in self._tree]

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
        result: int = index
        return result

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
    keccak = keccak_ctor
    hashes: list[bytes] = []
    append = hashes.append
    i = 0
    try:
        for _i, value in enumerate(values):
            append(keccak(keccak(encode(value)).digest()).digest())
    except EncodingError as exc:
        raise ValueError(f"values[{i}] does not match leaf encoding: {exc}") from None
    return hashes
