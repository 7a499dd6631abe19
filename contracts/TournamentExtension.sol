// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {ITournament} from "./interfaces/ITournament.sol";
import {TournamentBase} from "./TournamentBase.sol";

/// @title TournamentExtension
/// @notice The less frequent half of {Tournament}'s functions (administration, pause, registration, withdrawal
/// requests, the oracle's and guardian's round steps), run by {Tournament} with DELEGATECALL on its own storage.
/// See {ITournament} for what each function does; the NatSpec there is the reference.
/// @dev Deployed by {Tournament}'s constructor, which is its only caller. Calling it directly reverts.
contract TournamentExtension is TournamentBase {
    /// @dev The {Tournament} that deployed this extension: the only storage it may run on.
    address private immutable _host;

    /// @notice The call did not come through the {Tournament} that deployed this extension.
    error NotDelegated();

    constructor(ITournament.Params memory p) TournamentBase(p, msg.sender) {
        _host = msg.sender;
    }

    modifier onlyDelegated() {
        if (address(this) != _host) revert NotDelegated();
        _;
    }

    // ================================================================ administration (admin, delayed)

    function scheduleBounds(ITournament.Bounds calldata newBounds)
        external
        onlyDelegated
        onlyRole(DEFAULT_ADMIN_ROLE)
        returns (bytes32 id)
    {
        _checkBounds(newBounds);
        id = keccak256(abi.encode("Tournament.bounds", newBounds));
        uint48 readyAt = _schedule(id);
        emit ITournament.BoundsScheduled(
            id, newBounds.challengePeriod, newBounds.payoutCapBps, newBounds.burnCapBps, readyAt
        );
    }

    function executeBounds(ITournament.Bounds calldata newBounds)
        external
        onlyDelegated
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _consume(keccak256(abi.encode("Tournament.bounds", newBounds)));
        _setBounds(newBounds);
    }

    function scheduleRoleGrant(bytes32 role, address account)
        external
        onlyDelegated
        onlyRole(DEFAULT_ADMIN_ROLE)
        returns (bytes32 id)
    {
        // The admin role moves only through the two-step delayed transfer of AccessControlDefaultAdminRules.
        if (role == DEFAULT_ADMIN_ROLE) revert AccessControlEnforcedDefaultAdminRules();
        id = keccak256(abi.encode("Tournament.grantRole", role, account));
        uint48 readyAt = _schedule(id);
        emit ITournament.RoleGrantScheduled(id, role, account, readyAt);
    }

    function executeRoleGrant(bytes32 role, address account) external onlyDelegated onlyRole(DEFAULT_ADMIN_ROLE) {
        _consume(keccak256(abi.encode("Tournament.grantRole", role, account)));
        _grantRole(role, account);
    }

    function cancelOperation(bytes32 id) external onlyDelegated onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_operations[id] == 0) revert ITournament.OperationNotScheduled(id);
        delete _operations[id];
        emit ITournament.OperationCancelled(id);
    }

    // ================================================================ pause (pauser)

    function pause() external onlyDelegated onlyRole(PAUSER) {
        uint40 until = _pausedUntil;
        if (block.timestamp < until) revert ITournament.EnforcedPause(until);
        // A stolen pauser key cannot chain pauses: each one is followed by a cooldown.
        if (until != 0 && block.timestamp < uint256(until) + _pauseCooldown) {
            revert ITournament.PauseCoolingDown(until + _pauseCooldown);
        }
        until = uint40(block.timestamp) + _maxPause;
        _pausedUntil = until;
        emit ITournament.Paused(msg.sender, until);
    }

    function unpause() external onlyDelegated onlyRole(PAUSER) {
        if (block.timestamp >= _pausedUntil) revert ITournament.ExpectedPause();
        _pausedUntil = uint40(block.timestamp);
        emit ITournament.Unpaused(msg.sender);
    }

    // ================================================================ participants

    function registerModel() external onlyDelegated returns (uint256 modelId) {
        _requireNotPaused();
        modelId = ++_modelCount;
        uint32 lastClosed = _lastClosed;
        // Rounds already closed never include the model: it counts as settled through them.
        _storeHot(modelId, Hot({payout: 0, burn: 0, round: lastClosed, flags: REGISTERED}));
        _accounts[modelId] = Account({owner: msg.sender, netDeposits: 0});
        // A nonzero placeholder (ignored while the flags are clear), so that tranches and withdrawals rewrite it.
        _pending[modelId] = Pending({tranche: 0, trancheFrom: 1, withdrawal: 0, withdrawalAfter: 0});
        emit ITournament.ModelRegistered(modelId, msg.sender, lastClosed);
    }

    function requestWithdrawal(uint256 modelId, uint256 amount) external onlyDelegated {
        Hot memory h = _loadHot(modelId);
        Account memory acc = _accounts[modelId];
        _requireOwner(modelId, acc.owner);
        if (amount == 0) revert ITournament.ZeroAmount();
        uint32 lastClosed = _lastClosed;
        Pending memory p = _pendingOf(modelId, h.flags);
        uint256 pending = amount;
        if (h.flags & WITHDRAWAL != 0) {
            // One boundary per model: a later request joins the pending one only if that changes no round the
            // model has left to settle.
            if (p.withdrawalAfter != lastClosed && !_settledThrough(h.round, lastClosed)) {
                revert ITournament.WithdrawalBoundaryPending(modelId, lastClosed);
            }
            pending += p.withdrawal;
        }
        uint256 available = _stakeOf(h, acc.netDeposits);
        if (pending > available) revert ITournament.WithdrawalExceedsStake(modelId, pending, available);
        p.withdrawal = uint96(pending); // <= the stake, below AMOUNT_CAP
        p.withdrawalAfter = lastClosed;
        _pending[modelId] = p;
        if (h.flags & WITHDRAWAL == 0) {
            h.flags |= WITHDRAWAL;
            _storeHot(modelId, h);
        }
        emit ITournament.WithdrawalRequested(modelId, amount, pending, lastClosed);
    }

    function lowerWithdrawal(uint256 modelId, uint256 pending) external onlyDelegated {
        Hot memory h = _loadHot(modelId);
        _requireOwner(modelId, _accounts[modelId].owner);
        if (h.flags & WITHDRAWAL == 0) revert ITournament.NoPendingWithdrawal(modelId);
        Pending memory p = _pending[modelId];
        if (pending >= p.withdrawal) revert ITournament.WithdrawalNotLowered(modelId, p.withdrawal, pending);
        uint32 lastClosed = _lastClosed;
        uint8 flags = h.flags;
        if (p.withdrawalAfter != lastClosed) {
            // The lowered part was out of risk since the request and is at risk again from the next close, like a
            // deposit. That is exact only if no round up to the request is left to settle.
            if (!_settledThrough(h.round, p.withdrawalAfter)) {
                revert ITournament.WithdrawalBoundaryPending(modelId, p.withdrawalAfter);
            }
            if (!_settledThrough(h.round, lastClosed)) {
                flags = _addTranche(modelId, h, p, p.withdrawal - pending, lastClosed);
            }
        }
        p.withdrawal = uint96(pending);
        if (pending == 0) flags &= ~WITHDRAWAL;
        _pending[modelId] = p;
        if (flags != h.flags) {
            h.flags = flags;
            _storeHot(modelId, h);
        }
        emit ITournament.WithdrawalLowered(modelId, pending, lastClosed + 1);
    }

    // ================================================================ oracle

    function openRound(uint40 closesAt) external onlyDelegated onlyRole(ORACLE) returns (uint32 round) {
        _requireNotPaused();
        uint32 previous = _lastClosed;
        round = previous + 1;
        Schedule storage s = _schedules[round];
        if (s.status != ITournament.RoundStatus.None) revert ITournament.RoundAlreadyOpen(round);
        // L-2 and M-4: a submission window of bounded length, and closes spaced out.
        uint256 earliest = Math.max(
            block.timestamp + _minRoundLength, uint256(_schedules[previous].closedAt) + _minCloseSpacing
        );
        uint256 latest = block.timestamp + _maxRoundLength;
        if (closesAt < earliest || closesAt > latest) {
            revert ITournament.CloseTimeOutOfRange(closesAt, uint40(earliest), uint40(latest));
        }
        (uint32 period, uint16 payoutCap, uint16 burnCap) = (_challengePeriod, _payoutCapBps, _burnCapBps);
        s.closesAt = closesAt;
        s.status = ITournament.RoundStatus.Open;
        s.challengePeriod = period;
        // Nonzero placeholders: resolution and proposal then rewrite these slots instead of initialising them.
        _factors[round] = Factors({
            payoutCapBps: payoutCap,
            burnCapBps: burnCap,
            prevActive: 0,
            active: false,
            burnMant: ONE,
            burnExp: 0,
            payMant: ONE,
            payExp: 0
        });
        _roots[round] = keccak256(abi.encode("Tournament.unusedRoot", round));
        emit ITournament.RoundOpened(round, closesAt, period, payoutCap, burnCap);
    }

    function closeRound(uint32 round) external onlyDelegated onlyRole(ORACLE) {
        _requireNotPaused();
        Schedule storage s = _schedules[round];
        if (s.status != ITournament.RoundStatus.Open) revert ITournament.UnexpectedRoundStatus(round, s.status);
        if (block.timestamp < s.closesAt) revert ITournament.RoundNotDue(round, s.closesAt);
        uint40 closedAt = uint40(block.timestamp);
        s.closedAt = closedAt;
        s.status = ITournament.RoundStatus.Closed;
        _lastClosed = round;
        emit ITournament.RoundClosed(round, closedAt, closedAt + _lapsePeriod);
    }

    function proposeRoot(
        uint32 round,
        bytes32 root,
        uint256 payoutTotal,
        uint256 burnTotal,
        bytes32 manifestHash,
        string calldata manifestURI
    ) external onlyDelegated onlyRole(ORACLE) {
        _requireNotPaused();
        if (root == bytes32(0)) revert ITournament.ZeroRoot();
        if (manifestHash == bytes32(0)) revert ITournament.ZeroManifestHash();
        // M-1: one pending round at a time, so pending rounds cannot compound their caps within one window.
        _requireNextToResolve(round);
        Schedule memory s = _schedules[round];
        if (s.status != ITournament.RoundStatus.Closed && s.status != ITournament.RoundStatus.Vetoed) {
            revert ITournament.UnexpectedRoundStatus(round, s.status);
        }
        uint256 free = _freeReserve();
        if (payoutTotal > free) revert ITournament.PayoutExceedsFreeReserve(round, payoutTotal, free);
        // One round's payout cap of everything staked (settled stakes plus committed payouts not yet settled):
        // what an honest round can pay at most, so a bad root cannot lock more of the reserve than that.
        uint256 cap = _payoutCap(round);
        if (payoutTotal > cap) revert ITournament.PayoutExceedsCap(round, payoutTotal, cap);
        uint40 activatesAt = uint40(block.timestamp) + s.challengePeriod;
        uint40 lapsesAt = s.closedAt + _lapsePeriod;
        if (activatesAt >= lapsesAt) revert ITournament.ProposalPastLapse(round, activatesAt, lapsesAt);
        s.activatesAt = activatesAt;
        s.payoutTotal = uint96(payoutTotal); // <= the free reserve, below AMOUNT_CAP
        s.status = ITournament.RoundStatus.Proposed;
        _schedules[round] = s;
        _roots[round] = root;
        emit ITournament.RootProposed(round, root, payoutTotal, burnTotal, manifestHash, manifestURI, activatesAt);
    }

    // ================================================================ guardian

    function vetoRoot(uint32 round) external onlyDelegated onlyRole(GUARDIAN) {
        Schedule storage s = _schedules[round];
        if (s.status != ITournament.RoundStatus.Proposed) revert ITournament.UnexpectedRoundStatus(round, s.status);
        if (block.timestamp >= s.activatesAt) revert ITournament.ChallengeWindowClosed(round, s.activatesAt);
        s.status = ITournament.RoundStatus.Vetoed;
        emit ITournament.RootVetoed(round, msg.sender);
    }

    // ================================================================ anyone

    function lapseRound(uint32 round) external onlyDelegated {
        _requireNextToResolve(round);
        Schedule storage s = _schedules[round];
        ITournament.RoundStatus status = s.status;
        if (
            status != ITournament.RoundStatus.Closed && status != ITournament.RoundStatus.Proposed
                && status != ITournament.RoundStatus.Vetoed
        ) revert ITournament.UnexpectedRoundStatus(round, status);
        uint40 lapsesAt = s.closedAt + _lapsePeriod;
        if (block.timestamp < lapsesAt) revert ITournament.LapseNotDue(round, lapsesAt);
        s.status = ITournament.RoundStatus.Lapsed;
        _resolve(round, false);
        emit ITournament.RoundLapsed(round);
    }

    // ================================================================ internals

    function _schedule(bytes32 id) private returns (uint48 readyAt) {
        if (_operations[id] != 0) revert ITournament.OperationAlreadyScheduled(id);
        readyAt = uint48(block.timestamp) + _adminDelay;
        _operations[id] = readyAt;
    }

    function _consume(bytes32 id) private {
        uint48 readyAt = _operations[id];
        // Zero is "not scheduled", not a time compared with block.timestamp: the strict equality is intended.
        // slither-disable-next-line incorrect-equality
        if (readyAt == 0) revert ITournament.OperationNotScheduled(id);
        if (block.timestamp < readyAt) revert ITournament.OperationNotReady(id, readyAt);
        delete _operations[id];
        emit ITournament.OperationExecuted(id);
    }
}
