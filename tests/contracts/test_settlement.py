"""Permissionless settlement against active roots: single proofs, multiproof batches, cumulative idempotence, and
the per-model bounds a settlement enforces (one round exactly, many rounds through the stored products)."""

from fractions import Fraction

import pytest
from bounds_reference import RoundCaps, honest_bounds, single_round_bounds
from conftest import (
    BURN_CAP_BPS,
    MANIFEST_HASH,
    MANIFEST_URI,
    PAYOUT_CAP_BPS,
    RESERVE,
    UNIT,
    assert_reverts_with,
    event,
    plain,
)

from oracle.merkle import StandardMerkleTree
from oracle.settlement import SettlementLeaf

CAPS = RoundCaps(0, True, PAYOUT_CAP_BPS, BURN_CAP_BPS)


@pytest.fixture
def models(env):
    """Three models of 1,000 each (alice, bob, carol)."""
    return [env.register(owner, 1_000 * UNIT) for owner in (env.alice, env.bob, env.carol)]


def state(t, m) -> dict:
    return dict(
        zip(
            (
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
            ),
            plain(t.modelState(m)),
        )
    )


def test_settle_applies_the_leaf_to_the_stake_and_moves_payouts_from_the_reserve(env, models):
    t = env.t
    a, b, c = models
    r = env.full_round({a: (30 * UNIT, 0), b: (0, 40 * UNIT), c: (0, 0)})
    # Activation committed the payout and moved nothing.
    assert t.committedPayout() == 30 * UNIT and t.reserve() == RESERVE and t.freeReserve() == RESERVE - 30 * UNIT
    tx = env.settle(r, b)  # anyone may settle anyone
    assert dict(event(tx, "Settled")) == {"modelId": b, "round": r.round, "payout": 0, "burn": 40 * UNIT}
    assert "SettlementClamped" not in tx.events
    assert t.stakeOf(b) == 960 * UNIT
    assert t.burnDue() == 40 * UNIT  # destroyed at the next activation (or flushBurns)
    s = state(t, b)
    assert (s["cumulativeBurn"], s["settledRound"], s["netDeposits"]) == (40 * UNIT, r.round, 1_000 * UNIT)
    env.settle(r, a)
    assert t.stakeOf(a) == 1_030 * UNIT
    assert t.reserve() == RESERVE - 30 * UNIT and t.committedPayout() == 0
    supply = env.token.totalSupply()
    tx = t.flushBurns({"from": env.keeper})
    assert event(tx, "BurnsFlushed")["amount"] == 40 * UNIT
    assert env.token.totalSupply() == supply - 40 * UNIT and t.burnDue() == 0
    env.solvent()


def test_settling_twice_applies_nothing_twice(env, models):
    t = env.t
    a, _, _ = models
    r1 = env.full_round({a: (30 * UNIT, 0)}, model_ids=models)
    env.settle(r1, a)
    assert_reverts_with("AlreadySettled", t.settle, *r1.settle_args(a), {"from": env.keeper}, expect=(a, r1.round))
    assert t.stakeOf(a) == 1_030 * UNIT


def test_the_newest_root_settles_every_earlier_round_at_once(env, models):
    t = env.t
    a, b, _ = models
    r1 = env.full_round({a: (30 * UNIT, 0), b: (0, 20 * UNIT)}, model_ids=models)
    r2 = env.full_round({a: (0, 10 * UNIT), b: (5 * UNIT, 0)})
    tx = env.settle(r2, a)
    assert (event(tx, "Settled")["payout"], event(tx, "Settled")["burn"]) == (30 * UNIT, 10 * UNIT)
    assert t.stakeOf(a) == 1_020 * UNIT
    assert_reverts_with("AlreadySettled", t.settle, *r1.settle_args(a), {"from": env.keeper}, expect=(a, r2.round))
    env.settle(r1, b)
    tx = env.settle(r2, b)
    assert (event(tx, "Settled")["payout"], event(tx, "Settled")["burn"]) == (5 * UNIT, 0)
    assert t.stakeOf(b) == 985 * UNIT
    env.solvent()


def test_settle_requires_an_active_root_and_a_valid_proof(env, models):
    t = env.t
    a, b, _ = models
    r1 = env.full_round({a: (30 * UNIT, 0)}, model_ids=models)
    r2 = env.full_round({a: (10 * UNIT, 0)}, activate=False)
    assert_reverts_with("RootNotActive", t.settle, *r2.settle_args(a), {"from": env.keeper}, expect=(r2.round,))
    assert_reverts_with("RootNotActive", t.settle, 0, a, 0, 0, [], {"from": env.keeper}, expect=(0,))
    assert_reverts_with("RootNotActive", t.settle, 9, a, 0, 0, [], {"from": env.keeper}, expect=(9,))
    round_, model, payout, burn, proof = r1.settle_args(a)
    assert_reverts_with("InvalidProof", t.settle, round_, model, payout + 1, burn, proof, {"from": env.keeper})
    assert_reverts_with("InvalidProof", t.settle, round_, model, payout, burn + 1, proof, {"from": env.keeper})
    assert_reverts_with("InvalidProof", t.settle, round_, b, payout, burn, proof, {"from": env.keeper})
    assert_reverts_with("InvalidProof", t.settle, round_, model, payout, burn, proof[:-1], {"from": env.keeper})
    assert_reverts_with("InvalidProof", t.settle, r1.round, *r2.settle_args(a)[1:], {"from": env.keeper})


def test_one_round_bounds_are_exact_caps_of_the_stake_at_risk(env, models):
    t = env.t
    a, b, c = models
    d = env.register(env.carol, 1_000 * UNIT)
    pay_cap, burn_cap = 1_000 * UNIT * PAYOUT_CAP_BPS // 10_000, 1_000 * UNIT * BURN_CAP_BPS // 10_000
    assert single_round_bounds(1_000 * UNIT, CAPS) == (pay_cap, 1_000 * UNIT - burn_cap)
    # Exactly the caps settle untouched; one wei more is clamped to the cap.
    r = env.full_round({a: (pay_cap, 0), b: (0, burn_cap), c: (pay_cap + 1, 0), d: (0, burn_cap + 1)})
    assert plain(t.settlementBounds(a, r.round)) == (pay_cap, 1_000 * UNIT - burn_cap)
    for m in (a, b):
        assert "SettlementClamped" not in env.settle(r, m).events
    clamp = event(env.settle(r, c), "SettlementClamped")
    assert (clamp["leafPayout"], clamp["leafBurn"], clamp["payout"], clamp["burn"]) == (pay_cap + 1, 0, pay_cap, 0)
    clamp = event(env.settle(r, d), "SettlementClamped")
    assert (clamp["leafPayout"], clamp["leafBurn"], clamp["payout"], clamp["burn"]) == (0, burn_cap + 1, 0, burn_cap)
    assert t.stakeOf(c) == 1_000 * UNIT + pay_cap and t.stakeOf(d) == 1_000 * UNIT - burn_cap
    # The leaf is recorded, and the net deposits absorbed the clamped difference so the stake is the real amount.
    s = state(t, d)
    assert (s["cumulativePayout"], s["cumulativeBurn"], s["netDeposits"]) == (0, burn_cap + 1, 1_000 * UNIT + 1)
    assert s["netDeposits"] + s["cumulativePayout"] - s["cumulativeBurn"] == s["stake"]
    env.solvent()


def test_the_burn_bound_is_on_the_round_result_not_on_each_side(env, models):
    t = env.t
    a = models[0]
    pay_cap = burn_cap = 50 * UNIT
    # A leaf that pays the cap and burns a little more than the cap: the model still ends within one round's
    # worst honest outcome (it lost no more than the burn cap), so only the excess payout is clamped.
    r = env.full_round({a: (pay_cap + 1, burn_cap + 1)}, model_ids=models)
    tx = env.settle(r, a)
    assert (event(tx, "Settled")["payout"], event(tx, "Settled")["burn"]) == (pay_cap, burn_cap + 1)
    assert t.stakeOf(a) == 1_000 * UNIT - 1


def test_many_unsettled_rounds_settle_within_the_compounded_bounds(env, models):
    t = env.t
    a, b, _c = models
    rounds = []
    # Five rounds: a is paid the cap every round, b burned the cap every round (compounding), c gets nothing.
    pa, ba = 1_000 * UNIT, 1_000 * UNIT
    for _ in range(5):
        dp = pa * PAYOUT_CAP_BPS // 10_000
        db = ba * BURN_CAP_BPS // 10_000
        rounds.append(env.full_round({a: (dp, 0), b: (0, db)}, model_ids=models))
        pa, ba = pa + dp, ba - db
    last = rounds[-1]
    caps = [RoundCaps(r.round, True, PAYOUT_CAP_BPS, BURN_CAP_BPS) for r in rounds]
    max_pay, min_stake = honest_bounds(1_000 * UNIT, caps)
    got_pay, got_min = t.settlementBounds(a, last.round)
    # The contract's bounds contain the exact ones, within the stated slack (1e-12 relative + a few wei).
    assert max_pay <= got_pay <= max_pay * (1 + Fraction(1, 10**11)) + 10
    assert min_stake * (1 - Fraction(1, 10**11)) - 10 <= got_min <= min_stake
    # The honest extremes settle untouched.
    assert "SettlementClamped" not in env.settle(last, a).events
    assert "SettlementClamped" not in env.settle(last, b).events
    assert t.stakeOf(a) == pa and t.stakeOf(b) == ba
    env.solvent()


def test_a_leaf_over_the_compounded_bound_settles_to_it(env, models):
    t = env.t
    _a, b, _ = models
    env.full_round({}, model_ids=models)
    env.full_round({})
    r = env.full_round({b: (0, 900 * UNIT)})  # three rounds at 5%: b can lose at most 1 - 0.95^3
    _, min_stake = honest_bounds(1_000 * UNIT, [RoundCaps(i, True, PAYOUT_CAP_BPS, BURN_CAP_BPS) for i in (1, 2, 3)])
    tx = env.settle(r, b)
    clamp = event(tx, "SettlementClamped")
    assert clamp["leafBurn"] == 900 * UNIT
    assert min_stake * (1 - Fraction(1, 10**11)) - 10 <= t.stakeOf(b) <= min_stake
    env.solvent()


def test_lapsed_rounds_add_nothing_to_the_bound(env, models):
    t = env.t
    a, _, _ = models
    env.full_round({}, model_ids=models)
    r2 = env.open_and_close()
    env.lapse(r2)
    r3 = env.full_round({a: (0, 10_000 * UNIT)})
    # Between the model's settlement (round 0) and round 3 only rounds 1 and 3 were active.
    _, min_stake = honest_bounds(
        1_000 * UNIT, [RoundCaps(1, True, 500, 500), RoundCaps(2, False, 500, 500), RoundCaps(3, True, 500, 500)]
    )
    got = t.settlementBounds(a, r3.round)[1]
    assert min_stake * (1 - Fraction(1, 10**11)) - 10 <= got <= min_stake
    env.settle(r3, a)
    assert t.stakeOf(a) == got


def test_a_model_with_nothing_at_risk_is_neither_paid_nor_burned(env, models):
    t = env.t
    a = models[0]
    empty = env.register(env.bob)  # no stake at all
    r = env.full_round({empty: (50 * UNIT, 50 * UNIT), a: (0, 0)})
    tx = env.settle(r, empty)
    assert (event(tx, "Settled")["payout"], event(tx, "Settled")["burn"]) == (0, 0)
    # Nothing paid, and nothing discharged either: a leaf discharges at most its honest bound, so it cannot erase
    # the payouts committed to other models. What the round declared stays committed (at most one round's cap).
    assert t.stakeOf(empty) == 0 and t.committedPayout() == 50 * UNIT
    env.solvent()


def test_payouts_never_exceed_what_activation_committed(env, models):
    t = env.t
    a, b, _ = models
    # The root declares 10 in total but its leaves claim 50 each (within each model's cap).
    r = env.open_and_close()
    res = env.propose(r, env.leaves_for({a: (50 * UNIT, 0), b: (50 * UNIT, 0)}, models), payout=10 * UNIT, burn=0)
    env.activate(r)
    tx = env.settle(res, a)
    assert event(tx, "Settled")["payout"] == 10 * UNIT
    tx = env.settle(res, b)
    assert event(tx, "Settled")["payout"] == 0
    # The rest of the reserve stays free for the next rounds.
    assert t.freeReserve() == RESERVE - 10 * UNIT and t.reserve() == RESERVE - 10 * UNIT
    env.solvent()


def test_a_lower_leaf_applies_nothing_and_freezes_nothing(env, models):
    t = env.t
    a, _, _ = models
    r1 = env.full_round({a: (30 * UNIT, 10 * UNIT)}, model_ids=models)
    env.settle(r1, a)
    # A (bad) later root lowers a's cumulative values: nothing applies, the recorded values stay, a still settles.
    r2 = env.open_and_close()
    low = env.propose(r2, [SettlementLeaf(m, 0, 0) for m in models], payout=0, burn=0)
    env.activate(r2)
    tx = env.settle(low, a)
    assert (event(tx, "Settled")["payout"], event(tx, "Settled")["burn"]) == (0, 0)
    s = state(t, a)
    assert (s["cumulativePayout"], s["cumulativeBurn"], s["settledRound"]) == (30 * UNIT, 10 * UNIT, r2)
    assert t.stakeOf(a) == 1_020 * UNIT


def test_leaf_values_beyond_any_supply_saturate_instead_of_freezing(env, models):
    t = env.t
    a, b, _ = models
    r = env.open_and_close()
    huge = 2**200
    values = [(a, huge, 0), (b, 0, huge)]
    tree = StandardMerkleTree.of(values, ("uint256", "uint256", "uint256"), sort_leaves=False)
    t.proposeRoot(r, tree.root, 0, 0, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
    env.activate(r)
    for i, (m, p, bu) in enumerate(values):
        t.settle(r, m, p, bu, tree.get_proof(i), {"from": env.keeper})
    assert t.stakeOf(a) == 1_000 * UNIT  # nothing committed: nothing paid
    assert t.stakeOf(b) == 950 * UNIT  # burned at most its cap
    assert state(t, b)["cumulativeBurn"] == 2**94 - 1
    env.solvent()


# ---------------------------------------------------------------- batches


def test_batch_settles_contiguous_models_with_one_multiproof(env, models):
    t = env.t
    a, b, c = models
    r = env.full_round({a: (30 * UNIT, 0), b: (0, 40 * UNIT), c: (10 * UNIT, 0)})
    tx = t.settleBatch(*r.batch_args(models), {"from": env.keeper})
    assert tx.return_value == 3
    e = event(tx, "BatchSettled")
    assert (e["count"], e["settled"], e["paid"], e["burned"]) == (3, 3, 40 * UNIT, 40 * UNIT)
    assert [t.stakeOf(m) for m in models] == [1_030 * UNIT, 960 * UNIT, 1_010 * UNIT]
    # A second batch skips models already settled, and a batch with a clamped model settles the others.
    tx = t.settleBatch(*r.batch_args(models), {"from": env.keeper})
    assert tx.return_value == 0
    env.solvent()


def test_batch_clamps_a_bad_leaf_and_settles_everyone_else(env, models):
    t = env.t
    a, b, c = models
    ghost = 77  # an id nobody registered
    r = env.full_round({a: (0, 999 * UNIT), b: (0, 10 * UNIT), c: (0, 0), ghost: (5 * UNIT, 0)})
    tx = t.settleBatch(*r.batch_args([a, b, c, ghost]), {"from": env.keeper})
    assert tx.return_value == 3  # the ghost settles nothing and blocks nothing
    assert_reverts_with("UnknownModel", t.settle, *r.settle_args(ghost), {"from": env.keeper}, expect=(ghost,))
    assert event(tx, "SettlementClamped")["modelId"] == a
    assert [t.stakeOf(m) for m in models] == [950 * UNIT, 990 * UNIT, 1_000 * UNIT]
    env.solvent()


def test_batch_rejects_an_empty_or_forged_multiproof(env, models):
    t = env.t
    a, b, _ = models
    r = env.full_round({a: (30 * UNIT, 0)}, model_ids=models)
    assert_reverts_with("EmptyBatch", t.settleBatch, r.round, [], [r.tree.root], [], {"from": env.keeper})
    rnd, leaves, proof, flags = r.batch_args([a, b])
    leaves[0] = (a, 30 * UNIT + 1, 0)
    assert_reverts_with("InvalidProof", t.settleBatch, rnd, leaves, proof, flags, {"from": env.keeper})
    assert_reverts_with("RootNotActive", t.settleBatch, rnd + 1, *r.batch_args([a, b])[1:], {"from": env.keeper})
