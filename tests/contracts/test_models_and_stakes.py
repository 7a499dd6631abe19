"""Participants: registering models, staking (plain and with permit), tranches, withdrawal requests (lower,
cancel), withdrawals, the reserve, and the batched model-state view keepers read."""

from conftest import MIN_STAKE, RESERVE, UNIT, assert_reverts_with, event, now, permit_signature, plain

STATE_FIELDS = (
    "owner",
    "stake",
    "netDeposits",
    "cumulativePayout",
    "cumulativeBurn",
    "settledRound",
    "tranche",
    "trancheFrom",
    "withdrawal",
    "withdrawalAfter",
)


def state(t, m) -> dict:
    return dict(zip(STATE_FIELDS, plain(t.modelState(m))))


# ---------------------------------------------------------------- registration


def test_models_get_consecutive_ids_and_belong_to_their_registrant(env):
    t = env.t
    tx = t.registerModel({"from": env.alice})
    assert dict(event(tx, "ModelRegistered")) == {"modelId": 1, "owner": env.alice.address, "settledRound": 0}
    assert env.register(env.bob) == 2
    assert t.modelCount() == 2
    assert state(t, 1)["owner"] == env.alice.address and state(t, 2)["owner"] == env.bob.address


def test_a_model_registered_after_a_close_counts_as_settled_through_closed_rounds(env):
    env.register(env.alice, 100 * UNIT)
    r = env.open_and_close()
    m = env.register(env.bob)
    assert event(env.t.registerModel({"from": env.carol}), "ModelRegistered")["settledRound"] == r
    assert state(env.t, m)["settledRound"] == r


def test_unknown_model_has_no_owner_and_no_state(env):
    s = state(env.t, 42)
    assert s["owner"] == "0x" + "00" * 20 and s["stake"] == 0 and s["settledRound"] == 0
    assert_reverts_with("UnknownModel", env.t.stake, 42, MIN_STAKE, {"from": env.alice}, expect=(42,))


def test_model_states_reads_a_range_in_one_call(env):
    t = env.t
    ids = [env.register(o, (i + 1) * 100 * UNIT) for i, o in enumerate((env.alice, env.bob, env.carol))]
    states = [dict(zip(STATE_FIELDS, plain(s))) for s in t.modelStates(1, 100)]
    assert [s["stake"] for s in states] == [100 * UNIT, 200 * UNIT, 300 * UNIT]  # ids past the last are left out
    assert [s["owner"] for s in states] == [env.alice.address, env.bob.address, env.carol.address]
    assert len(t.modelStates(2, 1)) == 1 and plain(t.modelStates(2, 1))[0][1] == 200 * UNIT
    assert len(t.modelStates(4, 10)) == 0
    assert len(t.modelStates(0, 2)) == 2  # id 0 does not exist: the range starts at 1
    assert ids == [1, 2, 3]


# ---------------------------------------------------------------- stake


def test_stake_moves_tokens_in_and_counts_from_the_next_close(env):
    t, token = env.t, env.token
    m = env.register(env.alice)
    before = token.balanceOf(env.alice)
    tx = t.stake(m, 250 * UNIT, {"from": env.alice})
    assert dict(event(tx, "Staked")) == {
        "modelId": m,
        "owner": env.alice.address,
        "amount": 250 * UNIT,
        "atRiskFrom": 1,
    }
    assert t.stakeOf(m) == 250 * UNIT
    assert token.balanceOf(env.alice) == before - 250 * UNIT
    assert token.balanceOf(t) == RESERVE + 250 * UNIT
    assert state(t, m)["tranche"] == 0  # settled through every closed round: no tranche needed
    env.solvent()


def test_stake_reverts(env):
    t = env.t
    m = env.register(env.alice)
    assert_reverts_with("ZeroAmount", t.stake, m, 0, {"from": env.alice})
    # L-8: the first stake of a model is at least MIN_STAKE; later top-ups may be smaller.
    assert_reverts_with(
        "StakeBelowMinimum", t.stake, m, MIN_STAKE - 1, {"from": env.alice}, expect=(m, MIN_STAKE - 1, MIN_STAKE)
    )
    assert_reverts_with("UnknownModel", t.stake, 99, MIN_STAKE, {"from": env.alice}, expect=(99,))
    assert_reverts_with("NotModelOwner", t.stake, m, MIN_STAKE, {"from": env.bob}, expect=(m, env.bob.address))
    assert_reverts_with("ERC20InsufficientBalance", t.stake, m, 1_000_001 * UNIT, {"from": env.alice})
    t.stake(m, MIN_STAKE, {"from": env.alice})
    t.stake(m, 1, {"from": env.alice})
    assert t.stakeOf(m) == MIN_STAKE + 1


def test_stake_without_allowance_fails_in_the_token(env, local_holder):
    _holder, acct = local_holder
    m = env.register(acct)
    assert_reverts_with(
        "ERC20InsufficientAllowance", env.t.stake, m, MIN_STAKE, {"from": acct}, expect=(env.t.address, 0, MIN_STAKE)
    )


def test_a_top_up_on_an_unsettled_model_is_a_tranche_at_risk_from_the_next_close(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    r1 = env.full_round({m: (0, 0)})
    # Not settled through round 1: the top-up is not at risk in round 1 (its burn cannot touch it).
    t.stake(m, 500 * UNIT, {"from": env.alice})
    s = state(t, m)
    assert (s["tranche"], s["trancheFrom"]) == (500 * UNIT, r1.round + 1)
    t.stake(m, 100 * UNIT, {"from": env.alice})  # the same tranche grows
    assert state(t, m)["tranche"] == 600 * UNIT
    # Round 2 closes with the tranche at risk; a top-up now would start a second tranche: refused until settled.
    r2 = env.full_round({m: (0, 0)})
    assert_reverts_with("TopUpPending", t.stake, m, UNIT, {"from": env.alice}, expect=(m, r1.round))
    env.settle(r1, m)  # settling through round 1 makes the tranche part of the base
    assert state(t, m)["tranche"] == 0
    t.stake(m, UNIT, {"from": env.alice})
    assert (state(t, m)["tranche"], state(t, m)["trancheFrom"]) == (UNIT, r2.round + 1)
    env.settle(r2, m)
    assert t.stakeOf(m) == 1_601 * UNIT and state(t, m)["tranche"] == 0
    env.solvent()


def test_lapsed_rounds_do_not_hold_a_top_up_back(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    r1 = env.open_and_close()
    env.lapse(r1)
    # Round 1 lapsed (no result): the model has nothing to settle, so a deposit joins the base at once.
    t.stake(m, 10 * UNIT, {"from": env.alice})
    assert state(t, m)["tranche"] == 0


# ---------------------------------------------------------------- stakeWithPermit


def test_stake_with_permit_approves_and_stakes_in_one_transaction(env, local_holder):
    holder, acct = local_holder
    m = env.register(acct)
    deadline = now() + 3600
    v, r, s = permit_signature(env.token, holder, env.t.address, 400 * UNIT, 0, deadline)
    env.t.stakeWithPermit(m, 400 * UNIT, deadline, v, r, s, {"from": acct})
    assert env.t.stakeOf(m) == 400 * UNIT
    assert env.token.balanceOf(acct) == 9_600 * UNIT
    assert env.token.nonces(holder.address) == 1
    assert env.token.allowance(acct, env.t) == 0  # the permit was spent exactly


def test_front_run_permit_still_lets_the_stake_through(env, local_holder):
    holder, acct = local_holder
    m = env.register(acct)
    deadline = now() + 3600
    v, r, s = permit_signature(env.token, holder, env.t.address, 400 * UNIT, 0, deadline)
    # A griefer submits the permit first: the tournament's own permit call then fails, but the allowance exists.
    env.token.permit(holder.address, env.t, 400 * UNIT, deadline, v, r, s, {"from": env.carol})
    env.t.stakeWithPermit(m, 400 * UNIT, deadline, v, r, s, {"from": acct})
    assert env.t.stakeOf(m) == 400 * UNIT
    assert env.token.allowance(acct, env.t) == 0


def test_bad_permit_without_allowance_fails(env, local_holder):
    holder, acct = local_holder
    m = env.register(acct)
    deadline = now() + 3600
    # Signed for a smaller value than staked: the permit is swallowed, and the transfer finds no allowance.
    v, r, s = permit_signature(env.token, holder, env.t.address, 1 * UNIT, 0, deadline)
    assert_reverts_with(
        "ERC20InsufficientAllowance",
        env.t.stakeWithPermit,
        m,
        400 * UNIT,
        deadline,
        v,
        r,
        s,
        {"from": acct},
        expect=(env.t.address, 0, 400 * UNIT),
    )
    # A permit signed by someone else's key for this holder is no better.
    other_v, other_r, other_s = 27, "0x" + "11" * 32, "0x" + "22" * 32
    assert_reverts_with(
        "ERC20InsufficientAllowance",
        env.t.stakeWithPermit,
        m,
        MIN_STAKE,
        deadline,
        other_v,
        other_r,
        other_s,
        {"from": acct},
    )
    # And the permit cannot be used by someone else to stake on their own model from the holder's balance.
    mb = env.register(env.bob)
    good = permit_signature(env.token, holder, env.t.address, MIN_STAKE, 0, deadline)
    before = env.token.balanceOf(env.bob)
    env.t.stakeWithPermit(mb, MIN_STAKE, deadline, *good, {"from": env.bob})  # bob pays with his own allowance
    assert env.token.balanceOf(env.bob) == before - MIN_STAKE
    assert env.token.balanceOf(acct) == 10_000 * UNIT


# ---------------------------------------------------------------- withdrawal requests


def test_request_withdrawal_records_the_amount_and_the_last_closed_round(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    tx = t.requestWithdrawal(m, 300 * UNIT, {"from": env.alice})
    assert dict(event(tx, "WithdrawalRequested")) == {
        "modelId": m,
        "amount": 300 * UNIT,
        "pending": 300 * UNIT,
        "afterRound": 0,
    }
    t.requestWithdrawal(m, 100 * UNIT, {"from": env.alice})  # same boundary: adds up
    s = state(t, m)
    assert (s["withdrawal"], s["withdrawalAfter"], s["stake"]) == (400 * UNIT, 0, 1_000 * UNIT)


def test_request_withdrawal_reverts(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    assert_reverts_with("ZeroAmount", t.requestWithdrawal, m, 0, {"from": env.alice})
    assert_reverts_with("NotModelOwner", t.requestWithdrawal, m, 1, {"from": env.bob}, expect=(m, env.bob.address))
    assert_reverts_with("UnknownModel", t.requestWithdrawal, 9, 1, {"from": env.bob}, expect=(9,))
    assert_reverts_with(
        "WithdrawalExceedsStake",
        t.requestWithdrawal,
        m,
        1_000 * UNIT + 1,
        {"from": env.alice},
        expect=(m, 1_000 * UNIT + 1, 1_000 * UNIT),
    )
    # A second boundary while the model still has rounds to settle is refused, naming the round to settle through.
    t.requestWithdrawal(m, 100 * UNIT, {"from": env.alice})
    r1 = env.full_round({m: (0, 0)})
    assert_reverts_with(
        "WithdrawalBoundaryPending", t.requestWithdrawal, m, 1, {"from": env.alice}, expect=(m, r1.round)
    )
    env.settle(r1, m)
    t.requestWithdrawal(m, 1, {"from": env.alice})
    assert (state(t, m)["withdrawal"], state(t, m)["withdrawalAfter"]) == (100 * UNIT + 1, r1.round)


def test_lowering_before_the_next_close_is_free(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    t.requestWithdrawal(m, 300 * UNIT, {"from": env.alice})
    tx = t.lowerWithdrawal(m, 100 * UNIT, {"from": env.alice})
    assert dict(event(tx, "WithdrawalLowered")) == {"modelId": m, "pending": 100 * UNIT, "atRiskFrom": 1}
    t.lowerWithdrawal(m, 0, {"from": env.alice})  # cancel
    s = state(t, m)
    assert (s["withdrawal"], s["tranche"]) == (0, 0)
    assert_reverts_with("NoPendingWithdrawal", t.lowerWithdrawal, m, 0, {"from": env.alice}, expect=(m,))


def test_lowering_after_a_close_puts_the_amount_back_at_risk_like_a_deposit(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    r1 = env.full_round({m: (0, 0)})
    env.settle(r1, m)
    t.requestWithdrawal(m, 400 * UNIT, {"from": env.alice})
    r2 = env.full_round({m: (0, 0)})  # closed with 400 out of risk
    assert_reverts_with(
        "WithdrawalNotLowered",
        t.lowerWithdrawal,
        m,
        400 * UNIT,
        {"from": env.alice},
        expect=(m, 400 * UNIT, 400 * UNIT),
    )
    # Lowered after round 2 closed: the 300 re-enter risk from round 3 (a tranche), not retroactively in round 2.
    t.lowerWithdrawal(m, 100 * UNIT, {"from": env.alice})
    s = state(t, m)
    assert (s["withdrawal"], s["tranche"], s["trancheFrom"]) == (100 * UNIT, 300 * UNIT, r2.round + 1)
    # Round 2's bound counts 600 at risk: the 400 requested were out, whatever was lowered afterwards.
    assert t.settlementBounds(m, r2.round)[1] == 1_000 * UNIT - 600 * UNIT * 500 // 10_000


def test_lowering_after_a_close_needs_the_request_round_settled(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    r1 = env.full_round({m: (0, 0)}, activate=False)
    t.requestWithdrawal(m, 400 * UNIT, {"from": env.alice})  # after round 1's close
    env.activate(r1.round)
    env.open_and_close()  # round 2 closes; the model is not settled through round 1
    assert_reverts_with("WithdrawalBoundaryPending", t.lowerWithdrawal, m, 0, {"from": env.alice}, expect=(m, r1.round))
    env.settle(r1, m)
    t.lowerWithdrawal(m, 0, {"from": env.alice})


# ---------------------------------------------------------------- withdraw


def test_withdraw_with_no_round_closed_pays_at_once(env):
    t, token = env.t, env.token
    m = env.register(env.alice, 1_000 * UNIT)
    t.requestWithdrawal(m, 400 * UNIT, {"from": env.alice})
    before = token.balanceOf(env.alice)
    tx = t.withdraw(m, {"from": env.alice})
    assert tx.return_value == 400 * UNIT
    assert dict(event(tx, "Withdrawn")) == {"modelId": m, "owner": env.alice.address, "amount": 400 * UNIT}
    assert token.balanceOf(env.alice) == before + 400 * UNIT
    assert t.stakeOf(m) == 600 * UNIT and state(t, m)["withdrawal"] == 0
    env.solvent()


def test_withdraw_reverts(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    assert_reverts_with("NoPendingWithdrawal", t.withdraw, m, {"from": env.alice}, expect=(m,))
    r1 = env.open_and_close()
    t.requestWithdrawal(m, 400 * UNIT, {"from": env.alice})
    assert_reverts_with("NotModelOwner", t.withdraw, m, {"from": env.bob}, expect=(m, env.bob.address))
    lapses_at = plain(t.roundInfo(r1))[4]
    assert_reverts_with("RoundNotResolved", t.withdraw, m, {"from": env.alice}, expect=(r1, lapses_at))


def test_withdraw_waits_for_the_at_risk_round_then_pays_stake_minus_burn(env):
    t, token = env.t, env.token
    m = env.register(env.alice, 1_000 * UNIT)
    r1 = env.open_and_close()
    t.requestWithdrawal(m, 1_000 * UNIT, {"from": env.alice})  # after the close: at risk in round 1
    res = env.propose(r1, env.leaves_for({m: (0, 50 * UNIT)}))
    env.activate(r1)
    assert_reverts_with("UnsettledRounds", t.withdraw, m, {"from": env.alice}, expect=(m, 0, r1))
    env.settle(res, m)
    before = token.balanceOf(env.alice)
    assert t.withdraw(m, {"from": env.alice}).return_value == 950 * UNIT  # the burn is not escaped
    assert token.balanceOf(env.alice) == before + 950 * UNIT
    env.solvent()


def test_settle_and_withdraw_in_one_transaction(env):
    t, token = env.t, env.token
    m = env.register(env.alice, 1_000 * UNIT)
    r1 = env.open_and_close()
    t.requestWithdrawal(m, 500 * UNIT, {"from": env.alice})
    res = env.propose(r1, env.leaves_for({m: (20 * UNIT, 0)}))
    env.activate(r1)
    before = token.balanceOf(env.alice)
    tx = t.settleAndWithdraw(*res.settle_args(m), {"from": env.alice})
    assert tx.return_value == 500 * UNIT and token.balanceOf(env.alice) == before + 500 * UNIT
    assert t.stakeOf(m) == 520 * UNIT
    # Not the owner: the settlement would be fine, the withdrawal is not.
    m2 = env.register(env.bob, 100 * UNIT)
    assert_reverts_with(
        "NoPendingWithdrawal", t.settleAndWithdraw, *res.settle_args(m), {"from": env.alice}, expect=(m,)
    )
    assert_reverts_with(
        "NotModelOwner", t.settleAndWithdraw, *res.settle_args(m), {"from": env.bob}, expect=(m, env.bob.address)
    )
    assert m2


def test_withdraw_after_a_lapsed_round_needs_no_settlement(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    r1 = env.open_and_close()
    t.requestWithdrawal(m, 1_000 * UNIT, {"from": env.alice})
    env.lapse(r1)
    assert t.withdraw(m, {"from": env.alice}).return_value == 1_000 * UNIT


# ---------------------------------------------------------------- reserve


def test_anyone_can_fund_the_reserve(env):
    t = env.t
    tx = t.fundReserve(5 * UNIT, {"from": env.bob})
    assert dict(event(tx, "ReserveFunded")) == {"funder": env.bob.address, "amount": 5 * UNIT}
    assert t.reserve() == RESERVE + 5 * UNIT and t.freeReserve() == RESERVE + 5 * UNIT
    assert_reverts_with("ZeroAmount", t.fundReserve, 0, {"from": env.bob})
    env.solvent()
