// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITournament} from "../../contracts/interfaces/ITournament.sol";
import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {TournamentTest} from "./utils/TournamentTest.sol";

/// @notice Property 4 in the cases the invariant campaign found or that need an exact schedule: a withdrawal
/// requested at t is paid at t + D whatever the privileged roles do afterwards.
contract ExitTest is TournamentTest {
    /// A model registered with no stake is left out of the round's tree (zero-stake models are), stakes after the
    /// close, and asks for its stake back before the next close. The oracle then falls silent. Nothing of the model
    /// was ever at risk in an active round, so it must be able to leave by t + D.
    function testFuzz_exit_stakeAfterOmittedRound(uint96 amount, uint32 delay) public {
        amount = uint96(bound(amount, Fixture.MIN_STAKE, 1_000_000e18));
        uint256 a = _registerAndStake(alice, 10_000e18);
        uint256 b = _register(bob); // no stake at the close of round 1
        uint32 r1 = _openAndClose();
        _activate(r1, _leaves1(a, 0, 0), 0); // honest tree: b has no stake, so no leaf
        vm.warp(block.timestamp + bound(delay, 0, 1 days));
        vm.prank(bob);
        t.stake(b, amount);
        vm.prank(bob);
        t.requestWithdrawal(b, amount);
        uint256 requestedAt = block.timestamp;
        // The oracle is silent from here on (or revoked): nothing is proposed again.
        vm.warp(requestedAt + t.exitBound());
        uint256 before = token.balanceOf(bob);
        vm.prank(bob);
        uint256 paid = t.withdraw(b);
        assertEq(paid, amount, "paid");
        assertEq(token.balanceOf(bob), before + amount, "bob's balance");
    }

    /// The plain case: staked through several rounds, then the oracle goes silent. Rounds closed before the
    /// request lapse by t + D and the stake comes back whole.
    function testFuzz_exit_silentOracle(uint96 amount, uint32 delay, uint8 rounds) public {
        amount = uint96(bound(amount, Fixture.MIN_STAKE, 1_000_000e18));
        uint256 a = _registerAndStake(alice, amount);
        rounds = uint8(bound(rounds, 0, 4));
        uint32 lastActive;
        for (uint256 i; i < rounds; ++i) {
            lastActive = _round(_leaves1(a, 0, 0), 0);
        }
        _openAndClose(); // closed, never proposed
        vm.warp(block.timestamp + bound(delay, 0, Fixture.LAPSE_PERIOD));
        vm.prank(alice);
        t.requestWithdrawal(a, amount);
        uint256 requestedAt = block.timestamp;
        vm.warp(requestedAt + t.exitBound());
        (, uint32 lastResolved,) = t.roundCursor();
        (uint32 lastClosed,,) = t.roundCursor();
        for (uint32 r = lastResolved + 1; r <= lastClosed; ++r) {
            t.lapseRound(r);
        }
        if (lastActive != 0) _settle(lastActive, _leaves1(a, 0, 0), 0);
        vm.prank(alice);
        assertEq(t.withdraw(a), amount, "paid");
    }
}
