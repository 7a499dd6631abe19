"""Kept only for the brownie contract tests (``tests/contracts``), which import ``oracle.merkle`` and are edited on
another branch; the code lives in :mod:`oracle.settlement`. Remove once those imports say ``oracle.settlement``."""

from oracle.settlement import StandardMerkleTree, keccak256, leaf_hash, node_hash, process_proof

__all__ = ["StandardMerkleTree", "keccak256", "leaf_hash", "node_hash", "process_proof"]
