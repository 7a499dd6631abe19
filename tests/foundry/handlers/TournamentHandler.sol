// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";
import {ITournament} from "../../../contracts/interfaces/ITournament.sol";
import {TournamentToken} from "../../../contracts/TournamentToken.sol";
import {vm} from "../utils/Vm.sol";
import {Assertions} from "../utils/Assertions.sol";
import {Fixture, ITournamentFull} from "../utils/Fixture.sol";
import {Merkle} from "../utils/Merkle.sol";

/// @notice The actors of the invariant suite, and the ghost ledger the invariants compare the contract with.
///
/// Honest participants stake, top up, request, lower and cancel withdrawals, withdraw and settle. Against them:
/// an oracle that proposes arbitrary roots (1-4 leaves: any model, ghost ids, lowered, inflated or saturating
/// cumulative values, any declared payout) as well as plausible ones; a guardian that vetoes at random; a pauser
/// that pauses whenever it may; an admin that schedules bounds, role grants and an admin transfer and tries to
/// execute them early; and time that jumps by up to two days.
///
/// The guardian also does the one thing an honest guardian must: it vetoes a proposal that leaves out a model with
/// stake at risk (an auditor sees that at once). Everything an on-chain bound must catch (inflated burns, payouts
/// to models with nothing at risk, lowered values) it lets through, so property 1 is tested without the guardian.
///
/// Ghost ledger (the honest rule, computed round by round without logarithms): for model m and resolved round j,
/// with N_j its net deposits and W_j its pending withdrawal at the close of j,
///   worst:  Bw_j = Bw_{j-1} + ceil(b_j * max(0, N_j - Bw_{j-1} - W_j))   (no payouts, every burn at its cap)
///   best:   Pb_j = Pb_{j-1} + ceil(p_j * max(0, N_j + Pb_{j-1} - W_j))   (no burns, every payout at its cap)
/// Both are monotone in the stake carried in, so every honest history (and every clamped one) ends between
/// N - Bw and N + Pb, where N is deposits minus what was paid out.
///
/// Checks that need a call (an exit at its deadline, an early admin operation, a settlement that must not revert)
/// are made here; a failure is recorded in {violation}, which the invariant asserts empty.
contract TournamentHandler is Assertions {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant MAX_MODELS = 4;
    uint256 internal constant MAX_DEPOSIT = 50_000e18;
    address internal constant NEWCOMER = address(0xBEEF);
    address internal constant KEEPER = address(0x4EE9E7);
    /// @dev The honest oracle leaves zero-stake models out of its trees, as the off-chain side does.
    bool internal constant OMIT_ZERO_STAKE = true;

    ITournamentFull public immutable t;
    TournamentToken public immutable token;
    address[3] internal owners = [address(0xA11CE), address(0xB0B), address(0xCA201)];

    struct Ghost {
        int256 net; // deposits minus withdrawals paid
        uint256 worstBurn; // Bw
        uint256 bestPay; // Pb
        bool everAtRisk; // some resolved round had a positive best-case stake at risk
        uint256 pending; // pending withdrawal, as requested/lowered
        uint256 requestedAt; // time of the request that set the boundary
    }

    struct Snap {
        bool taken;
        int256 net;
        uint256 pending;
        uint256 stake;
    }

    uint256[] public models;
    mapping(uint256 => address) public ownerOf;
    mapping(uint256 => Ghost) public ghost;
    mapping(uint32 => mapping(uint256 => Snap)) internal snaps;

    // Proposals: the leaves of each round's standing (or active) proposal, and when it was made.
    mapping(uint32 => Merkle.Leaf[]) internal leavesOf;
    mapping(uint32 => uint256) public proposedAt;
    // Largest cumulative values any active root gave a model: where an honest next leaf starts.
    mapping(uint256 => uint256) internal activeP;
    mapping(uint256 => uint256) internal activeB;

    uint32 public lastActivated;
    uint256 public lastActivatedProposedAt;
    uint40 public lastClosesAt;
    uint256 public pausedAt;

    // Admin operations: when each was scheduled (0: not scheduled).
    mapping(bytes32 => uint256) public scheduledAt;
    ITournament.Bounds[] internal scheduledBounds;
    ITournament.Bounds public expectedBounds;
    uint256 public adminTransferBegunAt;
    uint256 public newcomerOracleSince;

    string public violation;
    bool public violated;

    // Counters for the report (forge prints calls per selector; these say what actually happened).
    uint256 public nActivated;
    uint256 public nLapsed;
    uint256 public nVetoed;
    uint256 public nSettled;
    uint256 public nClamped;
    uint256 public nExits;
    uint256 public nWithdrawals;
    uint256 public nAdversarialProposals;
    uint256 public nProposals;
    bytes4 public lastPlausibleProposalRevert;

    bool internal initialized;

    /// @notice True for the honest campaign: every proposal is the exact honest tree and the guardian never vetoes.
    bool public immutable honestOnly;

    constructor(ITournamentFull t_, TournamentToken token_, bool honestOnly_) {
        t = t_;
        token = token_;
        honestOnly = honestOnly_;
        expectedBounds = ITournament.Bounds(Fixture.CHALLENGE_PERIOD, Fixture.PAYOUT_CAP_BPS, Fixture.BURN_CAP_BPS);
    }

    /// @notice Hands out tokens, funds the reserve and registers two models (one staked). Called once by the test
    /// after it funded the handler; a second call does nothing.
    function init() external {
        if (initialized) return;
        initialized = true;
        for (uint256 i; i < owners.length; ++i) {
            token.transfer(owners[i], 10_000_000e18);
            vm.prank(owners[i]);
            token.approve(address(t), type(uint256).max);
        }
        token.approve(address(t), type(uint256).max);
        t.fundReserve(20_000e18);
        _register(0);
        _register(1);
        _stake(0, 10_000e18);
    }

    // ================================================================ participants

    /// @notice Stakes on (tops up) a model; one time in sixteen registers a new model instead (up to four).
    function stake(uint256 modelSeed, uint256 amount) external {
        if (amount % 16 == 0 && models.length < MAX_MODELS) return _register(modelSeed);
        _stake(modelSeed, bound(amount, 1, MAX_DEPOSIT));
    }

    /// @notice Requests a withdrawal (odd `mode`) or lowers/cancels the pending one (even `mode`).
    function withdrawalRequest(uint256 mode, uint256 modelSeed, uint256 amount) external {
        if (mode % 2 == 1) _requestWithdrawal(modelSeed, amount);
        else _lowerWithdrawal(modelSeed, amount);
    }

    function _requestWithdrawal(uint256 modelSeed, uint256 amount) internal {
        uint256 m = _model(modelSeed);
        uint256 stakeNow = t.stakeOf(m);
        Ghost storage gh = ghost[m];
        if (stakeNow <= gh.pending) return;
        amount = bound(amount, 1, stakeNow - gh.pending);
        vm.prank(ownerOf[m]);
        try t.requestWithdrawal(m, amount) {
            gh.pending += amount;
            gh.requestedAt = block.timestamp;
        } catch (bytes memory reason) {
            _expectOneOf(reason, ITournament.WithdrawalBoundaryPending.selector, bytes4(0), "requestWithdrawal");
        }
        _checkPending(m);
    }

    function _lowerWithdrawal(uint256 modelSeed, uint256 newPending) internal {
        uint256 m = _model(modelSeed);
        Ghost storage gh = ghost[m];
        if (gh.pending == 0) return;
        newPending = bound(newPending, 0, gh.pending - 1);
        vm.prank(ownerOf[m]);
        try t.lowerWithdrawal(m, newPending) {
            gh.pending = newPending;
        } catch (bytes memory reason) {
            _expectOneOf(reason, ITournament.WithdrawalBoundaryPending.selector, ITournament.TopUpPending.selector, "lower");
        }
        _checkPending(m);
    }

    /// @notice Withdraws early, when it already can. Only one try in three: most requests are left to the
    /// deadline, where {warp} completes them (the worst case property 4 is about).
    function withdraw(uint256 modelSeed) external {
        if ((modelSeed >> 8) % 3 != 0) return;
        uint256 m = _model(modelSeed);
        if (ghost[m].pending == 0) return;
        _withdraw(m, false);
    }

    /// @notice Funds the reserve, or (one time in two) destroys the burns due.
    function reserveOrBurns(uint256 amount) external {
        if (amount % 2 == 0) return _flushBurns();
        amount = bound(amount, 1, 20_000e18);
        uint256 before = t.reserve();
        t.fundReserve(amount);
        if (t.reserve() != before + amount) _violate("fundReserve: reserve did not grow by the amount");
    }

    // ================================================================ oracle

    /// @notice Whatever the round cycle needs next: open a round, close the open one, or propose the next to resolve.
    /// (Separate open/close/propose actions would leave most campaigns with few rounds.)
    function oracleStep(uint256 mode, uint256 seed) external {
        // As a live oracle does: close the open round when due and open the next, then propose what is pending.
        (uint32 lastClosed,,) = t.roundCursor();
        ITournament.RoundStatus nextStatus = t.roundInfo(lastClosed + 1).status;
        if (nextStatus == ITournament.RoundStatus.None) {
            _openRound(seed);
        } else if (block.timestamp >= t.roundInfo(lastClosed + 1).closesAt) {
            _closeRound();
            if (mode & 1 == 0) _openRound(seed);
        }
        (uint32 closed, uint32 lastResolved,) = t.roundCursor();
        ITournament.RoundStatus st = t.roundInfo(lastResolved + 1).status;
        bool proposable = lastResolved < closed
            && (st == ITournament.RoundStatus.Closed || st == ITournament.RoundStatus.Vetoed);
        if (proposable && mode % 5 != 0) _propose(mode >> 3, seed);
    }

    function _openRound(uint256 lengthSeed) internal {
        // Mostly short rounds (many per campaign); one in eight anywhere around the hard limits.
        uint256 length = lengthSeed % 8 == 0
            ? bound(lengthSeed >> 3, Fixture.MIN_ROUND_LENGTH - 10 minutes, Fixture.MAX_ROUND_LENGTH + 1 hours)
            : Fixture.MIN_ROUND_LENGTH + (lengthSeed >> 3) % 3 hours;
        uint40 closesAt = uint40(block.timestamp + length);
        vm.prank(Fixture.ORACLE);
        try t.openRound(closesAt) returns (uint32 round) {
            ITournament.RoundInfo memory info = t.roundInfo(round);
            if (length < Fixture.MIN_ROUND_LENGTH || length > Fixture.MAX_ROUND_LENGTH) {
                _violate("openRound: submission window outside the hard limits accepted");
            }
            if (lastClosesAt != 0 && closesAt < uint256(lastClosesAt) + Fixture.MIN_CLOSE_SPACING) {
                _violate("openRound: closes closer than MIN_CLOSE_SPACING accepted");
            }
            ITournament.Bounds memory b = expectedBounds;
            if (
                info.challengePeriod != b.challengePeriod || info.payoutCapBps != b.payoutCapBps
                    || info.burnCapBps != b.burnCapBps
            ) _violate("openRound: round got bounds other than the executed ones");
            lastClosesAt = closesAt;
        } catch {}
    }

    function _closeRound() internal {
        (uint32 lastClosed,,) = t.roundCursor();
        uint32 round = lastClosed + 1;
        if (t.roundInfo(round).status != ITournament.RoundStatus.Open) return;
        vm.prank(Fixture.ORACLE);
        try t.closeRound(round) {
            for (uint256 i; i < models.length; ++i) {
                uint256 m = models[i];
                snaps[round][m] = Snap(true, ghost[m].net, ghost[m].pending, t.stakeOf(m));
            }
        } catch {}
    }

    /// @param mode 0-1 (mod 3): a plausible (honest-shaped) proposal; 2: arbitrary leaves and totals.
    function _propose(uint256 mode, uint256 seed) internal {
        (uint32 lastClosed, uint32 lastResolved,) = t.roundCursor();
        uint32 round = lastResolved + 1;
        if (round > lastClosed) return;
        ITournament.RoundInfo memory info = t.roundInfo(round);
        if (info.status != ITournament.RoundStatus.Closed && info.status != ITournament.RoundStatus.Vetoed) return;
        bool adversarial = !honestOnly && mode % 3 == 2;
        (Merkle.Leaf[] memory leaves, uint256 payoutTotal) =
            adversarial ? _arbitraryLeaves(seed) : _plausibleLeaves(round, info, seed);
        bytes32 root = Merkle.root(Merkle.build(leaves));
        bytes32 manifest = adversarial && seed % 7 == 0 ? bytes32(0) : keccak256(abi.encode(round, seed));
        uint256 free = t.freeReserve();
        vm.prank(Fixture.ORACLE);
        try t.proposeRoot(round, root, payoutTotal, 0, manifest, "ipfs://manifest") {
            if (manifest == 0) _violate("proposeRoot: zero manifest hash accepted");
            if (payoutTotal > free) _violate("proposeRoot: payout above the free reserve accepted");
            delete leavesOf[round];
            for (uint256 i; i < leaves.length; ++i) {
                leavesOf[round].push(leaves[i]);
            }
            proposedAt[round] = block.timestamp;
            if (adversarial) ++nAdversarialProposals;
            ++nProposals;
            if (_omitsModelAtRisk(round, leaves)) _guardianVeto(round);
        } catch (bytes memory reason) {
            if (!adversarial) lastPlausibleProposalRevert = bytes4(reason);
            // Property 6: an honest proposal (scaled to payoutLimit) is refused only while paused or too late.
            bytes4 why = bytes4(reason);
            if (honestOnly && why != ITournament.EnforcedPause.selector && why != ITournament.ProposalPastLapse.selector) {
                _violate(string.concat("proposeRoot: an honest proposal was refused ", _hex(reason)));
            }
        }
    }

    // ================================================================ guardian, pauser, admin

    function veto(uint256 seed) external {
        if (honestOnly) return;
        (, uint32 lastResolved,) = t.roundCursor();
        uint32 round = lastResolved + 1;
        if (seed % 4 != 0) return; // a guardian that vetoes now and then, not everything it may
        _guardianVeto(round);
    }

    /// @notice Pauses (a third of the times it may: always would leave campaigns paused half of the time) or ends
    /// the pause.
    function pauser(uint256 seed) external {
        if (seed % 2 == 1) {
            vm.prank(Fixture.PAUSER);
            try t.unpause() {} catch {}
        } else if (seed % 3 == 0) {
            vm.prank(Fixture.PAUSER);
            try t.pause() {
                pausedAt = block.timestamp;
            } catch {}
        }
    }

    /// @notice The admin: schedules bounds (some outside the hard limits), executes or cancels them, grants,
    /// executes and revokes a role, moves the admin role, tries to change the delay. Early attempts must fail.
    function admin(uint256 action, uint32 challenge, uint16 payoutCap, uint16 burnCap) external {
        uint256 kind = action % 11;
        if (kind < 2) _scheduleBounds(challenge, payoutCap, burnCap);
        else if (kind < 4) _executeBounds(action >> 8, kind == 3 && (action >> 4) % 4 == 0);
        else if (kind < 8) _roleGrant(kind - 4);
        else _adminTransfer(kind - 8);
    }

    function _scheduleBounds(uint32 challenge, uint16 payoutCap, uint16 burnCap) internal {
        ITournament.Bounds memory b = ITournament.Bounds(
            uint32(bound(challenge, Fixture.MIN_CHALLENGE_PERIOD - 1, Fixture.LAPSE_PERIOD)),
            uint16(bound(payoutCap, 0, Fixture.MAX_PAYOUT_CAP_BPS + 1)),
            uint16(bound(burnCap, 0, Fixture.MAX_BURN_CAP_BPS + 1))
        );
        bool valid = b.challengePeriod >= Fixture.MIN_CHALLENGE_PERIOD && b.challengePeriod < Fixture.LAPSE_PERIOD
            && b.payoutCapBps <= Fixture.MAX_PAYOUT_CAP_BPS && b.burnCapBps <= Fixture.MAX_BURN_CAP_BPS;
        vm.prank(t.defaultAdmin());
        try t.scheduleBounds(b) returns (bytes32 id) {
            if (!valid) _violate("scheduleBounds: bounds outside the hard limits accepted");
            if (t.operationReadyAt(id) < block.timestamp + Fixture.ADMIN_DELAY) {
                _violate("scheduleBounds: ready before the admin delay");
            }
            scheduledAt[id] = block.timestamp;
            // A few distinct schedules are enough; an ever-growing array would slow every later call.
            if (scheduledBounds.length < 8) scheduledBounds.push(b);
            else scheduledBounds[uint256(id) % 8] = b;
        } catch {}
    }

    /// @dev Tries a scheduled change whenever it is picked: early attempts must fail.
    function _executeBounds(uint256 index, bool cancel) internal {
        if (scheduledBounds.length == 0) return;
        ITournament.Bounds memory b = scheduledBounds[index % scheduledBounds.length];
        bytes32 id = t.boundsOperationId(b);
        address adminAccount = t.defaultAdmin();
        if (cancel) {
            vm.prank(adminAccount);
            try t.cancelOperation(id) {
                scheduledAt[id] = 0;
            } catch {}
            return;
        }
        vm.prank(adminAccount);
        try t.executeBounds(b) {
            if (scheduledAt[id] == 0 || block.timestamp < scheduledAt[id] + Fixture.ADMIN_DELAY) {
                _violate("executeBounds: executed before the admin delay");
            }
            scheduledAt[id] = 0;
            expectedBounds = b;
        } catch {}
    }

    /// @param action 0: grant directly (must fail); 1: schedule; 2: execute; 3: revoke (instant).
    function _roleGrant(uint256 action) internal {
        bytes32 role = t.ORACLE_ROLE();
        bytes32 id = t.roleGrantOperationId(role, NEWCOMER);
        address adminAccount = t.defaultAdmin();
        vm.prank(adminAccount);
        if (action == 0) {
            try t.grantRole(role, NEWCOMER) {
                _violate("grantRole: a role granted without the delay");
            } catch {}
        } else if (action == 1) {
            try t.scheduleRoleGrant(role, NEWCOMER) {
                scheduledAt[id] = block.timestamp;
            } catch {}
        } else if (action == 2) {
            try t.executeRoleGrant(role, NEWCOMER) {
                if (scheduledAt[id] == 0 || block.timestamp < scheduledAt[id] + Fixture.ADMIN_DELAY) {
                    _violate("executeRoleGrant: granted before the admin delay");
                }
                scheduledAt[id] = 0;
                newcomerOracleSince = block.timestamp;
            } catch {}
        } else {
            try t.revokeRole(role, NEWCOMER) {
                if (t.hasRole(role, NEWCOMER)) _violate("revokeRole: not instant");
                newcomerOracleSince = 0;
            } catch {}
        }
    }

    /// @param action 0: begin a transfer to the newcomer; 1: the newcomer accepts; 2: change the delay (must fail).
    function _adminTransfer(uint256 action) internal {
        address adminAccount = t.defaultAdmin();
        if (action == 0) {
            if (adminAccount == NEWCOMER) return;
            vm.prank(adminAccount);
            try t.beginDefaultAdminTransfer(NEWCOMER) {
                adminTransferBegunAt = block.timestamp;
            } catch {}
        } else if (action == 1) {
            vm.prank(NEWCOMER);
            try t.acceptDefaultAdminTransfer() {
                if (adminTransferBegunAt == 0 || block.timestamp < adminTransferBegunAt + Fixture.ADMIN_DELAY) {
                    _violate("acceptDefaultAdminTransfer: admin moved before the admin delay");
                }
            } catch {}
        } else {
            vm.prank(adminAccount);
            try t.changeDefaultAdminDelay(1) {
                _violate("changeDefaultAdminDelay: the admin delay changed");
            } catch {}
        }
    }

    // ================================================================ anyone

    /// @notice Activates the next round to resolve, or lapses it (either may be refused; a due one must not be).
    /// Half of the time the oracle then takes its next step: rounds need several oracle steps each, and forge
    /// picks actions uniformly.
    function resolve(uint256 seed) external {
        (, uint32 lastResolved,) = t.roundCursor();
        _tryResolve(lastResolved + 1, seed % 2 == 1);
        if ((seed >> 1) % 2 == 1) this.oracleStep(seed >> 2, seed >> 8);
    }

    function settle(uint256 modelSeed, uint256 roundSeed) external {
        uint256 m = _model(modelSeed);
        uint32 settled = t.modelState(m).settledRound;
        (,, uint32 lastActive) = t.roundCursor();
        if (lastActive <= settled) return;
        // Any active round after the model's settled round whose root has a leaf for it.
        uint32 round = uint32(bound(roundSeed, settled + 1, lastActive));
        for (uint32 r = round; r > settled; --r) {
            if (_settleAgainst(r, m)) return;
        }
    }

    function settleBatch(uint256 roundSeed, uint256 subsetSeed) external {
        (,, uint32 lastActive) = t.roundCursor();
        if (lastActive == 0) return;
        uint32 round = uint32(bound(roundSeed, lastActive > 3 ? lastActive - 3 : 1, lastActive));
        if (t.roundInfo(round).status != ITournament.RoundStatus.Active) return;
        Merkle.Leaf[] memory leaves = leavesOf[round];
        if (leaves.length == 0) return;
        uint256 count;
        uint256[] memory ks = new uint256[](leaves.length);
        for (uint256 k; k < leaves.length; ++k) {
            if ((subsetSeed >> k) & 1 == 1 || (count == 0 && k == leaves.length - 1)) ks[count++] = k;
        }
        assembly ("memory-safe") {
            mstore(ks, count)
        }
        (uint256[] memory order, bytes32[] memory proof, bool[] memory flags) =
            Merkle.multiProof(Merkle.build(leaves), ks);
        ITournament.Leaf[] memory batch = new ITournament.Leaf[](order.length);
        for (uint256 i; i < order.length; ++i) {
            Merkle.Leaf memory l = leaves[order[i]];
            batch[i] = ITournament.Leaf(l.modelId, l.cumulativePayout, l.cumulativeBurn);
        }
        vm.prank(KEEPER);
        try t.settleBatch(round, batch, proof, flags) returns (uint256 settled) {
            nSettled += settled;
        } catch (bytes memory reason) {
            _violate(string.concat("settleBatch: a valid multiproof reverted in round ", Strings.toString(round), " ", _hex(reason)));
        }
    }

    function _flushBurns() internal {
        uint256 due = t.burnDue();
        uint256 supply = token.totalSupply();
        t.flushBurns();
        if (token.totalSupply() != supply - due || t.burnDue() != 0) _violate("flushBurns: did not burn what was due");
    }

    /// @notice Moves time forward. Every pending withdrawal whose deadline (request + exit bound) falls in the jump
    /// is completed exactly at its deadline, by its owner alone: that is property 4.
    function warp(uint256 secondsSeed) external {
        // Mostly hours (rounds, challenge windows); one jump in sixteen of up to two days (lapses, pauses, delays).
        uint256 to = block.timestamp + (secondsSeed % 16 == 0 ? bound(secondsSeed >> 4, 1, 2 days) : bound(secondsSeed >> 3, 1, 3 hours));
        while (!violated) {
            (uint256 m, uint256 deadline) = _nextDeadline();
            if (m == 0 || deadline > to) break;
            if (deadline > block.timestamp) vm.warp(deadline);
            _exit(m);
        }
        vm.warp(to);
        // A keeper activates due proposals soon after their window, half of the time.
        if (secondsSeed & (1 << 200) != 0) {
            (, uint32 lastResolved,) = t.roundCursor();
            ITournament.RoundInfo memory info = t.roundInfo(lastResolved + 1);
            if (info.status == ITournament.RoundStatus.Proposed && block.timestamp >= info.activatesAt) {
                _tryResolve(lastResolved + 1, block.timestamp >= info.lapsesAt);
            }
        }
    }

    // ================================================================ views for the invariants

    function modelCount() external view returns (uint256) {
        return models.length;
    }

    struct GhostView {
        int256 lo; // worst honest outcome
        int256 hi; // best honest outcome
        int256 net; // deposits minus withdrawals paid
        uint256 tol; // slack allowed around [lo, hi]
        bool everAtRisk;
    }

    /// @notice Everything the invariants need from the ghost ledger in one call (the campaign's cost is mostly the
    /// invariant's calls): per model (ids 1..n) its bounds, net deposits, tolerance and whether it was ever at
    /// risk; and whether some pending withdrawal is past its deadline.
    function ghostSummary() external view returns (GhostView[] memory views, bool overdue) {
        uint256 n = models.length;
        views = new GhostView[](n);
        (, uint32 lastResolved,) = t.roundCursor();
        for (uint256 i; i < n; ++i) {
            Ghost storage gh = ghost[models[i]];
            views[i] = GhostView(
                gh.net - int256(gh.worstBurn), gh.net + int256(gh.bestPay), gh.net, _toleranceOf(gh, lastResolved), gh.everAtRisk
            );
            if (gh.pending != 0 && block.timestamp > gh.requestedAt + Fixture.LAPSE_PERIOD) overdue = true;
        }
    }

    function scheduledCount() external view returns (uint256) {
        return scheduledBounds.length;
    }

    // ================================================================ internals

    function _register(uint256 ownerSeed) internal {
        address owner = owners[ownerSeed % owners.length];
        vm.prank(owner);
        try t.registerModel() returns (uint256 m) {
            models.push(m);
            ownerOf[m] = owner;
            if (m != models.length) _violate("registerModel: ids not consecutive");
        } catch {}
    }

    function _stake(uint256 modelSeed, uint256 amount) internal {
        uint256 m = _model(modelSeed);
        bool first = t.stakeOf(m) == 0;
        vm.prank(ownerOf[m]);
        try t.stake(m, amount) {
            if (first && amount < Fixture.MIN_STAKE) _violate("stake: first stake below MIN_STAKE accepted");
            ghost[m].net += int256(amount);
        } catch {}
    }

    function _withdraw(uint256 m, bool mustSucceed) internal {
        Ghost storage gh = ghost[m];
        uint256 stakeBefore = t.stakeOf(m);
        uint256 balanceBefore = token.balanceOf(ownerOf[m]);
        vm.prank(ownerOf[m]);
        try t.withdraw(m) returns (uint256 paid) {
            if (token.balanceOf(ownerOf[m]) != balanceBefore + paid) _violate("withdraw: paid amount not transferred");
            if (paid != Math.min(gh.pending, stakeBefore)) _violate("withdraw: paid other than min(pending, stake)");
            int256 lo = gh.net - int256(gh.worstBurn);
            uint256 worst = lo > 0 ? uint256(lo) : 0;
            if (paid + _tolerance(m) < Math.min(gh.pending, worst)) {
                _violate("withdraw: paid less than the worst honest outcome");
            }
            gh.net -= int256(paid);
            gh.pending = 0;
            gh.requestedAt = 0;
            ++nWithdrawals;
        } catch (bytes memory reason) {
            if (mustSucceed) {
                _violate(string.concat("exit: withdraw reverted at the deadline, model ", Strings.toString(m), " ", _hex(reason)));
            }
        }
    }

    /// @dev Property 4: at request + D, the owner alone resolves the rounds the request depends on, settles the
    /// model and withdraws. Any failure is a violation.
    function _exit(uint256 m) internal {
        ++nExits;
        ITournament.ModelState memory s = t.modelState(m);
        if (s.withdrawal == 0) {
            ghost[m].pending = 0;
            ghost[m].requestedAt = 0;
            return;
        }
        (, uint32 lastResolved,) = t.roundCursor();
        for (uint32 r = lastResolved + 1; r <= s.withdrawalAfter; ++r) {
            ITournament.RoundInfo memory info = t.roundInfo(r);
            bool ok = info.status == ITournament.RoundStatus.Proposed && block.timestamp >= info.activatesAt
                && block.timestamp < info.lapsesAt ? _tryResolve(r, false) : _tryResolve(r, true);
            if (!ok) {
                _violate(string.concat("exit: round ", Strings.toString(r), " not resolvable at the deadline"));
                return;
            }
        }
        uint32 required = s.withdrawalAfter == 0 ? 0 : t.roundInfo(s.withdrawalAfter).lastActiveAtOrBefore;
        if (s.settledRound < required) {
            (,, uint32 lastActive) = t.roundCursor();
            bool settledNow;
            for (uint32 r = lastActive; r >= required && r > s.settledRound && !settledNow; --r) {
                settledNow = _settleAgainst(r, m);
            }
            if (!settledNow) {
                _violate(string.concat("exit: model ", Strings.toString(m), " cannot be settled through round ", Strings.toString(required)));
                return;
            }
        }
        _withdraw(m, true);
    }

    function _settleAgainst(uint32 round, uint256 m) internal returns (bool) {
        if (t.roundInfo(round).status != ITournament.RoundStatus.Active) return false;
        Merkle.Leaf[] memory leaves = leavesOf[round];
        for (uint256 k; k < leaves.length; ++k) {
            if (leaves[k].modelId != m) continue;
            bytes32[] memory proof = Merkle.proof(Merkle.build(leaves), k);
            vm.prank(KEEPER);
            try t.settle(round, m, leaves[k].cumulativePayout, leaves[k].cumulativeBurn, proof) {
                ++nSettled;
                return true;
            } catch (bytes memory reason) {
                _violate(string.concat("settle: a valid leaf reverted, model ", Strings.toString(m), " round ", Strings.toString(round), " ", _hex(reason)));
                return false;
            }
        }
        return false;
    }

    /// @dev Activates (or lapses) `round` if it is due; updates the ghost ledger on success. Activation of a due
    /// proposal and lapse of an overdue round must never fail.
    function _tryResolve(uint32 round, bool lapse_) internal returns (bool) {
        ITournament.RoundInfo memory info = t.roundInfo(round);
        if (lapse_) {
            try t.lapseRound(round) {
                if (block.timestamp < info.lapsesAt) _violate("lapseRound: lapsed before its deadline");
                ++nLapsed;
                return true;
            } catch (bytes memory reason) {
                bool due = info.lapsesAt != 0 && block.timestamp >= info.lapsesAt
                    && info.status != ITournament.RoundStatus.Active && info.status != ITournament.RoundStatus.Lapsed;
                if (due) _violate(string.concat("lapseRound: an overdue round did not lapse ", _hex(reason)));
                return false;
            }
        }
        try t.activateRoot(round) {
            if (proposedAt[round] == 0 || block.timestamp < proposedAt[round] + Fixture.MIN_CHALLENGE_PERIOD) {
                _violate("activateRoot: activated within the minimum challenge period");
            }
            if (lastActivatedProposedAt != 0 && proposedAt[round] < lastActivatedProposedAt + Fixture.MIN_CHALLENGE_PERIOD) {
                _violate("activateRoot: two activated proposals within one challenge window");
            }
            lastActivatedProposedAt = proposedAt[round];
            _onActivated(round, info);
            return true;
        } catch (bytes memory reason) {
            bool due = info.status == ITournament.RoundStatus.Proposed && block.timestamp >= info.activatesAt
                && block.timestamp < info.lapsesAt;
            if (due) _violate(string.concat("activateRoot: a due proposal did not activate ", _hex(reason)));
            return false;
        }
    }

    function _onActivated(uint32 round, ITournament.RoundInfo memory info) internal {
        ++nActivated;
        lastActivated = round;
        for (uint256 i; i < models.length; ++i) {
            uint256 m = models[i];
            Snap memory s = snaps[round][m];
            if (!s.taken) continue;
            Ghost storage gh = ghost[m];
            int256 worstR = s.net - int256(gh.worstBurn) - int256(s.pending);
            int256 bestR = s.net + int256(gh.bestPay) - int256(s.pending);
            if (worstR > 0) gh.worstBurn += Math.ceilDiv(uint256(worstR) * info.burnCapBps, BPS);
            if (bestR > 0) {
                gh.bestPay += Math.ceilDiv(uint256(bestR) * info.payoutCapBps, BPS);
                gh.everAtRisk = true;
            }
        }
        Merkle.Leaf[] memory leaves = leavesOf[round];
        for (uint256 k; k < leaves.length; ++k) {
            uint256 m = leaves[k].modelId;
            if (leaves[k].cumulativePayout > activeP[m]) activeP[m] = leaves[k].cumulativePayout;
            if (leaves[k].cumulativeBurn > activeB[m]) activeB[m] = leaves[k].cumulativeBurn;
        }
    }

    function _guardianVeto(uint32 round) internal {
        vm.prank(Fixture.GUARDIAN);
        try t.vetoRoot(round) {
            ++nVetoed;
        } catch {}
    }

    /// @dev Leaves an honest oracle could publish: every model with stake at the close, cumulative values continuing
    /// from the largest active ones, increases within the caps of the stake at the close, payouts scaled to the free
    /// reserve.
    function _plausibleLeaves(uint32 round, ITournament.RoundInfo memory info, uint256 seed)
        internal
        view
        returns (Merkle.Leaf[] memory leaves, uint256 payoutTotal)
    {
        leaves = new Merkle.Leaf[](models.length);
        uint256 n;
        uint256[] memory pay = new uint256[](models.length);
        for (uint256 i; i < models.length; ++i) {
            uint256 m = models[i];
            Snap memory s = snaps[round][m];
            // The off-chain rule: models with no stake at the close are left out of the tree.
            if (!s.taken || (OMIT_ZERO_STAKE && s.stake == 0 && s.net <= 0)) continue;
            uint256 atRisk = _atRisk(s, m);
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            // A payout, a burn or (one time in three) both, each a random fraction of its cap.
            if (r % 3 != 1) pay[n] = atRisk * info.payoutCapBps / BPS * (r >> 8 & 0xff) / 255;
            uint256 burnInc = r % 3 != 0 ? atRisk * info.burnCapBps / BPS * (r >> 16 & 0xff) / 255 : 0;
            leaves[n] = Merkle.Leaf(m, activeP[m], activeB[m] + burnInc);
            payoutTotal += pay[n];
            ++n;
        }
        // Scaled to what the round may pay: the free reserve and one cap of the staked pool (payoutLimit).
        uint256 free = t.payoutLimit(round);
        uint256 wanted = payoutTotal;
        payoutTotal = 0;
        for (uint256 i; i < n; ++i) {
            if (wanted > free) pay[i] = pay[i] * free / wanted;
            leaves[i].cumulativePayout += pay[i];
            payoutTotal += pay[i];
        }
        if (n == 0) leaves[n++] = Merkle.Leaf(0, 0, 0); // an empty round still needs a root
        assembly ("memory-safe") {
            mstore(leaves, n)
        }
    }

    /// @dev The stake at risk an honest oracle computes for model `m` in the round of `s`: in the honest campaign
    /// exactly R = max(0, N + P - B - W) from the net deposits and pending withdrawal at the close and the
    /// cumulative values of the last active root; otherwise from the model's settled stake at the close.
    function _atRisk(Snap memory s, uint256 m) internal view returns (uint256) {
        int256 base = honestOnly ? s.net + int256(activeP[m]) - int256(activeB[m]) : int256(s.stake);
        int256 r = base - int256(s.pending);
        return r > 0 ? uint256(r) : 0;
    }

    /// @dev 1-4 leaves of anything: registered or ghost ids, repeated ids, values zero, lowered, inflated, huge.
    function _arbitraryLeaves(uint256 seed) internal view returns (Merkle.Leaf[] memory leaves, uint256 payoutTotal) {
        uint256 n = 1 + seed % 4;
        leaves = new Merkle.Leaf[](n);
        for (uint256 k; k < n; ++k) {
            uint256 r = uint256(keccak256(abi.encode(seed, k)));
            uint256 idPick = r % 8;
            uint256 m = idPick < models.length ? models[idPick] : (idPick == 7 ? 0 : 1000 + idPick);
            leaves[k] = Merkle.Leaf(m, _arbitraryValue(r >> 8, activeP[m]), _arbitraryValue(r >> 80, activeB[m]));
        }
        uint256 free = t.freeReserve();
        payoutTotal = bound(seed >> 128, 0, free + 1); // one above the free reserve must be refused
    }

    function _arbitraryValue(uint256 r, uint256 base) internal pure returns (uint256) {
        uint256 kind = r % 6;
        r >>= 8;
        if (kind == 0) return 0;
        if (kind == 1) return base / 2;
        if (kind == 2) return base + r % 1e21;
        if (kind == 3) return base + r % 1e24;
        if (kind == 4) return r % (1 << 100); // saturates the ledger's 2**94
        return base;
    }

    function _omitsModelAtRisk(uint32 round, Merkle.Leaf[] memory leaves) internal view returns (bool) {
        for (uint256 i; i < models.length; ++i) {
            uint256 m = models[i];
            Snap memory s = snaps[round][m];
            if (!s.taken || (s.stake == 0 && s.net <= 0)) continue;
            bool found;
            for (uint256 k; k < leaves.length && !found; ++k) {
                found = leaves[k].modelId == m;
            }
            if (!found) return true;
        }
        return false;
    }

    function _nextDeadline() internal view returns (uint256 m, uint256 deadline) {
        for (uint256 i; i < models.length; ++i) {
            Ghost storage gh = ghost[models[i]];
            if (gh.pending == 0) continue;
            uint256 d = gh.requestedAt + Fixture.LAPSE_PERIOD;
            if (m == 0 || d < deadline) (m, deadline) = (models[i], d);
        }
    }

    function _checkPending(uint256 m) internal {
        if (t.modelState(m).withdrawal != ghost[m].pending) _violate("withdrawal: pending amount differs from requests");
    }

    function _model(uint256 seed) internal view returns (uint256) {
        return models[seed % models.length];
    }

    /// @dev The slack the contract may take in the honest direction: it states 1e-12 relative plus 1 wei per
    /// segment of a settlement (at most three); allowed here: 1e-11 of the best case plus 4 wei per resolved round.
    function _tolerance(uint256 m) internal view returns (uint256) {
        (, uint32 lastResolved,) = t.roundCursor();
        return _toleranceOf(ghost[m], lastResolved);
    }

    function _toleranceOf(Ghost storage gh, uint32 lastResolved) internal view returns (uint256) {
        uint256 scale = gh.net > 0 ? uint256(gh.net) + gh.bestPay : gh.bestPay;
        return scale / 1e11 + 4 * uint256(lastResolved) + 4;
    }

    function _expectOneOf(bytes memory reason, bytes4 a, bytes4 b, string memory what) internal {
        bytes4 sel = reason.length >= 4 ? bytes4(reason) : bytes4(0);
        if (sel != a && sel != b) _violate(string.concat(what, ": unexpected revert ", _hex(reason)));
    }

    function _violate(string memory what) internal {
        if (violated) return;
        violated = true;
        violation = string.concat(what, " (t=", Strings.toString(block.timestamp), ")");
    }

    function _hex(bytes memory reason) internal pure returns (string memory) {
        if (reason.length < 4) return "(no reason)";
        return Strings.toHexString(uint256(uint32(bytes4(reason))), 4);
    }
}
