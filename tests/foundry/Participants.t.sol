// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ITournament} from "../../contracts/interfaces/ITournament.sol";
import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {TournamentTest} from "./utils/TournamentTest.sol";

/// @notice Fuzz tests of the participants' functions: registerModel, stake, stakeWithPermit, requestWithdrawal,
/// lowerWithdrawal, withdraw, settleAndWithdraw, fundReserve.
contract ParticipantsTest is TournamentTest {
    function testFuzz_registerModel(address owner, uint8 before) public {
        vm.assume(owner != address(0));
        before = uint8(bound(before, 0, 5));
        for (uint256 i; i < before; ++i) {
            _register(alice);
        }
        _openAndClose();
        uint256 m = _register(owner);
        assertEq(m, uint256(before) + 1, "ids are consecutive from 1");
        assertEq(t.modelCount(), m, "modelCount");
        ITournament.ModelState memory s = t.modelState(m);
        assertEq(s.owner, owner, "owner");
        assertEq(s.settledRound, 1, "a new model counts as settled through the last close");
        assertEq(s.stake, 0, "no stake");
    }

    function testFuzz_registerModel_refusedWhilePaused(uint32 into) public {
        vm.prank(Fixture.PAUSER);
        t.pause();
        vm.warp(block.timestamp + bound(into, 0, Fixture.MAX_PAUSE - 1));
        vm.prank(alice);
        vm.expectRevert();
        t.registerModel();
        vm.warp(block.timestamp + Fixture.MAX_PAUSE); // a pause ends by itself
        _register(alice);
    }

    function testFuzz_stake(uint96 first, uint96 topUp) public {
        uint256 m = _register(alice);
        first = uint96(bound(first, 1, 10_000_000e18));
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        if (first < Fixture.MIN_STAKE) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.StakeBelowMinimum.selector, m, first, Fixture.MIN_STAKE));
            t.stake(m, first);
            return;
        }
        t.stake(m, first);
        assertEq(t.stakeOf(m), first, "stake");
        assertEq(token.balanceOf(alice), before - first, "tokens moved");
        // A top-up of any size is fine before the next close (same tranche) ...
        topUp = uint96(bound(topUp, 1, 10_000_000e18));
        vm.prank(alice);
        t.stake(m, topUp);
        assertEq(t.stakeOf(m), uint256(first) + topUp, "topped up");
        assertEq(t.modelState(m).netDeposits, int256(uint256(first) + topUp), "net deposits");
    }

    function testFuzz_stake_onlyOwnerAndKnownModel(address caller, uint256 id) public {
        uint256 m = _register(alice);
        vm.assume(caller != alice);
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(ITournament.NotModelOwner.selector, m, caller));
        t.stake(m, 1e18);
        id = bound(id, m + 1, type(uint256).max);
        vm.prank(alice);
        vm.expectRevert();
        t.stake(id, 1e18);
        vm.prank(alice);
        vm.expectRevert(ITournament.ZeroAmount.selector);
        t.stake(m, 0);
    }

    /// A second deposit after a close the model is not settled through starts a second tranche: refused with the
    /// round to settle through; after settling it is accepted.
    function testFuzz_stake_topUpPending(uint96 amount) public {
        amount = uint96(bound(amount, 1, 1_000_000e18));
        uint256 a = _registerAndStake(alice, 10_000e18);
        uint256 b = _registerAndStake(bob, 10_000e18);
        uint32 r1 = _openAndClose();
        vm.prank(alice);
        t.stake(a, 5_000e18); // tranche from round 2
        uint32 r2 = _openAndClose();
        Merkle.Leaf[] memory leaves = _leaves2(a, 0, 0, b, 0, 0);
        _activate(r1, leaves, 0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ITournament.TopUpPending.selector, a, r2 - 1));
        t.stake(a, amount);
        _settle(r1, leaves, 0);
        vm.prank(alice);
        t.stake(a, amount);
        assertEq(t.stakeOf(a), 15_000e18 + uint256(amount), "stake after top-up");
        r2;
    }

    function testFuzz_stakeWithPermit(uint256 key, uint96 amount, bool frontRun) public {
        key = bound(key, 1, 2 ** 200);
        address owner = vm.addr(key);
        amount = uint96(bound(amount, Fixture.MIN_STAKE, 1_000_000e18));
        token.transfer(owner, amount);
        vm.prank(owner);
        uint256 m = t.registerModel();
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                owner,
                address(t),
                amount,
                token.nonces(owner),
                deadline
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        // Someone may submit the permit first: the stake must still go through on the allowance it set.
        if (frontRun) token.permit(owner, address(t), amount, deadline, v, r, s);
        vm.prank(owner);
        t.stakeWithPermit(m, amount, deadline, v, r, s);
        assertEq(t.stakeOf(m), amount, "staked");
        assertEq(token.balanceOf(owner), 0, "owner's tokens moved");
    }

    function testFuzz_requestWithdrawal(uint96 staked, uint96 amount, bool paused) public {
        staked = uint96(bound(staked, Fixture.MIN_STAKE, 1_000_000e18));
        uint256 m = _registerAndStake(alice, staked);
        if (paused) {
            vm.prank(Fixture.PAUSER);
            t.pause(); // never blocks an exit
        }
        amount = uint96(bound(amount, 1, uint256(staked) * 2));
        vm.prank(alice);
        if (amount > staked) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.WithdrawalExceedsStake.selector, m, amount, staked));
            t.requestWithdrawal(m, amount);
            return;
        }
        t.requestWithdrawal(m, amount);
        ITournament.ModelState memory s = t.modelState(m);
        assertEq(s.withdrawal, amount, "pending");
        assertEq(s.withdrawalAfter, 0, "boundary: the last close");
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ITournament.NotModelOwner.selector, m, bob));
        t.requestWithdrawal(m, 1);
        vm.prank(alice);
        vm.expectRevert(ITournament.ZeroAmount.selector);
        t.requestWithdrawal(m, 0);
    }

    /// Before any close a request is paid at once (nothing was at risk), whole.
    function testFuzz_withdraw_beforeAnyClose(uint96 staked, uint96 amount) public {
        staked = uint96(bound(staked, Fixture.MIN_STAKE, 1_000_000e18));
        uint256 m = _registerAndStake(alice, staked);
        amount = uint96(bound(amount, 1, staked));
        vm.prank(alice);
        t.requestWithdrawal(m, amount);
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        assertEq(t.withdraw(m), amount, "paid");
        assertEq(token.balanceOf(alice), before + amount, "received");
        assertEq(t.stakeOf(m), staked - amount, "rest stays");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ITournament.NoPendingWithdrawal.selector, m));
        t.withdraw(m);
    }

    /// A request after a close waits for that round; the round's burn (within its cap) comes out first.
    function testFuzz_withdraw_afterRound(uint96 staked, uint16 burnBps) public {
        staked = uint96(bound(staked, Fixture.MIN_STAKE, 1_000_000e18));
        uint256 m = _registerAndStake(alice, staked);
        uint32 r1 = _openAndClose();
        vm.prank(alice);
        t.requestWithdrawal(m, staked);
        uint40 lapsesAt = t.roundInfo(r1).lapsesAt;
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ITournament.RoundNotResolved.selector, r1, lapsesAt));
        t.withdraw(m);
        uint256 burn = uint256(staked) * bound(burnBps, 0, Fixture.BURN_CAP_BPS) / BPS;
        Merkle.Leaf[] memory leaves = _leaves1(m, 0, burn);
        _activate(r1, leaves, 0);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ITournament.UnsettledRounds.selector, m, 0, r1));
        t.withdraw(m);
        vm.prank(alice);
        uint256 paid = t.settleAndWithdraw(r1, m, 0, burn, Merkle.proof(Merkle.build(leaves), 0));
        assertEq(paid, staked - burn, "stake less the round's burn");
        assertEq(t.stakeOf(m), 0, "nothing left");
    }

    /// Lowering before the next close is free; a cancel (0) clears the request; raising is refused.
    function testFuzz_lowerWithdrawal(uint96 staked, uint96 requested, uint96 lowered) public {
        staked = uint96(bound(staked, Fixture.MIN_STAKE, 1_000_000e18));
        uint256 m = _registerAndStake(alice, staked);
        requested = uint96(bound(requested, 1, staked));
        vm.prank(alice);
        t.requestWithdrawal(m, requested);
        lowered = uint96(bound(lowered, 0, uint256(requested) * 2));
        vm.prank(alice);
        if (lowered >= requested) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.WithdrawalNotLowered.selector, m, requested, lowered));
            t.lowerWithdrawal(m, lowered);
            return;
        }
        t.lowerWithdrawal(m, lowered);
        assertEq(t.modelState(m).withdrawal, lowered, "lowered");
        if (lowered == 0) {
            vm.prank(alice);
            vm.expectRevert(abi.encodeWithSelector(ITournament.NoPendingWithdrawal.selector, m));
            t.withdraw(m);
        } else {
            vm.prank(alice);
            assertEq(t.withdraw(m), lowered, "paid the lowered amount");
        }
    }

    /// After a close, the lowered part is at risk again from the next round, like a deposit: with the model
    /// burned at the cap in that round, the stake ends exactly where the honest rule says.
    function testFuzz_lowerWithdrawal_afterClose(uint96 staked, uint96 lowerBy) public {
        staked = uint96(bound(staked, 10e18, 1_000_000e18));
        uint256 m = _registerAndStake(alice, staked);
        uint32 r1 = _openAndClose();
        vm.prank(alice);
        t.requestWithdrawal(m, staked); // nothing at risk from round 2
        _activate(r1, _leaves1(m, 0, 0), 0);
        _settle(r1, _leaves1(m, 0, 0), 0);
        lowerBy = uint96(bound(lowerBy, 1, staked));
        vm.prank(alice);
        t.lowerWithdrawal(m, staked - lowerBy);
        uint32 r2 = _openAndClose();
        uint256 capBurn = uint256(lowerBy) * Fixture.BURN_CAP_BPS / BPS;
        Merkle.Leaf[] memory leaves = _leaves1(m, 0, capBurn * 2); // claims twice the cap
        _activate(r2, leaves, 0);
        (, uint256 burned) = _settle(r2, leaves, 0);
        assertApprox(burned, capBurn, 1, "burn clamped to the cap of the re-risked part");
    }

    function testFuzz_fundReserve(uint96 amount, address funder) public {
        vm.assume(funder != address(0) && funder != address(t));
        amount = uint96(bound(amount, 0, 1_000_000e18));
        token.transfer(funder, amount);
        vm.prank(funder);
        token.approve(address(t), amount);
        uint256 reserve = t.reserve();
        uint256 free = t.freeReserve();
        vm.prank(funder);
        if (amount == 0) {
            vm.expectRevert(ITournament.ZeroAmount.selector);
            t.fundReserve(amount);
            return;
        }
        t.fundReserve(amount);
        assertEq(t.reserve(), reserve + amount, "reserve");
        assertEq(t.freeReserve(), free + amount, "free reserve");
    }
}
