// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IBurnableToken} from "./interfaces/IBurnableToken.sol";
import {ITournament} from "./interfaces/ITournament.sol";
import {TournamentBase} from "./TournamentBase.sol";
import {TournamentExtension} from "./TournamentExtension.sol";

/// @title Tournament
/// @notice Stakes, rounds and Merkle-rooted settlement of a staked prediction tournament in which no single
/// privileged key can take more than one round's cap of a model's own stake, nor hold an exit for longer than
/// LAPSE_PERIOD. See {ITournament} for the rules; the threat model is docs/threat-model.md.
///
/// How the per-model bound stays O(1) at settlement: when a round resolves it stores the cumulative products, over
/// every active round so far, of (1 - burnCap) and (1 + payoutCap), as binary floating-point numbers (a 64-bit
/// mantissa and an exponent). The worst (best) an honest leaf can do to an amount at risk over the rounds (x, y]
/// is that amount times the ratio of the two products at y and x: no underflow however many rounds. A model's
/// unsettled span is cut in at most three segments (its pending tranche starts, its withdrawal stops being at risk)
/// and each segment applies one ratio. A span with a single active round uses the round's caps exactly.
///
/// @dev The less frequent functions run in {TournamentExtension} (deployed by the constructor, immutable) with
/// DELEGATECALL on this contract's storage: together they exceed the EIP-170 code size limit. Both inherit
/// {TournamentBase} first, which holds all storage, so their layouts are identical.
contract Tournament is TournamentBase, EIP712, ITournament {
    using SafeERC20 for IBurnableToken;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @inheritdoc ITournament
    bytes32 public constant ORACLE_ROLE = ORACLE;
    /// @inheritdoc ITournament
    bytes32 public constant GUARDIAN_ROLE = GUARDIAN;
    /// @inheritdoc ITournament
    bytes32 public constant PAUSER_ROLE = PAUSER;
    /// @inheritdoc ITournament
    bytes32 public constant SUBMISSION_TYPEHASH =
        keccak256("Submission(uint256 round,uint256 modelId,bytes32 predictionsHash,uint256 deadline)");

    /// @dev Relative slack of the multi-round bounds, in the honest leaf's favour (1e-12). The stored products
    /// carry at most 2^-63 relative error per round, so the slack covers over four million active rounds.
    uint256 private constant SLACK = 1e12;

    /// @notice The contract that runs the less frequent functions on this contract's storage.
    address public immutable extension;

    // ================================================================ construction

    /// @notice Deploys the tournament (and its extension) in one call; see {ITournament.Params} for the checks.
    constructor(Params memory p) TournamentBase(p, p.admin) EIP712("Tournament", "1") {
        _checkBounds(p.bounds);
        _setBounds(p.bounds);
        if (p.oracle != address(0)) _grantRole(ORACLE, p.oracle);
        if (p.guardian != address(0)) _grantRole(GUARDIAN, p.guardian);
        if (p.pauser != address(0)) _grantRole(PAUSER, p.pauser);
        // Round 0: resolved, not active, products 1.
        _factors[0] = Factors({
            payoutCapBps: 0,
            burnCapBps: 0,
            prevActive: 0,
            active: false,
            burnMant: ONE,
            burnExp: 0,
            payMant: ONE,
            payExp: 0
        });
        extension = address(new TournamentExtension(p));
    }

    // ================================================================ administration (admin, delayed)

    /// @inheritdoc ITournament
    function scheduleBounds(Bounds calldata) external returns (bytes32) {
        _delegate();
    }

    /// @inheritdoc ITournament
    function executeBounds(Bounds calldata) external {
        _delegate();
    }

    /// @inheritdoc ITournament
    function scheduleRoleGrant(bytes32, address) external returns (bytes32) {
        _delegate();
    }

    /// @inheritdoc ITournament
    function executeRoleGrant(bytes32, address) external {
        _delegate();
    }

    /// @inheritdoc ITournament
    function cancelOperation(bytes32) external {
        _delegate();
    }

    /// @notice Roles are granted only through {scheduleRoleGrant} and {executeRoleGrant} (the admin role through
    /// the two-step transfer); revoking stays instant.
    function grantRole(bytes32 role, address account) public override {
        if (role == DEFAULT_ADMIN_ROLE) super.grantRole(role, account); // reverts: the admin moves in two steps
        revert RoleGrantNeedsSchedule(role, account);
    }

    /// @notice The admin delay is a hard limit.
    function changeDefaultAdminDelay(uint48) public pure override {
        revert AdminDelayImmutable();
    }

    /// @notice The admin delay is a hard limit.
    function rollbackDefaultAdminDelay() public pure override {
        revert AdminDelayImmutable();
    }

    // ================================================================ pause (pauser)

    /// @inheritdoc ITournament
    function pause() external {
        _delegate();
    }

    /// @inheritdoc ITournament
    function unpause() external {
        _delegate();
    }

    // ================================================================ participants

    /// @inheritdoc ITournament
    function registerModel() external returns (uint256) {
        _delegate();
    }

    /// @inheritdoc ITournament
    function stake(uint256 modelId, uint256 amount) external nonReentrant {
        _stake(modelId, amount);
    }

    /// @inheritdoc ITournament
    function stakeWithPermit(uint256 modelId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        // Someone may have front-run the permit: the transfer then needs the allowance it already set.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _stake(modelId, amount);
    }

    /// @inheritdoc ITournament
    function requestWithdrawal(uint256, uint256) external {
        _delegate();
    }

    /// @inheritdoc ITournament
    function lowerWithdrawal(uint256, uint256) external {
        _delegate();
    }

    /// @inheritdoc ITournament
    function withdraw(uint256 modelId) external nonReentrant returns (uint256 amount) {
        amount = _withdraw(modelId);
    }

    /// @inheritdoc ITournament
    function settleAndWithdraw(
        uint32 round,
        uint256 modelId,
        uint256 cumulativePayout,
        uint256 cumulativeBurn,
        bytes32[] calldata proof
    ) external nonReentrant returns (uint256 amount) {
        if (_loadHot(modelId).round < round) _settleOne(round, modelId, cumulativePayout, cumulativeBurn, proof);
        amount = _withdraw(modelId);
    }

    /// @inheritdoc ITournament
    function fundReserve(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        // Cannot pass AMOUNT_CAP: the reserve is part of what this contract holds, at most the supply.
        _reserve += amount.toUint96();
        _token.safeTransferFrom(msg.sender, address(this), amount);
        emit ReserveFunded(msg.sender, amount);
    }

    // ================================================================ oracle

    /// @inheritdoc ITournament
    function openRound(uint40) external returns (uint32) {
        _delegate();
    }

    /// @inheritdoc ITournament
    function closeRound(uint32) external {
        _delegate();
    }

    /// @inheritdoc ITournament
    function proposeRoot(uint32, bytes32, uint256, uint256, bytes32, string calldata) external {
        _delegate();
    }

    // ================================================================ guardian

    /// @inheritdoc ITournament
    function vetoRoot(uint32) external {
        _delegate();
    }

    // ================================================================ anyone

    /// @inheritdoc ITournament
    function activateRoot(uint32 round) external {
        _requireNextToResolve(round);
        Schedule storage s = _schedules[round];
        (RoundStatus status, uint40 activatesAt, uint96 payoutTotal) = (s.status, s.activatesAt, s.payoutTotal);
        if (status != RoundStatus.Proposed) revert UnexpectedRoundStatus(round, status);
        if (block.timestamp < activatesAt) revert ChallengeWindowOpen(round, activatesAt);
        uint40 lapsesAt = s.closedAt + _lapsePeriod;
        if (block.timestamp >= lapsesAt) revert ActivationPastLapse(round, lapsesAt);
        // Checked at proposal too; the free reserve cannot shrink in between, so this never halts an honest oracle.
        uint256 free = _freeReserve();
        if (payoutTotal > free) revert PayoutExceedsFreeReserve(round, payoutTotal, free);
        s.status = RoundStatus.Active;
        _committed += payoutTotal;
        _resolve(round, true);
        emit RootActivated(round, payoutTotal);
    }

    /// @inheritdoc ITournament
    function lapseRound(uint32) external {
        _delegate();
    }

    /// @inheritdoc ITournament
    function settle(
        uint32 round,
        uint256 modelId,
        uint256 cumulativePayout,
        uint256 cumulativeBurn,
        bytes32[] calldata proof
    ) external returns (uint256 payout, uint256 burn) {
        (payout, burn) = _settleOne(round, modelId, cumulativePayout, cumulativeBurn, proof);
    }

    /// @inheritdoc ITournament
    function settleBatch(uint32 round, Leaf[] calldata leaves, bytes32[] calldata proof, bool[] calldata proofFlags)
        external
        nonReentrant
        returns (uint256 settled)
    {
        // An empty multiproof "proves" proof[0] against itself: reject it outright.
        if (leaves.length == 0) revert EmptyBatch();
        Context memory ctx = _verifyBatch(round, leaves, proof, proofFlags);
        uint256 paid;
        uint256 burned;
        (settled, paid, burned) = _applyBatch(ctx, leaves);
        emit BatchSettled(round, leaves.length, settled, paid, burned);
        // One burn call per batch destroys its burns (and any left by single settlements): cheap per model. A single
        // settlement leaves its burn due instead, which keeps it within its gas budget.
        _flushBurns();
    }

    /// @inheritdoc ITournament
    function flushBurns() external nonReentrant {
        _flushBurns();
    }

    // ================================================================ views

    /// @inheritdoc ITournament
    function stakeOf(uint256 modelId) external view returns (uint256) {
        return _stakeOf(_loadHot(modelId), _accounts[modelId].netDeposits);
    }

    /// @inheritdoc ITournament
    function modelState(uint256 modelId) public view returns (ModelState memory state) {
        Hot memory h = _loadHot(modelId);
        Account memory acc = _accounts[modelId];
        state.owner = acc.owner;
        if (h.flags & REGISTERED == 0) return state;
        state.stake = _stakeOf(h, acc.netDeposits);
        state.netDeposits = acc.netDeposits;
        state.cumulativePayout = h.payout;
        state.cumulativeBurn = h.burn;
        state.settledRound = h.round;
        Pending memory p = _pending[modelId];
        if (h.flags & TRANCHE != 0) (state.tranche, state.trancheFrom) = (p.tranche, p.trancheFrom);
        if (h.flags & WITHDRAWAL != 0) (state.withdrawal, state.withdrawalAfter) = (p.withdrawal, p.withdrawalAfter);
    }

    /// @inheritdoc ITournament
    function modelStates(uint256 fromId, uint256 count) external view returns (ModelState[] memory states) {
        uint256 last = _modelCount;
        if (fromId == 0) fromId = 1;
        uint256 n = fromId > last ? 0 : Math.min(count, last - fromId + 1);
        states = new ModelState[](n);
        for (uint256 i; i < n; ++i) {
            states[i] = modelState(fromId + i);
        }
    }

    /// @inheritdoc ITournament
    function settlementBounds(uint256 modelId, uint32 round)
        external
        view
        returns (uint256 maxPayout, uint256 minStake)
    {
        (, Factors memory f) = _activeRound(round);
        uint256 hot = _hotWord(modelId);
        uint8 flags = _flagsOf(hot);
        if (flags & REGISTERED == 0) revert UnknownModel(modelId);
        uint256 v0 = _stakeOf(hot, _accounts[modelId].netDeposits);
        if (round <= _roundOf(hot)) return (0, v0);
        return _honestBounds(hot, _pendingWord(modelId, flags), round, f, v0);
    }

    /// @inheritdoc ITournament
    function previewSettlement(uint32 round, uint256 modelId, uint256 cumulativePayout, uint256 cumulativeBurn)
        external
        view
        returns (uint256 payout, uint256 burn)
    {
        (, Factors memory f) = _activeRound(round);
        uint256 hot = _hotWord(modelId);
        uint8 flags = _flagsOf(hot);
        if (flags & REGISTERED == 0) revert UnknownModel(modelId);
        if (round <= _roundOf(hot)) return (0, 0);
        payout = _increase(cumulativePayout, uint96(hot));
        burn = _increase(cumulativeBurn, uint96(hot >> 96));
        uint256 v0 = _stakeOf(hot, _accounts[modelId].netDeposits);
        (uint256 maxPayout, uint256 minStake) = _honestBounds(hot, _pendingWord(modelId, flags), round, f, v0);
        payout = Math.min(Math.min(payout, maxPayout), _committed);
        burn = Math.min(burn, v0 + payout - minStake);
    }

    /// @inheritdoc ITournament
    function modelCount() external view returns (uint256) {
        return _modelCount;
    }

    /// @inheritdoc ITournament
    function reserve() external view returns (uint256) {
        return _reserve;
    }

    /// @inheritdoc ITournament
    function committedPayout() external view returns (uint256) {
        return _committed;
    }

    /// @inheritdoc ITournament
    function freeReserve() external view returns (uint256) {
        return _freeReserve();
    }

    /// @inheritdoc ITournament
    function payoutLimit(uint32 round) external view returns (uint256) {
        return Math.min(_freeReserve(), _payoutCap(round));
    }

    /// @inheritdoc ITournament
    function burnDue() external view returns (uint256) {
        return _burnDue;
    }

    /// @inheritdoc ITournament
    function roundInfo(uint32 round) external view returns (RoundInfo memory info) {
        Schedule memory s = _schedules[round];
        Factors memory f = _factors[round];
        info.status = s.status;
        info.closesAt = s.closesAt;
        info.closedAt = s.closedAt;
        info.activatesAt = s.activatesAt;
        info.lapsesAt = s.closedAt == 0 ? 0 : s.closedAt + _lapsePeriod;
        info.challengePeriod = s.challengePeriod;
        info.payoutCapBps = f.payoutCapBps;
        info.burnCapBps = f.burnCapBps;
        info.payoutTotal = s.payoutTotal;
        if (s.status >= RoundStatus.Proposed && s.activatesAt != 0) info.root = _roots[round];
        if (s.status == RoundStatus.Active) info.lastActiveAtOrBefore = round;
        else if (s.status == RoundStatus.Lapsed) info.lastActiveAtOrBefore = f.prevActive;
    }

    /// @inheritdoc ITournament
    function roundCursor() external view returns (uint32 lastClosed, uint32 lastResolved, uint32 lastActive) {
        (lastClosed, lastResolved) = (_lastClosed, _lastResolved);
        lastActive = _lastActiveAtOrBefore(lastResolved);
    }

    /// @inheritdoc ITournament
    function bounds() external view returns (Bounds memory) {
        return Bounds(_challengePeriod, _payoutCapBps, _burnCapBps);
    }

    /// @inheritdoc ITournament
    function exitBound() external view returns (uint256) {
        return _lapsePeriod;
    }

    /// @inheritdoc ITournament
    function paused() public view returns (bool) {
        return block.timestamp < _pausedUntil;
    }

    /// @inheritdoc ITournament
    function pauseState() external view returns (uint40 pausedUntil, uint40 pausableFrom) {
        pausedUntil = _pausedUntil;
        pausableFrom = pausedUntil == 0 ? 0 : pausedUntil + _pauseCooldown;
    }

    /// @inheritdoc ITournament
    function operationReadyAt(bytes32 id) external view returns (uint48) {
        return _operations[id];
    }

    /// @inheritdoc ITournament
    function boundsOperationId(Bounds calldata newBounds) public pure returns (bytes32) {
        return keccak256(abi.encode("Tournament.bounds", newBounds));
    }

    /// @inheritdoc ITournament
    function roleGrantOperationId(bytes32 role, address account) public pure returns (bytes32) {
        return keccak256(abi.encode("Tournament.grantRole", role, account));
    }

    /// @inheritdoc ITournament
    function token() external view returns (IBurnableToken) {
        return _token;
    }

    /// @inheritdoc ITournament
    function MIN_STAKE() external view returns (uint256) {
        return _minStake;
    }

    /// @inheritdoc ITournament
    function MIN_ROUND_LENGTH() external view returns (uint32) {
        return _minRoundLength;
    }

    /// @inheritdoc ITournament
    function MAX_ROUND_LENGTH() external view returns (uint32) {
        return _maxRoundLength;
    }

    /// @inheritdoc ITournament
    function MIN_CLOSE_SPACING() external view returns (uint32) {
        return _minCloseSpacing;
    }

    /// @inheritdoc ITournament
    function MIN_CHALLENGE_PERIOD() external view returns (uint32) {
        return _minChallengePeriod;
    }

    /// @inheritdoc ITournament
    function MAX_PAYOUT_CAP_BPS() external view returns (uint16) {
        return _maxPayoutCapBps;
    }

    /// @inheritdoc ITournament
    function MAX_BURN_CAP_BPS() external view returns (uint16) {
        return _maxBurnCapBps;
    }

    /// @inheritdoc ITournament
    function LAPSE_PERIOD() external view returns (uint32) {
        return _lapsePeriod;
    }

    /// @inheritdoc ITournament
    function MAX_PAUSE() external view returns (uint32) {
        return _maxPause;
    }

    /// @inheritdoc ITournament
    function PAUSE_COOLDOWN() external view returns (uint32) {
        return _pauseCooldown;
    }

    /// @inheritdoc ITournament
    function ADMIN_DELAY() external view returns (uint48) {
        return _adminDelay;
    }

    /// @inheritdoc ITournament
    function leafHash(uint256 modelId, uint256 cumulativePayout, uint256 cumulativeBurn)
        public
        pure
        returns (bytes32 leaf)
    {
        // keccak256(bytes.concat(keccak256(abi.encode(modelId, cumulativePayout, cumulativeBurn)))), without
        // allocating memory: it runs for every leaf of a batch. Double hashing: a 64-byte inner node can never pass
        // as a leaf (second-preimage resistance).
        assembly ("memory-safe") {
            let ptr := mload(0x40) // free memory, used as scratch and left unallocated
            mstore(ptr, modelId)
            mstore(add(ptr, 0x20), cumulativePayout)
            mstore(add(ptr, 0x40), cumulativeBurn)
            mstore(0x00, keccak256(ptr, 0x60))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @inheritdoc ITournament
    function submissionDigest(uint256 round, uint256 modelId, bytes32 predictionsHash, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(SUBMISSION_TYPEHASH, round, modelId, predictionsHash, deadline)));
    }

    // ================================================================ internals: delegation

    /// @dev Runs the calldata on the extension with this contract's storage and returns (or reverts with) its result.
    /// The target is immutable and deployed by the constructor: this is not a proxy and nothing can change it.
    function _delegate() private {
        address target = extension;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), target, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    // ================================================================ internals: models

    function _stake(uint256 modelId, uint256 amount) private {
        _requireNotPaused();
        Hot memory h = _loadHot(modelId);
        Account storage account = _accounts[modelId];
        Account memory acc = account;
        _requireOwner(modelId, acc.owner);
        if (amount == 0) revert ZeroAmount();
        // L-8: a model's first stake (from zero) carries at least MIN_STAKE; zero-stake models stay out of trees.
        uint256 settledStake = _stakeOf(h, acc.netDeposits);
        if (settledStake == 0 && amount < _minStake) {
            revert StakeBelowMinimum(modelId, amount, _minStake);
        }
        uint32 lastClosed = _lastClosed;
        if (settledStake == 0) {
            // Nothing of the model is at risk in any round it is not settled through (every bound over that span is
            // zero, whatever the leaf), and honest trees leave zero-stake models out: count it as settled through
            // the last close, so its exit never waits for a leaf that does not exist. The deposit is then at risk
            // from the next close, as a tranche would be; an old tranche (wholly withdrawn) is void.
            if (h.round < lastClosed || h.flags & TRANCHE != 0) {
                if (h.round < lastClosed) h.round = lastClosed;
                h.flags &= ~TRANCHE;
                _storeHot(modelId, h);
            }
        } else if (!_settledThrough(h.round, lastClosed)) {
            Pending memory p = _pendingOf(modelId, h.flags);
            uint8 flags = _addTranche(modelId, h, p, amount, lastClosed);
            _pending[modelId] = p;
            if (flags != h.flags) {
                h.flags = flags;
                _storeHot(modelId, h);
            }
        }
        account.netDeposits = acc.netDeposits + amount.toInt256().toInt96();
        _token.safeTransferFrom(msg.sender, address(this), amount);
        emit Staked(modelId, msg.sender, amount, lastClosed + 1);
    }

    function _withdraw(uint256 modelId) private returns (uint256 amount) {
        Hot memory h = _loadHot(modelId);
        Account storage account = _accounts[modelId];
        Account memory acc = account;
        _requireOwner(modelId, acc.owner);
        if (h.flags & WITHDRAWAL == 0) revert NoPendingWithdrawal(modelId);
        Pending memory p = _pending[modelId];
        uint32 afterRound = p.withdrawalAfter;
        uint32 lastResolved = _lastResolved;
        if (afterRound > lastResolved) {
            uint32 next = lastResolved + 1;
            uint40 closedAt = _schedules[next].closedAt;
            revert RoundNotResolved(next, closedAt == 0 ? 0 : closedAt + _lapsePeriod);
        }
        uint256 available = _stakeOf(h, acc.netDeposits);
        // A model with no stake has nothing any leaf can change (its bounds are zero): nothing to wait for.
        uint32 required = _lastActiveAtOrBefore(afterRound);
        if (available != 0 && h.round < required) revert UnsettledRounds(modelId, h.round, required);
        amount = p.withdrawal < available ? p.withdrawal : available;
        h.flags &= ~WITHDRAWAL;
        _storeHot(modelId, h);
        account.netDeposits = acc.netDeposits - int96(int256(amount));
        if (amount != 0) _token.safeTransfer(msg.sender, amount);
        emit Withdrawn(modelId, msg.sender, amount);
    }

    // ================================================================ internals: rounds

    function _activeRound(uint32 round) private view returns (bytes32 root, Factors memory f) {
        f = _factors[round];
        if (!f.active) revert RootNotActive(round);
        root = _roots[round];
    }

    function _flushBurns() private {
        uint256 amount = _burnDue;
        if (amount == 0) return;
        _burnDue = 0;
        emit BurnsFlushed(amount);
        _token.burn(amount);
    }

    // ================================================================ internals: settlement

    /// @dev What one settlement call works with: the active round, and the global amounts it moves. The ledger slot
    /// is read only once a leaf pays something (a burn-only settlement never touches it), once per call.
    struct Context {
        uint32 round;
        bool inBatch;
        bool loaded; // reserve and committed hold the ledger slot's values
        bool dirty; // ... and differ from it
        Factors factors;
        uint256 reserve;
        uint256 committed;
    }

    function _context(uint32 round, bool inBatch) private view returns (Context memory ctx, bytes32 root) {
        ctx.round = round;
        ctx.inBatch = inBatch;
        (root, ctx.factors) = _activeRound(round);
    }

    function _storeContext(Context memory ctx, uint256 burned) private {
        if (ctx.dirty) (_reserve, _committed) = (uint96(ctx.reserve), uint96(ctx.committed));
        if (burned != 0) _burnDue += uint96(burned); // burned <= stakes held here, below AMOUNT_CAP
    }

    function _settleOne(
        uint32 round,
        uint256 modelId,
        uint256 cumulativePayout,
        uint256 cumulativeBurn,
        bytes32[] calldata proof
    ) private returns (uint256 payout, uint256 burn) {
        (Context memory ctx, bytes32 root) = _context(round, false);
        if (!MerkleProof.verifyCalldata(proof, root, leafHash(modelId, cumulativePayout, cumulativeBurn))) {
            revert InvalidProof();
        }
        bool applied;
        (applied, payout, burn) = _apply(ctx, modelId, cumulativePayout, cumulativeBurn);
        if (!applied) revert AlreadySettled(modelId, _loadHot(modelId).round);
        _storeContext(ctx, burn);
        emit Settled(modelId, round, payout, burn);
    }

    function _verifyBatch(uint32 round, Leaf[] calldata leaves, bytes32[] calldata proof, bool[] calldata flags)
        private
        view
        returns (Context memory ctx)
    {
        bytes32 root;
        (ctx, root) = _context(round, true);
        bytes32[] memory hashes = new bytes32[](leaves.length);
        // {leafHash} of every leaf, straight from the calldata: a Leaf is three static words, so the array is
        // leaves.length contiguous 96-byte encodings (exactly abi.encode(modelId, cumulativePayout, cumulativeBurn)),
        // and the ABI decoder has already checked that they lie inside the calldata. Copying each to scratch memory
        // past the free pointer (never allocated) and double hashing there avoids two allocations and a call per leaf.
        assembly ("memory-safe") {
            let scratch := mload(0x40)
            let out := add(hashes, 0x20)
            let leaf := leaves.offset
            for { let end := add(leaf, mul(leaves.length, 0x60)) } lt(leaf, end) { leaf := add(leaf, 0x60) } {
                calldatacopy(scratch, leaf, 0x60)
                mstore(0x00, keccak256(scratch, 0x60))
                mstore(out, keccak256(0x00, 0x20))
                out := add(out, 0x20)
            }
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, flags, root, hashes)) revert InvalidProof();
    }

    function _applyBatch(Context memory ctx, Leaf[] calldata leaves)
        private
        returns (uint256 settled, uint256 paid, uint256 burned)
    {
        for (uint256 i; i < leaves.length; ++i) {
            Leaf calldata l = leaves[i];
            (bool applied, uint256 p, uint256 b) = _apply(ctx, l.modelId, l.cumulativePayout, l.cumulativeBurn);
            if (applied) {
                // Cannot overflow: fewer than 2^64 leaves fit in calldata, each paying and burning below 2^96.
                unchecked {
                    ++settled;
                    paid += p;
                    burned += b;
                }
            }
        }
        _storeContext(ctx, burned);
    }

    /// @dev Moves a model up to a verified leaf of the context's active round, clamped to the honest bounds.
    /// Returns false (and changes nothing) when the model is already settled through the round, or (in a batch)
    /// is unknown. Recorded values saturate at AMOUNT_CAP, and a value below the recorded one applies nothing.
    /// The hot and pending slots stay words on the stack (see {_hotWord}): this runs for every leaf of a batch.
    function _apply(Context memory ctx, uint256 modelId, uint256 cumulativePayout, uint256 cumulativeBurn)
        private
        returns (bool applied, uint256 payout, uint256 burn)
    {
        uint256 hot = _hotWord(modelId);
        uint8 flags = _flagsOf(hot);
        if (flags & REGISTERED == 0) {
            // A root may hold leaves for ids nobody registered: they settle nothing, and do not block a batch.
            if (ctx.inBatch) return (false, 0, 0);
            revert UnknownModel(modelId);
        }
        uint32 round = ctx.round;
        if (round <= _roundOf(hot)) return (false, 0, 0);
        uint256 leafPayout = _increase(cumulativePayout, uint96(hot));
        uint256 leafBurn = _increase(cumulativeBurn, uint96(hot >> 96));
        uint256 pend = _pendingWord(modelId, flags);
        (payout, burn) = (leafPayout, leafBurn);
        if (leafPayout != 0 || leafBurn != 0) {
            (payout, burn) = _clamp(ctx, hot, pend, modelId, leafPayout, leafBurn);
        }
        // A tranche at risk in every round after this one is part of the base from now on.
        if (flags & TRANCHE != 0 && _trancheFrom(pend) <= round + 1) flags &= ~TRANCHE;
        unchecked {
            // Both stay <= AMOUNT_CAP: the increases are measured against the saturated leaf values.
            _setHotWord(
                modelId,
                _packHot(uint96(hot) + uint96(leafPayout), uint96(hot >> 96) + uint96(leafBurn), round, flags)
            );
        }
        return (true, payout, burn);
    }

    /// @dev max(0, min(value, AMOUNT_CAP) - recorded).
    function _increase(uint256 value, uint96 recorded) private pure returns (uint256) {
        if (value > AMOUNT_CAP) value = AMOUNT_CAP;
        unchecked {
            return value > recorded ? value - recorded : 0;
        }
    }

    /// @dev Clamps a leaf's increases to the honest bounds and the committed payouts, moves the payout out of the
    /// context's reserve and folds any clamped difference into the model's net deposits.
    function _clamp(
        Context memory ctx,
        uint256 hot,
        uint256 pend,
        uint256 modelId,
        uint256 leafPayout,
        uint256 leafBurn
    ) private returns (uint256 payout, uint256 burn) {
        int96 net = _accounts[modelId].netDeposits;
        uint256 v0 = _stakeOf(hot, net);
        (uint256 maxPayout, uint256 minStake) = _honestBounds(hot, pend, ctx.round, ctx.factors, v0);
        if (leafPayout != 0) payout = _payFromCommitted(ctx, leafPayout, maxPayout);
        // minStake <= v0: the bound never takes the stake below zero.
        burn = Math.min(leafBurn, v0 + payout - minStake);
        if (payout != leafPayout || burn != leafBurn) {
            // Stake = netDeposits + payout - burn stays the real amount although the leaf's values are recorded.
            _accounts[modelId].netDeposits =
                int96(int256(net) - int256(leafPayout - payout) + int256(leafBurn - burn));
            emit SettlementClamped(modelId, ctx.round, leafPayout, leafBurn, payout, burn);
        }
    }

    /// @dev Pays a leaf's payout increase from the committed payouts, up to its honest bound. The leaf discharges
    /// what activation committed for it up to that bound too: a leaf claiming more (say, for a model with no stake)
    /// cannot erase other models' committed payouts. Loads the ledger slot into the context on first use.
    function _payFromCommitted(Context memory ctx, uint256 leafPayout, uint256 maxPayout)
        private
        view
        returns (uint256 payout)
    {
        if (!ctx.loaded) (ctx.reserve, ctx.committed, ctx.loaded) = (_reserve, _committed, true);
        uint256 discharge = Math.min(Math.min(leafPayout, maxPayout), ctx.committed);
        payout = discharge;
        unchecked {
            ctx.committed -= discharge;
            ctx.reserve -= payout; // payout <= committed <= reserve
        }
        ctx.dirty = true;
    }

    /// @dev The honest bounds of a model (hot word `hot`, pending word `pend`) settled through round h = _roundOf(hot)
    /// with stake `v0`, against active round `round`: the most an honest leaf can pay (`maxPayout`) and the least
    /// stake it can leave (`minStake`).
    ///
    /// In round j the amount at risk is max(0, V_j - O_j) where V_j is the stake before round j and the offset
    /// O_j = tranche (if j < trancheFrom) + withdrawal (if j > withdrawalAfter). An honest result is in
    /// [-burnCap_j, +payoutCap_j] times that amount. Worst case: V_{j+1} = O_j + (1 - burnCap_j)(V_j - O_j);
    /// best case: V_{j+1} = O_j + (1 + payoutCap_j)(V_j - O_j), whose total gain bounds the sum of honest payouts.
    /// Both maps are increasing in V_j, so bounding each segment's end bounds the next. Offsets only change after
    /// trancheFrom - 1 and withdrawalAfter, so the span (h, round] is at most three segments of constant
    /// offset, and each segment multiplies by a ratio of stored products.
    function _honestBounds(uint256 hot, uint256 pend, uint32 round, Factors memory f, uint256 v0)
        private
        view
        returns (uint256 maxPayout, uint256 minStake)
    {
        if (f.prevActive <= _roundOf(hot)) {
            // Only `round` itself is active in the span: its caps apply exactly (floors, as the oracle truncates).
            uint256 x = _atRisk(v0, _offset(_flagsOf(hot), pend, round));
            return ((x * f.payoutCapBps) / BPS, v0 - (x * f.burnCapBps) / BPS);
        }
        uint32[3] memory ends = _segmentEnds(hot, pend, round);
        Factors memory from = _factors[_roundOf(hot)];
        uint256 lo = v0;
        uint256 hi = v0;
        for (uint256 i; i < 3 && ends[i] != 0; ++i) {
            Factors memory to = ends[i] == round ? f : _factors[ends[i]];
            uint256 o = _offset(_flagsOf(hot), pend, ends[i]);
            lo = _worstSegment(lo, o, from, to);
            hi = _bestSegment(hi, o, from, to);
            from = to;
        }
        return (hi - v0, lo);
    }

    /// @dev The ends of the constant-offset segments of (_roundOf(hot), round], in order, zero-padded: the offset
    /// changes after trancheFrom - 1 and after withdrawalAfter.
    function _segmentEnds(uint256 hot, uint256 pend, uint32 round) private pure returns (uint32[3] memory ends) {
        uint256 n = 0;
        uint8 flags = _flagsOf(hot);
        uint32 settled = _roundOf(hot);
        uint32 cut1 = flags & TRANCHE != 0 ? _trancheFrom(pend) - 1 : 0;
        uint32 cut2 = flags & WITHDRAWAL != 0 ? _withdrawalAfter(pend) : 0;
        if (cut1 > cut2) (cut1, cut2) = (cut2, cut1);
        if (cut1 > settled && cut1 < round) ends[n++] = cut1;
        if (cut2 > settled && cut2 < round && cut2 != cut1) ends[n++] = cut2;
        ends[n] = round;
    }

    /// @dev Worst case over a segment: every active round burns its cap of the amount at risk.
    function _worstSegment(uint256 v, uint256 offset, Factors memory from, Factors memory to)
        private
        pure
        returns (uint256)
    {
        uint256 x = _atRisk(v, offset);
        return v - x + _ratioDown(x, from.burnMant, from.burnExp, to.burnMant, to.burnExp);
    }

    /// @dev Best case over a segment: every active round pays its cap of the amount at risk.
    function _bestSegment(uint256 v, uint256 offset, Factors memory from, Factors memory to)
        private
        pure
        returns (uint256)
    {
        uint256 x = _atRisk(v, offset);
        return v - x + _ratioUp(x, from.payMant, from.payExp, to.payMant, to.payExp);
    }

    function _offset(uint8 flags, uint256 pend, uint32 round) private pure returns (uint256 o) {
        if (pend == 0) return 0; // nothing pending (the common case): no tranche, no withdrawal, both zero anyway
        if (flags & TRANCHE != 0 && round < _trancheFrom(pend)) o += uint96(pend); // the tranche
        if (flags & WITHDRAWAL != 0 && round > _withdrawalAfter(pend)) o += uint96(pend >> 128); // the withdrawal
    }

    // Decoders of the hot word ({TournamentBase._packHot}) and of the pending word ({TournamentBase._pendingWord}).

    function _roundOf(uint256 hot) private pure returns (uint32) {
        return uint32(hot >> 192);
    }

    function _flagsOf(uint256 hot) private pure returns (uint8) {
        return uint8(hot >> 224);
    }

    function _trancheFrom(uint256 pend) private pure returns (uint32) {
        return uint32(pend >> 96);
    }

    function _withdrawalAfter(uint256 pend) private pure returns (uint32) {
        return uint32(pend >> 224);
    }

    /// @dev Stake = net deposits + recorded payout - recorded burn, from the hot word. Unchecked: an int96 plus a
    /// uint96 minus a uint96 cannot overflow int256 (the final conversion was never checked either).
    function _stakeOf(uint256 hot, int96 netDeposits) private pure returns (uint256) {
        unchecked {
            return uint256(int256(netDeposits) + int256(uint256(uint96(hot))) - int256(uint256(uint96(hot >> 96))));
        }
    }

    function _atRisk(uint256 v, uint256 offset) private pure returns (uint256) {
        unchecked {
            return v > offset ? v - offset : 0; // guarded
        }
    }

    // ================================================================ internals: products

    function _exponentGap(int24 eFrom, int24 eTo) private pure returns (int256) {
        unchecked {
            return int256(int24(eTo - eFrom));
        }
    }

    /// @dev A lower bound of x * (mTo 2^eTo) / (mFrom 2^eFrom) for a ratio <= 1 (burn products only shrink):
    /// rounded down, then lowered by the relative slack and 1 wei.
    function _ratioDown(uint256 x, uint64 mFrom, int24 eFrom, uint64 mTo, int24 eTo) private pure returns (uint256) {
        if (x == 0) return 0;
        uint256 t = Math.mulDiv(x, mTo, mFrom);
        int256 gap = _exponentGap(eFrom, eTo);
        if (gap < 0) t = gap <= -256 ? 0 : t >> uint256(-gap);
        else t = t << uint256(gap); // only gap 0 happens; t <= 2x, no overflow
        t = Math.min(t, x);
        uint256 slack = t / SLACK + 1;
        return t > slack ? t - slack : 0;
    }

    /// @dev An upper bound of x * (mTo 2^eTo) / (mFrom 2^eFrom) for a ratio >= 1 (payout products only grow):
    /// rounded up, then raised by the relative slack and 1 wei; saturates far above any supply.
    function _ratioUp(uint256 x, uint64 mFrom, int24 eFrom, uint64 mTo, int24 eTo) private pure returns (uint256) {
        if (x == 0) return 0;
        uint256 t = Math.mulDiv(x, mTo, mFrom, Math.Rounding.Ceil);
        int256 gap = _exponentGap(eFrom, eTo);
        if (gap > 0) {
            if (gap >= 96) return type(uint128).max; // x < 2^95, t < 2^96: beyond this, no bound worth keeping
            t <<= uint256(gap);
        } else if (gap < 0) {
            t = gap <= -256 ? 1 : (t >> uint256(-gap)) + 1;
        }
        t = Math.max(t, x);
        return t + t / SLACK + 1;
    }
}
