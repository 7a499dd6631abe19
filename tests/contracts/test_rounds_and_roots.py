"""Rounds and roots: opening and closing within the hard limits, one pending proposal at a time, vetoes and
re-proposals, activation inside [activatesAt, lapsesAt), lapsing, the bounded pause, delayed administration and
the constructor's checks."""

from brownie import Tournament, TournamentExtension, TournamentToken, chain
from conftest import (
    ACTIVE,
    ADMIN_DELAY,
    BOUNDS,
    BURN_CAP_BPS,
    CHALLENGE,
    CLOSED,
    DEFAULT_ADMIN_ROLE,
    GUARDIAN_ROLE,
    LAPSE_PERIOD,
    LAPSED,
    LIMITS,
    MANIFEST_HASH,
    MANIFEST_URI,
    MAX_BURN_CAP_BPS,
    MAX_PAUSE,
    MAX_PAYOUT_CAP_BPS,
    MAX_ROUND_LENGTH,
    MIN_CHALLENGE_PERIOD,
    MIN_CLOSE_SPACING,
    MIN_ROUND_LENGTH,
    OPEN,
    ORACLE_ROLE,
    PAUSE_COOLDOWN,
    PAUSER_ROLE,
    PAYOUT_CAP_BPS,
    PROPOSED,
    RESERVE,
    UNIT,
    VETOED,
    ZERO_ADDRESS,
    assert_reverts_with,
    event,
    now,
    params,
    plain,
    travel,
)

ROOT = "0x" + "11" * 32
INFO = (
    "status",
    "closesAt",
    "closedAt",
    "activatesAt",
    "lapsesAt",
    "challengePeriod",
    "payoutCapBps",
    "burnCapBps",
    "payoutTotal",
    "root",
    "lastActiveAtOrBefore",
)


def info(t, r) -> dict:
    return dict(zip(INFO, plain(t.roundInfo(r))))


def propose(env, r, payout=0, burn=0, root=ROOT, sender=None):
    return env.t.proposeRoot(r, root, payout, burn, MANIFEST_HASH, MANIFEST_URI, {"from": sender or env.oracle})


# ---------------------------------------------------------------- deployment


def test_deployment_exposes_the_hard_limits_bounds_and_roles(env):
    t = env.t
    assert (
        t.MIN_STAKE(),
        t.MIN_ROUND_LENGTH(),
        t.MAX_ROUND_LENGTH(),
        t.MIN_CLOSE_SPACING(),
        t.MIN_CHALLENGE_PERIOD(),
        t.MAX_PAYOUT_CAP_BPS(),
        t.MAX_BURN_CAP_BPS(),
        t.LAPSE_PERIOD(),
        t.MAX_PAUSE(),
        t.PAUSE_COOLDOWN(),
        t.ADMIN_DELAY(),
    ) == LIMITS
    assert plain(t.bounds()) == BOUNDS
    assert t.exitBound() == LAPSE_PERIOD
    assert t.token() == env.token.address
    assert t.defaultAdmin() == env.admin.address and t.defaultAdminDelay() == ADMIN_DELAY
    for role, holder in ((ORACLE_ROLE, env.oracle), (GUARDIAN_ROLE, env.guardian), (PAUSER_ROLE, env.pauser)):
        assert t.hasRole(role, holder) and not t.hasRole(role, env.admin)
    assert plain(t.roundCursor()) == (0, 0, 0)


def test_the_constructor_checks_every_hard_limit(env):
    a = env.admin
    names = (
        "minStake",
        "minRoundLength",
        "maxRoundLength",
        "minCloseSpacing",
        "minChallengePeriod",
        "maxPayoutCapBps",
        "maxBurnCapBps",
        "lapsePeriod",
        "maxPause",
        "pauseCooldown",
        "adminDelay",
    )
    bad = {
        "minStake": 0,
        "minRoundLength": 0,
        "maxRoundLength": MIN_ROUND_LENGTH - 1,
        "minChallengePeriod": 0,
        "maxPayoutCapBps": 10_001,
        "maxBurnCapBps": 10_000,
        "lapsePeriod": MIN_CHALLENGE_PERIOD,
        "maxPause": 0,
        "adminDelay": LAPSE_PERIOD,  # the admin must be slower than an exit
    }
    for name, value in bad.items():
        limits = list(LIMITS)
        limits[names.index(name)] = value
        assert_reverts_with(
            "InvalidParameter", Tournament.deploy, params(env.token, a, limits=limits), {"from": a}, expect=(name,)
        )
    # Bounds outside the limits, and an admin of address zero.
    for bounds in (
        (MIN_CHALLENGE_PERIOD - 1, 500, 500),
        (LAPSE_PERIOD, 500, 500),
        (CHALLENGE, MAX_PAYOUT_CAP_BPS + 1, 500),
        (CHALLENGE, 500, MAX_BURN_CAP_BPS + 1),
    ):
        assert_reverts_with(
            "InvalidBounds", Tournament.deploy, params(env.token, a, bounds=bounds), {"from": a}, expect=bounds
        )
    assert_reverts_with(
        "AccessControlInvalidDefaultAdmin", Tournament.deploy, params(env.token, ZERO_ADDRESS), {"from": a}
    )


def test_the_token_supply_must_fit_the_ledger(env):
    # L-7: every ledger amount is (u)int96 with headroom for saturated leaf values: supply <= 2**94 - 1.
    big = TournamentToken.deploy("Big", "BIG", 2**94, env.admin, {"from": env.admin})
    assert_reverts_with(
        "TokenSupplyTooLarge", Tournament.deploy, params(big, env.admin), {"from": env.admin}, expect=(2**94,)
    )
    ok = TournamentToken.deploy("Ok", "OK", 2**94 - 1, env.admin, {"from": env.admin})
    Tournament.deploy(params(ok, env.admin), {"from": env.admin})


def test_the_extension_runs_only_through_its_tournament(env):
    ext = TournamentExtension.at(env.t.extension())
    assert_reverts_with("NotDelegated", ext.registerModel, {"from": env.alice})
    assert_reverts_with("NotDelegated", ext.lapseRound, 1, {"from": env.alice})


# ---------------------------------------------------------------- opening and closing


def test_open_and_close_a_round(env):
    t = env.t
    closes_at = now() + 120
    tx = t.openRound(closes_at, {"from": env.oracle})
    assert dict(event(tx, "RoundOpened")) == {
        "round": 1,
        "closesAt": closes_at,
        "challengePeriod": CHALLENGE,
        "payoutCapBps": PAYOUT_CAP_BPS,
        "burnCapBps": BURN_CAP_BPS,
    }
    assert info(t, 1)["status"] == OPEN
    assert_reverts_with("RoundAlreadyOpen", t.openRound, closes_at + 100, {"from": env.oracle}, expect=(2 - 1,))
    assert_reverts_with("RoundNotDue", t.closeRound, 1, {"from": env.oracle}, expect=(1, closes_at))
    travel(121)
    tx = t.closeRound(1, {"from": env.oracle})
    e = event(tx, "RoundClosed")
    assert e["lapsesAt"] == e["closedAt"] + LAPSE_PERIOD
    assert (info(t, 1)["status"], info(t, 1)["lapsesAt"]) == (CLOSED, e["lapsesAt"])
    assert plain(t.roundCursor()) == (1, 0, 0)
    assert_reverts_with("UnexpectedRoundStatus", t.closeRound, 1, {"from": env.oracle}, expect=(1, CLOSED))
    assert_reverts_with(
        "AccessControlUnauthorizedAccount",
        t.openRound,
        now() + 120,
        {"from": env.alice},
        expect=(env.alice.address, "0x" + ORACLE_ROLE.hex()),
    )


def test_round_length_and_close_spacing_are_bounded(env):
    t = env.t
    # L-2 and M-4: no one-second rounds, no round that never closes.
    assert_reverts_with("CloseTimeOutOfRange", t.openRound, now() + 2, {"from": env.oracle})
    assert_reverts_with("CloseTimeOutOfRange", t.openRound, 2**40 - 1, {"from": env.oracle})
    lo, hi = assert_reverts_with(
        "CloseTimeOutOfRange", t.openRound, now() + MAX_ROUND_LENGTH + 100, {"from": env.oracle}
    )[1:]
    assert hi - lo == MAX_ROUND_LENGTH - MIN_ROUND_LENGTH
    r = env.open_and_close()
    closed_at = info(t, r)["closedAt"]
    earliest = assert_reverts_with(
        "CloseTimeOutOfRange", t.openRound, closed_at + MIN_CLOSE_SPACING - 1, {"from": env.oracle}
    )[1]
    assert earliest >= closed_at + MIN_CLOSE_SPACING


# ---------------------------------------------------------------- proposals


def test_propose_records_the_root_and_its_window(env):
    t = env.t
    env.register(env.alice, 1_000 * UNIT)  # a staked pool, so the round may pay something
    r = env.open_and_close()
    tx = propose(env, r, 10 * UNIT, 5 * UNIT)
    e = event(tx, "RootProposed")
    assert (e["round"], e["root"], e["payoutTotal"], e["burnTotal"], e["manifestHash"], e["manifestURI"]) == (
        r,
        ROOT,
        10 * UNIT,
        5 * UNIT,
        MANIFEST_HASH,
        MANIFEST_URI,
    )
    i = info(t, r)
    assert (i["status"], i["root"], i["payoutTotal"], i["activatesAt"]) == (PROPOSED, ROOT, 10 * UNIT, e["activatesAt"])
    assert e["activatesAt"] == chain[tx.block_number].timestamp + CHALLENGE


def test_propose_reverts(env):
    t = env.t
    assert_reverts_with(
        "UnexpectedRoundStatus",
        t.proposeRoot,
        1,
        ROOT,
        0,
        0,
        MANIFEST_HASH,
        MANIFEST_URI,
        {"from": env.oracle},
        expect=(1, 0),
    )
    r = env.open_and_close()

    def args(**kw):
        return (
            kw.get("round", r),
            kw.get("root", ROOT),
            kw.get("payout", 0),
            0,
            kw.get("manifest", MANIFEST_HASH),
            MANIFEST_URI,
            {"from": kw.get("sender", env.oracle)},
        )

    assert_reverts_with("ZeroRoot", t.proposeRoot, *args(root="0x" + "00" * 32))
    assert_reverts_with("ZeroManifestHash", t.proposeRoot, *args(manifest="0x" + "00" * 32))
    assert_reverts_with("ResolutionOutOfOrder", t.proposeRoot, *args(round=r + 1), expect=(r + 1, r))
    assert_reverts_with(
        "PayoutExceedsFreeReserve", t.proposeRoot, *args(payout=RESERVE + 1), expect=(r, RESERVE + 1, RESERVE)
    )
    # Nothing is staked: no honest round can pay anything, and a proposal cannot commit the reserve.
    assert t.payoutLimit(r) == 0
    assert_reverts_with("PayoutExceedsCap", t.proposeRoot, *args(payout=1), expect=(r, 1, 0))
    assert_reverts_with("AccessControlUnauthorizedAccount", t.proposeRoot, *args(sender=env.guardian))
    t.proposeRoot(*args())
    assert_reverts_with("UnexpectedRoundStatus", t.proposeRoot, *args(), expect=(r, PROPOSED))


def test_only_one_round_is_pending_at_a_time(env):
    t = env.t
    r1 = env.open_and_close()
    r2 = env.open_and_close()
    propose(env, r1)
    # M-1: round 2 cannot be proposed while round 1 is pending, so two windows never overlap.
    assert_reverts_with(
        "ResolutionOutOfOrder",
        t.proposeRoot,
        r2,
        ROOT,
        0,
        0,
        MANIFEST_HASH,
        MANIFEST_URI,
        {"from": env.oracle},
        expect=(r2, r1),
    )
    env.activate(r1)
    propose(env, r2)


def test_a_proposal_must_leave_time_to_activate_before_the_round_lapses(env):
    t = env.t
    r = env.open_and_close()
    lapses_at = info(t, r)["lapsesAt"]
    travel(lapses_at - now() - CHALLENGE)
    activates_at, lapses = assert_reverts_with(
        "ProposalPastLapse", t.proposeRoot, r, ROOT, 0, 0, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle}
    )[1:]
    assert activates_at >= lapses == lapses_at


# ---------------------------------------------------------------- veto


def test_the_guardian_vetoes_within_the_window_and_the_oracle_may_propose_again(env):
    t = env.t
    r = env.open_and_close()
    propose(env, r)
    assert_reverts_with("AccessControlUnauthorizedAccount", t.vetoRoot, r, {"from": env.oracle})
    tx = t.vetoRoot(r, {"from": env.guardian})
    assert dict(event(tx, "RootVetoed")) == {"round": r, "guardian": env.guardian.address}
    assert info(t, r)["status"] == VETOED
    travel(CHALLENGE + 1)
    assert_reverts_with("UnexpectedRoundStatus", t.activateRoot, r, {"from": env.keeper}, expect=(r, VETOED))
    propose(env, r, root="0x" + "22" * 32)
    assert info(t, r)["root"] == "0x" + "22" * 32
    travel(CHALLENGE)
    assert_reverts_with("ChallengeWindowClosed", t.vetoRoot, r, {"from": env.guardian})
    t.activateRoot(r, {"from": env.keeper})
    assert info(t, r)["status"] == ACTIVE


# ---------------------------------------------------------------- activation and lapse


def test_activation_waits_for_the_window_and_commits_the_payout(env):
    t = env.t
    env.register(env.alice, 1_000 * UNIT)
    r = env.open_and_close()
    tx = propose(env, r, payout=30 * UNIT)
    activates_at = event(tx, "RootProposed")["activatesAt"]
    assert_reverts_with("ChallengeWindowOpen", t.activateRoot, r, {"from": env.keeper}, expect=(r, activates_at))
    travel(CHALLENGE + 1)
    assert_reverts_with("ResolutionOutOfOrder", t.activateRoot, r + 1, {"from": env.keeper}, expect=(r + 1, r))
    supply, balance = env.token.totalSupply(), env.token.balanceOf(t)
    tx = t.activateRoot(r, {"from": env.keeper})
    assert dict(event(tx, "RootActivated")) == {"round": r, "payoutTotal": 30 * UNIT}
    assert env.token.totalSupply() == supply and env.token.balanceOf(t) == balance  # activation moves no tokens
    assert (t.committedPayout(), t.freeReserve()) == (30 * UNIT, RESERVE - 30 * UNIT)
    assert plain(t.roundCursor()) == (r, r, r)
    assert info(t, r)["lastActiveAtOrBefore"] == r
    assert_reverts_with("ResolutionOutOfOrder", t.activateRoot, r, {"from": env.keeper}, expect=(r, r + 1))


def test_burns_left_by_single_settlements_are_destroyed_by_a_batch_or_by_anyone(env):
    t = env.t
    a = env.register(env.alice, 1_000 * UNIT)
    b = env.register(env.bob, 1_000 * UNIT)
    r1 = env.full_round({a: (0, 40 * UNIT), b: (0, 10 * UNIT)})
    env.settle(r1, a)
    assert t.burnDue() == 40 * UNIT  # a single settlement leaves its burn due (within its gas budget)
    supply = env.token.totalSupply()
    tx = t.settleBatch(*r1.batch_args([b]), {"from": env.keeper})
    assert event(tx, "BurnsFlushed")["amount"] == 50 * UNIT  # the batch burns its own and what was due
    assert env.token.totalSupply() == supply - 50 * UNIT and t.burnDue() == 0
    assert "BurnsFlushed" not in t.flushBurns({"from": env.keeper}).events  # nothing left


def test_an_unactivated_round_lapses_with_a_zero_result(env):
    t = env.t
    r1 = env.open_and_close()
    lapses_at = info(t, r1)["lapsesAt"]
    assert_reverts_with("LapseNotDue", t.lapseRound, r1, {"from": env.keeper}, expect=(r1, lapses_at))
    propose(env, r1)
    travel(lapses_at - now())
    # Past the deadline the pending proposal can no longer activate; anyone lapses the round.
    assert_reverts_with("ActivationPastLapse", t.activateRoot, r1, {"from": env.keeper}, expect=(r1, lapses_at))
    tx = t.lapseRound(r1, {"from": env.keeper})
    assert dict(event(tx, "RoundLapsed")) == {"round": r1}
    assert (info(t, r1)["status"], info(t, r1)["lastActiveAtOrBefore"]) == (LAPSED, 0)
    assert plain(t.roundCursor()) == (r1, r1, 0)
    assert_reverts_with("ResolutionOutOfOrder", t.lapseRound, r1, {"from": env.keeper}, expect=(r1, r1 + 1))
    # The next round proceeds normally.
    r2 = env.open_and_close()
    propose(env, r2)
    env.activate(r2)
    assert info(t, r2)["lastActiveAtOrBefore"] == r2


def test_an_open_round_cannot_lapse(env):
    r = env.open_round()
    travel(LAPSE_PERIOD + 100)
    assert_reverts_with("UnexpectedRoundStatus", env.t.lapseRound, r, {"from": env.keeper}, expect=(r, OPEN))


# ---------------------------------------------------------------- pause


def test_pause_is_bounded_and_cannot_be_chained(env):
    t = env.t
    assert_reverts_with("AccessControlUnauthorizedAccount", t.pause, {"from": env.admin})
    tx = t.pause({"from": env.pauser})
    until = event(tx, "Paused")["until"]
    assert until == chain[tx.block_number].timestamp + MAX_PAUSE and t.paused()
    assert_reverts_with("EnforcedPause", t.pause, {"from": env.pauser}, expect=(until,))
    travel(MAX_PAUSE)
    assert not t.paused()  # ends by itself
    assert_reverts_with("ExpectedPause", t.unpause, {"from": env.pauser})
    assert_reverts_with("PauseCoolingDown", t.pause, {"from": env.pauser}, expect=(until + PAUSE_COOLDOWN,))
    travel(PAUSE_COOLDOWN)
    t.pause({"from": env.pauser})
    t.unpause({"from": env.pauser})
    assert not t.paused()


def test_pause_stops_new_risk_but_never_an_exit(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    r1 = env.open_and_close()
    res = env.propose(r1, env.leaves_for({m: (0, 10 * UNIT)}))
    t.pause({"from": env.pauser})
    until = plain(t.pauseState())[0]
    for fn, args in (
        (t.stake, (m, UNIT)),
        (t.registerModel, ()),
        (t.openRound, (now() + 120,)),
        (t.proposeRoot, (r1 + 1, ROOT, 0, 0, MANIFEST_HASH, MANIFEST_URI)),
    ):
        sender = env.oracle if fn in (t.openRound, t.proposeRoot) else env.alice
        assert_reverts_with("EnforcedPause", fn, *args, {"from": sender}, expect=(until,))
    # Requesting, activating, settling, withdrawing and lapsing all work while paused.
    t.requestWithdrawal(m, 1_000 * UNIT, {"from": env.alice})
    env.activate(r1)
    env.settle(res, m)
    assert t.paused()
    assert t.withdraw(m, {"from": env.alice}).return_value == 990 * UNIT


# ---------------------------------------------------------------- administration


def test_bounds_change_only_after_the_admin_delay(env):
    t = env.t
    new = (2 * CHALLENGE, 1_000, 1_000)
    assert_reverts_with("AccessControlUnauthorizedAccount", t.scheduleBounds, new, {"from": env.oracle})
    assert_reverts_with(
        "InvalidBounds", t.scheduleBounds, (CHALLENGE, MAX_PAYOUT_CAP_BPS + 1, 500), {"from": env.admin}
    )
    tx = t.scheduleBounds(new, {"from": env.admin})
    e = event(tx, "BoundsScheduled")
    op = t.boundsOperationId(new)
    assert e["id"] == op and e["readyAt"] == chain[tx.block_number].timestamp + ADMIN_DELAY
    assert t.operationReadyAt(op) == e["readyAt"]
    assert_reverts_with("OperationAlreadyScheduled", t.scheduleBounds, new, {"from": env.admin})
    assert_reverts_with("OperationNotReady", t.executeBounds, new, {"from": env.admin}, expect=(op, e["readyAt"]))
    travel(ADMIN_DELAY)
    tx = t.executeBounds(new, {"from": env.admin})
    assert dict(event(tx, "BoundsSet")) == dict(zip(("challengePeriod", "payoutCapBps", "burnCapBps"), new))
    assert plain(t.bounds()) == new and t.operationReadyAt(op) == 0
    assert_reverts_with("OperationNotScheduled", t.executeBounds, new, {"from": env.admin})
    r = env.open_round()
    assert (info(t, r)["payoutCapBps"], info(t, r)["challengePeriod"]) == (1_000, 2 * CHALLENGE)


def test_scheduled_operations_can_be_cancelled(env):
    t = env.t
    op = event(t.scheduleRoleGrant(ORACLE_ROLE, env.carol, {"from": env.admin}), "RoleGrantScheduled")["id"]
    assert op == t.roleGrantOperationId(ORACLE_ROLE, env.carol)
    assert dict(event(t.cancelOperation(op, {"from": env.admin}), "OperationCancelled")) == {"id": op}
    travel(ADMIN_DELAY)
    assert_reverts_with(
        "OperationNotScheduled",
        t.executeRoleGrant,
        ORACLE_ROLE,
        env.carol,
        {"from": env.admin},
        expect=("0x" + bytes(op).hex(),),
    )
    assert_reverts_with("OperationNotScheduled", t.cancelOperation, op, {"from": env.admin})


def test_roles_are_granted_only_after_the_delay_and_revoked_at_once(env):
    t = env.t
    # M-2: no instant grant, not even by the admin.
    assert_reverts_with(
        "RoleGrantNeedsSchedule",
        t.grantRole,
        ORACLE_ROLE,
        env.carol,
        {"from": env.admin},
        expect=("0x" + ORACLE_ROLE.hex(), env.carol.address.lower()),
    )
    assert_reverts_with(
        "AccessControlEnforcedDefaultAdminRules", t.grantRole, DEFAULT_ADMIN_ROLE, env.carol, {"from": env.admin}
    )
    assert_reverts_with(
        "AccessControlEnforcedDefaultAdminRules",
        t.scheduleRoleGrant,
        DEFAULT_ADMIN_ROLE,
        env.carol,
        {"from": env.admin},
    )
    t.scheduleRoleGrant(GUARDIAN_ROLE, env.carol, {"from": env.admin})
    travel(ADMIN_DELAY - 10)
    assert_reverts_with("OperationNotReady", t.executeRoleGrant, GUARDIAN_ROLE, env.carol, {"from": env.admin})
    travel(10)
    t.executeRoleGrant(GUARDIAN_ROLE, env.carol, {"from": env.admin})
    assert t.hasRole(GUARDIAN_ROLE, env.carol)
    # Revoking (admin) and renouncing (holder) are instant.
    t.revokeRole(GUARDIAN_ROLE, env.carol, {"from": env.admin})
    assert not t.hasRole(GUARDIAN_ROLE, env.carol)
    t.renounceRole(ORACLE_ROLE, env.oracle, {"from": env.oracle})
    assert not t.hasRole(ORACLE_ROLE, env.oracle)


def test_the_admin_moves_in_two_delayed_steps_and_its_delay_is_fixed(env):
    t = env.t
    assert_reverts_with("AdminDelayImmutable", t.changeDefaultAdminDelay, 1, {"from": env.admin})
    assert_reverts_with("AdminDelayImmutable", t.rollbackDefaultAdminDelay, {"from": env.admin})
    t.beginDefaultAdminTransfer(env.carol, {"from": env.admin})
    assert_reverts_with("AccessControlEnforcedDefaultAdminDelay", t.acceptDefaultAdminTransfer, {"from": env.carol})
    travel(ADMIN_DELAY + 1)
    t.acceptDefaultAdminTransfer({"from": env.carol})
    assert t.defaultAdmin() == env.carol.address and not t.hasRole(DEFAULT_ADMIN_ROLE, env.admin)
