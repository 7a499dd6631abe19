// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ITournament} from "../../contracts/interfaces/ITournament.sol";
import {vm} from "./utils/Vm.sol";
import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {TournamentTest} from "./utils/TournamentTest.sol";

/// @notice Fuzz tests of settlement: settle, settleBatch, flushBurns, settlementBounds, previewSettlement.
/// Property 1 one model at a time: an honest leaf applies exactly; any other leaf applies at most the caps of the
/// model's own stake at risk, and freezes nothing.
contract SettlementTest is TournamentTest {
    /// One round: the stake ends between the caps of itself, whatever the leaf says; an honest leaf (one side,
    /// within its cap) applies exactly.
    function testFuzz_settle_oneRound(uint96 staked, uint96 claimP, uint96 claimB, bool honest) public {
        staked = uint96(bound(staked, Fixture.MIN_STAKE, 10_000_000e18));
        uint256 m = _registerAndStake(alice, staked);
        uint256 capP = uint256(staked) * Fixture.PAYOUT_CAP_BPS / BPS;
        uint256 capB = uint256(staked) * Fixture.BURN_CAP_BPS / BPS;
        if (honest) {
            // One side only, within its cap: what the oracle can publish.
            if (claimP % 2 == 0) (claimP, claimB) = (uint96(bound(claimP, 0, capP)), 0);
            else (claimP, claimB) = (0, uint96(bound(claimB, 0, capB)));
        }
        uint32 r = _openAndClose();
        uint256 declared = Math.min(claimP, t.payoutLimit(r));
        _activate(r, _leaves1(m, claimP, claimB), declared);
        {
            (uint256 maxPayout, uint256 minStake) = t.settlementBounds(m, r);
            assertEq(maxPayout, capP, "settlementBounds: payout cap of the stake");
            assertEq(minStake, staked - capB, "settlementBounds: burn cap of the stake");
        }
        (uint256 p, uint256 b) = _settlePreviewed(r, _leaves1(m, claimP, claimB));
        assertEq(t.stakeOf(m), staked + p - b, "stake moved by what was applied");
        assertGe(t.stakeOf(m), staked - capB, "P1: no more than the burn cap lost");
        assertLe(t.stakeOf(m), staked + capP, "P1: no more than the payout cap won");
        assertLe(p, declared, "payout within what activation committed");
        if (honest) {
            assertEq(p, claimP, "honest payout applied exactly");
            assertEq(b, claimB, "honest burn applied exactly");
        }
        // The ledger keeps values below 2**94 (saturating).
        assertEq(t.modelState(m).cumulativePayout, Math.min(claimP, 2 ** 94 - 1), "leaf payout recorded");
        assertEq(t.modelState(m).cumulativeBurn, Math.min(claimB, 2 ** 94 - 1), "leaf burn recorded");
        assertEq(t.modelState(m).settledRound, r, "settled");
    }

    /// Settles the single leaf, checking that previewSettlement said what settle applies.
    function _settlePreviewed(uint32 r, Merkle.Leaf[] memory leaves) internal returns (uint256 p, uint256 b) {
        (uint256 previewP, uint256 previewB) =
            t.previewSettlement(r, leaves[0].modelId, leaves[0].cumulativePayout, leaves[0].cumulativeBurn);
        (p, b) = _settle(r, leaves, 0);
        assertEq(p, previewP, "previewSettlement payout");
        assertEq(b, previewB, "previewSettlement burn");
    }

    /// Several rounds settled at once: the honest leaf (every round at its cap, burns and payouts compounding on
    /// the stake at risk) applies exactly, and anything beyond it is clamped to the compounded caps.
    function testFuzz_settle_compounding(uint96 staked, uint8 rounds, uint256 sides, uint96 extra) public {
        staked = uint96(bound(staked, Fixture.MIN_STAKE, 10_000_000e18));
        rounds = uint8(bound(rounds, 2, 8));
        t.fundReserve(50_000_000e18); // eight rounds of 10% payouts on up to 10M
        uint256 m = _registerAndStake(alice, staked);
        (uint256 cp, uint256 cb, uint256 stake,) = _honestRounds(m, staked, rounds - 1, sides);
        // The last round burns its full cap; settled in one go with the rounds before it.
        uint256 inc = stake * Fixture.BURN_CAP_BPS / BPS;
        cb += inc;
        stake -= inc;
        uint256 id = vm.snapshotState();
        _assertHonestApplies(m, cp, cb, stake);
        vm.revertToState(id);
        // The same rounds, the last leaf claiming more burn: clamped, within a relative slack of the exact worst
        // case of the burn caps compounded.
        extra = uint96(bound(extra, 1, type(uint96).max));
        uint32 r = _round(_leaves1(m, cp, cb + extra), 0);
        (, uint256 minStake) = t.settlementBounds(m, r);
        _settle(r, _leaves1(m, cp, cb + extra), 0);
        assertGe(t.stakeOf(m) + 1, minStake, "stake at the bound");
        assertLe(t.stakeOf(m), stake, "extra burn applied up to the bound only");
        uint256 floor = _worstCase(staked, rounds);
        // The contract rounds multi-round bounds in the honest leaf's favour by 1e-12 relative and 1 wei per
        // segment (at most three); ten times that is allowed here.
        assertGe(t.stakeOf(m) + floor / 1e11 + 3 + rounds, floor, "P1: not below the compounded burn caps");
    }

    /// @dev One more round with the honest leaf (cp, cb), settled: it must apply exactly.
    function _assertHonestApplies(uint256 m, uint256 cp, uint256 cb, uint256 stake) internal {
        uint32 r = _round(_leaves1(m, cp, cb), 0);
        (uint256 p, uint256 b) = _settle(r, _leaves1(m, cp, cb), 0);
        assertEq(p, cp, "honest compounded payout applied exactly");
        assertEq(b, cb, "honest compounded burn applied exactly");
        assertEq(t.stakeOf(m), stake, "stake = the honest ledger");
    }

    /// @dev `rounds` active rounds whose leaves for `m` pay (bit set in `sides`) or burn the full cap of the
    /// stake at risk, compounding; returns the cumulative values, the honest ledger's stake and the last round.
    function _honestRounds(uint256 m, uint256 staked, uint256 rounds, uint256 sides)
        internal
        returns (uint256 cp, uint256 cb, uint256 stake, uint32 r)
    {
        stake = staked; // floors, as the oracle truncates
        for (uint256 i; i < rounds; ++i) {
            r = _openAndClose();
            bool pays = (sides >> i) & 1 == 1;
            uint256 inc = stake * (pays ? Fixture.PAYOUT_CAP_BPS : Fixture.BURN_CAP_BPS) / BPS;
            if (pays) (cp, stake) = (cp + inc, stake + inc);
            else (cb, stake) = (cb + inc, stake - inc);
            _activate(r, _leaves1(m, cp, cb), pays ? inc : 0);
        }
    }

    /// @dev The worst honest outcome after `rounds` rounds: any round may burn its cap (a round's payout and burn
    /// are bounded separately), so every round burns the cap of what is left and none pays.
    function _worstCase(uint256 staked, uint256 rounds) internal pure returns (uint256 v) {
        v = staked;
        for (uint256 i; i < rounds; ++i) {
            v -= Math.mulDiv(v, Fixture.BURN_CAP_BPS, BPS, Math.Rounding.Ceil);
        }
    }

    /// A model with nothing at risk (registered, never staked) is neither paid nor burned, whatever its leaf.
    function testFuzz_settle_unstakedModel(uint96 claimP, uint96 claimB) public {
        uint256 a = _registerAndStake(alice, 100_000e18);
        uint256 z = _register(bob);
        uint32 r = _openAndClose();
        uint256 declared = Math.min(claimP, t.payoutLimit(r));
        Merkle.Leaf[] memory leaves = _leaves2(a, 0, 0, z, claimP, claimB);
        _activate(r, leaves, declared);
        (uint256 p, uint256 b) = _settle(r, leaves, 1);
        assertEq(p, 0, "no payout without stake");
        assertEq(b, 0, "no burn without stake");
        assertEq(t.stakeOf(z), 0, "stake");
        // The committed payout is still there for the honest model.
        assertEq(t.committedPayout(), declared, "a stake-less claim erases no committed payout");
    }

    /// A leaf below what the model already has applies nothing and keeps the recorded values; it never reverts.
    function testFuzz_settle_lowerLeaf(uint96 burn1, uint96 lower) public {
        uint256 m = _registerAndStake(alice, 100_000e18);
        burn1 = uint96(bound(burn1, 1, 20_000e18));
        _settleRound(_leaves1(m, 0, burn1), 0, 0);
        lower = uint96(bound(lower, 0, burn1 - 1));
        uint32 r2 = _openAndClose();
        _activate(r2, _leaves1(m, 0, lower), 0);
        (uint256 p, uint256 b) = _settle(r2, _leaves1(m, 0, lower), 0);
        assertEq(p + b, 0, "nothing applied");
        assertEq(t.modelState(m).cumulativeBurn, burn1, "recorded burn kept");
        assertEq(t.modelState(m).settledRound, r2, "settled through the round anyway");
        assertEq(t.stakeOf(m), 100_000e18 - uint256(burn1), "stake");
    }

    /// Values past the ledger's 2**94 saturate: a huge leaf settles (to its bound) instead of reverting.
    function testFuzz_settle_hugeLeaf(uint256 claimP, uint256 claimB) public {
        uint256 m = _registerAndStake(alice, 100_000e18);
        claimP = bound(claimP, 2 ** 94, type(uint256).max);
        claimB = bound(claimB, 2 ** 94, type(uint256).max);
        uint32 r = _openAndClose();
        Merkle.Leaf[] memory leaves = _leaves1(m, claimP, claimB);
        _activate(r, leaves, t.payoutLimit(r));
        _settle(r, leaves, 0);
        assertGe(t.stakeOf(m), 80_000e18, "P1: at most the burn cap");
        assertLe(t.stakeOf(m), 110_000e18, "P1: at most the payout cap");
    }

    function testFuzz_settle_errors(uint256 junk, uint8 which) public {
        uint256 m = _registerAndStake(alice, 100_000e18);
        uint32 r = _openAndClose();
        Merkle.Leaf[] memory leaves = _leaves2(m, 0, 1e18, m + 1000, 0, 0);
        bytes32[] memory proof = Merkle.proof(Merkle.build(leaves), 0);
        vm.expectRevert(abi.encodeWithSelector(ITournament.RootNotActive.selector, r));
        t.settle(r, m, 0, 1e18, proof);
        _activate(r, leaves, 0);
        which %= 3;
        if (which == 0) {
            // A leaf not in the tree: any other value.
            vm.assume(junk != 1e18);
            vm.expectRevert(ITournament.InvalidProof.selector);
            t.settle(r, m, 0, junk, proof);
        } else if (which == 1) {
            t.settle(r, m, 0, 1e18, proof);
            vm.expectRevert(abi.encodeWithSelector(ITournament.AlreadySettled.selector, m, r));
            t.settle(r, m, 0, 1e18, proof);
        } else {
            // A leaf for an id nobody registered settles nothing.
            bytes32[] memory ghostProof = Merkle.proof(Merkle.build(leaves), 1);
            vm.expectRevert(abi.encodeWithSelector(ITournament.UnknownModel.selector, m + 1000));
            t.settle(r, m + 1000, 0, 0, ghostProof);
        }
    }

    /// A batch (any subset, one multiproof) ends in the same state as settling its models one by one; models
    /// already settled are skipped.
    function testFuzz_settleBatch_equalsSingles(uint96[4] memory stakes, uint256 claims, uint256 subset) public {
        (Merkle.Leaf[] memory leaves, uint32 r) = _fourModelsOneRound(stakes, claims);
        uint256[] memory ks = new uint256[](4);
        uint256 n;
        for (uint256 k; k < 4; ++k) {
            if ((subset >> k) & 1 == 1 || (n == 0 && k == 3)) ks[n++] = k;
        }
        assembly ("memory-safe") {
            mstore(ks, n)
        }
        (uint256[] memory order, bytes32[] memory proof, bool[] memory flags) = Merkle.multiProof(Merkle.build(leaves), ks);
        // Settle the first of the subset alone first: the batch must skip it.
        _settle(r, leaves, order[0]);
        uint256 id = vm.snapshotState();
        for (uint256 i = 1; i < order.length; ++i) {
            _settle(r, leaves, order[i]);
        }
        uint256[] memory single = new uint256[](5);
        for (uint256 k; k < 4; ++k) {
            single[k] = t.stakeOf(leaves[k].modelId);
        }
        // A batch destroys what is due at once (its own burns and any left by single settlements): compare the
        // supply net of what is still due.
        single[4] = token.totalSupply() - t.burnDue();
        vm.revertToState(id);
        assertEq(t.settleBatch(r, _batch(leaves, order), proof, flags), order.length - 1, "already settled model skipped");
        for (uint256 k; k < 4; ++k) {
            assertEq(t.stakeOf(leaves[k].modelId), single[k], "batch = singles");
        }
        assertEq(token.totalSupply() - t.burnDue(), single[4], "burned or due: the same");
    }

    function _fourModelsOneRound(uint96[4] memory stakes, uint256 claims)
        internal
        returns (Merkle.Leaf[] memory leaves, uint32 r)
    {
        leaves = new Merkle.Leaf[](4);
        uint256 declared;
        for (uint256 k; k < 4; ++k) {
            uint256 s = bound(stakes[k], Fixture.MIN_STAKE, 1_000_000e18);
            uint256 m = _registerAndStake(k % 2 == 0 ? alice : bob, s);
            uint256 c = uint256(keccak256(abi.encode(claims, k)));
            // Payouts or burns up to 25.5% of the stake: above the caps as often as not.
            leaves[k] = Merkle.Leaf(m, c % 2 == 0 ? s * (c >> 8 & 0xff) / 1000 : 0, c % 2 == 1 ? s * (c >> 16 & 0xff) / 1000 : 0);
            declared += leaves[k].cumulativePayout;
        }
        r = _openAndClose();
        _activate(r, leaves, Math.min(declared, t.payoutLimit(r)));
    }

    function _batch(Merkle.Leaf[] memory leaves, uint256[] memory order)
        internal
        pure
        returns (ITournament.Leaf[] memory batch)
    {
        batch = new ITournament.Leaf[](order.length);
        for (uint256 i; i < order.length; ++i) {
            Merkle.Leaf memory l = leaves[order[i]];
            batch[i] = ITournament.Leaf(l.modelId, l.cumulativePayout, l.cumulativeBurn);
        }
    }

    function test_settleBatch_empty() public {
        uint256 m = _registerAndStake(alice, 100_000e18);
        _settleRound(_leaves1(m, 0, 0), 0, 0);
        ITournament.Leaf[] memory none = new ITournament.Leaf[](0);
        vm.expectRevert(ITournament.EmptyBatch.selector);
        t.settleBatch(1, none, new bytes32[](1), new bool[](0));
    }

    /// Burns of single settlements stay due until flushBurns (or a batch), never more than was settled.
    function testFuzz_flushBurns(uint96 burn) public {
        uint256 m = _registerAndStake(alice, 100_000e18);
        burn = uint96(bound(burn, 0, 20_000e18));
        uint256 supply = token.totalSupply();
        _settleRound(_leaves1(m, 0, burn), 0, 0);
        assertEq(t.burnDue(), burn, "burn due after settlement");
        t.flushBurns();
        assertEq(t.burnDue(), 0, "flushed");
        assertEq(token.totalSupply(), supply - burn, "supply");
        t.flushBurns(); // nothing due: no effect
        assertEq(token.totalSupply(), supply - burn, "supply unchanged");
    }

    /// Payouts are paid only up to what activation committed, and only from the reserve.
    function testFuzz_settle_payoutWithinCommitted(uint96 declared, uint96 claimP) public {
        uint256 m = _registerAndStake(alice, 100_000e18);
        uint32 r = _openAndClose();
        declared = uint96(bound(declared, 0, t.payoutLimit(r)));
        claimP = uint96(bound(claimP, 0, 20_000e18));
        Merkle.Leaf[] memory leaves = _leaves1(m, claimP, 0);
        _activate(r, leaves, declared);
        uint256 reserve = t.reserve();
        (uint256 p,) = _settle(r, leaves, 0);
        assertLe(p, declared, "within the committed payout");
        assertEq(p, Math.min(Math.min(claimP, 10_000e18), declared), "min(leaf, cap, committed)");
        assertEq(t.reserve(), reserve - p, "from the reserve");
    }

    /// Open, close, propose `leaves`, activate and settle leaf `k`.
    function _settleRound(Merkle.Leaf[] memory leaves, uint256 payoutTotal, uint256 k) internal returns (uint32 r) {
        r = _round(leaves, payoutTotal);
        _settle(r, leaves, k);
    }
}
