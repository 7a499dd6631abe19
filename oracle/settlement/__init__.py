"""Layer 1, settlement: the Merkle tree the contracts verify, byte-identical to ``@openzeppelin/merkle-tree``.

``merkle`` is the port of the npm library; ``leaves`` is the one rule for the cumulative settlement leaves.
Imports nothing of ours except :mod:`oracle.errors`.

The names below are the package's public face: the contract tests (``tests/contracts``, run by brownie) import
them from here.
"""

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
from oracle.settlement.merkle import StandardMerkleTree, keccak256, leaf_hash, node_hash, process_proof

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
