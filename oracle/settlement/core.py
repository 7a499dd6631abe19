"""The tree algorithms of ``@openzeppelin/merkle-tree``'s ``core`` module, on raw 32-byte nodes.

* layout: a flat array ``tree`` of ``2n - 1`` nodes, heap-ordered: children of ``i`` are ``2i + 1`` and ``2i + 2``,
  the root is ``tree[0]`` and leaf ``k`` lives at ``tree[2n - 2 - k]``;
* proof of node ``i``: the siblings on the path to the root, bottom-up; folding it is ``r = leaf; r = H(r, p)``;
* multiproof: the npm package's algorithm, node for node (see :func:`multi_proof`), and its fold
  (``MerkleProof.processMultiProof``).
"""

from __future__ import annotations

from collections import deque
from itertools import pairwise
from typing import Any, Sequence

from oracle.settlement.encoding import keccak_ctor, node_from_hex, node_hash

__all__ = ["check_tree_shape", "hash_internal_nodes", "multi_proof", "process_multi_proof", "process_proof"]


def process_proof(leaf: bytes, proof: Sequence[Any]) -> bytes:
    """Fold a proof: ``r = leaf; for p in proof: r = H(r, p)``."""
    node = node_from_hex(leaf, "leaf")
    for i, sibling in enumerate(proof):
        node = node_hash(node, node_from_hex(sibling, f"proof[{i}]"))
    return node


def process_multi_proof(leaves: Sequence[bytes], proof: Sequence[Any], proof_flags: Sequence[bool]) -> bytes:
    """Rebuild the root from a multiproof, as ``MerkleProof.processMultiProof`` does.

    A queue starts with the leaves; each flag pops one node ``a`` and pairs it with the next queued node
    (flag true) or the next proof node (flag false), appending ``H(a, b)``. Valid iff
    ``len(leaves) + len(proof) == len(proof_flags) + 1``.
    """
    queue = deque(node_from_hex(leaf, f"leaves[{i}]") for i, leaf in enumerate(leaves))
    siblings = deque(node_from_hex(p, f"proof[{i}]") for i, p in enumerate(proof))
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


def multi_proof(tree: Sequence[bytes], tree_indices: Sequence[int]) -> tuple[list[int], list[bytes], list[bool]]:
    """Multiproof of leaf positions ``tree_indices``: (leaf positions in proof order, proof, flags).

    Positions are processed in decreasing order (deepest, right-most first); each step takes the
    first queued node ``j``: if its sibling is the next queued node the pair is merged (flag true),
    otherwise the sibling is a proof node (flag false); the parent is queued. Proving nothing yields
    ``proof = [root]``.
    """
    indices = sorted(tree_indices, reverse=True)
    for a, b in pairwise(indices):
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


def hash_internal_nodes(tree: list[bytes], n_leaves: int) -> None:
    """Fill internal nodes ``tree[n-2] .. tree[0]`` bottom-up: ``tree[i] = H(tree[2i+1], tree[2i+2])``."""
    keccak = keccak_ctor
    for i in range(n_leaves - 2, -1, -1):
        a, b = tree[2 * i + 1], tree[2 * i + 2]
        tree[i] = keccak(a + b if a <= b else b + a).digest()


def check_tree_shape(tree: list[bytes]) -> None:
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
