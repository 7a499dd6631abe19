// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ITournament} from "../../contracts/interfaces/ITournament.sol";
import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {TournamentTest} from "./utils/TournamentTest.sol";

/// @notice Fuzz tests of the round cycle: openRound, closeRound, proposeRoot, vetoRoot, activateRoot, lapseRound.
contract RoundsTest is TournamentTest {
    uint256 internal a;

    function setUp() public override {
        super.setUp();
        a = _registerAndStake(alice, 100_000e18);
    }

    function testFuzz_openRound_windowLimits(uint40 closesIn) public {
        closesIn = uint40(bound(closesIn, 0, Fixture.MAX_ROUND_LENGTH * 2));
        uint40 closesAt = uint40(block.timestamp) + closesIn;
        vm.prank(Fixture.ORACLE);
        if (closesIn < Fixture.MIN_ROUND_LENGTH || closesIn > Fixture.MAX_ROUND_LENGTH) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    ITournament.CloseTimeOutOfRange.selector,
                    closesAt,
                    uint40(block.timestamp + Fixture.MIN_ROUND_LENGTH),
                    uint40(block.timestamp + Fixture.MAX_ROUND_LENGTH)
                )
            );
            t.openRound(closesAt);
            return;
        }
        uint32 r = t.openRound(closesAt);
        ITournament.RoundInfo memory info = t.roundInfo(r);
        assertEq(uint256(info.status), uint256(ITournament.RoundStatus.Open), "open");
        assertEq(info.closesAt, closesAt, "closesAt");
        assertEq(info.payoutCapBps, Fixture.PAYOUT_CAP_BPS, "payout cap fixed at open");
        assertEq(info.burnCapBps, Fixture.BURN_CAP_BPS, "burn cap fixed at open");
        vm.prank(Fixture.ORACLE);
        vm.expectRevert(abi.encodeWithSelector(ITournament.RoundAlreadyOpen.selector, r));
        t.openRound(closesAt);
    }

    /// M-4: closes are at least MIN_CLOSE_SPACING apart, however soon the next round is opened.
    function testFuzz_openRound_closeSpacing(uint40 closesIn) public {
        uint32 r1 = _openAndClose();
        uint40 closedAt = t.roundInfo(r1).closedAt;
        closesIn = uint40(bound(closesIn, Fixture.MIN_ROUND_LENGTH, Fixture.MIN_CLOSE_SPACING * 2));
        uint40 closesAt = uint40(block.timestamp) + closesIn;
        vm.prank(Fixture.ORACLE);
        if (closesAt < closedAt + Fixture.MIN_CLOSE_SPACING) {
            vm.expectRevert();
            t.openRound(closesAt);
        } else {
            t.openRound(closesAt);
        }
    }

    function testFuzz_openRound_onlyOracle(address caller) public {
        vm.assume(caller != Fixture.ORACLE);
        vm.prank(caller);
        vm.expectRevert();
        t.openRound(uint40(block.timestamp + Fixture.MIN_ROUND_LENGTH));
    }

    function testFuzz_closeRound(uint40 waited) public {
        vm.prank(Fixture.ORACLE);
        uint40 closesAt = uint40(block.timestamp + Fixture.MIN_CLOSE_SPACING);
        uint32 r = t.openRound(closesAt);
        waited = uint40(bound(waited, 0, Fixture.MIN_CLOSE_SPACING * 2));
        vm.warp(block.timestamp + waited);
        vm.prank(Fixture.ORACLE);
        if (block.timestamp < closesAt) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.RoundNotDue.selector, r, closesAt));
            t.closeRound(r);
            return;
        }
        t.closeRound(r);
        ITournament.RoundInfo memory info = t.roundInfo(r);
        assertEq(uint256(info.status), uint256(ITournament.RoundStatus.Closed), "closed");
        assertEq(info.closedAt, block.timestamp, "closedAt");
        assertEq(info.lapsesAt, block.timestamp + Fixture.LAPSE_PERIOD, "lapse deadline");
        (uint32 lastClosed,,) = t.roundCursor();
        assertEq(lastClosed, r, "cursor");
    }

    function testFuzz_proposeRoot_requirements(bytes32 root, bytes32 manifest, uint96 payout) public {
        uint32 r = _openAndClose();
        payout = uint96(bound(payout, 0, 2_000_000e18));
        uint256 limit = t.payoutLimit(r);
        vm.prank(Fixture.ORACLE);
        if (root == 0) {
            vm.expectRevert(ITournament.ZeroRoot.selector);
        } else if (manifest == 0) {
            vm.expectRevert(ITournament.ZeroManifestHash.selector);
        } else if (payout > limit) {
            vm.expectRevert();
        }
        t.proposeRoot(r, root, payout, 0, manifest, "ipfs://m");
        if (root == 0 || manifest == 0 || payout > limit) return;
        ITournament.RoundInfo memory info = t.roundInfo(r);
        assertEq(uint256(info.status), uint256(ITournament.RoundStatus.Proposed), "proposed");
        assertEq(info.root, root, "root");
        assertEq(info.payoutTotal, payout, "payout");
        assertEq(info.activatesAt, block.timestamp + Fixture.CHALLENGE_PERIOD, "activatesAt");
        assertLe(limit, t.freeReserve(), "limit within the free reserve");
        assertLe(limit, (100_000e18 * uint256(Fixture.PAYOUT_CAP_BPS)) / BPS, "limit within one cap of the pool");
    }

    /// M-1: round 2 cannot be proposed while round 1 is pending, so caps never compound in one window.
    function testFuzz_proposeRoot_onePending(uint32 waited) public {
        uint32 r1 = _openAndClose();
        uint32 r2 = _openAndClose();
        _propose(r1, _leaves1(a, 0, 0), 0);
        vm.warp(block.timestamp + bound(waited, 0, Fixture.CHALLENGE_PERIOD - 1));
        vm.prank(Fixture.ORACLE);
        vm.expectRevert();
        t.proposeRoot(r2, bytes32(uint256(1)), 0, 0, bytes32(uint256(1)), "x");
        vm.warp(block.timestamp + Fixture.CHALLENGE_PERIOD);
        t.activateRoot(r1);
        _propose(r2, _leaves1(a, 0, 0), 0);
    }

    /// A proposal whose window would end after the round lapses is refused.
    function testFuzz_proposeRoot_pastLapse(uint32 late) public {
        uint32 r = _openAndClose();
        late = uint32(bound(late, 0, Fixture.LAPSE_PERIOD));
        vm.warp(block.timestamp + late);
        uint40 lapsesAt = t.roundInfo(r).lapsesAt;
        bytes32 root = Merkle.root(Merkle.build(_leaves1(a, 0, 0)));
        vm.prank(Fixture.ORACLE);
        if (block.timestamp + Fixture.CHALLENGE_PERIOD >= lapsesAt) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    ITournament.ProposalPastLapse.selector, r, uint40(block.timestamp + Fixture.CHALLENGE_PERIOD), lapsesAt
                )
            );
        }
        t.proposeRoot(r, root, 0, 0, bytes32(uint256(1)), "x");
    }

    function testFuzz_vetoRoot(uint32 waited, address caller) public {
        uint32 r = _openAndClose();
        _propose(r, _leaves1(a, 0, 0), 0);
        vm.assume(caller != Fixture.GUARDIAN);
        bytes32 role = t.GUARDIAN_ROLE();
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, role));
        t.vetoRoot(r);
        waited = uint32(bound(waited, 0, Fixture.CHALLENGE_PERIOD * 2));
        vm.warp(block.timestamp + waited);
        uint40 activatesAt = t.roundInfo(r).activatesAt;
        vm.prank(Fixture.GUARDIAN);
        if (block.timestamp >= activatesAt) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.ChallengeWindowClosed.selector, r, activatesAt));
            t.vetoRoot(r);
            return;
        }
        t.vetoRoot(r);
        assertEq(uint256(t.roundInfo(r).status), uint256(ITournament.RoundStatus.Vetoed), "vetoed");
        vm.expectRevert();
        t.activateRoot(r);
        _propose(r, _leaves1(a, 0, 0), 0); // the oracle may propose it again
    }

    function testFuzz_activateRoot(uint32 waited, uint96 payout) public {
        uint32 r = _openAndClose();
        payout = uint96(bound(payout, 0, t.payoutLimit(r)));
        _propose(r, _leaves1(a, payout, 0), payout);
        uint256 free = t.freeReserve();
        waited = uint32(bound(waited, 0, Fixture.LAPSE_PERIOD));
        vm.warp(block.timestamp + waited);
        ITournament.RoundInfo memory info = t.roundInfo(r);
        if (block.timestamp < info.activatesAt) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.ChallengeWindowOpen.selector, r, info.activatesAt));
            t.activateRoot(r);
            return;
        }
        if (block.timestamp >= info.lapsesAt) {
            vm.expectRevert();
            t.activateRoot(r);
            t.lapseRound(r);
            return;
        }
        t.activateRoot(r);
        assertEq(t.committedPayout(), payout, "payout committed");
        assertEq(t.freeReserve(), free - payout, "free reserve shrinks");
        (, uint32 lastResolved, uint32 lastActive) = t.roundCursor();
        assertEq(lastResolved, r, "resolved");
        assertEq(lastActive, r, "active");
        assertEq(t.roundInfo(r).lastActiveAtOrBefore, r, "last active at or before");
    }

    function testFuzz_activateRoot_outOfOrder(uint8 which) public {
        uint32 r1 = _openAndClose();
        uint32 r2 = _openAndClose();
        uint32 round = which % 2 == 0 ? r2 : r1 + 5;
        vm.expectRevert(abi.encodeWithSelector(ITournament.ResolutionOutOfOrder.selector, round, r1));
        t.activateRoot(round);
    }

    /// A round nobody activates lapses at closedAt + LAPSE_PERIOD, whatever its status, and counts as zero.
    function testFuzz_lapseRound(uint32 waited, uint8 status) public {
        uint32 r = _openAndClose();
        status %= 3;
        if (status >= 1) _propose(r, _leaves1(a, 0, 1e18), 0);
        if (status == 2) {
            vm.prank(Fixture.GUARDIAN);
            t.vetoRoot(r);
        }
        uint40 lapsesAt = t.roundInfo(r).lapsesAt;
        waited = uint32(bound(waited, 0, Fixture.LAPSE_PERIOD * 2));
        vm.warp(t.roundInfo(r).closedAt + waited);
        if (block.timestamp < lapsesAt) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.LapseNotDue.selector, r, lapsesAt));
            t.lapseRound(r);
            return;
        }
        vm.prank(Fixture.PAUSER);
        t.pause(); // never blocks a lapse
        t.lapseRound(r);
        assertEq(uint256(t.roundInfo(r).status), uint256(ITournament.RoundStatus.Lapsed), "lapsed");
        assertEq(t.roundInfo(r).lastActiveAtOrBefore, 0, "no active round");
        assertEq(t.stakeOf(a), 100_000e18, "a lapsed round changes no stake");
        vm.expectRevert();
        t.activateRoot(r);
    }
}
