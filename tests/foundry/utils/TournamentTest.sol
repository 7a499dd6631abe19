// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITournament} from "../../../contracts/interfaces/ITournament.sol";
import {TournamentToken} from "../../../contracts/TournamentToken.sol";
import {vm} from "./Vm.sol";
import {Assertions} from "./Assertions.sol";
import {Fixture, ITournamentFull} from "./Fixture.sol";
import {Merkle} from "./Merkle.sol";

/// @notice Shared setup of the fuzz tests: a deployed tournament, funded participants, and helpers that drive a
/// round through its life cycle with a tree built in Solidity.
abstract contract TournamentTest is Assertions {
    TournamentToken internal token;
    ITournamentFull internal t;
    address internal alice = address(0xA11CE);
    address internal bob = address(0xB0B);
    uint256 internal constant BPS = 10_000;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        (token, t) = Fixture.deployAll(address(this));
        token.approve(address(t), type(uint256).max);
        address[2] memory people = [alice, bob];
        for (uint256 i; i < 2; ++i) {
            token.transfer(people[i], 100_000_000e18);
            vm.prank(people[i]);
            token.approve(address(t), type(uint256).max);
        }
        t.fundReserve(1_000_000e18);
    }

    function _register(address owner) internal returns (uint256 m) {
        vm.prank(owner);
        m = t.registerModel();
    }

    function _registerAndStake(address owner, uint256 amount) internal returns (uint256 m) {
        m = _register(owner);
        vm.prank(owner);
        t.stake(m, amount);
    }

    /// @dev Opens the next round and closes it after the shortest window.
    function _openAndClose() internal returns (uint32 round) {
        vm.prank(Fixture.ORACLE);
        round = t.openRound(uint40(block.timestamp + Fixture.MIN_CLOSE_SPACING));
        vm.warp(block.timestamp + Fixture.MIN_CLOSE_SPACING);
        vm.prank(Fixture.ORACLE);
        t.closeRound(round);
    }

    function _leaves1(uint256 m, uint256 p, uint256 b) internal pure returns (Merkle.Leaf[] memory leaves) {
        leaves = new Merkle.Leaf[](1);
        leaves[0] = Merkle.Leaf(m, p, b);
    }

    function _leaves2(uint256 m1, uint256 p1, uint256 b1, uint256 m2, uint256 p2, uint256 b2)
        internal
        pure
        returns (Merkle.Leaf[] memory leaves)
    {
        leaves = new Merkle.Leaf[](2);
        leaves[0] = Merkle.Leaf(m1, p1, b1);
        leaves[1] = Merkle.Leaf(m2, p2, b2);
    }

    function _propose(uint32 round, Merkle.Leaf[] memory leaves, uint256 payoutTotal) internal returns (bytes32 root) {
        root = Merkle.root(Merkle.build(leaves));
        vm.prank(Fixture.ORACLE);
        t.proposeRoot(round, root, payoutTotal, 0, keccak256(abi.encode(round)), "ipfs://m");
    }

    /// @dev Proposes `leaves` for `round`, waits out the challenge period and activates.
    function _activate(uint32 round, Merkle.Leaf[] memory leaves, uint256 payoutTotal) internal {
        _propose(round, leaves, payoutTotal);
        vm.warp(block.timestamp + t.roundInfo(round).challengePeriod);
        t.activateRoot(round);
    }

    function _settle(uint32 round, Merkle.Leaf[] memory leaves, uint256 k) internal returns (uint256 p, uint256 b) {
        bytes32[] memory proof = Merkle.proof(Merkle.build(leaves), k);
        (p, b) = t.settle(round, leaves[k].modelId, leaves[k].cumulativePayout, leaves[k].cumulativeBurn, proof);
    }

    /// @dev One round: open, close, propose `leaves`, activate.
    function _round(Merkle.Leaf[] memory leaves, uint256 payoutTotal) internal returns (uint32 round) {
        round = _openAndClose();
        _activate(round, leaves, payoutTotal);
    }
}
