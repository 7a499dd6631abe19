// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @notice The part of the stake token the tournament needs beyond ERC-20: burning its own balance.
interface IBurnableToken is IERC20 {
    /// @notice Destroys `value` tokens of the caller, lowering the total supply.
    function burn(uint256 value) external;
}

/// @title Tournament
/// @notice Stakes, rounds and Merkle-rooted settlement of a staked prediction tournament.
///
/// Participants register models and stake on them. Every round the oracle opens a submission window and closes it;
/// the stake each model has at close is at risk in that round. When the round's targets are known the oracle scores
/// it off-chain and proposes one Merkle root whose leaves are every model's cumulative payout and cumulative burn over
/// all rounds so far. After a challenge window in which the guardian may veto it, anyone activates the root: the
/// round's total burn is destroyed and its total payout moves from the reward reserve into the staked pool, in
/// aggregate. Per-model balances follow lazily: anyone may settle a model (or a contiguous batch, with one multiproof)
/// against an active root.
///
/// The oracle is bounded: a proposal may not pay more than the funded reserve nor more than a cap fraction of the
/// stake at risk, may not burn more than a cap fraction of the stake at risk, and may not lower a cumulative value.
/// Settlement never applies more than the active totals, nor takes a model's stake below zero: should a wrong root
/// be activated that burns more than a model holds, the reward reserve covers the excess.
///
/// Leaves are OpenZeppelin "standard" Merkle tree leaves:
/// `keccak256(bytes.concat(keccak256(abi.encode(modelId, cumulativePayout, cumulativeBurn))))`, ordered by model id.
///
/// Amounts are stored as uint96: the token's fixed supply must fit (checked in the constructor), so no sum of
/// amounts held here can overflow.
/// @dev Storage layout matters for gas: Pausable is the last base so its flag shares the ledger slot declared first
/// below, which staking, withdrawals and proposals read anyway.
contract Tournament is AccessControl, ReentrancyGuardTransient, EIP712, Pausable {
    using SafeERC20 for IBurnableToken;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @notice May open and close rounds and propose roots.
    bytes32 public constant ORACLE_ROLE = keccak256("ORACLE_ROLE");
    /// @notice May veto a pending root during its challenge window.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @notice May pause and unpause staking, withdrawals and proposals.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice EIP-712 type of a participant's signed submission of a prediction file for a round.
    bytes32 public constant SUBMISSION_TYPEHASH =
        keccak256("Submission(uint256 round,uint256 modelId,bytes32 predictionsHash,uint256 deadline)");

    uint256 private constant BPS = 10_000;

    /// @notice Size of the ring of roots. It holds at most {MAX_PENDING_ROUNDS} pending roots ahead of the last
    /// activated round and the last {SETTLEABLE_ROUNDS} active ones, never more: a proposal can then only overwrite
    /// the root of a round that is already too old to settle against.
    uint32 public constant ROOT_HISTORY = 64;
    /// @notice How far proposals may run ahead of the last activated round.
    uint32 public constant MAX_PENDING_ROUNDS = 16;
    /// @notice How many of the latest active rounds can be settled against. Leaves are cumulative, so the newest
    /// active root settles everything an older one would; a proof against an older round gets {StaleRound}.
    uint32 public constant SETTLEABLE_ROUNDS = ROOT_HISTORY - MAX_PENDING_ROUNDS;

    enum RoundStatus {
        None,
        Open,
        Closed,
        Proposed,
        Vetoed,
        Active
    }

    /// @dev One storage slot: the owner never changes and the net deposits change on stake and withdrawal.
    struct Model {
        address owner;
        // Deposits minus withdrawals. Negative once a model has withdrawn more than it deposited (its winnings).
        int96 netDeposits;
    }

    /// @dev One storage slot, written by every settlement. Nonzero from registration (firstRound >= 1), so a
    /// settlement always rewrites a nonzero slot (5,000 gas) instead of initialising one (22,100 gas).
    struct Settlement {
        uint96 payout; // cumulative payout applied to the model's stake
        uint96 burn; // cumulative burn applied to the model's stake
        uint32 round; // the round whose root the model was last settled against; every earlier round is included
        uint32 firstRound; // the first round whose tree includes the model
    }

    struct Withdrawal {
        uint96 amount;
        // The last round closed before the request: the amount was at risk in it and every round before it.
        uint32 afterRound;
    }

    struct Round {
        // slot 0: what a proposal commits to. The status shares the slot, so proposing rewrites a nonzero slot.
        uint96 cumulativePayout;
        uint96 cumulativeBurn;
        uint40 activatesAt;
        RoundStatus status;
        // slot 1: the schedule, the bounds in force for the round (fixed when it opens) and the stake snapshot.
        uint40 closesAt;
        uint40 closedAt;
        int96 netDepositsAtClose;
        uint16 payoutCapBps;
        uint16 burnCapBps;
        uint32 challengePeriod;
    }

    /// @notice One leaf of a settlement tree.
    struct Leaf {
        uint256 modelId;
        uint256 cumulativePayout;
        uint256 cumulativeBurn;
    }

    /// @notice The stake token.
    IBurnableToken public immutable token;

    // Ledger slot: what stake, withdrawal, close and proposal read together.
    int96 private _totalNetDeposits;
    // Every token ever added to the reward reserve, less burn shortfalls it covered (see _coverShortfall).
    uint96 private _reserveFunded;
    uint32 private _lastClosedRound;

    // Settlement slot: what activation and every settlement read and write together.
    uint96 private _unsettledPayout; // activated payouts not yet applied to a model
    uint96 private _unsettledBurn; // activated burns not yet applied to a model
    uint32 private _lastActivatedRound;

    // Bounds for rounds opened from now on (each round keeps its own copy).
    uint32 private _challengePeriod;
    uint16 private _payoutCapBps;
    uint16 private _burnCapBps;

    uint256 private _modelCount;

    mapping(uint256 modelId => Model) private _models;
    mapping(uint256 modelId => Settlement) private _settlements;
    mapping(uint256 modelId => Withdrawal) private _withdrawals;
    mapping(uint32 round => Round) private _rounds;
    // Roots live in a ring written at deployment, so a proposal rewrites a nonzero slot (5,000 gas) instead of
    // initialising one (22,100). Round r's root is at r % ROOT_HISTORY (see ROOT_HISTORY for why that is safe).
    bytes32[ROOT_HISTORY] private _roots;

    // ---------------------------------------------------------------- events

    /// @notice A model was registered to `owner`.
    event ModelRegistered(uint256 indexed modelId, address indexed owner, uint32 firstRound);
    /// @notice `amount` was added to a model's stake.
    event Staked(uint256 indexed modelId, address indexed owner, uint256 amount);
    /// @notice A withdrawal of up to `amount` was requested; it stays at risk in every round up to `afterRound`.
    event WithdrawalRequested(uint256 indexed modelId, uint256 amount, uint256 pendingAmount, uint32 afterRound);
    /// @notice A pending withdrawal was paid to the model's owner.
    event Withdrawn(uint256 indexed modelId, address indexed owner, uint256 amount);
    /// @notice `amount` was added to the reward reserve.
    event ReserveFunded(address indexed funder, uint256 amount);
    /// @notice The bounds for rounds opened from now on changed.
    event BoundsSet(uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps);
    /// @notice A round opened for submissions until `closesAt`.
    event RoundOpened(
        uint32 indexed round, uint40 closesAt, uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps
    );
    /// @notice A round closed; the stake every model had at this point is at risk in it.
    event RoundClosed(uint32 indexed round, int256 netDeposits, uint256 stakedPool);
    /// @notice The oracle proposed the result root of a round.
    event RootProposed(
        uint32 indexed round,
        bytes32 root,
        uint256 cumulativePayout,
        uint256 cumulativeBurn,
        uint256 totalStakeAtRisk,
        bytes32 manifestHash,
        string manifestURI,
        uint40 activatesAt
    );
    /// @notice The guardian vetoed a pending root (directly, or because an earlier round's root was vetoed).
    event RootVetoed(uint32 indexed round, address indexed guardian);
    /// @notice A root became active: `burned` tokens were destroyed and `paid` moved from the reserve to the stakes.
    event RootActivated(uint32 indexed round, uint256 paid, uint256 burned);
    /// @notice A model's stake caught up with an active root.
    event Settled(uint256 indexed modelId, uint32 indexed round, uint256 payoutDelta, uint256 burnDelta);
    /// @notice An active root burned more than a model held: the model's stake went to zero and the reserve
    /// covered the `shortfall` (already destroyed at activation), so no other stake pays for it.
    event BurnShortfallCovered(uint256 indexed modelId, uint32 indexed round, uint256 shortfall);
    /// @notice A batch of models caught up with an active root: `settled` of them moved (the rest already had),
    /// by `paid` and `burned` in total. Per-model amounts are the batch's leaves (in the calldata and the round's
    /// published tree) minus each model's previous settlement; one event per batch keeps a batch cheap.
    event BatchSettled(uint32 indexed round, uint256 count, uint256 settled, uint256 paid, uint256 burned);

    // ---------------------------------------------------------------- errors

    error TokenSupplyTooLarge(uint256 supply);
    error InvalidBounds(uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps);
    error UnknownModel(uint256 modelId);
    error NotModelOwner(uint256 modelId, address caller);
    error ZeroAmount();
    error WithdrawalExceedsStake(uint256 modelId, uint256 requested, uint256 available);
    error NoPendingWithdrawal(uint256 modelId);
    error UnsettledRounds(uint256 modelId, uint32 settledRound, uint32 requiredRound);
    error RoundAlreadyOpen(uint32 round);
    error CloseTimeNotInFuture(uint40 closesAt);
    error UnexpectedRoundStatus(uint32 round, RoundStatus status);
    error RoundNotDue(uint32 round, uint40 closesAt);
    error ZeroRoot();
    error PreviousRoundNotProposed(uint32 round);
    error CumulativeDecreased(uint32 round);
    error StakeAtRiskTooHigh(uint32 round, uint256 claimed, int256 bound);
    error PayoutCapExceeded(uint32 round, uint256 increase, uint256 cap);
    error BurnCapExceeded(uint32 round, uint256 increase, uint256 cap);
    error PayoutExceedsReserve(uint32 round, uint256 cumulativePayout, uint256 reserveFunded);
    error ChallengeWindowOpen(uint32 round, uint40 activatesAt);
    error ChallengeWindowClosed(uint32 round, uint40 activatesAt);
    error ActivationOutOfOrder(uint32 round, uint32 nextRound);
    error RootNotActive(uint32 round);
    error StaleRound(uint32 round, uint32 oldestSettleable);
    error TooManyPendingRounds(uint32 round, uint32 lastActivated);
    error InvalidProof();
    error EmptyBatch();
    error AlreadySettled(uint256 modelId, uint32 settledRound);
    error ModelCumulativeDecreased(uint256 modelId);
    error BurnExceedsStake(uint256 modelId, uint256 shortfall, uint256 reserveAvailable);
    error SettlementExceedsActiveTotals();

    // ---------------------------------------------------------------- construction and administration

    /// @notice Deploys the tournament for `token_`, with `admin` holding the admin role (meant to be a timelock).
    /// @param token_ The stake token; its fixed supply must fit in uint96.
    /// @param admin Receives DEFAULT_ADMIN_ROLE and grants the other roles.
    /// @param challengePeriod Seconds a proposed root waits, open to veto, before it can be activated.
    /// @param payoutCapBps Cap on a round's payout increase, in basis points of its total stake at risk.
    /// @param burnCapBps Cap on a round's burn increase, in basis points of its total stake at risk.
    constructor(IBurnableToken token_, address admin, uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps)
        EIP712("Tournament", "1")
    {
        uint256 supply = token_.totalSupply();
        if (supply > type(uint96).max) revert TokenSupplyTooLarge(supply);
        token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setBounds(challengePeriod, payoutCapBps, burnCapBps);
        // Placeholder roots: never active (no round <= 0 activates) and with no known preimage.
        for (uint256 i; i < ROOT_HISTORY; ++i) {
            _roots[i] = keccak256(abi.encode("Tournament.unusedRoot", i));
        }
    }

    /// @notice Sets the bounds for rounds opened from now on; open and earlier rounds keep theirs.
    /// @param challengePeriod Seconds between a proposal and its earliest activation (nonzero).
    /// @param payoutCapBps Cap on a round's payout increase in basis points of its stake at risk (at most 10,000).
    /// @param burnCapBps Cap on a round's burn increase in basis points of its stake at risk (at most 10,000).
    function setBounds(uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setBounds(challengePeriod, payoutCapBps, burnCapBps);
    }

    /// @notice Stops staking, withdrawal requests, withdrawals and root proposals. Never moves funds.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes what {pause} stopped.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ---------------------------------------------------------------- participants

    /// @notice Registers a new model owned by the caller.
    /// @return modelId The new model's id (ids are consecutive from 1).
    function registerModel() external returns (uint256 modelId) {
        modelId = ++_modelCount;
        uint32 lastClosed = _lastClosedRound;
        _models[modelId] = Model({owner: msg.sender, netDeposits: 0});
        // Rounds already closed never include the model: it counts as settled through them.
        _settlements[modelId] = Settlement({payout: 0, burn: 0, round: lastClosed, firstRound: lastClosed + 1});
        emit ModelRegistered(modelId, msg.sender, lastClosed + 1);
    }

    /// @notice Adds `amount` tokens from the caller to the stake of a model the caller owns.
    /// The stake counts from the next round that closes.
    /// @param modelId The model to stake on.
    /// @param amount Tokens (smallest unit), previously approved to this contract.
    function stake(uint256 modelId, uint256 amount) external nonReentrant whenNotPaused {
        _stake(modelId, amount);
    }

    /// @notice {stake} with an EIP-2612 permit, so approval and stake take one transaction.
    /// @dev The permit is allowed to fail (someone may have front-run it): the transfer then needs an allowance.
    /// @param modelId The model to stake on.
    /// @param amount Tokens (smallest unit).
    /// @param deadline Permit deadline.
    /// @param v Permit signature v.
    /// @param r Permit signature r.
    /// @param s Permit signature s.
    function stakeWithPermit(uint256 modelId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        whenNotPaused
    {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _stake(modelId, amount);
    }

    /// @notice Requests a withdrawal of up to `amount` from a model the caller owns. The amount stays at risk in
    /// every round closed before this request and can be withdrawn once the model is settled through them.
    /// A second request adds to the first and moves the whole pending amount behind the latest closed round.
    /// @param modelId The model.
    /// @param amount Tokens to withdraw; with what is already pending, at most the model's settled stake.
    function requestWithdrawal(uint256 modelId, uint256 amount) external whenNotPaused {
        _requireOwner(modelId);
        if (amount == 0) revert ZeroAmount();
        Withdrawal storage w = _withdrawals[modelId];
        uint256 pending = w.amount + amount;
        uint256 available = stakeOf(modelId);
        if (pending > available) revert WithdrawalExceedsStake(modelId, pending, available);
        uint32 afterRound = _lastClosedRound;
        w.amount = pending.toUint96();
        w.afterRound = afterRound;
        emit WithdrawalRequested(modelId, amount, pending, afterRound);
    }

    /// @notice Pays a model's pending withdrawal to its owner (the caller). Every round the amount was at risk in
    /// must be settled for the model first; if burns since the request left less stake, that is what is paid.
    /// @param modelId The model.
    /// @return amount Tokens paid.
    function withdraw(uint256 modelId) external nonReentrant whenNotPaused returns (uint256 amount) {
        amount = _withdraw(modelId);
    }

    /// @notice Settles a model against an active root, then pays its pending withdrawal (see {settle}, {withdraw}).
    /// @param round An active round.
    /// @param modelId The model.
    /// @param cumulativePayout The model's leaf: cumulative payout through `round`.
    /// @param cumulativeBurn The model's leaf: cumulative burn through `round`.
    /// @param proof The leaf's Merkle proof.
    /// @return amount Tokens paid.
    function settleAndWithdraw(
        uint32 round,
        uint256 modelId,
        uint256 cumulativePayout,
        uint256 cumulativeBurn,
        bytes32[] calldata proof
    ) external nonReentrant whenNotPaused returns (uint256 amount) {
        if (_settlements[modelId].round < round) {
            _settleOne(round, modelId, cumulativePayout, cumulativeBurn, proof);
        }
        amount = _withdraw(modelId);
    }

    /// @notice Adds `amount` tokens from the caller to the reward reserve that pays out winning models.
    /// @param amount Tokens (smallest unit), previously approved to this contract.
    function fundReserve(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _reserveFunded = (uint256(_reserveFunded) + amount).toUint96();
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit ReserveFunded(msg.sender, amount);
    }

    // ---------------------------------------------------------------- oracle: rounds and roots

    /// @notice Opens the next round for submissions until `closesAt`, with the bounds currently set.
    /// @param closesAt Unix time after which the round may be closed; submissions must arrive before it.
    /// @return round The new round's number (consecutive from 1).
    function openRound(uint40 closesAt) external onlyRole(ORACLE_ROLE) returns (uint32 round) {
        round = _lastClosedRound + 1;
        Round storage rd = _rounds[round];
        if (rd.status != RoundStatus.None) revert RoundAlreadyOpen(round);
        if (closesAt <= block.timestamp) revert CloseTimeNotInFuture(closesAt);
        (uint32 period, uint16 payoutCap, uint16 burnCap) = (_challengePeriod, _payoutCapBps, _burnCapBps);
        rd.status = RoundStatus.Open;
        rd.closesAt = closesAt;
        rd.challengePeriod = period;
        rd.payoutCapBps = payoutCap;
        rd.burnCapBps = burnCap;
        emit RoundOpened(round, closesAt, period, payoutCap, burnCap);
    }

    /// @notice Closes a round whose submission window has passed; every model's stake at this point is at risk.
    /// @param round The open round.
    function closeRound(uint32 round) external onlyRole(ORACLE_ROLE) {
        Round storage rd = _rounds[round];
        if (rd.status != RoundStatus.Open) revert UnexpectedRoundStatus(round, rd.status);
        if (block.timestamp < rd.closesAt) revert RoundNotDue(round, rd.closesAt);
        int96 netDeposits = _totalNetDeposits;
        rd.status = RoundStatus.Closed;
        rd.closedAt = uint40(block.timestamp);
        rd.netDepositsAtClose = netDeposits;
        _lastClosedRound = round;
        emit RoundClosed(round, netDeposits, stakedPool());
    }

    /// @notice Proposes a closed round's result root. It can be activated after the round's challenge period
    /// unless the guardian vetoes it. Rounds are proposed strictly in order; several may be pending at once.
    /// @param round A closed round (or one whose previous proposal was vetoed).
    /// @param root Root of the settlement tree: every model's cumulative payout and burn through `round`.
    /// @param cumulativePayout Sum of the tree's cumulative payouts.
    /// @param cumulativeBurn Sum of the tree's cumulative burns.
    /// @param totalStakeAtRisk Sum of the models' stakes at risk in the round (the base of the caps).
    /// @param manifestHash keccak-256 of the round's manifest (the artifacts that reproduce the root).
    /// @param manifestURI Where the manifest is published.
    function proposeRoot(
        uint32 round,
        bytes32 root,
        uint96 cumulativePayout,
        uint96 cumulativeBurn,
        uint96 totalStakeAtRisk,
        bytes32 manifestHash,
        string calldata manifestURI
    ) external onlyRole(ORACLE_ROLE) whenNotPaused {
        if (root == bytes32(0)) revert ZeroRoot();
        uint40 activatesAt = _acceptProposal(round, root, cumulativePayout, cumulativeBurn, totalStakeAtRisk);
        emit RootProposed(
            round, root, cumulativePayout, cumulativeBurn, totalStakeAtRisk, manifestHash, manifestURI, activatesAt
        );
    }

    /// @notice Vetoes a pending root during its challenge window, and every later pending root (they build on it).
    /// The oracle may then propose the round again.
    /// @param round A round whose root is pending.
    function vetoRoot(uint32 round) external onlyRole(GUARDIAN_ROLE) {
        Round storage rd = _rounds[round];
        if (rd.status != RoundStatus.Proposed) revert UnexpectedRoundStatus(round, rd.status);
        if (block.timestamp >= rd.activatesAt) revert ChallengeWindowClosed(round, rd.activatesAt);
        // Later pending rounds exist only while this one is pending, and their number is bounded by the rounds
        // the oracle proposed during one challenge window.
        for (uint32 r = round; _rounds[r].status == RoundStatus.Proposed; ++r) {
            _rounds[r].status = RoundStatus.Vetoed;
            emit RootVetoed(r, msg.sender);
        }
    }

    /// @notice Activates the next pending root once its challenge window has passed. Anyone may call it.
    /// Burns the round's burn increase and moves its payout increase from the reserve to the staked pool.
    /// @param round The round after the last active one.
    function activateRoot(uint32 round) external nonReentrant {
        uint32 next = _lastActivatedRound + 1;
        if (round != next) revert ActivationOutOfOrder(round, next);
        Round storage rd = _rounds[round];
        if (rd.status != RoundStatus.Proposed) revert UnexpectedRoundStatus(round, rd.status);
        if (block.timestamp < rd.activatesAt) revert ChallengeWindowOpen(round, rd.activatesAt);

        // Checked at proposal too, but a covered burn shortfall may have shrunk the reserve since.
        uint96 funded = _reserveFunded;
        if (rd.cumulativePayout > funded) revert PayoutExceedsReserve(round, rd.cumulativePayout, funded);
        (uint96 prevPayout, uint96 prevBurn) = _previousTotals(round);
        uint96 paid = rd.cumulativePayout - prevPayout;
        uint96 burned = rd.cumulativeBurn - prevBurn;
        rd.status = RoundStatus.Active;
        _lastActivatedRound = round;
        _unsettledPayout += paid;
        _unsettledBurn += burned;
        emit RootActivated(round, paid, burned);
        if (burned != 0) token.burn(burned);
    }

    // ---------------------------------------------------------------- settlement (permissionless)

    /// @notice Applies to a model's stake what an active root says it is owed since its last settlement.
    /// @param round An active round; any active round at or after the model's last settlement will do.
    /// @param modelId The model.
    /// @param cumulativePayout The model's leaf: cumulative payout through `round`.
    /// @param cumulativeBurn The model's leaf: cumulative burn through `round`.
    /// @param proof The leaf's Merkle proof.
    function settle(
        uint32 round,
        uint256 modelId,
        uint256 cumulativePayout,
        uint256 cumulativeBurn,
        bytes32[] calldata proof
    ) external {
        _settleOne(round, modelId, cumulativePayout, cumulativeBurn, proof);
    }

    /// @notice Settles many models against one active root with one OpenZeppelin multiproof. Models already
    /// settled through `round` are skipped, not reverted on.
    /// @param round An active round.
    /// @param leaves The leaves, in the order the multiproof lists them (ascending model id for a settlement tree).
    /// @param proof The multiproof's sibling hashes.
    /// @param proofFlags The multiproof's flags.
    /// @return settled How many models were settled (the rest were already settled through `round`).
    function settleBatch(uint32 round, Leaf[] calldata leaves, bytes32[] calldata proof, bool[] calldata proofFlags)
        external
        returns (uint256 settled)
    {
        // An empty multiproof "proves" proof[0] against itself: reject it outright.
        if (leaves.length == 0) revert EmptyBatch();
        _verifyBatch(round, leaves, proof, proofFlags);
        uint256 paid;
        uint256 burned;
        (settled, paid, burned) = _applyBatch(round, leaves);
        _consumeUnsettled(paid, burned);
        emit BatchSettled(round, leaves.length, settled, paid, burned);
    }

    // ---------------------------------------------------------------- views

    /// @notice A model's settled stake: net deposits plus settled payouts minus settled burns.
    /// Unsettled results of active roots are not included until the model is settled.
    /// @param modelId The model.
    /// @return The stake in the token's smallest unit.
    function stakeOf(uint256 modelId) public view returns (uint256) {
        Settlement memory s = _settlements[modelId];
        return uint256(int256(_models[modelId].netDeposits) + int256(uint256(s.payout)) - int256(uint256(s.burn)));
    }

    /// @notice Tokens owned by stakers in aggregate, including results of active roots not yet settled per model.
    /// @return The staked pool in the token's smallest unit.
    function stakedPool() public view returns (uint256) {
        (uint96 p, uint96 b) = _activeTotals();
        return uint256(int256(_totalNetDeposits) + int256(uint256(p)) - int256(uint256(b)));
    }

    /// @notice Tokens left in the reward reserve after every active root's payouts.
    /// @return The reserve in the token's smallest unit.
    function rewardReserve() external view returns (uint256) {
        (uint96 p,) = _activeTotals();
        return _reserveFunded - p;
    }

    /// @notice Every token ever added to the reward reserve, less burn shortfalls it covered.
    /// @return The total funded, in the token's smallest unit.
    function reserveFunded() external view returns (uint256) {
        return _reserveFunded;
    }

    /// @notice Deposits minus withdrawals over all models.
    /// @return The net deposits in the token's smallest unit.
    function totalNetDeposits() external view returns (int256) {
        return _totalNetDeposits;
    }

    /// @notice Activated payouts and burns that are not yet applied to any model.
    /// @return payout Unsettled payouts.
    /// @return burn Unsettled burns.
    function unsettledTotals() external view returns (uint256 payout, uint256 burn) {
        return (_unsettledPayout, _unsettledBurn);
    }

    /// @notice The last closed and the last activated round (0 for none).
    /// @return lastClosed The last closed round.
    /// @return lastActivated The last round whose root is active.
    function roundCursor() external view returns (uint32 lastClosed, uint32 lastActivated) {
        return (_lastClosedRound, _lastActivatedRound);
    }

    /// @notice The bounds rounds opened from now on will get.
    /// @return challengePeriod Seconds between proposal and earliest activation.
    /// @return payoutCapBps Payout cap in basis points of the stake at risk.
    /// @return burnCapBps Burn cap in basis points of the stake at risk.
    function bounds() external view returns (uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps) {
        return (_challengePeriod, _payoutCapBps, _burnCapBps);
    }

    /// @notice Number of models registered (ids run from 1 to this).
    /// @return The model count.
    function modelCount() external view returns (uint256) {
        return _modelCount;
    }

    /// @notice A model's owner, net deposits, settlement state and pending withdrawal.
    /// @param modelId The model.
    /// @return model Owner and net deposits.
    /// @return settlement Cumulative payout and burn applied, the round settled through, the first round.
    /// @return withdrawal Pending amount and the last round it is at risk in.
    function modelInfo(uint256 modelId)
        external
        view
        returns (Model memory model, Settlement memory settlement, Withdrawal memory withdrawal)
    {
        return (_models[modelId], _settlements[modelId], _withdrawals[modelId]);
    }

    /// @notice A round's state.
    /// @param round The round.
    /// @return info The round's totals, status, schedule, bounds and stake snapshot.
    /// @return root The round's latest proposed root while the round is pending, vetoed or one of the last
    /// {SETTLEABLE_ROUNDS} active rounds, else zero (every root stays in its RootProposed event).
    function roundInfo(uint32 round) external view returns (Round memory info, bytes32 root) {
        info = _rounds[round];
        bool held = info.status >= RoundStatus.Proposed && round + SETTLEABLE_ROUNDS > _lastActivatedRound;
        root = held ? _roots[round % ROOT_HISTORY] : bytes32(0);
    }

    /// @notice The settlement-tree leaf of a model: OpenZeppelin's double-hashed standard leaf.
    /// @param modelId The model.
    /// @param cumulativePayout Cumulative payout.
    /// @param cumulativeBurn Cumulative burn.
    /// @return The leaf hash.
    function leafHash(uint256 modelId, uint256 cumulativePayout, uint256 cumulativeBurn)
        public
        pure
        returns (bytes32)
    {
        // Double hashing: a 64-byte inner node can never pass as a leaf (second-preimage resistance).
        return keccak256(bytes.concat(keccak256(abi.encode(modelId, cumulativePayout, cumulativeBurn))));
    }

    /// @notice The EIP-712 digest a participant signs to submit a prediction file (domain: this chain and contract).
    /// @param round The round.
    /// @param modelId The model.
    /// @param predictionsHash keccak-256 of the prediction file.
    /// @param deadline Time after which the signature must not be accepted.
    /// @return The digest.
    function submissionDigest(uint256 round, uint256 modelId, bytes32 predictionsHash, uint256 deadline)
        external
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(SUBMISSION_TYPEHASH, round, modelId, predictionsHash, deadline)));
    }

    // ---------------------------------------------------------------- internals

    function _setBounds(uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps) private {
        if (challengePeriod == 0 || payoutCapBps > BPS || burnCapBps > BPS) {
            revert InvalidBounds(challengePeriod, payoutCapBps, burnCapBps);
        }
        _challengePeriod = challengePeriod;
        _payoutCapBps = payoutCapBps;
        _burnCapBps = burnCapBps;
        emit BoundsSet(challengePeriod, payoutCapBps, burnCapBps);
    }

    function _requireOwner(uint256 modelId) private view {
        address owner = _models[modelId].owner;
        if (owner == address(0)) revert UnknownModel(modelId);
        if (owner != msg.sender) revert NotModelOwner(modelId, msg.sender);
    }

    function _stake(uint256 modelId, uint256 amount) private {
        _requireOwner(modelId);
        if (amount == 0) revert ZeroAmount();
        int96 delta = amount.toInt256().toInt96();
        _models[modelId].netDeposits += delta;
        _totalNetDeposits += delta;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit Staked(modelId, msg.sender, amount);
    }

    function _withdraw(uint256 modelId) private returns (uint256 amount) {
        _requireOwner(modelId);
        Withdrawal memory w = _withdrawals[modelId];
        if (w.amount == 0) revert NoPendingWithdrawal(modelId);
        uint32 settledRound = _settlements[modelId].round;
        if (settledRound < w.afterRound) revert UnsettledRounds(modelId, settledRound, w.afterRound);
        uint256 available = stakeOf(modelId);
        amount = w.amount < available ? w.amount : available;
        delete _withdrawals[modelId];
        int96 delta = amount.toInt256().toInt96();
        _models[modelId].netDeposits -= delta;
        _totalNetDeposits -= delta;
        if (amount != 0) token.safeTransfer(msg.sender, amount);
        emit Withdrawn(modelId, msg.sender, amount);
    }

    function _settleOne(
        uint32 round,
        uint256 modelId,
        uint256 cumulativePayout,
        uint256 cumulativeBurn,
        bytes32[] calldata proof
    ) private {
        bytes32 root = _activeRoot(round);
        if (!MerkleProof.verifyCalldata(proof, root, leafHash(modelId, cumulativePayout, cumulativeBurn))) {
            revert InvalidProof();
        }
        (bool applied, uint256 dp, uint256 db) = _apply(round, modelId, cumulativePayout, cumulativeBurn, true);
        if (!applied) revert AlreadySettled(modelId, _settlements[modelId].round);
        _consumeUnsettled(dp, db);
    }

    /// @dev Checks a proposal against the round's state and bounds, and records it.
    function _acceptProposal(
        uint32 round,
        bytes32 root,
        uint96 cumulativePayout,
        uint96 cumulativeBurn,
        uint96 totalStakeAtRisk
    ) private returns (uint40 activatesAt) {
        Round storage rd = _rounds[round];
        RoundStatus status = rd.status;
        if (status != RoundStatus.Closed && status != RoundStatus.Vetoed) revert UnexpectedRoundStatus(round, status);

        (uint96 prevPayout, uint96 prevBurn) = _previousTotals(round);
        if (cumulativePayout < prevPayout || cumulativeBurn < prevBurn) revert CumulativeDecreased(round);
        int256 atRiskBound = int256(rd.netDepositsAtClose) + int256(uint256(prevPayout)) - int256(uint256(prevBurn));
        _checkBounds(rd, round, cumulativePayout - prevPayout, cumulativeBurn - prevBurn, totalStakeAtRisk, atRiskBound);
        // Sum of all payouts ever proposed vs all tokens ever funded: this round's increase fits the reserve left
        // after every earlier round (active or pending) is paid.
        uint96 funded = _reserveFunded;
        if (cumulativePayout > funded) revert PayoutExceedsReserve(round, cumulativePayout, funded);

        // Bounded lookahead: the ring slot this overwrites belongs to a round no longer settleable (ROOT_HISTORY).
        uint32 lastActivated = _lastActivatedRound;
        if (round > lastActivated + MAX_PENDING_ROUNDS) revert TooManyPendingRounds(round, lastActivated);
        activatesAt = uint40(block.timestamp) + rd.challengePeriod;
        _roots[round % ROOT_HISTORY] = root;
        rd.cumulativePayout = cumulativePayout;
        rd.cumulativeBurn = cumulativeBurn;
        rd.activatesAt = activatesAt;
        rd.status = RoundStatus.Proposed;
    }

    function _verifyBatch(uint32 round, Leaf[] calldata leaves, bytes32[] calldata proof, bool[] calldata flags)
        private
        view
    {
        bytes32 root = _activeRoot(round);
        bytes32[] memory hashes = new bytes32[](leaves.length);
        for (uint256 i; i < leaves.length; ++i) {
            Leaf calldata l = leaves[i];
            hashes[i] = leafHash(l.modelId, l.cumulativePayout, l.cumulativeBurn);
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, flags, root, hashes)) revert InvalidProof();
    }

    function _applyBatch(uint32 round, Leaf[] calldata leaves)
        private
        returns (uint256 settled, uint256 paid, uint256 burned)
    {
        for (uint256 i; i < leaves.length; ++i) {
            Leaf calldata l = leaves[i];
            (bool applied, uint256 dp, uint256 db) =
                _apply(round, l.modelId, l.cumulativePayout, l.cumulativeBurn, false);
            if (applied) {
                ++settled;
                paid += dp;
                burned += db;
            }
        }
    }

    /// @dev Moves a model's settlement up to a verified leaf. Returns false (and changes nothing) when the model
    /// is already settled through `round`: cumulative leaves make an older round's leaf redundant.
    function _apply(uint32 round, uint256 modelId, uint256 cumulativePayout, uint256 cumulativeBurn, bool emitEvent)
        private
        returns (bool applied, uint256 payoutDelta, uint256 burnDelta)
    {
        Settlement storage slot = _settlements[modelId];
        Settlement memory s = slot;
        if (s.firstRound == 0) revert UnknownModel(modelId);
        if (round <= s.round) return (false, 0, 0);
        if (cumulativePayout < s.payout || cumulativeBurn < s.burn) revert ModelCumulativeDecreased(modelId);
        payoutDelta = cumulativePayout - s.payout;
        burnDelta = cumulativeBurn - s.burn;
        // A stake that only grows cannot go negative: read the deposits only when there is a new burn.
        if (burnDelta != 0) {
            int256 stakeAfter = int256(_models[modelId].netDeposits) + int256(cumulativePayout) - int256(cumulativeBurn);
            if (stakeAfter < 0) _coverShortfall(modelId, round, uint256(-stakeAfter));
        }
        slot.payout = cumulativePayout.toUint96();
        slot.burn = cumulativeBurn.toUint96();
        slot.round = round;
        if (emitEvent) emit Settled(modelId, round, payoutDelta, burnDelta);
        return (true, payoutDelta, burnDelta);
    }

    /// @dev Only a wrong root that was activated anyway (guardian and auditors asleep) burns more than a model holds.
    /// The excess left the staked pool at activation; the reward reserve makes the pool whole, and the model ends at
    /// zero instead of being frozen (its cumulative values could never settle otherwise). If the reserve cannot cover
    /// it the settlement reverts until someone funds the reserve.
    function _coverShortfall(uint256 modelId, uint32 round, uint256 shortfall) private {
        (uint96 activePayout,) = _activeTotals();
        uint256 available = _reserveFunded - activePayout;
        if (shortfall > available) revert BurnExceedsStake(modelId, shortfall, available);
        int96 delta = shortfall.toInt256().toInt96();
        _models[modelId].netDeposits += delta;
        _totalNetDeposits += delta;
        _reserveFunded -= uint96(shortfall);
        emit BurnShortfallCovered(modelId, round, shortfall);
    }

    /// @dev What settlements apply can never exceed what activation moved: a root whose leaves sum to more than
    /// its declared totals cannot drain other models' stakes.
    function _consumeUnsettled(uint256 paid, uint256 burned) private {
        (uint96 p, uint96 b) = (_unsettledPayout, _unsettledBurn);
        if (paid > p || burned > b) revert SettlementExceedsActiveTotals();
        unchecked {
            _unsettledPayout = p - uint96(paid);
            _unsettledBurn = b - uint96(burned);
        }
    }

    function _activeRoot(uint32 round) private view returns (bytes32) {
        // Roots activate strictly in order, so every round up to the last activated one is active.
        uint32 lastActivated = _lastActivatedRound;
        if (round == 0 || round > lastActivated) revert RootNotActive(round);
        // Older rounds' ring slots may already hold a newer proposal's root.
        if (lastActivated >= SETTLEABLE_ROUNDS && round <= lastActivated - SETTLEABLE_ROUNDS) {
            revert StaleRound(round, lastActivated - SETTLEABLE_ROUNDS + 1);
        }
        return _roots[round % ROOT_HISTORY];
    }

    function _activeTotals() private view returns (uint96 payout, uint96 burn) {
        Round storage rd = _rounds[_lastActivatedRound];
        return (rd.cumulativePayout, rd.cumulativeBurn);
    }

    function _previousTotals(uint32 round) private view returns (uint96 payout, uint96 burn) {
        if (round == 1) return (0, 0);
        Round storage prev = _rounds[round - 1];
        if (prev.status != RoundStatus.Proposed && prev.status != RoundStatus.Active) {
            revert PreviousRoundNotProposed(round - 1);
        }
        return (prev.cumulativePayout, prev.cumulativeBurn);
    }

    /// @dev The caps are fractions of the stake at risk, and the stake at risk the oracle claims cannot exceed
    /// `bound`, what the models had at close: net deposits then, plus every earlier round's net result.
    function _checkBounds(
        Round storage rd,
        uint32 round,
        uint256 payoutIncrease,
        uint256 burnIncrease,
        uint256 totalStakeAtRisk,
        int256 bound
    ) private view {
        if (int256(totalStakeAtRisk) > bound) revert StakeAtRiskTooHigh(round, totalStakeAtRisk, bound);
        uint256 payoutCap = (totalStakeAtRisk * rd.payoutCapBps) / BPS;
        if (payoutIncrease > payoutCap) revert PayoutCapExceeded(round, payoutIncrease, payoutCap);
        uint256 burnCap = (totalStakeAtRisk * rd.burnCapBps) / BPS;
        if (burnIncrease > burnCap) revert BurnCapExceeded(round, burnIncrease, burnCap);
    }
}
