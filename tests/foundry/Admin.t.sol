// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IAccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ITournament} from "../../contracts/interfaces/ITournament.sol";
import {IBurnableToken} from "../../contracts/interfaces/IBurnableToken.sol";
import {TournamentToken} from "../../contracts/TournamentToken.sol";
import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {TournamentTest} from "./utils/TournamentTest.sol";

/// @notice Fuzz tests of the constructor, the admin's delayed operations (property 5), the bounded pause and the
/// views.
contract AdminTest is TournamentTest {
    address internal constant NEWCOMER = address(0xBEEF);

    // ---------------------------------------------------------------- constructor

    function testFuzz_constructor_hardLimits(uint8 field, uint256 value) public {
        ITournament.Params memory p = Fixture.params(IBurnableToken(address(token)));
        field %= 8;
        string memory name;
        if (field == 0) (p.limits.minStake, name) = (0, "minStake");
        else if (field == 1) (p.limits.minRoundLength, name) = (0, "minRoundLength");
        else if (field == 2) (p.limits.maxRoundLength, name) = (uint32(bound(value, 0, p.limits.minRoundLength - 1)), "maxRoundLength");
        else if (field == 3) (p.limits.minChallengePeriod, name) = (0, "minChallengePeriod");
        else if (field == 4) (p.limits.maxPayoutCapBps, name) = (uint16(bound(value, BPS + 1, type(uint16).max)), "maxPayoutCapBps");
        else if (field == 5) (p.limits.maxBurnCapBps, name) = (uint16(bound(value, BPS, type(uint16).max)), "maxBurnCapBps");
        else if (field == 6) (p.limits.lapsePeriod, name) = (uint32(bound(value, 0, p.limits.minChallengePeriod)), "lapsePeriod");
        else (p.limits.adminDelay, name) = (uint48(bound(value, 0, p.limits.lapsePeriod)), "adminDelay");
        vm.expectRevert(abi.encodeWithSelector(ITournament.InvalidParameter.selector, name));
        Fixture.deploy(p);
    }

    function testFuzz_constructor_bounds(uint32 challenge, uint16 payoutCap, uint16 burnCap) public {
        ITournament.Params memory p = Fixture.params(IBurnableToken(address(token)));
        p.bounds = ITournament.Bounds(challenge, payoutCap, burnCap);
        bool valid = challenge >= Fixture.MIN_CHALLENGE_PERIOD && challenge < Fixture.LAPSE_PERIOD
            && payoutCap <= Fixture.MAX_PAYOUT_CAP_BPS && burnCap <= Fixture.MAX_BURN_CAP_BPS;
        if (!valid) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.InvalidBounds.selector, challenge, payoutCap, burnCap));
            Fixture.deploy(p);
            return;
        }
        ITournament.Bounds memory b = Fixture.deploy(p).bounds();
        assertTrue(b.challengePeriod == challenge && b.payoutCapBps == payoutCap && b.burnCapBps == burnCap, "bounds");
    }

    /// L-7: every ledger amount fits int96 because the supply is below 2**94.
    function testFuzz_constructor_supply(uint256 supply) public {
        supply = bound(supply, 2 ** 90, 2 ** 100);
        TournamentToken big = new TournamentToken("Big", "BIG", supply, address(this));
        ITournament.Params memory p = Fixture.params(IBurnableToken(address(big)));
        if (supply >= 2 ** 94) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.TokenSupplyTooLarge.selector, supply));
            Fixture.deploy(p);
        } else {
            Fixture.deploy(p);
        }
    }

    function test_constructor_rolesAndLimits() public view {
        assertTrue(t.hasRole(t.ORACLE_ROLE(), Fixture.ORACLE), "oracle");
        assertTrue(t.hasRole(t.GUARDIAN_ROLE(), Fixture.GUARDIAN), "guardian");
        assertTrue(t.hasRole(t.PAUSER_ROLE(), Fixture.PAUSER), "pauser");
        assertEq(t.defaultAdmin(), Fixture.ADMIN, "admin");
        assertEq(t.defaultAdminDelay(), Fixture.ADMIN_DELAY, "admin delay");
        assertEq(t.MIN_STAKE(), Fixture.MIN_STAKE, "MIN_STAKE");
        assertEq(t.MIN_ROUND_LENGTH(), Fixture.MIN_ROUND_LENGTH, "MIN_ROUND_LENGTH");
        assertEq(t.MAX_ROUND_LENGTH(), Fixture.MAX_ROUND_LENGTH, "MAX_ROUND_LENGTH");
        assertEq(t.MIN_CLOSE_SPACING(), Fixture.MIN_CLOSE_SPACING, "MIN_CLOSE_SPACING");
        assertEq(t.MIN_CHALLENGE_PERIOD(), Fixture.MIN_CHALLENGE_PERIOD, "MIN_CHALLENGE_PERIOD");
        assertEq(t.MAX_PAYOUT_CAP_BPS(), Fixture.MAX_PAYOUT_CAP_BPS, "MAX_PAYOUT_CAP_BPS");
        assertEq(t.MAX_BURN_CAP_BPS(), Fixture.MAX_BURN_CAP_BPS, "MAX_BURN_CAP_BPS");
        assertEq(t.LAPSE_PERIOD(), Fixture.LAPSE_PERIOD, "LAPSE_PERIOD");
        assertEq(t.MAX_PAUSE(), Fixture.MAX_PAUSE, "MAX_PAUSE");
        assertEq(t.PAUSE_COOLDOWN(), Fixture.PAUSE_COOLDOWN, "PAUSE_COOLDOWN");
        assertEq(t.ADMIN_DELAY(), Fixture.ADMIN_DELAY, "ADMIN_DELAY");
        assertEq(t.exitBound(), Fixture.LAPSE_PERIOD, "exit bound = LAPSE_PERIOD");
        assertGt(t.ADMIN_DELAY(), t.exitBound(), "P5: the admin is slower than an exit");
        assertEq(address(t.token()), address(token), "token");
    }

    // ---------------------------------------------------------------- delayed bounds (property 5)

    function testFuzz_bounds_delayed(uint32 challenge, uint16 payoutCap, uint16 burnCap, uint48 waited) public {
        ITournament.Bounds memory b = ITournament.Bounds(
            uint32(bound(challenge, Fixture.MIN_CHALLENGE_PERIOD, Fixture.LAPSE_PERIOD - 1)),
            uint16(bound(payoutCap, 0, Fixture.MAX_PAYOUT_CAP_BPS)),
            uint16(bound(burnCap, 0, Fixture.MAX_BURN_CAP_BPS))
        );
        vm.prank(Fixture.ADMIN);
        bytes32 id = t.scheduleBounds(b);
        assertEq(id, t.boundsOperationId(b), "operation id");
        uint48 readyAt = uint48(block.timestamp) + Fixture.ADMIN_DELAY;
        assertEq(t.operationReadyAt(id), readyAt, "ready after the admin delay");
        vm.prank(Fixture.ADMIN);
        vm.expectRevert(abi.encodeWithSelector(ITournament.OperationAlreadyScheduled.selector, id));
        t.scheduleBounds(b);
        // A round opened before execution keeps the old bounds.
        vm.prank(Fixture.ORACLE);
        uint32 r = t.openRound(uint40(block.timestamp + Fixture.MIN_ROUND_LENGTH));
        vm.warp(block.timestamp + bound(waited, 0, Fixture.ADMIN_DELAY * 2));
        vm.prank(Fixture.ADMIN);
        if (block.timestamp < readyAt) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.OperationNotReady.selector, id, readyAt));
            t.executeBounds(b);
            return;
        }
        t.executeBounds(b);
        ITournament.Bounds memory now_ = t.bounds();
        assertTrue(now_.challengePeriod == b.challengePeriod && now_.payoutCapBps == b.payoutCapBps && now_.burnCapBps == b.burnCapBps, "executed");
        assertEq(t.roundInfo(r).burnCapBps, Fixture.BURN_CAP_BPS, "an open round keeps its caps");
        assertEq(t.operationReadyAt(id), 0, "consumed");
        vm.prank(Fixture.ADMIN);
        vm.expectRevert(abi.encodeWithSelector(ITournament.OperationNotScheduled.selector, id));
        t.executeBounds(b);
    }

    function testFuzz_bounds_outsideHardLimits(uint32 challenge, uint16 payoutCap, uint16 burnCap) public {
        vm.assume(
            challenge < Fixture.MIN_CHALLENGE_PERIOD || challenge >= Fixture.LAPSE_PERIOD
                || payoutCap > Fixture.MAX_PAYOUT_CAP_BPS || burnCap > Fixture.MAX_BURN_CAP_BPS
        );
        vm.prank(Fixture.ADMIN);
        vm.expectRevert(abi.encodeWithSelector(ITournament.InvalidBounds.selector, challenge, payoutCap, burnCap));
        t.scheduleBounds(ITournament.Bounds(challenge, payoutCap, burnCap));
    }

    function testFuzz_cancelOperation(address caller) public {
        ITournament.Bounds memory b = ITournament.Bounds(Fixture.MIN_CHALLENGE_PERIOD, 0, 0);
        vm.prank(Fixture.ADMIN);
        bytes32 id = t.scheduleBounds(b);
        vm.assume(caller != Fixture.ADMIN);
        vm.prank(caller);
        vm.expectRevert();
        t.cancelOperation(id);
        vm.prank(Fixture.ADMIN);
        t.cancelOperation(id);
        assertEq(t.operationReadyAt(id), 0, "cancelled");
        vm.warp(block.timestamp + Fixture.ADMIN_DELAY);
        vm.prank(Fixture.ADMIN);
        vm.expectRevert(abi.encodeWithSelector(ITournament.OperationNotScheduled.selector, id));
        t.executeBounds(b);
    }

    // ---------------------------------------------------------------- roles (property 5)

    function testFuzz_roleGrant_delayed(uint8 which, uint48 waited) public {
        bytes32[3] memory roles = [t.ORACLE_ROLE(), t.GUARDIAN_ROLE(), t.PAUSER_ROLE()];
        bytes32 role = roles[which % 3];
        vm.prank(Fixture.ADMIN);
        vm.expectRevert(abi.encodeWithSelector(ITournament.RoleGrantNeedsSchedule.selector, role, NEWCOMER));
        t.grantRole(role, NEWCOMER);
        vm.prank(Fixture.ADMIN);
        bytes32 id = t.scheduleRoleGrant(role, NEWCOMER);
        assertEq(id, t.roleGrantOperationId(role, NEWCOMER), "operation id");
        uint48 readyAt = uint48(block.timestamp) + Fixture.ADMIN_DELAY;
        vm.warp(block.timestamp + bound(waited, 0, Fixture.ADMIN_DELAY * 2));
        vm.prank(Fixture.ADMIN);
        if (block.timestamp < readyAt) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.OperationNotReady.selector, id, readyAt));
            t.executeRoleGrant(role, NEWCOMER);
            assertTrue(!t.hasRole(role, NEWCOMER), "not granted early");
            return;
        }
        t.executeRoleGrant(role, NEWCOMER);
        assertTrue(t.hasRole(role, NEWCOMER), "granted after the delay");
        // Revoking is instant; so is renouncing.
        vm.prank(Fixture.ADMIN);
        t.revokeRole(role, NEWCOMER);
        assertTrue(!t.hasRole(role, NEWCOMER), "revoked at once");
        bytes32 oracleRole = t.ORACLE_ROLE();
        vm.prank(Fixture.ORACLE);
        t.renounceRole(oracleRole, Fixture.ORACLE);
        assertTrue(!t.hasRole(oracleRole, Fixture.ORACLE), "renounced at once");
    }

    function test_roleGrant_adminRoleRefused() public {
        bytes32 adminRole = bytes32(0);
        vm.prank(Fixture.ADMIN);
        vm.expectRevert(IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminRules.selector);
        t.scheduleRoleGrant(adminRole, NEWCOMER);
        vm.prank(Fixture.ADMIN);
        vm.expectRevert(IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminRules.selector);
        t.grantRole(adminRole, NEWCOMER);
    }

    /// The admin role moves in two steps, the second no sooner than ADMIN_DELAY; the delay cannot change.
    function testFuzz_adminTransfer(uint48 waited, uint48 newDelay) public {
        vm.prank(Fixture.ADMIN);
        t.beginDefaultAdminTransfer(NEWCOMER);
        (address pending, uint48 schedule) = t.pendingDefaultAdmin();
        assertEq(pending, NEWCOMER, "pending admin");
        assertEq(schedule, block.timestamp + Fixture.ADMIN_DELAY, "schedule");
        vm.warp(block.timestamp + bound(waited, 0, Fixture.ADMIN_DELAY * 2));
        vm.prank(NEWCOMER);
        if (block.timestamp <= schedule) {
            vm.expectRevert(abi.encodeWithSelector(IAccessControlDefaultAdminRules.AccessControlEnforcedDefaultAdminDelay.selector, schedule));
            t.acceptDefaultAdminTransfer();
            assertEq(t.defaultAdmin(), Fixture.ADMIN, "not moved early");
        } else {
            t.acceptDefaultAdminTransfer();
            assertEq(t.defaultAdmin(), NEWCOMER, "moved");
        }
        address admin = t.defaultAdmin();
        vm.prank(admin);
        vm.expectRevert(ITournament.AdminDelayImmutable.selector);
        t.changeDefaultAdminDelay(newDelay);
        vm.prank(admin);
        vm.expectRevert(ITournament.AdminDelayImmutable.selector);
        t.rollbackDefaultAdminDelay();
        vm.prank(admin);
        t.beginDefaultAdminTransfer(address(0xCAFE));
        vm.prank(admin);
        t.cancelDefaultAdminTransfer();
        (pending,) = t.pendingDefaultAdmin();
        assertEq(pending, address(0), "transfer cancelled");
    }

    function testFuzz_adminOnly(address caller) public {
        vm.assume(caller != Fixture.ADMIN);
        ITournament.Bounds memory b = ITournament.Bounds(Fixture.MIN_CHALLENGE_PERIOD, 0, 0);
        bytes32 adminRole = bytes32(0);
        bytes32 oracleRole = t.ORACLE_ROLE();
        vm.startPrank(caller);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, adminRole));
        t.scheduleBounds(b);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, adminRole));
        t.executeBounds(b);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, adminRole));
        t.scheduleRoleGrant(oracleRole, caller);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, adminRole));
        t.executeRoleGrant(oracleRole, caller);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, caller, adminRole));
        t.revokeRole(oracleRole, Fixture.ORACLE);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- pause

    /// A pause lasts at most MAX_PAUSE, cannot be re-armed during the cooldown, and never blocks an exit.
    function testFuzz_pause(uint32 into, uint32 after_) public {
        uint256 m = _registerAndStake(alice, 10_000e18);
        vm.prank(Fixture.PAUSER);
        t.pause();
        (uint40 until, uint40 from) = t.pauseState();
        assertEq(until, block.timestamp + Fixture.MAX_PAUSE, "pausedUntil");
        assertEq(from, until + Fixture.PAUSE_COOLDOWN, "pausableFrom");
        vm.warp(block.timestamp + bound(into, 0, Fixture.MAX_PAUSE - 1));
        assertTrue(t.paused(), "paused");
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ITournament.EnforcedPause.selector, until));
        t.stake(m, 1e18);
        vm.prank(Fixture.ORACLE);
        vm.expectRevert(abi.encodeWithSelector(ITournament.EnforcedPause.selector, until));
        t.openRound(uint40(block.timestamp + Fixture.MIN_ROUND_LENGTH));
        vm.prank(alice);
        t.requestWithdrawal(m, 1e18);
        vm.prank(alice);
        assertEq(t.withdraw(m), 1e18, "withdraw while paused");
        vm.prank(Fixture.PAUSER);
        vm.expectRevert(abi.encodeWithSelector(ITournament.EnforcedPause.selector, until));
        t.pause();
        // Later: the pause ended by itself (or by unpause); the next one waits for the cooldown.
        uint256 later = bound(after_, 0, Fixture.MAX_PAUSE + Fixture.PAUSE_COOLDOWN * 2);
        if (later % 2 == 0) {
            vm.prank(Fixture.PAUSER);
            t.unpause();
            (until,) = t.pauseState();
        }
        vm.warp(block.timestamp + later);
        if (block.timestamp < until) return;
        assertTrue(!t.paused(), "pause over");
        vm.prank(Fixture.PAUSER);
        if (block.timestamp < uint256(until) + Fixture.PAUSE_COOLDOWN) {
            vm.expectRevert(abi.encodeWithSelector(ITournament.PauseCoolingDown.selector, until + Fixture.PAUSE_COOLDOWN));
        }
        t.pause();
    }

    /// The rest of OpenZeppelin's admin-rules surface: ERC-165, owner() = defaultAdmin, role admins, no pending delay.
    function test_adminRulesViews() public view {
        (bool ok, bytes memory ret) = address(t).staticcall(
            abi.encodeWithSignature("supportsInterface(bytes4)", type(IAccessControlDefaultAdminRules).interfaceId)
        );
        assertTrue(ok && abi.decode(ret, (bool)), "supports IAccessControlDefaultAdminRules");
        (ok, ret) = address(t).staticcall(abi.encodeWithSignature("owner()"));
        assertTrue(ok && abi.decode(ret, (address)) == Fixture.ADMIN, "owner() is the default admin");
        assertEq(t.getRoleAdmin(t.ORACLE_ROLE()), bytes32(0), "roles are administered by the admin role");
        (uint48 newDelay, uint48 schedule) = t.pendingDefaultAdminDelay();
        assertEq(uint256(newDelay) + schedule, 0, "no delay change pending");
    }

    function test_unpause_notPaused() public {
        vm.prank(Fixture.PAUSER);
        vm.expectRevert(ITournament.ExpectedPause.selector);
        t.unpause();
    }

    // ---------------------------------------------------------------- views

    function testFuzz_leafHash(uint256 m, uint256 p, uint256 b) public view {
        assertEq(t.leafHash(m, p, b), Merkle.leafHash(Merkle.Leaf(m, p, b)), "leaf hash = OZ standard leaf");
    }

    function testFuzz_submissionDigest(uint256 round, uint256 m, bytes32 predictions, uint256 deadline) public view {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Tournament"),
                keccak256("1"),
                block.chainid,
                address(t)
            )
        );
        bytes32 typehash = keccak256("Submission(uint256 round,uint256 modelId,bytes32 predictionsHash,uint256 deadline)");
        assertEq(t.SUBMISSION_TYPEHASH(), typehash, "typehash");
        bytes32 expected = MessageHashUtils.toTypedDataHash(domain, keccak256(abi.encode(typehash, round, m, predictions, deadline)));
        assertEq(t.submissionDigest(round, m, predictions, deadline), expected, "digest");
    }

    /// modelStates pages through models and leaves out ids past the last one.
    function testFuzz_modelStates(uint8 count, uint8 from, uint8 take) public {
        count = uint8(bound(count, 0, 12));
        for (uint256 i; i < count; ++i) {
            if (i % 3 == 0) _registerAndStake(alice, 1e18 + i);
            else _register(bob);
        }
        from = uint8(bound(from, 1, 20));
        take = uint8(bound(take, 0, 20));
        ITournament.ModelState[] memory states = t.modelStates(from, take);
        uint256 expected = from > count ? 0 : (count - from + 1 < take ? count - from + 1 : take);
        assertEq(states.length, expected, "page length");
        for (uint256 i; i < states.length; ++i) {
            ITournament.ModelState memory one = t.modelState(from + i);
            assertEq(states[i].owner, one.owner, "owner");
            assertEq(states[i].stake, t.stakeOf(from + i), "stake");
            assertEq(states[i].settledRound, one.settledRound, "settled round");
        }
    }

    function test_roundCursorAndInfo() public {
        uint256 m = _registerAndStake(alice, 10_000e18);
        (uint32 c, uint32 r, uint32 a) = t.roundCursor();
        assertEq(uint256(c) + r + a, 0, "nothing yet");
        uint32 r1 = _round(_leaves1(m, 0, 0), 0);
        uint32 r2 = _openAndClose();
        vm.warp(block.timestamp + Fixture.LAPSE_PERIOD);
        t.lapseRound(r2);
        (c, r, a) = t.roundCursor();
        assertEq(c, r2, "last closed");
        assertEq(r, r2, "last resolved");
        assertEq(a, r1, "last active");
        assertEq(t.roundInfo(r2).lastActiveAtOrBefore, r1, "last active at or before a lapsed round");
    }
}
