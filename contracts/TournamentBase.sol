// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IBurnableToken} from "./interfaces/IBurnableToken.sol";
import {ITournament} from "./interfaces/ITournament.sol";

/// @title TournamentBase
/// @notice The storage, hard limits and shared rules of {Tournament} and {TournamentExtension}.
/// @dev Both contracts inherit this base first, so their storage layouts are identical: {Tournament} runs the
/// extension's code with DELEGATECALL on its own storage. The split exists only to keep each contract under the
/// EIP-170 code size limit; the extension is deployed by {Tournament}'s constructor and its address is immutable.
abstract contract TournamentBase is AccessControlDefaultAdminRules, ReentrancyGuardTransient {
    // ================================================================ constants and immutables

    bytes32 internal constant ORACLE = keccak256("ORACLE_ROLE");
    bytes32 internal constant GUARDIAN = keccak256("GUARDIAN_ROLE");
    bytes32 internal constant PAUSER = keccak256("PAUSER_ROLE");

    uint256 internal constant BPS = 10_000;
    /// @dev Every amount the ledger holds stays below this: the token supply must (constructor), and recorded
    /// cumulative leaf values saturate at it. Then net deposits = stake - payout + burn always fit int96.
    uint256 internal constant AMOUNT_CAP = 2 ** 94 - 1;
    /// @dev Mantissa of 1.0 in the cumulative products (normalised mantissas lie in [2^63, 2^64)).
    uint64 internal constant ONE = 2 ** 63;

    uint8 internal constant REGISTERED = 1; // keeps the hot slot nonzero (rewrites cost 5,000 gas, not 22,100)
    uint8 internal constant TRANCHE = 2; // the pending slot's tranche is live
    uint8 internal constant WITHDRAWAL = 4; // the pending slot's withdrawal is live

    IBurnableToken internal immutable _token;
    uint256 internal immutable _minStake;
    uint32 internal immutable _minRoundLength;
    uint32 internal immutable _maxRoundLength;
    uint32 internal immutable _minCloseSpacing;
    uint32 internal immutable _minChallengePeriod;
    uint16 internal immutable _maxPayoutCapBps;
    uint16 internal immutable _maxBurnCapBps;
    uint32 internal immutable _lapsePeriod;
    uint32 internal immutable _maxPause;
    uint32 internal immutable _pauseCooldown;
    uint48 internal immutable _adminDelay;

    // ================================================================ storage

    /// @dev A model's settlement state: one slot (packed by hand in _storeHot, so that a settlement writes it with
    /// one SSTORE), read and written by every settlement.
    struct Hot {
        uint96 payout; // cumulative payout of the last leaf applied (saturating at AMOUNT_CAP)
        uint96 burn; // cumulative burn of the last leaf applied (saturating at AMOUNT_CAP)
        uint32 round; // settled through this round
        uint8 flags; // REGISTERED | TRANCHE | WITHDRAWAL
    }

    /// @dev A model's owner and net deposits: read by every settlement, written only when a leaf is clamped.
    struct Account {
        address owner;
        int96 netDeposits; // stake = netDeposits + payout - burn
    }

    /// @dev Read only when the hot slot's flags say so; written at registration so later writes are rewrites.
    struct Pending {
        uint96 tranche; // deposited after a close the model is not settled through; at risk from trancheFrom
        uint32 trancheFrom;
        uint96 withdrawal; // requested; not at risk in rounds after withdrawalAfter
        uint32 withdrawalAfter;
    }

    /// @dev A round's schedule and standing proposal.
    struct Schedule {
        uint40 closesAt;
        uint40 closedAt;
        uint40 activatesAt;
        uint96 payoutTotal;
        ITournament.RoundStatus status;
        uint32 challengePeriod;
    }

    /// @dev A round's caps (from its opening) and, once resolved, the cumulative products through it.
    /// Product value = mantissa * 2^exponent (arbitrary common scale); exponents wrap, only differences are used.
    struct Factors {
        uint16 payoutCapBps;
        uint16 burnCapBps;
        uint32 prevActive; // the last active round before this one (set when resolved)
        bool active;
        uint64 burnMant; // prod over active rounds <= this of (1 - burnCap)
        int24 burnExp;
        uint64 payMant; // prod over active rounds <= this of (1 + payoutCap)
        int24 payExp;
    }

    // Slither's uninitialized-state detector is suppressed on the variables below with one reason: {Tournament} reads
    // them while {TournamentExtension}, run by delegatecall on the same storage, writes them (opening and closing
    // rounds, registration, pause, scheduling); slither analyses each contract alone and cannot see those writes.

    // Ledger slot: what settlement (payout side), proposal and activation read together.
    // slither-disable-next-line uninitialized-state
    uint96 internal _reserve;
    // slither-disable-next-line uninitialized-state
    uint96 internal _committed;
    // slither-disable-next-line uninitialized-state
    uint32 internal _lastClosed;
    uint32 internal _lastResolved;

    // Second slot: burns awaiting destruction, the pause and the bounds for new rounds.
    // slither-disable-next-line uninitialized-state
    uint96 internal _burnDue;
    // slither-disable-next-line uninitialized-state
    uint40 internal _pausedUntil;
    uint32 internal _challengePeriod;
    uint16 internal _payoutCapBps;
    uint16 internal _burnCapBps;

    // slither-disable-next-line uninitialized-state
    uint256 internal _modelCount;

    mapping(uint256 modelId => uint256 packedHot) private _hot;
    mapping(uint256 modelId => Account) internal _accounts;
    mapping(uint256 modelId => Pending) internal _pending;
    // slither-disable-next-line uninitialized-state
    mapping(uint32 round => Schedule) internal _schedules;
    mapping(uint32 round => Factors) internal _factors;
    // Written with a placeholder when the round opens, so a proposal rewrites a nonzero slot.
    // slither-disable-next-line uninitialized-state
    mapping(uint32 round => bytes32) internal _roots;
    // slither-disable-next-line uninitialized-state
    mapping(bytes32 id => uint48 readyAt) internal _operations;

    // ================================================================ construction

    /// @dev Checks the hard limits and stores them as immutables; `admin` gets the admin role of this instance.
    constructor(ITournament.Params memory p, address admin)
        AccessControlDefaultAdminRules(p.limits.adminDelay, admin)
    {
        ITournament.HardLimits memory l = p.limits;
        uint256 supply = p.token.totalSupply();
        if (supply > AMOUNT_CAP) revert ITournament.TokenSupplyTooLarge(supply);
        if (l.minStake == 0) revert ITournament.InvalidParameter("minStake");
        if (l.minRoundLength == 0) revert ITournament.InvalidParameter("minRoundLength");
        if (l.maxRoundLength < l.minRoundLength || l.maxRoundLength < l.minCloseSpacing) {
            revert ITournament.InvalidParameter("maxRoundLength");
        }
        if (l.minChallengePeriod == 0) revert ITournament.InvalidParameter("minChallengePeriod");
        if (l.maxPayoutCapBps > BPS) revert ITournament.InvalidParameter("maxPayoutCapBps");
        // A round never burns a whole stake: the worst-case product stays positive.
        if (l.maxBurnCapBps >= BPS) revert ITournament.InvalidParameter("maxBurnCapBps");
        if (l.lapsePeriod <= l.minChallengePeriod) revert ITournament.InvalidParameter("lapsePeriod");
        if (l.maxPause == 0) revert ITournament.InvalidParameter("maxPause");
        // Property 5: no admin action takes effect before a participant who saw it coming can exit.
        if (l.adminDelay <= l.lapsePeriod) revert ITournament.InvalidParameter("adminDelay");

        _token = p.token;
        _minStake = l.minStake;
        _minRoundLength = l.minRoundLength;
        _maxRoundLength = l.maxRoundLength;
        _minCloseSpacing = l.minCloseSpacing;
        _minChallengePeriod = l.minChallengePeriod;
        _maxPayoutCapBps = l.maxPayoutCapBps;
        _maxBurnCapBps = l.maxBurnCapBps;
        _lapsePeriod = l.lapsePeriod;
        _maxPause = l.maxPause;
        _pauseCooldown = l.pauseCooldown;
        _adminDelay = l.adminDelay;
    }

    // ================================================================ shared rules

    function _checkBounds(ITournament.Bounds memory b) internal view {
        if (
            b.challengePeriod < _minChallengePeriod || b.challengePeriod >= _lapsePeriod
                || b.payoutCapBps > _maxPayoutCapBps || b.burnCapBps > _maxBurnCapBps
        ) revert ITournament.InvalidBounds(b.challengePeriod, b.payoutCapBps, b.burnCapBps);
    }

    function _setBounds(ITournament.Bounds memory b) internal {
        (_challengePeriod, _payoutCapBps, _burnCapBps) = (b.challengePeriod, b.payoutCapBps, b.burnCapBps);
        emit ITournament.BoundsSet(b.challengePeriod, b.payoutCapBps, b.burnCapBps);
    }

    function _requireNotPaused() internal view {
        uint40 until = _pausedUntil;
        if (block.timestamp < until) revert ITournament.EnforcedPause(until);
    }

    function _requireOwner(uint256 modelId, address owner) internal view {
        if (owner == address(0)) revert ITournament.UnknownModel(modelId);
        if (owner != msg.sender) revert ITournament.NotModelOwner(modelId, msg.sender);
    }

    function _loadHot(uint256 modelId) internal view returns (Hot memory h) {
        uint256 word = _hot[modelId];
        h.payout = uint96(word);
        h.burn = uint96(word >> 96);
        h.round = uint32(word >> 192);
        h.flags = uint8(word >> 224);
    }

    function _storeHot(uint256 modelId, Hot memory h) internal {
        _hot[modelId] = _packHot(h.payout, h.burn, h.round, h.flags);
    }

    /// @dev The hot slot as one word, for settlement: decoding it onto the stack instead of into a memory struct
    /// saves an allocation per leaf of a batch. Layout as in {_packHot}.
    function _hotWord(uint256 modelId) internal view returns (uint256) {
        return _hot[modelId];
    }

    function _setHotWord(uint256 modelId, uint256 word) internal {
        _hot[modelId] = word;
    }

    /// @dev payout | burn << 96 | round << 192 | flags << 224: the layout of the hot slot.
    function _packHot(uint96 payout, uint96 burn, uint32 round, uint8 flags) internal pure returns (uint256) {
        return uint256(payout) | (uint256(burn) << 96) | (uint256(round) << 192) | (uint256(flags) << 224);
    }

    function _stakeOf(Hot memory h, int96 netDeposits) internal pure returns (uint256) {
        return uint256(int256(netDeposits) + int256(uint256(h.payout)) - int256(uint256(h.burn)));
    }

    function _pendingOf(uint256 modelId, uint8 flags) internal view returns (Pending memory p) {
        if (flags & (TRANCHE | WITHDRAWAL) != 0) p = _pending[modelId];
    }

    /// @dev The pending slot as one word (zero unless the flags say it is live), for settlement: one SLOAD and no
    /// memory struct per leaf. Solidity packs {Pending} into one slot in declaration order: tranche (bits 0-95),
    /// trancheFrom (96-127), withdrawal (128-223), withdrawalAfter (224-255); see the decoders in {Tournament}.
    function _pendingWord(uint256 modelId, uint8 flags) internal view returns (uint256 word) {
        if (flags & (TRANCHE | WITHDRAWAL) == 0) return 0;
        Pending storage p = _pending[modelId];
        assembly ("memory-safe") {
            word := sload(p.slot)
        }
    }

    function _freeReserve() internal view returns (uint256) {
        return _reserve - _committed; // activation and settlement keep committed <= reserve
    }

    /// @dev The round's payout cap of the staked pool: sum of stakes plus committed payouts not yet settled, i.e.
    /// the token balance less the reserve's free part and the burns due (stray donations only loosen it). Every
    /// honest stake at risk is part of that pool, so an honest round's total always fits.
    function _payoutCap(uint32 round) internal view returns (uint256) {
        uint256 balance = _token.balanceOf(address(this));
        uint256 held = _freeReserve() + _burnDue;
        uint256 pool = balance > held ? balance - held : 0;
        return (pool * _factors[round].payoutCapBps) / BPS;
    }

    /// @dev Marks `amount` of the stake as at risk only from round `lastClosed + 1` because the model is not settled
    /// through `lastClosed`. At most one tranche is pending: an older one must be settled past first.
    /// Updates `p` in memory (the caller stores it) and returns the new flags.
    function _addTranche(uint256 modelId, Hot memory h, Pending memory p, uint256 amount, uint32 lastClosed)
        internal
        view
        returns (uint8 flags)
    {
        flags = h.flags;
        if (flags & TRANCHE != 0 && p.trancheFrom == lastClosed + 1) {
            p.tranche += uint96(amount); // part of a stake, below AMOUNT_CAP
            return flags;
        }
        if (flags & TRANCHE != 0 && !_settledThrough(h.round, p.trancheFrom - 1)) {
            revert ITournament.TopUpPending(modelId, p.trancheFrom - 1);
        }
        // No live tranche, or the old one is at risk in every round left to settle (part of the base now).
        p.tranche = uint96(amount);
        p.trancheFrom = lastClosed + 1;
        flags |= TRANCHE;
    }

    /// @dev Whether a model settled through `settledRound` has nothing left to settle up to `round`: every round up
    /// to it is resolved and none after `settledRound` is active.
    function _settledThrough(uint32 settledRound, uint32 round) internal view returns (bool) {
        if (round <= settledRound) return true;
        return round <= _lastResolved && _lastActiveAtOrBefore(round) <= settledRound;
    }

    function _lastActiveAtOrBefore(uint32 round) internal view returns (uint32) {
        Factors storage f = _factors[round];
        return f.active ? round : f.prevActive;
    }

    function _requireNextToResolve(uint32 round) internal view {
        uint32 next = _lastResolved + 1;
        if (round != next) revert ITournament.ResolutionOutOfOrder(round, next);
    }

    /// @dev Records round `round`'s resolution: the cumulative products through it (times its caps if active) and
    /// the last active round before it.
    function _resolve(uint32 round, bool active) internal {
        Factors memory prev = _factors[round - 1];
        Factors memory f = _factors[round];
        f.prevActive = prev.active ? round - 1 : prev.prevActive;
        f.active = active;
        if (active) {
            (f.burnMant, f.burnExp) = _scaleProduct(prev.burnMant, prev.burnExp, BPS - f.burnCapBps);
            (f.payMant, f.payExp) = _scaleProduct(prev.payMant, prev.payExp, BPS + f.payoutCapBps);
        } else {
            (f.burnMant, f.burnExp, f.payMant, f.payExp) = (prev.burnMant, prev.burnExp, prev.payMant, prev.payExp);
        }
        _factors[round] = f;
        _lastResolved = round;
    }

    /// @dev (m, e) * num / BPS, renormalised to a 64-bit mantissa, rounded down: relative error below 2^-63.
    /// x = m * num * 2^64 / BPS keeps 64 extra bits before the final shift.
    function _scaleProduct(uint64 m, int24 e, uint256 num) internal pure returns (uint64, int24) {
        uint256 x = ((uint256(m) * num) << 64) / BPS;
        uint256 shift = Math.log2(x) - 63; // x >= 2^63 * 2^64 / 10^4 > 2^113, so shift > 50
        unchecked {
            // Exponents wrap: only differences over a model's unsettled span are used.
            return (uint64(x >> shift), e + int24(int256(shift)) - 64);
        }
    }
}
