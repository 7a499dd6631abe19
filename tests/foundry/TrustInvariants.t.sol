// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {ITournament} from "../../contracts/interfaces/ITournament.sol";
import {TournamentToken} from "../../contracts/TournamentToken.sol";
import {vm, console} from "./utils/Vm.sol";
import {Assertions} from "./utils/Assertions.sol";
import {Fixture, ITournamentFull} from "./utils/Fixture.sol";
import {TournamentHandler} from "./handlers/TournamentHandler.sol";

/// @notice Properties 1-5 of the trust redesign, checked after every call of a campaign in which the oracle,
/// guardian, pauser and admin misbehave as described in {TournamentHandler}.
///
/// Forge runs one campaign per `invariant_*` function, so all properties share one function: every call of the
/// campaign is checked against all of them (the failure message names the property).
abstract contract InvariantsBase is Assertions {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    TournamentToken token;
    ITournamentFull t;
    TournamentHandler handler;

    function setUp() public {
        vm.warp(1_700_000_000);
        (token, t) = Fixture.deployAll(address(this));
        handler = new TournamentHandler(t, token, honest());
        token.transfer(address(handler), 500_000_000e18);
        handler.init();
    }

    /// @dev Which campaign: adversarial ({TrustInvariantsTest}) or honest ({HonestInvariantsTest}).
    function honest() internal pure virtual returns (bool);

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @dev Every action but `init`, which setUp already made.
    function excludeSelectors() public view returns (FuzzSelector[] memory excluded) {
        excluded = new FuzzSelector[](1);
        excluded[0].addr = address(handler);
        excluded[0].selectors = new bytes4[](1);
        excluded[0].selectors[0] = TournamentHandler.init.selector;
    }

    function _checkAll() internal view {
        if (handler.violated()) revert(string.concat("handler check failed: ", handler.violation()));
        (TournamentHandler.GhostView[] memory g, bool overdue) = handler.ghostSummary();
        // Every model is registered through the handler, so the ghost's models are 1..n, as modelStates lists them.
        ITournament.ModelState[] memory states = t.modelStates(1, g.length);
        assertEq(states.length, t.modelCount(), "modelStates length");
        _perModelBounds(states, g);
        _conservation(states);
        _oneWindowOneCap();
        _exitAndPause(overdue);
        _adminDelayed();
        if (handler.honestOnly()) _neverClamped(states, g);
    }

    /// Property 1: every model's stake lies between its worst and best honest outcome (ghost ledger, see the
    /// handler); a model never at risk was neither paid nor burned.
    function _perModelBounds(ITournament.ModelState[] memory states, TournamentHandler.GhostView[] memory g)
        internal
        pure
    {
        for (uint256 i; i < states.length; ++i) {
            int256 stake = int256(states[i].stake);
            int256 tol = int256(g[i].tol);
            // Messages are built only on failure: string building would dominate the campaign's gas.
            if (stake + tol < g[i].lo) _fail1("below its worst honest outcome", i + 1, stake, g[i].lo);
            if (stake > g[i].hi + tol) _fail1("above its best honest outcome", i + 1, stake, g[i].hi);
            if (!g[i].everAtRisk && stake != g[i].lo) _fail1("paid or burned with nothing at risk", i + 1, stake, g[i].lo);
        }
    }

    /// With an honest oracle no settlement is ever clamped: a clamp would fold into the net deposits, which then
    /// differ from deposits minus withdrawals.
    function _neverClamped(ITournament.ModelState[] memory states, TournamentHandler.GhostView[] memory g)
        internal
        pure
    {
        for (uint256 i; i < states.length; ++i) {
            if (states[i].netDeposits != g[i].net) _fail1("clamped under an honest oracle", i + 1, states[i].netDeposits, g[i].net);
        }
    }

    function _fail1(string memory what, uint256 m, int256 stake, int256 ghostValue) internal pure {
        revert(
            string.concat(
                "P1: model ", Strings.toString(m), " ", what, ": stake ", Strings.toStringSigned(stake), ", ghost ",
                Strings.toStringSigned(ghostValue)
            )
        );
    }

    /// Property 2: per claim, the contract holds every model's stake plus the reserve plus burns not yet destroyed;
    /// the views agree with each other.
    function _conservation(ITournament.ModelState[] memory states) internal view {
        uint256 stakes;
        for (uint256 i; i < states.length; ++i) {
            ITournament.ModelState memory st = states[i];
            assertEq(
                int256(st.stake), st.netDeposits + int256(st.cumulativePayout) - int256(st.cumulativeBurn), "P2: stake != N + P - B"
            );
            stakes += st.stake;
        }
        // stakeOf against modelStates for one model per call (all of them would double the campaign's reads).
        if (states.length != 0) {
            uint256 k = block.timestamp % states.length;
            assertEq(t.stakeOf(k + 1), states[k].stake, "P2: stakeOf differs from modelStates");
        }
        uint256 reserve = t.reserve();
        uint256 committed = t.committedPayout();
        assertEq(token.balanceOf(address(t)), stakes + reserve + t.burnDue(), "P2: balance != stakes + reserve + burns due");
        assertLe(committed, reserve, "P2: committed payout above the reserve");
        assertEq(t.freeReserve(), reserve - committed, "P2: freeReserve");
    }

    /// Property 3: at most one proposal pending, and only for the next round to resolve; every round's caps
    /// within the hard limits.
    function _oneWindowOneCap() internal view {
        (uint32 lastClosed, uint32 lastResolved, uint32 lastActive) = t.roundCursor();
        assertLe(lastResolved, lastClosed, "P3: resolved past closed");
        assertLe(lastActive, lastResolved, "P3: active past resolved");
        for (uint32 r = lastResolved + 2; r <= lastClosed + 1; ++r) {
            ITournament.RoundStatus st = t.roundInfo(r).status;
            assertTrue(
                st != ITournament.RoundStatus.Proposed && st != ITournament.RoundStatus.Active,
                "P3: a round beyond the next to resolve is proposed or active"
            );
        }
        if (lastResolved < lastClosed || t.roundInfo(lastClosed + 1).status != ITournament.RoundStatus.None) {
            ITournament.RoundInfo memory info = t.roundInfo(lastResolved + 1);
            assertLe(info.payoutCapBps, Fixture.MAX_PAYOUT_CAP_BPS, "P3: payout cap above the hard limit");
            assertLe(info.burnCapBps, Fixture.MAX_BURN_CAP_BPS, "P3: burn cap above the hard limit");
            assertGe(info.challengePeriod, Fixture.MIN_CHALLENGE_PERIOD, "P3: challenge period below the hard limit");
        }
    }

    /// Property 4 (the exits themselves are made by the handler at each deadline): no pending withdrawal is past
    /// its deadline, and no pause outlasts MAX_PAUSE.
    function _exitAndPause(bool overdue) internal view {
        assertTrue(!overdue, "P4: a withdrawal outlived t + D");
        if (t.paused()) {
            (uint40 until,) = t.pauseState();
            assertLe(until, handler.pausedAt() + Fixture.MAX_PAUSE, "P4: pause longer than MAX_PAUSE");
            assertLt(block.timestamp, until, "P4: paused past its end");
        }
    }

    /// Property 5: the executed bounds and granted roles are only those whose delay has passed.
    function _adminDelayed() internal view {
        ITournament.Bounds memory b = t.bounds();
        (uint32 c, uint16 p, uint16 bu) = handler.expectedBounds();
        assertTrue(b.challengePeriod == c && b.payoutCapBps == p && b.burnCapBps == bu, "P5: bounds changed outside executeBounds");
        uint256 since = handler.newcomerOracleSince();
        bool has = t.hasRole(t.ORACLE_ROLE(), address(0xBEEF));
        assertTrue(has == (since != 0), "P5: role held without a delayed grant (or kept after revoke)");
        assertEq(t.defaultAdminDelay(), Fixture.ADMIN_DELAY, "P5: admin delay changed");
    }

    /// @notice What the campaign did, for the closing report (`forge test -vv` prints it).
    function afterInvariant() public view {
        console.log("activated", handler.nActivated());
        console.log("lapsed", handler.nLapsed());
        console.log("vetoed", handler.nVetoed());
        console.log("settled", handler.nSettled());
        console.log("exits at deadline", handler.nExits());
        console.log("withdrawals", handler.nWithdrawals());
        console.log("adversarial proposals", handler.nAdversarialProposals());
        console.log("proposals", handler.nProposals());
        console.log("last plausible proposal revert", uint32(handler.lastPlausibleProposalRevert()));
        (uint32 lastClosed,,) = t.roundCursor();
        console.log("rounds closed", lastClosed);
        console.log("time elapsed (h)", (block.timestamp - 1_700_000_000) / 3600);
    }
}

/// @notice The adversarial campaign: 70 runs of 1,000 calls in the default profile (700 in `make fuzz`).
contract TrustInvariantsTest is InvariantsBase {
    function honest() internal pure override returns (bool) {
        return false;
    }

    /// forge-config: default.invariant.runs = 70
    /// forge-config: fuzz.invariant.runs = 700
    function invariant_trustProperties() public view {
        _checkAll();
    }
}

/// @notice The same campaign with an honest oracle (the exact honest tree every round, payouts scaled to
/// payoutLimit) and a guardian that never vetoes: besides properties 1-5, no settlement is ever clamped and no
/// honest proposal is refused (property 6). Its share of the default profile's 100,000 calls is set here.
contract HonestInvariantsTest is InvariantsBase {
    function honest() internal pure override returns (bool) {
        return true;
    }

    /// forge-config: default.invariant.runs = 30
    /// forge-config: fuzz.invariant.runs = 300
    function invariant_honestOracle() public view {
        _checkAll();
    }
}
