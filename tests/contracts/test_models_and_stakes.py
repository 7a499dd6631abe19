"""Participants: registering models, staking (plain and with permit), withdrawal requests, withdrawals,
settle-and-withdraw, and funding the reward reserve."""

from conftest import RESERVE, UNIT, assert_reverts_with, event, now, permit_signature, plain

ZERO_ADDRESS = "0x" + "00" * 20


# ---------------------------------------------------------------- registerModel


def test_models_get_consecutive_ids_and_belong_to_their_registrant(env):
    t = env.t
    tx1 = t.registerModel({"from": env.alice})
    tx2 = t.registerModel({"from": env.bob})
    tx3 = t.registerModel({"from": env.alice})  # an address may own many models
    assert [event(tx, "ModelRegistered")["modelId"] for tx in (tx1, tx2, tx3)] == [1, 2, 3]
    assert event(tx2, "ModelRegistered")["owner"] == env.bob
    assert event(tx1, "ModelRegistered")["firstRound"] == 1
    assert t.modelCount() == 3
    model, settlement, withdrawal = t.modelInfo(3)
    assert plain(model) == (env.alice, 0)
    assert plain(settlement) == (0, 0, 0, 1)  # nothing applied, settled through round 0, first in round 1's tree
    assert plain(withdrawal) == (0, 0)
    assert tx1.return_value == 1


def test_a_model_registered_after_a_close_counts_as_settled_through_closed_rounds(env):
    env.open_and_close()
    env.open_and_close()
    m = env.register(env.alice)
    tx_first = env.t.modelInfo(m)[1]
    # Rounds 1 and 2 never include it: settled through round 2, first round 3.
    assert plain(tx_first) == (0, 0, 2, 3)


def test_unknown_model_has_no_owner(env):
    model, settlement, _ = env.t.modelInfo(42)
    assert model[0] == ZERO_ADDRESS and settlement[3] == 0


# ---------------------------------------------------------------- stake


def test_stake_moves_tokens_into_the_pool(env):
    t, token = env.t, env.token
    m = env.register(env.alice)
    before_alice, before_t = token.balanceOf(env.alice), token.balanceOf(t)
    tx = t.stake(m, 250 * UNIT, {"from": env.alice})
    assert dict(event(tx, "Staked")) == {"modelId": m, "owner": env.alice, "amount": 250 * UNIT}
    assert token.balanceOf(env.alice) == before_alice - 250 * UNIT
    assert token.balanceOf(t) == before_t + 250 * UNIT
    t.stake(m, 50 * UNIT, {"from": env.alice})
    assert t.stakeOf(m) == 300 * UNIT
    assert t.stakedPool() == 300 * UNIT
    assert t.totalNetDeposits() == 300 * UNIT
    assert plain(t.modelInfo(m)[0]) == (env.alice, 300 * UNIT)


def test_stake_reverts(env):
    t = env.t
    m = env.register(env.alice)
    assert_reverts_with("ZeroAmount", t.stake, m, 0, {"from": env.alice})
    assert_reverts_with("UnknownModel", t.stake, 99, 1, {"from": env.alice}, expect=(99,))
    # Staking on someone else's model would hand them the stake: refused.
    assert_reverts_with("NotModelOwner", t.stake, m, 1, {"from": env.bob}, expect=(m, env.bob.address))
    assert_reverts_with("ERC20InsufficientBalance", t.stake, m, 1_000_001 * UNIT, {"from": env.alice})


def test_stake_without_allowance_fails_in_the_token(env, local_holder):
    holder, acct = local_holder
    m = env.register(acct)
    assert_reverts_with("ERC20InsufficientAllowance", env.t.stake, m, 1, {"from": acct}, expect=(env.t.address, 0, 1))


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
    assert_reverts_with("ERC20InsufficientAllowance", env.t.stakeWithPermit, m, 400 * UNIT, deadline, v, r, s,
                        {"from": acct}, expect=(env.t.address, 0, 400 * UNIT))
    # A permit signed by someone else's key for this holder is no better.
    other_v, other_r, other_s = 27, "0x" + "11" * 32, "0x" + "22" * 32
    assert_reverts_with("ERC20InsufficientAllowance", env.t.stakeWithPermit, m, 1, deadline, other_v, other_r,
                        other_s, {"from": acct})
    # And the permit cannot be used by someone else to stake on their own model from the holder's balance.
    mb = env.register(env.bob)
    good = permit_signature(env.token, holder, env.t.address, 5 * UNIT, 0, deadline)
    before = env.token.balanceOf(env.bob)
    env.t.stakeWithPermit(mb, 5 * UNIT, deadline, *good, {"from": env.bob})  # bob pays with his own allowance
    assert env.token.balanceOf(env.bob) == before - 5 * UNIT
    assert env.token.balanceOf(acct) == 10_000 * UNIT


# ---------------------------------------------------------------- requestWithdrawal


def test_request_withdrawal_records_the_amount_and_the_last_closed_round(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    tx = t.requestWithdrawal(m, 300 * UNIT, {"from": env.alice})
    assert dict(event(tx, "WithdrawalRequested")) == {
        "modelId": m, "amount": 300 * UNIT, "pendingAmount": 300 * UNIT, "afterRound": 0}
    env.open_and_close()
    # A second request adds up and moves the whole pending amount behind the newly closed round.
    tx = t.requestWithdrawal(m, 200 * UNIT, {"from": env.alice})
    assert event(tx, "WithdrawalRequested")["pendingAmount"] == 500 * UNIT
    assert plain(t.modelInfo(m)[2]) == (500 * UNIT, 1)
    # The stake is not reduced by a request, only by the withdrawal.
    assert t.stakeOf(m) == 1_000 * UNIT


def test_request_withdrawal_reverts(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    assert_reverts_with("WithdrawalExceedsStake", t.requestWithdrawal, m, 1_000 * UNIT + 1, {"from": env.alice},
                        expect=(m, 1_000 * UNIT + 1, 1_000 * UNIT))
    t.requestWithdrawal(m, 600 * UNIT, {"from": env.alice})
    # What is already pending counts against the stake.
    assert_reverts_with("WithdrawalExceedsStake", t.requestWithdrawal, m, 401 * UNIT, {"from": env.alice},
                        expect=(m, 1_001 * UNIT, 1_000 * UNIT))
    assert_reverts_with("ZeroAmount", t.requestWithdrawal, m, 0, {"from": env.alice})
    assert_reverts_with("NotModelOwner", t.requestWithdrawal, m, 1, {"from": env.bob}, expect=(m, env.bob.address))
    assert_reverts_with("UnknownModel", t.requestWithdrawal, 77, 1, {"from": env.alice}, expect=(77,))


# ---------------------------------------------------------------- withdraw


def test_withdraw_with_no_round_closed_pays_at_once(env):
    t, token = env.t, env.token
    m = env.register(env.alice, 1_000 * UNIT)
    env.open_round()  # an open round puts nothing at risk until it closes
    t.requestWithdrawal(m, 400 * UNIT, {"from": env.alice})
    before = token.balanceOf(env.alice)
    tx = t.withdraw(m, {"from": env.alice})
    assert tx.return_value == 400 * UNIT
    assert dict(event(tx, "Withdrawn")) == {"modelId": m, "owner": env.alice, "amount": 400 * UNIT}
    assert token.balanceOf(env.alice) == before + 400 * UNIT
    assert t.stakeOf(m) == 600 * UNIT
    assert t.totalNetDeposits() == 600 * UNIT
    assert plain(t.modelInfo(m)[2]) == (0, 0)
    assert_reverts_with("NoPendingWithdrawal", t.withdraw, m, {"from": env.alice}, expect=(m,))


def test_withdraw_reverts(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    assert_reverts_with("NoPendingWithdrawal", t.withdraw, m, {"from": env.alice}, expect=(m,))
    t.requestWithdrawal(m, 1, {"from": env.alice})
    # Only the owner can take the money (funds only ever go to the model's owner).
    assert_reverts_with("NotModelOwner", t.withdraw, m, {"from": env.bob}, expect=(m, env.bob.address))
    assert_reverts_with("UnknownModel", t.withdraw, 5, {"from": env.alice}, expect=(5,))


def test_withdraw_waits_for_the_at_risk_round_then_pays_stake_minus_burn(env):
    t, token = env.t, env.token
    m = env.register(env.alice, 1_000 * UNIT)
    other = env.register(env.bob, 1_000 * UNIT)
    r = env.open_and_close()
    # Requested after the close: the whole stake was at risk in round 1.
    t.requestWithdrawal(m, 1_000 * UNIT, {"from": env.alice})
    assert_reverts_with("UnsettledRounds", t.withdraw, m, {"from": env.alice}, expect=(m, 0, r))
    burn = 50 * UNIT  # 5% of 1,000: alice's cap share of a 2,000 at-risk round (cap 100)
    result = env.propose(r, env.leaves_for({m: (0, burn), other: (10 * UNIT, 0)}), 2_000 * UNIT)
    assert_reverts_with("UnsettledRounds", t.withdraw, m, {"from": env.alice}, expect=(m, 0, r))
    env.activate(r)
    # Active but not settled for this model: still refused.
    assert_reverts_with("UnsettledRounds", t.withdraw, m, {"from": env.alice}, expect=(m, 0, r))
    t.settle(*result.settle_args(m), {"from": env.keeper})
    before = token.balanceOf(env.alice)
    tx = t.withdraw(m, {"from": env.alice})
    # min(pending 1,000, stake 950)
    assert tx.return_value == 950 * UNIT
    assert token.balanceOf(env.alice) == before + 950 * UNIT
    assert t.stakeOf(m) == 0


def test_settle_and_withdraw_in_one_transaction(env):
    t, token = env.t, env.token
    m = env.register(env.alice, 1_000 * UNIT)
    m2 = env.register(env.alice, 10 * UNIT)
    r = env.open_and_close()
    t.requestWithdrawal(m, 500 * UNIT, {"from": env.alice})
    result = env.propose(r, env.leaves_for({m: (20 * UNIT, 0)}, [m2]), 1_010 * UNIT)
    env.activate(r)
    before = token.balanceOf(env.alice)
    tx = t.settleAndWithdraw(*result.settle_args(m), {"from": env.alice})
    assert tx.return_value == 500 * UNIT
    assert event(tx, "Settled")["payoutDelta"] == 20 * UNIT
    assert token.balanceOf(env.alice) == before + 500 * UNIT
    assert t.stakeOf(m) == 520 * UNIT
    # Already settled through the round: the settlement part is skipped (even a garbage proof passes), and the
    # withdrawal part finds nothing pending.
    assert_reverts_with("NoPendingWithdrawal", t.settleAndWithdraw, r, m, 0, 0, [], {"from": env.alice})
    # A bad proof for an unsettled model reverts the whole call.
    t.requestWithdrawal(m2, 10 * UNIT, {"from": env.alice})
    assert_reverts_with("InvalidProof", t.settleAndWithdraw, r, m2, 0, 0, [], {"from": env.alice})


def test_settle_and_withdraw_cannot_be_used_by_a_non_owner(env):
    m = env.register(env.alice, 1_000 * UNIT)
    r = env.open_and_close()
    env.t.requestWithdrawal(m, 100 * UNIT, {"from": env.alice})
    result = env.propose(r, env.leaves_for({m: (0, 0)}), 1_000 * UNIT)
    env.activate(r)
    assert_reverts_with("NotModelOwner", env.t.settleAndWithdraw, *result.settle_args(m), {"from": env.bob},
                        expect=(m, env.bob.address))


# ---------------------------------------------------------------- fundReserve


def test_anyone_can_fund_the_reserve(env):
    t, token = env.t, env.token
    before = token.balanceOf(t)
    tx = t.fundReserve(10 * UNIT, {"from": env.bob})
    assert dict(event(tx, "ReserveFunded")) == {"funder": env.bob, "amount": 10 * UNIT}
    assert t.reserveFunded() == RESERVE + 10 * UNIT
    assert t.rewardReserve() == RESERVE + 10 * UNIT
    assert token.balanceOf(t) == before + 10 * UNIT
    # Reserve funds are not anyone's stake.
    assert t.stakedPool() == 0
    assert_reverts_with("ZeroAmount", t.fundReserve, 0, {"from": env.bob})
