// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";
import {ITournament} from "../../../contracts/interfaces/ITournament.sol";
import {IBurnableToken} from "../../../contracts/interfaces/IBurnableToken.sol";
import {TournamentToken} from "../../../contracts/TournamentToken.sol";
import {vm} from "./Vm.sol";

/// @notice The tournament as the tests see it: its own interface plus OpenZeppelin's admin rules.
interface ITournamentFull is ITournament, IAccessControlDefaultAdminRules {}

/// @notice One deployment for the fuzz and invariant suites: the token, the tournament with hard limits short
/// enough that a fuzz run crosses many rounds, and one account per role.
library Fixture {
    uint256 internal constant SUPPLY = 1e27; // below the 2**94 the ledger allows
    uint96 internal constant MIN_STAKE = 1e18;
    uint32 internal constant MIN_ROUND_LENGTH = 1 hours;
    uint32 internal constant MAX_ROUND_LENGTH = 2 days;
    uint32 internal constant MIN_CLOSE_SPACING = 2 hours;
    uint32 internal constant MIN_CHALLENGE_PERIOD = 1 hours;
    uint16 internal constant MAX_PAYOUT_CAP_BPS = 5000;
    uint16 internal constant MAX_BURN_CAP_BPS = 5000;
    uint32 internal constant LAPSE_PERIOD = 3 days;
    uint32 internal constant MAX_PAUSE = 1 days;
    uint32 internal constant PAUSE_COOLDOWN = 1 days;
    uint48 internal constant ADMIN_DELAY = 4 days;

    uint32 internal constant CHALLENGE_PERIOD = 2 hours;
    uint16 internal constant PAYOUT_CAP_BPS = 1000;
    uint16 internal constant BURN_CAP_BPS = 2000;

    address internal constant ADMIN = address(0xAD);
    address internal constant ORACLE = address(0x0AC1E);
    address internal constant GUARDIAN = address(0x6A4D);
    address internal constant PAUSER = address(0x9A05E);

    function limits() internal pure returns (ITournament.HardLimits memory) {
        return ITournament.HardLimits({
            minStake: MIN_STAKE,
            minRoundLength: MIN_ROUND_LENGTH,
            maxRoundLength: MAX_ROUND_LENGTH,
            minCloseSpacing: MIN_CLOSE_SPACING,
            minChallengePeriod: MIN_CHALLENGE_PERIOD,
            maxPayoutCapBps: MAX_PAYOUT_CAP_BPS,
            maxBurnCapBps: MAX_BURN_CAP_BPS,
            lapsePeriod: LAPSE_PERIOD,
            maxPause: MAX_PAUSE,
            pauseCooldown: PAUSE_COOLDOWN,
            adminDelay: ADMIN_DELAY
        });
    }

    function params(IBurnableToken token) internal pure returns (ITournament.Params memory) {
        return ITournament.Params({
            token: token,
            admin: ADMIN,
            oracle: ORACLE,
            guardian: GUARDIAN,
            pauser: PAUSER,
            limits: limits(),
            bounds: ITournament.Bounds(CHALLENGE_PERIOD, PAYOUT_CAP_BPS, BURN_CAP_BPS)
        });
    }

    /// @dev Deployed from the artifact, so the suites compile against the interface alone.
    function deploy(ITournament.Params memory p) internal returns (ITournamentFull) {
        return ITournamentFull(vm.deployCode("Tournament.sol:Tournament", abi.encode(p)));
    }

    function deployAll(address holder) internal returns (TournamentToken token, ITournamentFull t) {
        token = new TournamentToken("Tournament", "TNMT", SUPPLY, holder);
        t = deploy(params(IBurnableToken(address(token))));
        vm.label(address(t), "Tournament");
        vm.label(address(token), "Token");
        vm.label(ADMIN, "admin");
        vm.label(ORACLE, "oracle");
        vm.label(GUARDIAN, "guardian");
        vm.label(PAUSER, "pauser");
    }
}
