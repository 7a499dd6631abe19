"""Regression tests for the security review of issue 10: every on-chain finding written as the attack, asserting
that it now fails and that nothing is frozen or lost (M-6, L-5 and L-6 are on the Python side).

Each attacker holds ONE privileged key; the other roles behave honestly (or simply do nothing)."""

from brownie import Tournament, TournamentToken, chain
from conftest import (
    CHALLENGE,
    GUARDIAN_ROLE,
    LAPSE_PERIOD,
    MANIFEST_HASH,
    MANIFEST_URI,
    MAX_BURN_CAP_BPS,
    MAX_PAUSE,
    MAX_PAYOUT_CAP_BPS,
    MIN_CHALLENGE_PERIOD,
    MIN_CLOSE_SPACING,
    MIN_STAKE,
    ORACLE_ROLE,
    UNIT,
    assert_reverts_with,
    deploy_env,
    event,
    now,
    params,
    plain,
    travel,
)

K = 1_000 * UNIT  # "1k" in the review's figures


def settled(tx) -> tuple[int, int]:
    e = event(tx, "Settled")
    return e["payout"], e["burn"]


# ---------------------------------------------------------------- High


def test_H1_a_stakeless_model_cannot_take_another_models_unsettled_payouts(env):
    t = env.t
    a = env.register(env.alice, 500 * K)
    for _ in range(3):
        env.full_round({a: (20 * K, 0)})  # honest: a earns 20k a round and is not settled
    assert t.committedPayout() == 60 * K
    c = env.register(env.carol)  # the attacker's model: no stake
    # Stolen oracle key: round 4 gives c 60k and leaves a unchanged; the declared totals claim nothing new.
    r4 = env.open_and_close()
    res = env.propose(r4, env.leaves_for({c: (60 * K, 0)}), payout=0, burn=0)
    env.activate(r4)
    assert settled(env.settle(res, c)) == (0, 0)  # nothing at risk: nothing paid
    assert_reverts_with("WithdrawalExceedsStake", t.requestWithdrawal, c, 1, {"from": env.carol}, expect=(c, 1, 0))
    # a is not frozen and still receives its 60k; the tournament goes on with an honest round.
    assert settled(env.settle(res, a)) == (60 * K, 0)
    assert t.stakeOf(a) == 560 * K and t.committedPayout() == 0
    env.full_round({a: (1 * K, 0)})
    env.solvent()


def test_H2_a_proposal_must_name_a_manifest(env):
    # The guardian's watcher (Python) fails closed; on-chain, a proposal cannot omit the manifest hash it commits to.
    env.register(env.alice, 1_000 * UNIT)
    r = env.open_and_close()
    assert_reverts_with(
        "ZeroManifestHash", env.t.proposeRoot, r, "0x" + "11" * 32, 0, 0, "0x" + "00" * 32, "/", {"from": env.oracle}
    )


def test_H3_one_round_burns_at_most_the_cap_of_the_models_own_stake(env):
    t = env.t
    whale = env.register(env.alice, 960 * K)
    victim = env.register(env.bob, 40 * K)
    r1 = env.open_and_close()
    # Stolen oracle key: the whole 5% of the pool (50k) assigned to the 40k victim.
    res = env.propose(r1, env.leaves_for({whale: (0, 0), victim: (0, 50 * K)}), payout=0, burn=50 * K)
    supply = env.token.totalSupply()
    env.activate(r1)
    assert env.token.totalSupply() == supply  # activation moves nothing
    tx = env.settle(res, victim)
    assert settled(tx) == (0, 2 * K) and "SettlementClamped" in tx.events  # 5% of its own 40k
    assert settled(env.settle(res, whale)) == (0, 0)
    assert (t.stakeOf(victim), t.stakeOf(whale)) == (38 * K, 960 * K)
    assert t.reserve() == 100 * K  # the reserve covers nothing, because nothing is over-burned
    env.solvent()


def test_H3_a_withdrawal_requested_before_a_close_is_not_at_risk_in_that_round(env):
    t = env.t
    victim = env.register(env.carol, 100 * K)
    env.settle(env.full_round({victim: (0, 0)}), victim)  # round 1, settled by a keeper (the bound runs from there)
    r2 = env.open_and_close()  # the victim's 100k is at risk in round 2
    r3 = env.open_round()
    t.requestWithdrawal(victim, 100 * K, {"from": env.carol})  # while round 3 is open: out of risk in round 3
    chain.sleep(120)
    t.closeRound(r3, {"from": env.oracle})
    # Stolen oracle key: burn 50k in round 2 and 50k more in round 3. Round 3 cannot even be proposed while round 2
    # is pending (no two rounds activated in one transaction).
    res2 = env.propose(r2, env.leaves_for({victim: (0, 50 * K)}), payout=0, burn=50 * K)
    assert_reverts_with(
        "ResolutionOutOfOrder",
        t.proposeRoot,
        r3,
        "0x" + "33" * 32,
        0,
        0,
        MANIFEST_HASH,
        MANIFEST_URI,
        {"from": env.oracle},
        expect=(r3, r2),
    )
    env.activate(r2)
    assert settled(env.settle(res2, victim)) == (0, 5 * K)  # 5% of the 100k at risk in round 2
    res3 = env.propose(r3, env.leaves_for({victim: (0, 50 * K)}), payout=0, burn=50 * K)
    env.activate(r3)
    assert settled(env.settle(res3, victim)) == (0, 0)  # nothing of it was at risk in round 3
    assert t.withdraw(victim, {"from": env.carol}).return_value == 95 * K
    env.solvent()


def test_H4_nobody_pays_for_a_burn_assigned_to_a_stakeless_model(actors):
    env = deploy_env(actors, reserve=1)
    t = env.t
    a = env.register(env.alice, 1_000 * K)
    s = env.register(env.bob)  # a sybil with no stake
    r1 = env.open_and_close()
    res = env.propose(r1, env.leaves_for({a: (0, 0), s: (0, 50 * K)}), payout=0, burn=50 * K)
    supply = env.token.totalSupply()
    env.activate(r1)
    assert env.token.totalSupply() == supply  # alice's tokens are not burned for the sybil
    assert settled(env.settle(res, s)) == (0, 0)  # and the sybil's settlement does not revert
    assert settled(env.settle(res, a)) == (0, 0)
    # Alice can lower, re-request and take everything out.
    t.requestWithdrawal(a, 1_000 * K, {"from": env.alice})
    t.lowerWithdrawal(a, 500 * K, {"from": env.alice})
    t.requestWithdrawal(a, 500 * K, {"from": env.alice})
    before = env.token.balanceOf(env.alice)
    assert t.withdraw(a, {"from": env.alice}).return_value == 1_000 * K
    assert env.token.balanceOf(env.alice) == before + 1_000 * K
    env.solvent()


# ---------------------------------------------------------------- Medium


def test_M1_pending_rounds_cannot_compound_within_one_window(env):
    t = env.t
    a = env.register(env.alice, 1_000 * K)
    closed = [env.open_and_close() for _ in range(4)]
    # Stolen oracle key: propose a 5% burn for every closed round, then activate them all after one window.
    env.propose(closed[0], env.leaves_for({a: (0, 50 * K)}), payout=0, burn=50 * K)
    for r in closed[1:]:
        assert_reverts_with(
            "ResolutionOutOfOrder",
            t.proposeRoot,
            r,
            "0x" + "44" * 32,
            0,
            50 * K,
            MANIFEST_HASH,
            MANIFEST_URI,
            {"from": env.oracle},
            expect=(r, closed[0]),
        )
    env.activate(closed[0])
    env.propose(closed[1], env.leaves_for({a: (0, 50 * K)}), payout=0, burn=50 * K)
    # One window later exactly one round's cap is active; the next needs a window of its own.
    assert_reverts_with("ChallengeWindowOpen", t.activateRoot, closed[1], {"from": env.keeper})
    assert plain(t.roundCursor())[1:] == (closed[0], closed[0])
    env.solvent()


def test_M2_the_admin_cannot_act_faster_than_a_participant_can_exit(env):
    t = env.t
    a = env.register(env.alice, 1_000 * K)
    r1 = env.open_and_close()
    # Stolen admin key: the worst it can do at once is refused; what it can schedule waits ADMIN_DELAY > D.
    assert_reverts_with("InvalidBounds", t.scheduleBounds, (1, 10_000, 10_000), {"from": env.admin})
    assert_reverts_with("RoleGrantNeedsSchedule", t.grantRole, ORACLE_ROLE, env.admin, {"from": env.admin})
    assert_reverts_with("AdminDelayImmutable", t.changeDefaultAdminDelay, 0, {"from": env.admin})
    worst = (MIN_CHALLENGE_PERIOD, MAX_PAYOUT_CAP_BPS, MAX_BURN_CAP_BPS)
    ready_at = event(t.scheduleBounds(worst, {"from": env.admin}), "BoundsScheduled")["readyAt"]
    t.scheduleRoleGrant(ORACLE_ROLE, env.admin, {"from": env.admin})
    t.revokeRole(GUARDIAN_ROLE, env.guardian, {"from": env.admin})  # instant, but only removes a protection
    # Alice sees the schedule and leaves; the oracle does nothing at all.
    requested_at = now()
    t.requestWithdrawal(a, 1_000 * K, {"from": env.alice})
    env.lapse(r1)
    tx = t.withdraw(a, {"from": env.alice})
    assert tx.return_value == 1_000 * K
    assert chain[tx.block_number].timestamp <= requested_at + LAPSE_PERIOD + 60 < ready_at
    travel(ready_at - now())
    t.executeBounds(worst, {"from": env.admin})
    t.executeRoleGrant(ORACLE_ROLE, env.admin, {"from": env.admin})
    env.solvent()


def test_M3_an_oracle_that_never_proposes_cannot_hold_an_exit(env):
    t = env.t
    a = env.register(env.alice, 1_000 * K)
    r1 = env.open_and_close()
    requested_at = now()
    t.requestWithdrawal(a, 1_000 * K, {"from": env.alice})
    lapses_at = t.roundInfo(r1)["lapsesAt"]
    assert lapses_at <= requested_at + LAPSE_PERIOD
    assert_reverts_with("RoundNotResolved", t.withdraw, a, {"from": env.alice}, expect=(r1, lapses_at))
    travel(lapses_at - now())
    t.lapseRound(r1, {"from": env.alice})  # permissionless
    assert t.withdraw(a, {"from": env.alice}).return_value == 1_000 * K


def test_M3_a_guardian_that_vetoes_everything_cannot_hold_an_exit(env):
    t = env.t
    a = env.register(env.alice, 1_000 * K)
    r1 = env.open_and_close()
    t.requestWithdrawal(a, 1_000 * K, {"from": env.alice})
    lapses_at = t.roundInfo(r1)["lapsesAt"]
    while now() + CHALLENGE < lapses_at - 1:
        env.propose(r1, env.leaves_for({a: (1, 0)}), record=False)
        t.vetoRoot(r1, {"from": env.guardian})  # stolen guardian key: vetoes every honest root
        travel(86_400)
    travel(max(0, lapses_at - now()))
    t.lapseRound(r1, {"from": env.keeper})
    assert t.withdraw(a, {"from": env.alice}).return_value == 1_000 * K


def test_M3_a_pause_is_bounded_and_never_blocks_an_exit(env):
    t = env.t
    a = env.register(env.alice, 1_000 * K)
    r1 = env.open_and_close()
    t.pause({"from": env.pauser})  # stolen pauser key
    t.requestWithdrawal(a, 1_000 * K, {"from": env.alice})
    assert_reverts_with("EnforcedPause", t.closeRound, r1, {"from": env.oracle})  # no new risk during a pause
    travel(MAX_PAUSE)
    assert not t.paused()
    assert_reverts_with("PauseCoolingDown", t.pause, {"from": env.pauser})  # cannot be re-armed back to back
    env.lapse(r1)
    assert t.withdraw(a, {"from": env.alice}).return_value == 1_000 * K


def test_M4_fast_rounds_cannot_push_an_exit_out(env):
    t = env.t
    a = env.register(env.alice, 1_000 * K)
    assert_reverts_with("CloseTimeOutOfRange", t.openRound, now() + 2, {"from": env.oracle})
    r1 = env.open_and_close()
    requested_at = now()
    t.requestWithdrawal(a, 1_000 * K, {"from": env.alice})
    # Stolen oracle key: close rounds as fast as the limits allow and leave them all pending.
    later = [env.open_and_close() for _ in range(5)]
    assert all(t.roundInfo(r)["closedAt"] - t.roundInfo(r - 1)["closedAt"] >= MIN_CLOSE_SPACING for r in later)
    env.lapse(r1)
    tx = t.withdraw(a, {"from": env.alice})  # later rounds do not matter: the amount is out of their risk
    assert tx.return_value == 1_000 * K
    assert chain[tx.block_number].timestamp <= requested_at + LAPSE_PERIOD + 60


def test_M5_an_honest_oracle_scales_to_the_free_reserve_and_never_halts(actors):
    env = deploy_env(actors, reserve=100 * UNIT)
    t = env.t
    a = env.register(env.alice, 10 * K)
    b = env.register(env.bob, 10 * K)
    # The honest rule wants 500 for a; it pays what payoutLimit allows.
    r1 = env.open_and_close()
    limit = t.payoutLimit(r1)
    assert limit == 100 * UNIT
    res1 = env.propose(r1, env.leaves_for({a: (limit, 0), b: (0, 0)}))
    env.activate(r1)
    # The reserve is all committed now: the next honest round pays nothing but still proposes and activates.
    r2 = env.open_and_close()
    assert t.payoutLimit(r2) == 0
    res2 = env.propose(r2, env.leaves_for({b: (0, 100 * UNIT)}))
    env.settle(res1, a)  # settlements between proposal and activation never shrink the free reserve
    env.activate(r2)
    env.settle(res2, b)
    t.requestWithdrawal(b, t.stakeOf(b), {"from": env.bob})
    assert t.withdraw(b, {"from": env.bob}).return_value == 10 * K - 100 * UNIT
    assert t.stakeOf(a) == 10 * K + 100 * UNIT
    env.solvent()


# ---------------------------------------------------------------- Low


def test_L1_a_pending_withdrawal_can_be_lowered_or_cancelled_and_a_top_up_does_not_relock_it(env):
    t = env.t
    a = env.register(env.alice, 1_000 * UNIT)
    t.requestWithdrawal(a, 600 * UNIT, {"from": env.alice})
    t.lowerWithdrawal(a, 200 * UNIT, {"from": env.alice})
    t.lowerWithdrawal(a, 0, {"from": env.alice})  # cancelled
    r1 = env.open_and_close()
    t.requestWithdrawal(a, 500 * UNIT, {"from": env.alice})  # at risk in round 1 only
    res = env.propose(r1, env.leaves_for({a: (0, 0)}))
    t.stake(a, 300 * UNIT, {"from": env.alice})  # a top-up is a tranche: the request keeps its boundary
    assert plain(t.modelState(a))[9] == r1
    env.activate(r1)
    env.settle(res, a)
    assert t.withdraw(a, {"from": env.alice}).return_value == 500 * UNIT
    assert t.stakeOf(a) == 800 * UNIT
    env.solvent()


def test_L2_a_round_that_never_closes_cannot_be_opened(env):
    t = env.t
    assert_reverts_with("CloseTimeOutOfRange", t.openRound, 2**40 - 1, {"from": env.oracle})
    r = env.open_and_close()  # the tournament is not bricked
    assert r == 1


def test_L3_a_pause_stops_new_risk_not_the_way_out(env):
    t = env.t
    a = env.register(env.alice, 1_000 * UNIT)
    r1 = env.open_round()
    chain.sleep(120)
    t.pause({"from": env.pauser})
    t.requestWithdrawal(a, 1_000 * UNIT, {"from": env.alice})  # allowed while paused
    assert_reverts_with("EnforcedPause", t.closeRound, r1, {"from": env.oracle})  # the stake cannot be put at risk
    assert t.withdraw(a, {"from": env.alice}).return_value == 1_000 * UNIT  # no round closed: paid at once


def test_L4_a_negative_net_deposit_cannot_block_proposals(env):
    t = env.t
    a = env.register(env.alice, 1_000 * UNIT)
    res = env.full_round({a: (50 * UNIT, 0)})
    env.settle(res, a)
    t.requestWithdrawal(a, 1_050 * UNIT, {"from": env.alice})
    t.withdraw(a, {"from": env.alice})
    assert plain(t.modelState(a))[2] == -50 * UNIT  # withdrew its winnings: negative net deposits
    r2 = env.open_and_close()
    env.propose(r2, env.leaves_for({}))  # a round claiming nothing is accepted
    env.activate(r2)
    env.solvent()


def test_L7_the_token_supply_must_fit_the_ledger(env):
    big = TournamentToken.deploy("Big", "BIG", 2**94, env.admin, {"from": env.admin})
    assert_reverts_with(
        "TokenSupplyTooLarge", Tournament.deploy, params(big, env.admin), {"from": env.admin}, expect=(2**94,)
    )


def test_L8_registration_needs_a_minimum_first_stake_and_stakeless_models_move_nothing(env):
    t = env.t
    a = env.register(env.alice, 1_000 * UNIT)
    s = env.register(env.bob)
    assert_reverts_with(
        "StakeBelowMinimum", t.stake, s, MIN_STAKE - 1, {"from": env.bob}, expect=(s, MIN_STAKE - 1, MIN_STAKE)
    )
    res = env.full_round({s: (50 * UNIT, 50 * UNIT), a: (0, 0)})
    assert settled(env.settle(res, s)) == (0, 0)
    env.solvent()


def test_L9_the_challenge_period_has_a_hard_floor(env):
    t = env.t
    assert_reverts_with("InvalidBounds", t.scheduleBounds, (MIN_CHALLENGE_PERIOD - 1, 500, 500), {"from": env.admin})
    assert_reverts_with(
        "InvalidBounds",
        Tournament.deploy,
        params(env.token, env.admin, bounds=(MIN_CHALLENGE_PERIOD - 1, 500, 500)),
        {"from": env.admin},
    )
    env.register(env.alice, 1_000 * UNIT)
    r = env.open_and_close()
    activates_at = event(
        env.t.proposeRoot(r, "0x" + "11" * 32, 0, 0, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle}), "RootProposed"
    )["activatesAt"]
    assert activates_at - now() >= MIN_CHALLENGE_PERIOD - 1


# ---------------------------------------------------------------- found by the Foundry campaign (Property 4)


def test_P4_a_model_left_out_of_a_tree_for_having_no_stake_can_still_exit(env):
    t = env.t
    a = env.register(env.alice, 1_000 * K)
    b = env.register(env.bob)  # no stake at the close of round 1: not in its tree
    r1 = env.full_round({a: (0, 0)})
    assert b not in {leaf.model_id for leaf in r1.leaves}  # zero-stake models are left out of trees
    t.stake(b, 100 * K, {"from": env.bob})
    # Nothing of b was at risk in round 1: it counts as settled through it; the deposit is at risk from round 2.
    s = t.modelState(b)
    assert (s["settledRound"], s["tranche"]) == (r1.round, 0)
    t.requestWithdrawal(b, 100 * K, {"from": env.bob})
    # The oracle falls silent: b needs no leaf of round 1 (there is none) to leave.
    assert t.withdraw(b, {"from": env.bob}).return_value == 100 * K
    assert t.stakeOf(b) == 0
    env.solvent()


def test_P4_staking_from_zero_escapes_no_burn_and_takes_no_omitted_result(env):
    t = env.t
    a = env.register(env.alice, 1_000 * K)
    b = env.register(env.bob, 100 * K)
    r1 = env.full_round({a: (0, 0), b: (0, 0)})
    t.requestWithdrawal(b, 100 * K, {"from": env.bob})  # after round 1 closed: at risk in round 1 only
    env.settle(r1, b)
    assert t.withdraw(b, {"from": env.bob}).return_value == 100 * K
    # Stolen oracle key: round 2 (b had no stake at its close) burns 50k of b and pays it 20k; b re-stakes while the
    # root is pending. The leaf can never apply (b is settled through round 2), nor could it (b's bound is zero).
    r2 = env.open_and_close()
    bad = env.propose(r2, env.leaves_for({a: (0, 0), b: (20 * K, 50 * K)}), payout=20 * K, burn=50 * K, record=False)
    t.stake(b, 100 * K, {"from": env.bob})
    assert t.modelState(b)["settledRound"] == r2
    env.activate(r2)
    assert_reverts_with("AlreadySettled", t.settle, *bad.settle_args(b), {"from": env.keeper}, expect=(b, r2))
    assert t.stakeOf(b) == 100 * K
    # The new deposit is at risk from round 3: an honest 5% burn there applies in full (nothing escaped).
    r3 = env.full_round({a: (0, 0), b: (0, 5 * K)})
    assert settled(env.settle(r3, b)) == (0, 5 * K)
    assert t.stakeOf(b) == 95 * K
    env.solvent()
