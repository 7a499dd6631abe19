// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Tournament, IBurnableToken} from "../../contracts/Tournament.sol";
import {TournamentToken} from "../../contracts/TournamentToken.sol";
import {vm} from "./utils/Vm.sol";
import {Assertions} from "./utils/Assertions.sol";
import {Merkle} from "./utils/Merkle.sol";

contract SmokeTest is Assertions {
    TournamentToken token;
    Tournament t;
    address alice = address(0xA11CE);

    function setUp() public {
        token = new TournamentToken("T", "T", 1e27, address(this));
        t = new Tournament(IBurnableToken(address(token)), address(this), 3600, 500, 500);
        t.grantRole(t.ORACLE_ROLE(), address(this));
        token.transfer(alice, 1e24);
    }

    function test_stakeRoundSettle() public {
        vm.prank(alice);
        uint256 id = t.registerModel();
        vm.startPrank(alice);
        token.approve(address(t), 1e21);
        t.stake(id, 1e21);
        vm.stopPrank();
        token.approve(address(t), 1e22);
        t.fundReserve(1e22);
        uint32 r = t.openRound(uint40(block.timestamp + 10));
        vm.warp(block.timestamp + 10);
        t.closeRound(r);
        Merkle.Leaf[] memory leaves = new Merkle.Leaf[](2);
        leaves[0] = Merkle.Leaf(id, 1e19, 0);
        leaves[1] = Merkle.Leaf(id + 1, 0, 0);
        bytes32[] memory tree = Merkle.build(leaves);
        t.proposeRoot(r, Merkle.root(tree), 1e19, 0, 1e21, bytes32(uint256(1)), "x");
        vm.warp(block.timestamp + 3600);
        t.activateRoot(r);
        t.settle(r, id, 1e19, 0, Merkle.proof(tree, 0));
        assertEq(t.stakeOf(id), 1e21 + 1e19, "stake after payout");
    }
}
