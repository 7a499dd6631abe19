// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ITournament} from "../../contracts/interfaces/ITournament.sol";
import {IBurnableToken} from "../../contracts/interfaces/IBurnableToken.sol";
import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {TournamentTest} from "./utils/TournamentTest.sol";

interface IHasExtension {
    function extension() external view returns (address);
}

/// @notice The paths the campaign and the per-function tests reach rarely: second withdrawal boundaries, lowering
/// after a close, tranches joined in one round, settlements whose span is cut by a tranche and a withdrawal, wrong
/// round statuses, views of unknown models. Each is fuzzed where an amount or a time matters.
contract PathsTest is TournamentTest {
    uint256 internal a;
    uint256 internal b;

    function setUp() public override {
        super.setUp();
        a = _registerAndStake(alice, 100_000e18);
        b = _registerAndStake(bob, 100_000e18);
    }

    // ---------------------------------------------------------------- withdrawal boundaries

    /// A second request before the next close joins the first; after a close it needs the model settled through
    /// that close (WithdrawalBoundaryPending), then it joins with the new boundary.
    function testFuzz_requestWithdrawal_secondBoundary(uint96 first, uint96 second) public {
        first = uint96(bound(first, 1, 40_000e18));
        second = uint96(bound(second, 1, 40_000e18));
        vm.prank(alice);
        t.requestWithdrawal(a, first);
        vm.prank(alice);
        t.requestWithdrawal(a, second); // same close: joins
        assertEq(t.modelState(a).withdrawal, uint256(first) + second, "joined");
        uint32 r1 = _openAndClose();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ITournament.WithdrawalBoundaryPending.selector, a, r1));
        t.requestWithdrawal(a, 1e18);
        Merkle.Leaf[] memory leaves = _leaves2(a, 0, 0, b, 0, 0);
        _activate(r1, leaves, 0);
        _settle(r1, leaves, 0);
        vm.prank(alice);
        t.requestWithdrawal(a, 1e18);
        ITournament.ModelState memory s = t.modelState(a);
        assertEq(s.withdrawal, uint256(first) + second + 1e18, "joined after settling");
        assertEq(s.withdrawalAfter, r1, "new boundary");
    }

    /// Lowering after the close of the request's round needs the model settled through it; lowered before the
    /// next close it is free; otherwise the difference becomes a tranche at risk from the next round.
    function testFuzz_lowerWithdrawal_afterCloses(uint96 requested, uint96 kept, bool settleSecond) public {
        requested = uint96(bound(requested, 2, 100_000e18));
        kept = uint96(bound(kept, 0, requested - 1));
        uint32 r1 = _openAndClose();
        vm.prank(alice);
        t.requestWithdrawal(a, requested); // boundary r1
        uint32 r2 = _openAndClose();
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ITournament.WithdrawalBoundaryPending.selector, a, r1));
        t.lowerWithdrawal(a, kept);
        Merkle.Leaf[] memory leaves = _leaves2(a, 0, 0, b, 0, 0);
        _activate(r1, leaves, 0);
        _settle(r1, leaves, 0);
        if (settleSecond) {
            _activate(r2, leaves, 0);
            _settle(r2, leaves, 0);
        }
        vm.prank(alice);
        t.lowerWithdrawal(a, kept);
        ITournament.ModelState memory s = t.modelState(a);
        assertEq(s.withdrawal, kept, "lowered");
        if (settleSecond) assertEq(s.tranche, 0, "settled through the last close: no tranche");
        else assertEq(s.tranche, requested - kept, "re-risked from the next close as a tranche");
        if (!settleSecond) assertEq(s.trancheFrom, r2 + 1, "tranche from the next round");
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(ITournament.NoPendingWithdrawal.selector, b));
        t.lowerWithdrawal(b, 0);
    }

    /// Two deposits before the same close make one tranche.
    function testFuzz_stake_sameTranche(uint96 x, uint96 y) public {
        x = uint96(bound(x, 1, 1_000_000e18));
        y = uint96(bound(y, 1, 1_000_000e18));
        _openAndClose(); // a is not settled through round 1
        vm.prank(alice);
        t.stake(a, x);
        vm.prank(alice);
        t.stake(a, y);
        ITournament.ModelState memory s = t.modelState(a);
        assertEq(s.tranche, uint256(x) + y, "one tranche");
        assertEq(s.trancheFrom, 2, "from the next round");
    }

    // ---------------------------------------------------------------- settlement spans cut by a tranche and a withdrawal

    /// Settled late over rounds 2..5, with a deposit counting from round `dAt` and a withdrawal not at risk after
    /// round `wAt` (the span cut in up to three segments, in either order): the honest leaf burning the cap of the
    /// exact stake at risk every round applies exactly, and it is also the bound a greedy leaf is clamped to.
    function testFuzz_settle_cutSpan(uint8 dAt, uint8 wAt, uint96 deposit, uint96 withdrawal) public {
        deposit = uint96(bound(deposit, 1, 100_000e18));
        withdrawal = uint96(bound(withdrawal, 1, 100_000e18));
        dAt = uint8(bound(dAt, 2, 5)); // first round the deposit is at risk in
        wAt = uint8(bound(wAt, 1, 4)); // last round the withdrawal is at risk in
        Merkle.Leaf[] memory leaves = _leaves2(a, 0, 0, b, 0, 0);
        _round(leaves, 0);
        _settle(1, leaves, 0); // a settled through round 1: the span is (1, 5]
        uint256 stake = 100_000e18;
        uint256 cb;
        for (uint32 r = 2; r <= 5; ++r) {
            if (r == dAt) {
                vm.prank(alice);
                t.stake(a, deposit);
                stake += deposit;
            }
            if (r == wAt + 1) {
                uint256 amount = Math.min(withdrawal, t.stakeOf(a));
                vm.prank(alice);
                t.requestWithdrawal(a, amount);
            }
            _openAndClose();
            uint256 atRisk = stake;
            uint256 w = t.modelState(a).withdrawal;
            atRisk = atRisk > w ? atRisk - w : 0;
            uint256 inc = atRisk * Fixture.BURN_CAP_BPS / BPS;
            cb += inc;
            stake -= inc;
            _activate(r, _leaves2(a, 0, cb, b, 0, 0), 0);
        }
        // The bound settle clamps to is the honest worst case (every round at its cap), less the stated slack.
        (, uint256 minStake) = t.settlementBounds(a, 5);
        uint256 honestEnd = stake;
        assertLe(minStake, honestEnd, "the bound admits the honest leaf");
        assertGe(minStake + honestEnd / 1e11 + 4, honestEnd, "the bound is the honest worst case");
        (, uint256 burned) = _settle(5, _leaves2(a, 0, cb, b, 0, 0), 0);
        assertEq(burned, cb, "honest leaf applied exactly");
        assertEq(t.stakeOf(a), honestEnd, "stake = the honest ledger");
    }

    /// A model left unsettled for 300 rounds at the hard-limit caps (50% burn, 50% payout): the stored products
    /// leave their binades by far (the burn product's exponent falls below -256, the payout product's rises past
    /// 96), and the bounds stay sound: the worst case is nothing left, the best case saturates, and settling any
    /// leaf neither reverts nor takes the stake below zero.
    function test_settle_longSpanAtHardLimitCaps() public {
        ITournament.Bounds memory wide =
            ITournament.Bounds(Fixture.MIN_CHALLENGE_PERIOD, Fixture.MAX_PAYOUT_CAP_BPS, Fixture.MAX_BURN_CAP_BPS);
        vm.prank(Fixture.ADMIN);
        t.scheduleBounds(wide);
        vm.warp(block.timestamp + Fixture.ADMIN_DELAY);
        vm.prank(Fixture.ADMIN);
        t.executeBounds(wide);
        Merkle.Leaf[] memory leaves = _leaves2(a, 0, 0, b, 0, 0);
        uint32 r;
        for (uint256 i; i < 300; ++i) {
            r = _round(leaves, 0); // honest zero results; the caps are what the products record
        }
        (uint256 maxPayout, uint256 minStake) = t.settlementBounds(a, r);
        assertEq(minStake, 0, "worst case after 300 halvings: nothing");
        assertGe(maxPayout, 2 ** 96, "best case saturates far above any supply");
        (uint256 p, uint256 burned) = _settle(r, leaves, 0);
        assertEq(p + burned, 0, "the honest zero leaf applies nothing");
        assertEq(t.stakeOf(a), 100_000e18, "stake kept");
        // A later root claiming the whole stake as burn for b, unsettled just as long: burns at most all of it.
        uint32 r2 = _round(_leaves2(a, 0, 0, b, 0, 200_000e18), 0);
        (, burned) = _settle(r2, _leaves2(a, 0, 0, b, 0, 200_000e18), 1);
        assertEq(burned, 100_000e18, "everything, and no more, is the worst case");
        assertEq(t.stakeOf(b), 0, "stake zero, not negative");
    }

    // ---------------------------------------------------------------- statuses and errors

    function test_wrongStatuses() public {
        uint32 r1 = _openAndClose();
        vm.prank(Fixture.ORACLE);
        vm.expectRevert(abi.encodeWithSelector(ITournament.UnexpectedRoundStatus.selector, r1, ITournament.RoundStatus.Closed));
        t.closeRound(r1);
        vm.prank(Fixture.GUARDIAN);
        vm.expectRevert(abi.encodeWithSelector(ITournament.UnexpectedRoundStatus.selector, r1, ITournament.RoundStatus.Closed));
        t.vetoRoot(r1);
        _propose(r1, _leaves1(a, 0, 0), 0);
        vm.prank(Fixture.ORACLE);
        vm.expectRevert(abi.encodeWithSelector(ITournament.UnexpectedRoundStatus.selector, r1, ITournament.RoundStatus.Proposed));
        t.proposeRoot(r1, bytes32(uint256(1)), 0, 0, bytes32(uint256(1)), "x");
        vm.expectRevert(abi.encodeWithSelector(ITournament.LapseNotDue.selector, r1, t.roundInfo(r1).lapsesAt));
        t.lapseRound(r1);
        vm.prank(Fixture.ADMIN);
        vm.expectRevert(abi.encodeWithSelector(ITournament.OperationNotScheduled.selector, bytes32(uint256(7))));
        t.cancelOperation(bytes32(uint256(7)));
    }

    function test_zeroRootAndManifest() public {
        uint32 r1 = _openAndClose();
        vm.prank(Fixture.ORACLE);
        vm.expectRevert(ITournament.ZeroRoot.selector);
        t.proposeRoot(r1, bytes32(0), 0, 0, bytes32(uint256(1)), "x");
        vm.prank(Fixture.ORACLE);
        vm.expectRevert(ITournament.ZeroManifestHash.selector);
        t.proposeRoot(r1, bytes32(uint256(1)), 0, 0, bytes32(0), "x");
    }

    /// M-5 side: the declared payout is refused above the free reserve, however large the pool.
    function testFuzz_proposeRoot_aboveFreeReserve(uint96 over) public {
        vm.prank(alice);
        t.stake(a, 50_000_000e18); // the pool's cap is now above the free reserve
        uint32 r1 = _openAndClose();
        uint256 free = t.freeReserve();
        uint256 payout = free + bound(over, 1, 1_000_000e18);
        vm.prank(Fixture.ORACLE);
        vm.expectRevert(abi.encodeWithSelector(ITournament.PayoutExceedsFreeReserve.selector, r1, payout, free));
        t.proposeRoot(r1, bytes32(uint256(1)), payout, 0, bytes32(uint256(1)), "x");
    }

    function test_extensionOnlyThroughTheTournament() public {
        address ext = IHasExtension(address(t)).extension();
        vm.expectRevert();
        ITournament(ext).pause();
    }

    function test_constructor_maxPause() public {
        ITournament.Params memory p = Fixture.params(IBurnableToken(address(token)));
        p.limits.maxPause = 0;
        vm.expectRevert(abi.encodeWithSelector(ITournament.InvalidParameter.selector, "maxPause"));
        Fixture.deploy(p);
    }

    // ---------------------------------------------------------------- views of unknown or settled models

    function testFuzz_views_unknownAndSettled(uint256 id) public {
        id = bound(id, 3, type(uint256).max);
        assertEq(t.modelState(id).owner, address(0), "unknown model: zero owner");
        assertEq(t.modelStates(0, 1).length, 1, "fromId 0 reads from 1");
        assertEq(t.modelStates(0, 1)[0].owner, alice, "model 1");
        Merkle.Leaf[] memory leaves = _leaves2(a, 0, 1e18, b, 0, 0);
        uint32 r = _round(leaves, 0);
        vm.expectRevert(abi.encodeWithSelector(ITournament.UnknownModel.selector, id));
        t.settlementBounds(id, r);
        vm.expectRevert(abi.encodeWithSelector(ITournament.UnknownModel.selector, id));
        t.previewSettlement(r, id, 0, 0);
        _settle(r, leaves, 0);
        (uint256 maxPayout, uint256 minStake) = t.settlementBounds(a, r);
        assertEq(maxPayout, 0, "settled: nothing more to pay");
        assertEq(minStake, t.stakeOf(a), "settled: the stake");
        (uint256 p, uint256 bu) = t.previewSettlement(r, a, 0, 5e18);
        assertEq(p + bu, 0, "settled: nothing to apply");
    }

    /// A batch may hold leaves for ids nobody registered: they are skipped; a bad multiproof reverts.
    function test_settleBatch_ghostLeafAndBadProof() public {
        Merkle.Leaf[] memory leaves = new Merkle.Leaf[](3);
        leaves[0] = Merkle.Leaf(a, 0, 1e18);
        leaves[1] = Merkle.Leaf(b, 0, 0);
        leaves[2] = Merkle.Leaf(999, 5e18, 0);
        uint32 r = _round(leaves, 0);
        uint256[] memory ks = new uint256[](3);
        (ks[0], ks[1], ks[2]) = (0, 1, 2);
        (uint256[] memory order, bytes32[] memory proof, bool[] memory flags) = Merkle.multiProof(Merkle.build(leaves), ks);
        ITournament.Leaf[] memory batch = new ITournament.Leaf[](3);
        for (uint256 i; i < 3; ++i) {
            Merkle.Leaf memory l = leaves[order[i]];
            batch[i] = ITournament.Leaf(l.modelId, l.cumulativePayout, l.cumulativeBurn);
        }
        batch[0].cumulativeBurn += 1;
        vm.expectRevert(ITournament.InvalidProof.selector);
        t.settleBatch(r, batch, proof, flags);
        batch[0].cumulativeBurn -= 1;
        assertEq(t.settleBatch(r, batch, proof, flags), 2, "the ghost id is skipped");
        assertEq(t.stakeOf(a), 99_999e18, "a settled");
    }
}
