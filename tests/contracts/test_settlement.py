"""Permissionless settlement against active roots: single proofs, multiproof batches, cumulative idempotence,
the bounds a settlement enforces, and the window of settleable rounds."""

import pytest
from brownie import chain

from conftest import (CHALLENGE, MANIFEST_HASH, MANIFEST_URI, UNIT, assert_reverts_with, deploy_env, event, now, plain,
                      travel)
from oracle.settlement import SettlementLeaf, settlement_tree


@pytest.fixture
def models(env):
    """Three models of 1,000 each (alice, bob, carol); the stake at risk in the next round is 3,000."""
    return [env.register(owner, 1_000 * UNIT) for owner in (env.alice, env.bob, env.carol)]


def test_settle_applies_the_leaf_to_the_stake(env, models):
    t = env.t
    a, b, c = models
    r = env.full_round({a: (30 * UNIT, 0), b: (0, 40 * UNIT), c: (0, 0)}, at_risk=3_000 * UNIT)
    tx = t.settle(*r.settle_args(b), {"from": env.keeper})  # anyone may settle anyone
    assert dict(event(tx, "Settled")) == {"modelId": b, "round": r.round, "payoutDelta": 0, "burnDelta": 40 * UNIT}
    assert t.stakeOf(b) == 960 * UNIT
    assert plain(t.modelInfo(b)[1]) == (0, 40 * UNIT, r.round, 1)
    assert plain(t.unsettledTotals()) == (30 * UNIT, 0)
    t.settle(*r.settle_args(a), {"from": env.keeper})
    assert t.stakeOf(a) == 1_030 * UNIT
    assert plain(t.unsettledTotals()) == (0, 0)
    # Settling moves no tokens: they moved in aggregate at activation.
    assert env.token.balanceOf(t) == t.stakedPool() + t.rewardReserve()


def test_settling_twice_applies_nothing_twice(env, models):
    t = env.t
    a, _, _ = models
    r1 = env.full_round({a: (30 * UNIT, 0)}, at_risk=3_000 * UNIT, model_ids=models)
    t.settle(*r1.settle_args(a), {"from": env.keeper})
    assert_reverts_with("AlreadySettled", t.settle, *r1.settle_args(a), {"from": env.keeper}, expect=(a, r1.round))
    assert t.stakeOf(a) == 1_030 * UNIT


def test_the_newest_root_settles_every_earlier_round_at_once(env, models):
    t = env.t
    a, b, _ = models
    r1 = env.full_round({a: (30 * UNIT, 0), b: (0, 20 * UNIT)}, at_risk=3_000 * UNIT, model_ids=models)
    r2 = env.full_round({a: (0, 10 * UNIT), b: (5 * UNIT, 0)}, at_risk=3_010 * UNIT)
    tx = t.settle(*r2.settle_args(a), {"from": env.keeper})
    assert (event(tx, "Settled")["payoutDelta"], event(tx, "Settled")["burnDelta"]) == (30 * UNIT, 10 * UNIT)
    assert t.stakeOf(a) == 1_020 * UNIT
    # An older root is redundant once a newer one was applied.
    assert_reverts_with("AlreadySettled", t.settle, *r1.settle_args(a), {"from": env.keeper}, expect=(a, r2.round))
    # b settles round 1, then round 2 applies only the difference.
    t.settle(*r1.settle_args(b), {"from": env.keeper})
    tx = t.settle(*r2.settle_args(b), {"from": env.keeper})
    assert (event(tx, "Settled")["payoutDelta"], event(tx, "Settled")["burnDelta"]) == (5 * UNIT, 0)
    assert t.stakeOf(b) == 985 * UNIT


def test_settle_requires_an_active_root_and_a_valid_proof(env, models):
    t = env.t
    a, b, _ = models
    r1 = env.full_round({a: (30 * UNIT, 0)}, at_risk=3_000 * UNIT, model_ids=models)
    r2 = env.full_round({a: (10 * UNIT, 0)}, at_risk=3_030 * UNIT, activate=False)
    assert_reverts_with("RootNotActive", t.settle, *r2.settle_args(a), {"from": env.keeper}, expect=(r2.round,))
    assert_reverts_with("RootNotActive", t.settle, 0, a, 0, 0, [], {"from": env.keeper}, expect=(0,))
    assert_reverts_with("RootNotActive", t.settle, 9, a, 0, 0, [], {"from": env.keeper}, expect=(9,))
    round_, model, payout, burn, proof = r1.settle_args(a)
    assert_reverts_with("InvalidProof", t.settle, round_, model, payout + 1, burn, proof, {"from": env.keeper})
    assert_reverts_with("InvalidProof", t.settle, round_, model, payout, burn + 1, proof, {"from": env.keeper})
    assert_reverts_with("InvalidProof", t.settle, round_, b, payout, burn, proof, {"from": env.keeper})
    assert_reverts_with("InvalidProof", t.settle, round_, model, payout, burn, proof[:-1], {"from": env.keeper})
    # Round 2's proof is not valid against round 1's root.
    assert_reverts_with("InvalidProof", t.settle, r1.round, *r2.settle_args(a)[1:], {"from": env.keeper})


def test_a_model_cumulative_value_cannot_go_down(env, models):
    t = env.t
    a, b, c = models
    r1 = env.full_round({a: (30 * UNIT, 0)}, at_risk=3_000 * UNIT, model_ids=models)
    t.settle(*r1.settle_args(a), {"from": env.keeper})
    # A round-2 root that moves 10 of a's settled payout to b: the totals still grow, a's value shrinks.
    rd = env.open_and_close()
    leaves = [SettlementLeaf(a, 20 * UNIT, 0), SettlementLeaf(b, 10 * UNIT, 0), SettlementLeaf(c, 0, 0)]
    r2 = env.propose(rd, leaves, 3_030 * UNIT)
    env.activate(rd)
    assert_reverts_with("ModelCumulativeDecreased", t.settle, *r2.settle_args(a), {"from": env.keeper},
                        expect=(a,))
    assert t.stakeOf(a) == 1_030 * UNIT


def test_a_burn_can_never_take_a_stake_below_zero(env):
    """A wrong root that got activated burns 150 from a 100 stake: the model ends at zero, the reserve covers the
    50 that activation already destroyed, and every other stake stays whole."""
    t = env.t
    small = env.register(env.alice, 100 * UNIT)
    big = env.register(env.bob, 10_000 * UNIT)
    # 160 burned in total: inside the round cap (5% of 10,100 = 505), but 150 of it from a model holding 100.
    r = env.full_round({small: (0, 150 * UNIT), big: (0, 10 * UNIT)}, at_risk=10_100 * UNIT)
    reserve_before = t.rewardReserve()
    tx = t.settle(*r.settle_args(small), {"from": env.keeper})
    assert dict(event(tx, "BurnShortfallCovered")) == {"modelId": small, "round": r.round, "shortfall": 50 * UNIT}
    assert t.stakeOf(small) == 0
    assert t.rewardReserve() == reserve_before - 50 * UNIT
    t.settle(*r.settle_args(big), {"from": env.keeper})
    assert t.stakeOf(big) == 9_990 * UNIT
    # The pool holds exactly the two stakes, and the contract's balance still backs pool and reserve.
    assert t.stakedPool() == 9_990 * UNIT
    assert env.token.balanceOf(t) == t.stakedPool() + t.rewardReserve()
    # The model is not frozen: it is settled through the round, and later rounds settle as usual.
    assert plain(t.modelInfo(small)[1])[2] == r.round


def test_an_uncoverable_burn_waits_for_the_reserve(actors):
    """When the reserve cannot cover an over-burn, settlement reverts naming the shortfall; anyone funding the
    reserve unblocks it."""
    env = deploy_env(actors, reserve=10 * UNIT)
    t = env.t
    small = env.register(env.alice, 100 * UNIT)
    big = env.register(env.bob, 10_000 * UNIT)
    r = env.full_round({small: (0, 150 * UNIT), big: (0, 10 * UNIT)}, at_risk=10_100 * UNIT)
    assert_reverts_with("BurnExceedsStake", t.settle, *r.settle_args(small), {"from": env.keeper},
                        expect=(small, 50 * UNIT, 10 * UNIT))
    assert t.stakeOf(small) == 100 * UNIT
    t.fundReserve(40 * UNIT, {"from": env.admin})
    t.settle(*r.settle_args(small), {"from": env.keeper})
    assert t.stakeOf(small) == 0
    assert t.rewardReserve() == 0
    assert env.token.balanceOf(t) == t.stakedPool() + t.rewardReserve()


def test_activation_rechecks_the_reserve_after_a_covered_shortfall(actors):
    """A covered shortfall shrinks the reserve; a pending payout proposed before it can no longer be activated
    until the reserve is topped up again."""
    env = deploy_env(actors, reserve=100 * UNIT)
    t = env.t
    small = env.register(env.alice, 100 * UNIT)
    big = env.register(env.bob, 10_000 * UNIT)
    bad = env.full_round({small: (0, 150 * UNIT), big: (0, 10 * UNIT)}, at_risk=10_100 * UNIT)
    # Round 2 pays 80 (within the cap of 5% of its 9,940 at risk and the 100 funded), proposed before the cover.
    r2 = env.open_and_close()
    pending = env.propose(r2, env.leaves_for({big: (80 * UNIT, 0)}), 9_940 * UNIT)
    t.settle(*bad.settle_args(small), {"from": env.keeper})  # the reserve covers 50: 50 left, 80 pending
    travel(CHALLENGE + 1)
    assert_reverts_with("PayoutExceedsReserve", t.activateRoot, r2, {"from": env.keeper},
                        expect=(r2, 80 * UNIT, 50 * UNIT))
    t.fundReserve(30 * UNIT, {"from": env.admin})
    t.activateRoot(r2, {"from": env.keeper})
    assert t.rewardReserve() == 0
    assert pending.payout == 80 * UNIT


def test_settlements_never_exceed_the_active_totals(env, models):
    t = env.t
    a, b, c = models
    rd = env.open_and_close()
    # The leaves pay 100 in all, the declared total is 60: the first settlements drain the total, then stop.
    leaves = [SettlementLeaf(a, 50 * UNIT, 0), SettlementLeaf(b, 50 * UNIT, 0), SettlementLeaf(c, 0, 0)]
    r = env.propose(rd, leaves, 3_000 * UNIT, payout=60 * UNIT, burn=0)
    env.activate(rd)
    t.settle(*r.settle_args(a), {"from": env.keeper})
    assert_reverts_with("SettlementExceedsActiveTotals", t.settle, *r.settle_args(b), {"from": env.keeper})
    assert_reverts_with("SettlementExceedsActiveTotals", t.settleBatch, *r.batch_args([b, c]), {"from": env.keeper})
    assert t.stakeOf(b) == 1_000 * UNIT
    assert env.token.balanceOf(t) == t.stakedPool() + t.rewardReserve()


# ---------------------------------------------------------------- settleBatch


def test_batch_settles_contiguous_models_with_one_multiproof(env, models):
    t = env.t
    a, b, c = models
    deltas = {a: (30 * UNIT, 0), b: (0, 40 * UNIT), c: (7 * UNIT, 3 * UNIT)}
    r = env.full_round(deltas, at_risk=3_000 * UNIT)
    fn_args = r.batch_args(models)
    assert t.settleBatch.call(*fn_args, {"from": env.keeper}) == 3
    tx = t.settleBatch(*fn_args, {"from": env.keeper})
    assert dict(event(tx, "BatchSettled")) == {"round": r.round, "count": 3, "settled": 3, "paid": 37 * UNIT,
                                               "burned": 43 * UNIT}
    expected = {m: 1_000 * UNIT + p - bu for m, (p, bu) in deltas.items()}
    assert {m: t.stakeOf(m) for m in models} == expected
    assert plain(t.unsettledTotals()) == (0, 0)


def test_batch_skips_models_already_settled(env, models):
    t = env.t
    a, b, c = models
    r = env.full_round({a: (30 * UNIT, 0), b: (0, 40 * UNIT), c: (0, 0)}, at_risk=3_000 * UNIT)
    t.settle(*r.settle_args(b), {"from": env.keeper})
    tx = t.settleBatch(*r.batch_args([a, b]), {"from": env.keeper})
    assert dict(event(tx, "BatchSettled")) == {"round": r.round, "count": 2, "settled": 1, "paid": 30 * UNIT,
                                               "burned": 0}
    assert t.stakeOf(b) == 960 * UNIT  # not burned twice
    # Replaying the whole batch settles nothing and does not revert.
    tx = t.settleBatch(*r.batch_args([a, b]), {"from": env.keeper})
    assert event(tx, "BatchSettled")["settled"] == 0
    # Non-contiguous subsets work too.
    assert t.settleBatch.call(*r.batch_args([a, c]), {"from": env.keeper}) == 1


def test_batch_reverts(env, models):
    t = env.t
    a, b, c = models
    r = env.full_round({a: (30 * UNIT, 0), b: (0, 40 * UNIT)}, at_risk=3_000 * UNIT, model_ids=models)
    assert_reverts_with("EmptyBatch", t.settleBatch, r.round, [], [], [], {"from": env.keeper})
    round_, leaves, proof, flags = r.batch_args([a, b])
    tampered = [leaves[0], (leaves[1][0], leaves[1][1], leaves[1][2] - 1)]  # b's burn lowered by one wei
    assert_reverts_with("InvalidProof", t.settleBatch, round_, tampered, proof, flags, {"from": env.keeper})
    # A multiproof whose shape does not fit its leaves is rejected by OpenZeppelin's verifier itself.
    assert_reverts_with("MerkleProofInvalidMultiproof", t.settleBatch, round_, leaves[:1], proof, flags,
                        {"from": env.keeper})
    assert_reverts_with("RootNotActive", t.settleBatch, round_ + 1, leaves, proof, flags, {"from": env.keeper},
                        expect=(round_ + 1,))


# ---------------------------------------------------------------- the settleable window and the root ring


def test_old_rounds_go_stale_and_pending_roots_never_overwrite_settleable_ones(env):
    t = env.t
    m = env.register(env.alice, 1_000 * UNIT)
    t.setBounds(1, 500, 500, {"from": env.admin})  # one-second windows keep 65 rounds cheap
    roots = {}
    def run_round(activate=True):
        r = env.open_and_close()
        # A 1-leaf tree: m earns one wei per round, so every round has a distinct root.
        leaf = SettlementLeaf(m, r, 0)
        tree = settlement_tree([leaf])
        t.proposeRoot(r, tree.root, r, 0, 1_000 * UNIT + r - 1, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
        roots[r] = tree
        if activate:
            chain.sleep(2)
            t.activateRoot(r, {"from": env.keeper})
        return r
    for _ in range(49):
        run_round()
    # 49 active rounds: the settleable window is the last 48 (2..49).
    assert_reverts_with("StaleRound", t.settle, 1, m, 1, 0, roots[1].get_proof(0), {"from": env.keeper},
                        expect=(1, 2))
    assert t.roundInfo(1)[1] == "0x" + "00" * 32
    assert t.roundInfo(2)[1] == roots[2].root
    # Fill the lookahead: 16 pending roots (rounds 50..65); round 65 reuses ring slot 1, never slot 2.
    for _ in range(16):
        run_round(activate=False)
    assert plain(t.roundCursor()) == (65, 49)
    assert t.roundInfo(2)[1] == roots[2].root
    # The oldest settleable round still settles against its own root.
    tx = t.settle(2, m, 2, 0, roots[2].get_proof(0), {"from": env.keeper})
    assert event(tx, "Settled")["payoutDelta"] == 2
    # ... and the newest active one catches up the rest.
    tx = t.settle(49, m, 49, 0, roots[49].get_proof(0), {"from": env.keeper})
    assert event(tx, "Settled")["payoutDelta"] == 47
    assert t.stakeOf(m) == 1_000 * UNIT + 49
