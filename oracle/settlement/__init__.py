"""Layer 1, settlement: the Merkle tree the contracts verify, byte-identical to ``@openzeppelin/merkle-tree``.

``encoding``, ``core`` and ``standard`` are the port of the npm library, split as it is (bytes and hashes, tree
algorithms, the ``StandardMerkleTree`` class); ``leaves`` holds the one rule for the cumulative settlement leaves
(which ids get a leaf, and with what) and the one parser of a settlement tree's dump.
Imports nothing of ours except :mod:`oracle.errors`.

The names below are the package's public face: the contract tests (``tests/contracts``, run by brownie) import
them from here.
"""

from oracle.settlement.core import process_proof
from oracle.settlement.encoding import keccak256, leaf_hash, node_hash
from oracle.settlement.leaves import (
    AMOUNT_LIMIT,
    LEAF_ENCODING,
    SettlementLeaf,
    SettlementMultiProof,
    SettlementProof,
    cumulative_leaves,
    multiproof_for,
    proof_for,
    settlement_tree,
    totals,
)
from oracle.settlement.standard import StandardMerkleTree

__all__ = [
    "AMOUNT_LIMIT",
    "LEAF_ENCODING",
    "SettlementLeaf",
    "SettlementMultiProof",
    "SettlementProof",
    "StandardMerkleTree",
    "cumulative_leaves",
    "keccak256",
    "leaf_hash",
    "multiproof_for",
    "node_hash",
    "process_proof",
    "proof_for",
    "settlement_tree",
    "totals",
]
