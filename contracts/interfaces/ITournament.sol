// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IBurnableToken} from "./IBurnableToken.sol";

/// @title ITournament
/// @notice A staked prediction tournament whose oracle, guardian, pauser and admin are each bounded on-chain.
///
/// Participants register models and stake on them. The oracle opens and closes rounds; a model's stake at the close
/// of round j is at risk in it: R_j = max(0, N_j + P_{j-1} - B_{j-1} - W_j), with N_j its net deposits at the close
/// (a deposit counts from the next round that closes), P/B its cumulative payout and burn through round j-1 and W_j
/// the withdrawal it requested before the close. When the round's targets are known, the oracle proposes one Merkle
/// root whose leaves are every model's cumulative payout and burn through the round. After a challenge window in
/// which the guardian may veto it, anyone activates it; a round not activated by `closedAt + LAPSE_PERIOD` lapses
/// with a zero result. Activation moves no stake: anyone settles a model (or a contiguous batch) against an active
/// root later, and settlement applies the leaf only up to what an honest leaf could say:
/// `payout_j <= payoutCap_j * R_j` and `burn_j <= burnCap_j * R_j` in every round since the model's last settlement
/// (caps in basis points fixed when the round opens). A leaf claiming more settles to that bound and freezes nothing.
///
/// Burns come out of the burned model's own stake; payouts come out of the reward reserve, and only up to what
/// activated rounds committed. At every moment the contract holds at least every model's {stakeOf} plus the reserve.
/// A withdrawal requested at time t can be completed by t + {exitBound} whatever the privileged roles do.
///
/// Leaves are OpenZeppelin "standard" Merkle tree leaves:
/// `keccak256(bytes.concat(keccak256(abi.encode(modelId, cumulativePayout, cumulativeBurn))))`.
interface ITournament {
    // ================================================================ types

    /// @notice Life cycle of a round. Resolved rounds are `Active` or `Lapsed`; rounds resolve strictly in order.
    enum RoundStatus {
        None,
        Open,
        Closed,
        Proposed,
        Vetoed,
        Active,
        Lapsed
    }

    /// @notice Bounds a round gets when it opens. Changed only through {scheduleBounds} / {executeBounds}.
    /// @param challengePeriod Seconds between a proposal and its earliest activation
    /// (`MIN_CHALLENGE_PERIOD <= challengePeriod < LAPSE_PERIOD`).
    /// @param payoutCapBps Per-model payout cap, basis points of the model's stake at risk (`<= MAX_PAYOUT_CAP_BPS`).
    /// @param burnCapBps Per-model burn cap, basis points of the model's stake at risk (`<= MAX_BURN_CAP_BPS`).
    struct Bounds {
        uint32 challengePeriod;
        uint16 payoutCapBps;
        uint16 burnCapBps;
    }

    /// @notice Limits fixed at deployment (immutable); no role can change them.
    /// @param minStake Smallest deposit into a model whose stake is zero (its first stake).
    /// @param minRoundLength Shortest submission window: `closesAt >= openedAt + minRoundLength`.
    /// @param maxRoundLength Longest submission window: `closesAt <= openedAt + maxRoundLength`.
    /// @param minCloseSpacing Shortest time between two consecutive closes.
    /// @param minChallengePeriod Shortest challenge period the admin may set (> 0).
    /// @param maxPayoutCapBps Largest payout cap the admin may set (<= 10,000).
    /// @param maxBurnCapBps Largest burn cap the admin may set (< 10,000: a round never burns a whole stake).
    /// @param lapsePeriod A closed round not activated within this many seconds lapses. Also the exit bound D.
    /// Must exceed every allowed challenge period.
    /// @param maxPause Longest pause.
    /// @param pauseCooldown Time after a pause ends before the next one may start.
    /// @param adminDelay Delay of bounds changes, role grants and admin transfers. Must exceed `lapsePeriod`.
    struct HardLimits {
        uint96 minStake;
        uint32 minRoundLength;
        uint32 maxRoundLength;
        uint32 minCloseSpacing;
        uint32 minChallengePeriod;
        uint16 maxPayoutCapBps;
        uint16 maxBurnCapBps;
        uint32 lapsePeriod;
        uint32 maxPause;
        uint32 pauseCooldown;
        uint48 adminDelay;
    }

    /// @notice Everything the constructor needs, so that deployment stays one call.
    /// @param token The stake token; its total supply must be below 2**94.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (moves in two delayed steps; meant to be a multisig).
    /// @param oracle Receives ORACLE_ROLE at deployment (zero: nobody).
    /// @param guardian Receives GUARDIAN_ROLE at deployment (zero: nobody).
    /// @param pauser Receives PAUSER_ROLE at deployment (zero: nobody).
    /// @param limits The immutable hard limits.
    /// @param bounds The first bounds (within `limits`).
    struct Params {
        IBurnableToken token;
        address admin;
        address oracle;
        address guardian;
        address pauser;
        HardLimits limits;
        Bounds bounds;
    }

    /// @notice A model's on-chain state, as {modelState} and {modelStates} return it.
    /// @param owner The model's owner (zero for an unknown id).
    /// @param stake Tokens the model holds now ({stakeOf}): `netDeposits + cumulativePayout - cumulativeBurn`.
    /// @param netDeposits Deposits minus withdrawals, plus what clamped settlements folded in (see {SettlementClamped}).
    /// @param cumulativePayout The cumulative payout of the last leaf applied.
    /// @param cumulativeBurn The cumulative burn of the last leaf applied.
    /// @param settledRound The round the model is settled through; every earlier round is included.
    /// @param tranche Part of the stake deposited after a close the model is not yet settled through (0: none).
    /// @param trancheFrom The first round the tranche is at risk in.
    /// @param withdrawal Pending withdrawal (0: none); not at risk in rounds after `withdrawalAfter`.
    /// @param withdrawalAfter The last round closed before the withdrawal request.
    struct ModelState {
        address owner;
        uint256 stake;
        int256 netDeposits;
        uint256 cumulativePayout;
        uint256 cumulativeBurn;
        uint32 settledRound;
        uint256 tranche;
        uint32 trancheFrom;
        uint256 withdrawal;
        uint32 withdrawalAfter;
    }

    /// @notice A round's state, as {roundInfo} returns it.
    /// @param status The round's status.
    /// @param closesAt Earliest close (end of the submission window).
    /// @param closedAt When the round closed (0 while open).
    /// @param activatesAt Earliest activation of the standing proposal (0 if never proposed).
    /// @param lapsesAt When the round lapses unless activated (`closedAt + LAPSE_PERIOD`; 0 while open).
    /// @param challengePeriod, payoutCapBps, burnCapBps The bounds fixed when the round opened.
    /// @param payoutTotal The declared payout of the standing (or active) proposal.
    /// @param root The standing (or active) proposal's root; zero if never proposed.
    /// @param lastActiveAtOrBefore For a resolved round, the last active round at or before it (0: none).
    struct RoundInfo {
        RoundStatus status;
        uint40 closesAt;
        uint40 closedAt;
        uint40 activatesAt;
        uint40 lapsesAt;
        uint32 challengePeriod;
        uint16 payoutCapBps;
        uint16 burnCapBps;
        uint256 payoutTotal;
        bytes32 root;
        uint32 lastActiveAtOrBefore;
    }

    /// @notice One leaf of a settlement tree.
    struct Leaf {
        uint256 modelId;
        uint256 cumulativePayout;
        uint256 cumulativeBurn;
    }

    // ================================================================ events

    /// @notice A model was registered to `owner`; it counts as settled through `settledRound` (the last closed round).
    event ModelRegistered(uint256 indexed modelId, address indexed owner, uint32 settledRound);
    /// @notice `amount` was added to a model's stake; it is at risk from round `atRiskFrom` (the next to close).
    event Staked(uint256 indexed modelId, address indexed owner, uint256 amount, uint32 atRiskFrom);
    /// @notice A withdrawal of `amount` was requested, `pending` in all; not at risk in rounds after `afterRound`.
    event WithdrawalRequested(uint256 indexed modelId, uint256 amount, uint256 pending, uint32 afterRound);
    /// @notice A pending withdrawal was lowered (or cancelled) to `pending`; the difference is at risk again from
    /// round `atRiskFrom` (the next to close).
    event WithdrawalLowered(uint256 indexed modelId, uint256 pending, uint32 atRiskFrom);
    /// @notice A pending withdrawal was paid to the model's owner.
    event Withdrawn(uint256 indexed modelId, address indexed owner, uint256 amount);
    /// @notice `amount` was added to the reward reserve.
    event ReserveFunded(address indexed funder, uint256 amount);

    /// @notice A round opened for submissions until `closesAt`, with these bounds.
    event RoundOpened(
        uint32 indexed round, uint40 closesAt, uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps
    );
    /// @notice A round closed: every model's stake at this point is at risk in it. It lapses at `lapsesAt` unless
    /// activated.
    event RoundClosed(uint32 indexed round, uint40 closedAt, uint40 lapsesAt);
    /// @notice The oracle proposed a closed round's result root. `payoutTotal` and `burnTotal` are the round's
    /// declared totals (the sums of the leaves' increases over the previous resolved round's leaves).
    event RootProposed(
        uint32 indexed round,
        bytes32 root,
        uint256 payoutTotal,
        uint256 burnTotal,
        bytes32 manifestHash,
        string manifestURI,
        uint40 activatesAt
    );
    /// @notice The guardian vetoed the standing proposal of a round; the oracle may propose it again.
    event RootVetoed(uint32 indexed round, address indexed guardian);
    /// @notice A round's root became active; `payoutTotal` of the reserve is committed to its settlements.
    event RootActivated(uint32 indexed round, uint256 payoutTotal);
    /// @notice A round was not activated by its deadline: its result is zero for every model.
    event RoundLapsed(uint32 indexed round);
    /// @notice A model caught up with an active root: `payout` moved from the reserve to its stake and `burn` left
    /// its stake (to be burned, see {BurnsFlushed}).
    event Settled(uint256 indexed modelId, uint32 indexed round, uint256 payout, uint256 burn);
    /// @notice A batch of models caught up with an active root: `settled` of `count` moved (the rest already had),
    /// by `paid` and `burned` in total. Per-model amounts are each leaf minus the model's previous cumulative values,
    /// except for models in a {SettlementClamped} event.
    event BatchSettled(uint32 indexed round, uint256 count, uint256 settled, uint256 paid, uint256 burned);
    /// @notice A leaf claimed more than an honest leaf could (or more than the committed payouts): it applied
    /// `payout` of its `leafPayout` increase and `burn` of its `leafBurn` increase. The leaf's cumulative values are
    /// recorded anyway and the difference folded into the model's net deposits:
    /// `netDeposits += (leafBurn - burn) - (leafPayout - payout)`. Increases are `max(0, leaf - recorded)`.
    event SettlementClamped(
        uint256 indexed modelId, uint32 indexed round, uint256 leafPayout, uint256 leafBurn, uint256 payout, uint256 burn
    );
    /// @notice Settled burns were destroyed.
    event BurnsFlushed(uint256 amount);

    /// @notice The pauser paused staking, registration, rounds and proposals until `until` at the latest.
    event Paused(address indexed account, uint40 until);
    /// @notice The pauser ended the pause early.
    event Unpaused(address indexed account);
    /// @notice Bounds for rounds opened from now on.
    event BoundsSet(uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps);
    /// @notice A bounds change was scheduled; it may be executed from `readyAt`.
    event BoundsScheduled(
        bytes32 indexed id, uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps, uint48 readyAt
    );
    /// @notice A role grant was scheduled; it may be executed from `readyAt`.
    event RoleGrantScheduled(bytes32 indexed id, bytes32 indexed role, address indexed account, uint48 readyAt);
    /// @notice A scheduled operation was executed.
    event OperationExecuted(bytes32 indexed id);
    /// @notice A scheduled operation was cancelled.
    event OperationCancelled(bytes32 indexed id);

    // ================================================================ errors

    /// @notice A constructor parameter is out of range; `name` is its field name.
    error InvalidParameter(string name);
    /// @notice The token's total supply is above 2**94 - 1 (so that every ledger amount fits int96/uint96).
    error TokenSupplyTooLarge(uint256 supply);
    /// @notice Bounds outside the hard limits.
    error InvalidBounds(uint32 challengePeriod, uint16 payoutCapBps, uint16 burnCapBps);
    /// @notice Roles other than the admin are granted only through {scheduleRoleGrant} / {executeRoleGrant}.
    error RoleGrantNeedsSchedule(bytes32 role, address account);
    /// @notice The admin delay is a hard limit.
    error AdminDelayImmutable();
    /// @notice The operation is already scheduled (cancel it first).
    error OperationAlreadyScheduled(bytes32 id);
    /// @notice No such scheduled operation.
    error OperationNotScheduled(bytes32 id);
    /// @notice The operation's delay has not passed yet.
    error OperationNotReady(bytes32 id, uint48 readyAt);
    /// @notice The call is not allowed while paused (until `until` at the latest).
    error EnforcedPause(uint40 until);
    /// @notice Not paused.
    error ExpectedPause();
    /// @notice The last pause ended too recently; the next may start at `availableAt`.
    error PauseCoolingDown(uint40 availableAt);

    /// @notice No model has this id.
    error UnknownModel(uint256 modelId);
    /// @notice Only the model's owner may do this.
    error NotModelOwner(uint256 modelId, address caller);
    /// @notice Amounts must be nonzero.
    error ZeroAmount();
    /// @notice The first stake of a model (one whose stake is zero) must be at least `minimum`.
    error StakeBelowMinimum(uint256 modelId, uint256 amount, uint256 minimum);
    /// @notice A deposit (or lowered withdrawal) would start a second pending tranche: settle the model through
    /// `settleThrough` first (any active round at or after it will do).
    error TopUpPending(uint256 modelId, uint32 settleThrough);
    /// @notice The request would add a second withdrawal boundary (or lower one after a close): settle the model
    /// through `settleThrough` first, or withdraw the pending request.
    error WithdrawalBoundaryPending(uint256 modelId, uint32 settleThrough);
    /// @notice A withdrawal request above the model's settled stake.
    error WithdrawalExceedsStake(uint256 modelId, uint256 requested, uint256 available);
    /// @notice Lowering must lower.
    error WithdrawalNotLowered(uint256 modelId, uint256 pending, uint256 requested);
    /// @notice The model has no pending withdrawal.
    error NoPendingWithdrawal(uint256 modelId);
    /// @notice A round the withdrawal depends on is not resolved yet; it will be by `lapsesAt` at the latest
    /// (0: not closed yet).
    error RoundNotResolved(uint32 round, uint40 lapsesAt);
    /// @notice The model must be settled through `requiredRound` (an active round) first.
    error UnsettledRounds(uint256 modelId, uint32 settledRound, uint32 requiredRound);

    /// @notice The previous round is still open.
    error RoundAlreadyOpen(uint32 round);
    /// @notice `closesAt` outside `[earliest, latest]` (submission window and close spacing limits).
    error CloseTimeOutOfRange(uint40 closesAt, uint40 earliest, uint40 latest);
    /// @notice The round is not in a status that allows this.
    error UnexpectedRoundStatus(uint32 round, RoundStatus status);
    /// @notice The round's submission window has not ended.
    error RoundNotDue(uint32 round, uint40 closesAt);
    /// @notice Rounds are proposed, activated and lapsed strictly in order: `nextRound` is the one to resolve.
    error ResolutionOutOfOrder(uint32 round, uint32 nextRound);
    /// @notice Roots must be nonzero.
    error ZeroRoot();
    /// @notice The manifest hash must be nonzero.
    error ZeroManifestHash();
    /// @notice A declared payout above the free reserve (see {freeReserve}).
    error PayoutExceedsFreeReserve(uint32 round, uint256 payoutTotal, uint256 freeReserve);
    /// @notice A declared payout above the round's payout cap of the staked pool (see {payoutLimit}).
    error PayoutExceedsCap(uint32 round, uint256 payoutTotal, uint256 cap);
    /// @notice The challenge window would end after the round lapses.
    error ProposalPastLapse(uint32 round, uint40 activatesAt, uint40 lapsesAt);
    /// @notice The challenge window is still open.
    error ChallengeWindowOpen(uint32 round, uint40 activatesAt);
    /// @notice The challenge window has closed.
    error ChallengeWindowClosed(uint32 round, uint40 activatesAt);
    /// @notice The round reached its lapse deadline unactivated: it can only lapse now.
    error ActivationPastLapse(uint32 round, uint40 lapsesAt);
    /// @notice The round may lapse only from `lapsesAt`.
    error LapseNotDue(uint32 round, uint40 lapsesAt);
    /// @notice The round's root is not active.
    error RootNotActive(uint32 round);
    /// @notice The Merkle proof does not prove the leaf(s) against the round's root.
    error InvalidProof();
    /// @notice A batch needs at least one leaf.
    error EmptyBatch();
    /// @notice The model is already settled through `settledRound` >= the round given.
    error AlreadySettled(uint256 modelId, uint32 settledRound);

    // ================================================================ administration (admin, delayed)

    /// @notice Schedules new bounds, executable after the admin delay.
    /// Emits {BoundsScheduled}. Requirements: caller has DEFAULT_ADMIN_ROLE; bounds within the hard limits.
    /// @return id The operation id ({boundsOperationId}).
    function scheduleBounds(Bounds calldata newBounds) external returns (bytes32 id);

    /// @notice Applies scheduled bounds to rounds opened from now on. Emits {BoundsSet} and {OperationExecuted}.
    /// Requirements: caller has DEFAULT_ADMIN_ROLE; scheduled and ready.
    function executeBounds(Bounds calldata newBounds) external;

    /// @notice Schedules granting `role` (ORACLE, GUARDIAN or PAUSER) to `account`, executable after the admin
    /// delay. Emits {RoleGrantScheduled}. Requirements: caller has DEFAULT_ADMIN_ROLE; `role` is not the admin role
    /// (it moves through the two-step transfer of AccessControlDefaultAdminRules).
    /// @return id The operation id ({roleGrantOperationId}).
    function scheduleRoleGrant(bytes32 role, address account) external returns (bytes32 id);

    /// @notice Grants a scheduled role. Emits {RoleGranted} and {OperationExecuted}.
    /// Requirements: caller has DEFAULT_ADMIN_ROLE; scheduled and ready.
    function executeRoleGrant(bytes32 role, address account) external;

    /// @notice Cancels a scheduled operation. Emits {OperationCancelled}. Requirements: caller has DEFAULT_ADMIN_ROLE.
    function cancelOperation(bytes32 id) external;

    /// @notice When a scheduled operation becomes executable (0: not scheduled).
    function operationReadyAt(bytes32 id) external view returns (uint48);

    /// @notice The operation id of a bounds change.
    function boundsOperationId(Bounds calldata newBounds) external pure returns (bytes32);

    /// @notice The operation id of a role grant.
    function roleGrantOperationId(bytes32 role, address account) external pure returns (bytes32);

    // ================================================================ pause (pauser)

    /// @notice Pauses registration, staking, opening and closing rounds, and proposals for at most MAX_PAUSE.
    /// Never blocks withdrawal requests, withdrawals, settlement, activation or lapse.
    /// Emits {Paused}. Requirements: caller has PAUSER_ROLE; not paused; PAUSE_COOLDOWN passed since the last pause.
    function pause() external;

    /// @notice Ends the pause. Emits {Unpaused}. Requirements: caller has PAUSER_ROLE; paused.
    function unpause() external;

    // ================================================================ participants

    /// @notice Registers a new model owned by the caller. Emits {ModelRegistered}. Requirements: not paused.
    /// @return modelId The new model's id (consecutive from 1).
    function registerModel() external returns (uint256 modelId);

    /// @notice Adds `amount` (approved) from the caller to a model it owns; at risk from the next round to close.
    /// A model whose stake is zero had nothing at risk in any round it is not settled through (honest trees leave it
    /// out): it counts as settled through the last closed round from then on. Emits {Staked}.
    /// Requirements: caller owns the model; not paused; `amount >= MIN_STAKE` if the stake is zero;
    /// no tranche from an earlier close still unsettled ({TopUpPending}).
    function stake(uint256 modelId, uint256 amount) external;

    /// @notice {stake} with an EIP-2612 permit; a failing permit (e.g. front-run) falls back to the allowance.
    function stakeWithPermit(uint256 modelId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external;

    /// @notice Requests a withdrawal of `amount` more: it stays at risk in every round closed so far and in none
    /// after. Never paused. Emits {WithdrawalRequested}. Requirements: caller owns the model; pending total at most
    /// {stakeOf}; a pending request from an earlier close needs the model settled through the last close
    /// ({WithdrawalBoundaryPending}).
    function requestWithdrawal(uint256 modelId, uint256 amount) external;

    /// @notice Lowers the pending withdrawal to `pending` (0 cancels it). Before the next close this is free; after
    /// it, the difference is at risk again from the next round to close, like a deposit. Never paused.
    /// Emits {WithdrawalLowered}. Requirements: caller owns the model; `pending` below the pending amount; after a
    /// close, the model settled through the request's round ({WithdrawalBoundaryPending}) and no other pending
    /// tranche ({TopUpPending}).
    function lowerWithdrawal(uint256 modelId, uint256 pending) external;

    /// @notice Pays the pending withdrawal (at most {stakeOf}) to the owner. Never paused.
    /// Emits {Withdrawn}. Requirements: caller owns the model; every round up to the request's round resolved
    /// ({RoundNotResolved}, at most LAPSE_PERIOD after the request); the model settled through the last active one
    /// ({UnsettledRounds}), unless its stake is zero (no leaf can change it; 0 is paid).
    /// @return amount Tokens paid.
    function withdraw(uint256 modelId) external returns (uint256 amount);

    /// @notice {settle} (if the model is not settled through `round` yet) then {withdraw}.
    function settleAndWithdraw(
        uint32 round,
        uint256 modelId,
        uint256 cumulativePayout,
        uint256 cumulativeBurn,
        bytes32[] calldata proof
    ) external returns (uint256 amount);

    /// @notice Adds `amount` (approved) to the reward reserve. Emits {ReserveFunded}.
    function fundReserve(uint256 amount) external;

    // ================================================================ oracle

    /// @notice Opens the next round until `closesAt` with the current bounds. Emits {RoundOpened}.
    /// Requirements: ORACLE_ROLE; not paused; the previous round closed;
    /// `now + MIN_ROUND_LENGTH <= closesAt <= now + MAX_ROUND_LENGTH` and `closesAt >= previous close +
    /// MIN_CLOSE_SPACING` ({CloseTimeOutOfRange}).
    /// @return round The new round (consecutive from 1).
    function openRound(uint40 closesAt) external returns (uint32 round);

    /// @notice Closes an open round whose window has passed. Emits {RoundClosed}.
    /// Requirements: ORACLE_ROLE; not paused; `now >= closesAt`.
    function closeRound(uint32 round) external;

    /// @notice Proposes a closed round's root. Only one round is pending at a time: the previous round must be
    /// resolved. Emits {RootProposed}. Requirements: ORACLE_ROLE; not paused; status Closed or Vetoed; nonzero root
    /// and manifest hash; `payoutTotal <= payoutLimit(round)` (the free reserve, and the round's payout cap of the
    /// staked pool); the window ends before the round lapses ({ProposalPastLapse}).
    /// @param payoutTotal The sum of the leaves' payout increases (committed from the reserve at activation).
    /// @param burnTotal The sum of the leaves' burn increases (informational; audited off-chain).
    function proposeRoot(
        uint32 round,
        bytes32 root,
        uint256 payoutTotal,
        uint256 burnTotal,
        bytes32 manifestHash,
        string calldata manifestURI
    ) external;

    // ================================================================ guardian

    /// @notice Vetoes the standing proposal during its challenge window. Emits {RootVetoed}.
    /// Requirements: GUARDIAN_ROLE; status Proposed; `now < activatesAt`.
    function vetoRoot(uint32 round) external;

    // ================================================================ anyone

    /// @notice Activates the next round's proposal once its window has passed; commits its payout from the reserve.
    /// Moves no tokens. Never paused. Emits {RootActivated}.
    /// Requirements: the next round to resolve; status Proposed; `activatesAt <= now < lapsesAt`;
    /// `payoutTotal <= freeReserve()` (always true for a proposal that passed: the free reserve never shrinks
    /// between a proposal and its activation).
    function activateRoot(uint32 round) external;

    /// @notice Resolves the next round with a zero result when it was not activated by its deadline. Never paused.
    /// Emits {RoundLapsed}. Requirements: the next round to resolve; Closed, Proposed or Vetoed; `now >= lapsesAt`.
    function lapseRound(uint32 round) external;

    /// @notice Applies a model's leaf of an active root, clamped to what an honest leaf could say.
    /// Never paused. Emits {Settled} (and {SettlementClamped} when clamped).
    /// Requirements: `round` active and after the model's settled round; valid proof.
    /// A cumulative value below the model's recorded one applies nothing for it and the recorded value stays (a
    /// revert would freeze the model's exit behind a bad root); values saturate at 2**94 - 1.
    /// @return payout Applied payout (from the reserve to the stake).
    /// @return burn Applied burn (out of the stake).
    function settle(
        uint32 round,
        uint256 modelId,
        uint256 cumulativePayout,
        uint256 cumulativeBurn,
        bytes32[] calldata proof
    ) external returns (uint256 payout, uint256 burn);

    /// @notice Settles many models against one active root with an OpenZeppelin multiproof; models already settled
    /// through `round` are skipped. Never paused. Destroys the burns due (its own and any left by single
    /// settlements) with one burn call. Emits {BatchSettled} (and {SettlementClamped} per clamped model,
    /// {BurnsFlushed} when something burns).
    /// @return settled How many models moved.
    function settleBatch(uint32 round, Leaf[] calldata leaves, bytes32[] calldata proof, bool[] calldata proofFlags)
        external
        returns (uint256 settled);

    /// @notice Destroys the burns single settlements left due (a batch does it too). Emits {BurnsFlushed} if any.
    function flushBurns() external;

    // ================================================================ views

    /// @notice The stake token.
    function token() external view returns (IBurnableToken);

    /// @notice Tokens a model holds now (settled): net deposits plus applied payouts minus applied burns.
    function stakeOf(uint256 modelId) external view returns (uint256);

    /// @notice A model's state (zero owner for an unknown id).
    function modelState(uint256 modelId) external view returns (ModelState memory);

    /// @notice The states of models `fromId .. fromId + count - 1` (ids past the last model are left out).
    function modelStates(uint256 fromId, uint256 count) external view returns (ModelState[] memory states);

    /// @notice The most an honest leaf of active round `round` can pay the model, and the least stake it can leave
    /// (what {settle} clamps to, before the committed-payout limit).
    function settlementBounds(uint256 modelId, uint32 round) external view returns (uint256 maxPayout, uint256 minStake);

    /// @notice What {settle} would apply for this leaf (without checking its proof).
    function previewSettlement(uint32 round, uint256 modelId, uint256 cumulativePayout, uint256 cumulativeBurn)
        external
        view
        returns (uint256 payout, uint256 burn);

    /// @notice Number of models registered (ids run from 1 to this).
    function modelCount() external view returns (uint256);

    /// @notice Tokens in the reward reserve (committed or free).
    function reserve() external view returns (uint256);

    /// @notice Payouts committed by activated rounds and not yet settled.
    function committedPayout() external view returns (uint256);

    /// @notice `reserve() - committedPayout()`: the part of the reserve no activated round has committed.
    function freeReserve() external view returns (uint256);

    /// @notice The most a proposal of `round` may declare now: min(freeReserve(), payoutCap * pool), where pool is
    /// every model's stake plus the committed payouts not yet settled. The oracle scales its payouts to it.
    function payoutLimit(uint32 round) external view returns (uint256);

    /// @notice Burns settled by single settlements and not yet destroyed (see {flushBurns}).
    function burnDue() external view returns (uint256);

    /// @notice A round's state.
    function roundInfo(uint32 round) external view returns (RoundInfo memory);

    /// @notice The last closed, last resolved (active or lapsed) and last active round (0: none).
    function roundCursor() external view returns (uint32 lastClosed, uint32 lastResolved, uint32 lastActive);

    /// @notice The bounds rounds opened from now on get.
    function bounds() external view returns (Bounds memory);

    /// @notice The exit bound D in seconds: a withdrawal requested at t can be completed by t + D (LAPSE_PERIOD).
    function exitBound() external view returns (uint256);

    /// @notice Whether paused now, and until when (0: never paused).
    function paused() external view returns (bool);

    /// @notice The end of the current (or last) pause, and when the next pause may start.
    function pauseState() external view returns (uint40 pausedUntil, uint40 pausableFrom);

    /// @notice OpenZeppelin's double-hashed standard leaf of a model's cumulative values.
    function leafHash(uint256 modelId, uint256 cumulativePayout, uint256 cumulativeBurn)
        external
        pure
        returns (bytes32);

    /// @notice The EIP-712 digest a participant signs to submit a prediction file (domain "Tournament", "1").
    function submissionDigest(uint256 round, uint256 modelId, bytes32 predictionsHash, uint256 deadline)
        external
        view
        returns (bytes32);

    /// @notice Role that opens and closes rounds and proposes roots.
    function ORACLE_ROLE() external view returns (bytes32);
    /// @notice Role that vetoes proposals during their challenge window.
    function GUARDIAN_ROLE() external view returns (bytes32);
    /// @notice Role that pauses (bounded) and unpauses.
    function PAUSER_ROLE() external view returns (bytes32);
    /// @notice EIP-712 type of a submission.
    function SUBMISSION_TYPEHASH() external view returns (bytes32);

    /// @notice Hard limit: smallest first stake.
    function MIN_STAKE() external view returns (uint256);
    /// @notice Hard limit: shortest submission window.
    function MIN_ROUND_LENGTH() external view returns (uint32);
    /// @notice Hard limit: longest submission window.
    function MAX_ROUND_LENGTH() external view returns (uint32);
    /// @notice Hard limit: shortest time between two closes.
    function MIN_CLOSE_SPACING() external view returns (uint32);
    /// @notice Hard limit: shortest challenge period.
    function MIN_CHALLENGE_PERIOD() external view returns (uint32);
    /// @notice Hard limit: largest payout cap.
    function MAX_PAYOUT_CAP_BPS() external view returns (uint16);
    /// @notice Hard limit: largest burn cap.
    function MAX_BURN_CAP_BPS() external view returns (uint16);
    /// @notice Hard limit: a closed round lapses this long after its close unless activated (= exit bound D).
    function LAPSE_PERIOD() external view returns (uint32);
    /// @notice Hard limit: longest pause.
    function MAX_PAUSE() external view returns (uint32);
    /// @notice Hard limit: time between the end of a pause and the next.
    function PAUSE_COOLDOWN() external view returns (uint32);
    /// @notice Hard limit: the admin delay (bounds, role grants, admin transfer).
    function ADMIN_DELAY() external view returns (uint48);
}
