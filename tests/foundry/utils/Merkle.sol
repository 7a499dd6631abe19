// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @notice Settlement trees built in Solidity for tests: OpenZeppelin "standard" trees (double-hashed leaves,
/// sorted-pair hashing, the tree laid out as an array with the root at 0 and node i's children at 2i+1 and 2i+2,
/// leaf k at index length - 1 - k). Proofs and multiproofs are generated from that array and checked with
/// OpenZeppelin's verifier before they are returned, so a bug here cannot pass for a bug in the contract.
library Merkle {
    struct Leaf {
        uint256 modelId;
        uint256 cumulativePayout;
        uint256 cumulativeBurn;
    }

    /// @notice keccak256(bytes.concat(keccak256(abi.encode(modelId, payout, burn)))): the contract's leaf hash.
    function leafHash(Leaf memory leaf) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(leaf.modelId, leaf.cumulativePayout, leaf.cumulativeBurn))));
    }

    /// @notice The node array of a tree over `leaves` (in the given order; at least one leaf).
    function build(Leaf[] memory leaves) internal pure returns (bytes32[] memory tree) {
        uint256 n = leaves.length;
        require(n != 0, "Merkle: no leaves");
        tree = new bytes32[](2 * n - 1);
        for (uint256 k; k < n; ++k) {
            tree[tree.length - 1 - k] = leafHash(leaves[k]);
        }
        for (uint256 i = tree.length - n; i > 0; --i) {
            uint256 node = i - 1;
            tree[node] = Hashes.commutativeKeccak256(tree[2 * node + 1], tree[2 * node + 2]);
        }
    }

    function root(bytes32[] memory tree) internal pure returns (bytes32) {
        return tree[0];
    }

    /// @notice Proof of leaf `k` (its index in the `leaves` given to {build}).
    function proof(bytes32[] memory tree, uint256 k) internal pure returns (bytes32[] memory path) {
        uint256 i = tree.length - 1 - k;
        uint256 depth;
        for (uint256 j = i; j > 0; j = (j - 1) / 2) {
            ++depth;
        }
        path = new bytes32[](depth);
        for (uint256 d; i > 0; ++d) {
            path[d] = tree[i % 2 == 1 ? i + 1 : i - 1];
            i = (i - 1) / 2;
        }
        require(MerkleProof.verify(path, tree[0], tree[tree.length - 1 - k]), "Merkle: bad proof");
    }

    /// @notice Multiproof of the leaves at indices `ks` (distinct). Returns the leaf indices in the order the
    /// verifier consumes them (descending tree index, i.e. ascending leaf index), the sibling hashes and flags.
    function multiProof(bytes32[] memory tree, uint256[] memory ks)
        internal
        pure
        returns (uint256[] memory order, bytes32[] memory siblings, bool[] memory flags)
    {
        require(ks.length != 0, "Merkle: empty multiproof");
        order = _sorted(ks);
        (siblings, flags) = _walk(tree, order);
        bytes32[] memory hashes = new bytes32[](order.length);
        for (uint256 a; a < order.length; ++a) {
            hashes[a] = tree[tree.length - 1 - order[a]];
        }
        require(MerkleProof.multiProofVerify(siblings, flags, tree[0], hashes), "Merkle: bad multiproof");
    }

    function _sorted(uint256[] memory ks) private pure returns (uint256[] memory order) {
        order = new uint256[](ks.length);
        for (uint256 a; a < ks.length; ++a) {
            order[a] = ks[a];
        }
        for (uint256 a = 1; a < order.length; ++a) {
            for (uint256 b = a; b > 0 && order[b - 1] > order[b]; --b) {
                (order[b - 1], order[b]) = (order[b], order[b - 1]);
            }
        }
        for (uint256 a = 1; a < order.length; ++a) {
            require(order[a] != order[a - 1], "Merkle: duplicate leaf");
        }
    }

    /// @dev Works a queue of tree indices from the leaves up: a node whose sibling is next in the queue is hashed
    /// with it (flag true); otherwise its sibling comes from the proof (flag false).
    function _walk(bytes32[] memory tree, uint256[] memory order)
        private
        pure
        returns (bytes32[] memory siblings, bool[] memory flags)
    {
        uint256[] memory queue = new uint256[](2 * order.length + tree.length);
        uint256 head;
        uint256 tail;
        for (; tail < order.length; ++tail) {
            queue[tail] = tree.length - 1 - order[tail];
        }
        siblings = new bytes32[](tree.length);
        flags = new bool[](tree.length);
        uint256 ns;
        uint256 nf;
        while (head < tail && queue[head] > 0) {
            uint256 j = queue[head++];
            uint256 s = j % 2 == 1 ? j + 1 : j - 1;
            if (head < tail && queue[head] == s) {
                flags[nf++] = true;
                ++head;
            } else {
                flags[nf++] = false;
                siblings[ns++] = tree[s];
            }
            queue[tail++] = (j - 1) / 2;
        }
        assembly ("memory-safe") {
            mstore(siblings, ns)
            mstore(flags, nf)
        }
    }
}
