"""What a stolen oracle key, a forger or a hostile token can try, and why each attempt fails."""

import pytest
from brownie import ReentrantToken, Tournament, chain

from conftest import (ACTIVE, CHALLENGE, GUARDIAN_ROLE, MANIFEST_HASH, MANIFEST_URI, ORACLE_ROLE, RESERVE, UNIT,
                      assert_reverts_with, decode_error, event, now, travel)
from oracle.merkle import keccak256, leaf_hash, node_hash, process_proof
from oracle.settlement import SettlementLeaf, settlement_tree

ENCODING = ("uint256", "uint256", "uint256")


@pytest.fixture
def models(env):
    return [env.register(owner, 1_000 * UNIT) for owner in (env.alice, env.bob, env.carol, env.alice)]


# ---------------------------------------------------------------- a stolen oracle key


def test_a_stolen_oracle_key_cannot_burn_or_pay_beyond_the_caps_or_reserve(env, models):
    t = env.t
    r = env.open_and_close()
    at_risk = 4_000 * UNIT
    cap = at_risk * 500 // 10_000
    burn_all = env.leaves_for({m: (0, 1_000 * UNIT) for m in models})
    tree = settlement_tree(burn_all)
    assert_reverts_with("BurnCapExceeded", t.proposeRoot, r, tree.root, 0, 4_000 * UNIT, at_risk, MANIFEST_HASH,
                        MANIFEST_URI, {"from": env.oracle}, expect=(r, 4_000 * UNIT, cap))
    # Inflating the stake at risk to widen the cap is refused too.
    assert_reverts_with("StakeAtRiskTooHigh", t.proposeRoot, r, tree.root, 0, 4_000 * UNIT, 80_000 * UNIT,
                        MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
    t.proposeRoot(r, tree.root, 0, 0, at_risk, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
    # Paying more than the reserve holds: with a 100% payout cap and a whale, only the reserve bound is left.
    t.setBounds(CHALLENGE, 10_000, 500, {"from": env.admin})
    env.register(env.admin, 200_000 * UNIT)
    r2 = env.open_and_close()
    assert_reverts_with("PayoutExceedsReserve", t.proposeRoot, r2, tree.root, RESERVE + 1, 0, 204_000 * UNIT,
                        MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle}, expect=(r2, RESERVE + 1, RESERVE))
    t.proposeRoot(r2, tree.root, RESERVE, 0, 204_000 * UNIT, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})


def test_the_most_a_stolen_key_gets_through_is_one_rounds_cap_and_the_guardian_can_stop_it(env, models):
    t = env.t
    r = env.open_and_close()
    at_risk = 4_000 * UNIT
    cap = at_risk * 500 // 10_000
    leaves = [SettlementLeaf(models[0], 0, cap)] + [SettlementLeaf(m, 0, 0) for m in models[1:]]
    tree = settlement_tree(leaves)
    t.proposeRoot(r, tree.root, 0, cap, at_risk, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
    supply = env.token.totalSupply()
    t.vetoRoot(r, {"from": env.guardian})
    travel(CHALLENGE + 1)
    assert_reverts_with("UnexpectedRoundStatus", t.activateRoot, r, {"from": env.keeper})
    assert env.token.totalSupply() == supply


def test_cumulative_values_cannot_be_lowered_or_replayed(env, models):
    t = env.t
    a, b = models[:2]
    r1 = env.full_round({a: (40 * UNIT, 0), b: (0, 40 * UNIT)}, at_risk=4_000 * UNIT, model_ids=models)
    # Lowering the round totals: refused at proposal.
    r2 = env.open_and_close()
    assert_reverts_with("CumulativeDecreased", t.proposeRoot, r2, "0x" + "44" * 32, 39 * UNIT, 40 * UNIT,
                        4_000 * UNIT, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle}, expect=(r2,))
    # Reusing round 1's root for round 2 moves nothing: the cumulative leaves are the same.
    tx = t.proposeRoot(r2, r1.tree.root, r1.payout, r1.burn, 4_000 * UNIT, MANIFEST_HASH, MANIFEST_URI,
                       {"from": env.oracle})
    travel(CHALLENGE + 1)
    tx = t.activateRoot(r2, {"from": env.keeper})
    assert (event(tx, "RootActivated")["paid"], event(tx, "RootActivated")["burned"]) == (0, 0)
    t.settle(*r1.settle_args(a), {"from": env.keeper})
    # Replaying round 1's leaf against round 2's (identical) root finds nothing new: already applied.
    tx = t.settle(r2, *r1.settle_args(a)[1:], {"from": env.keeper})
    assert (event(tx, "Settled")["payoutDelta"], event(tx, "Settled")["burnDelta"]) == (0, 0)
    assert t.stakeOf(a) == 1_040 * UNIT
    assert_reverts_with("AlreadySettled", t.settle, r2, *r1.settle_args(a)[1:], {"from": env.keeper},
                        expect=(a, r2))


def test_zero_root_and_empty_multiproof_are_rejected(env, models):
    t = env.t
    r = env.full_round({models[0]: (1 * UNIT, 0)}, at_risk=4_000 * UNIT, model_ids=models)
    r2 = env.open_and_close()
    assert_reverts_with("ZeroRoot", t.proposeRoot, r2, "0x" + "00" * 32, r.payout, r.burn, 4_000 * UNIT,
                        MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
    # With no leaves, OpenZeppelin's multiproof "proves" proof[0] against itself: passing the root as proof[0]
    # would verify. The batch refuses empty leaves outright.
    assert_reverts_with("EmptyBatch", t.settleBatch, r.round, [], [r.tree.root], [], {"from": env.keeper})


def test_an_inner_node_cannot_pass_as_a_leaf(env, models):
    t = env.t
    r = env.full_round({m: (i * UNIT, 0) for i, m in enumerate(models)}, at_risk=4_000 * UNIT)
    tree = r.tree
    # Take a real inner node and its two real children from the tree (heap layout: children of i at 2i+1, 2i+2).
    nodes = [bytes.fromhex(h[2:]) for h in tree.dump()["tree"]]
    inner = 1
    left, right = nodes[2 * inner + 1], nodes[2 * inner + 2]
    assert node_hash(left, right) == nodes[inner]
    # Its proof (the sibling path from node 1 to the root) is genuine.
    proof = ["0x" + nodes[2].hex()]
    assert process_proof(nodes[inner], proof) == nodes[0]
    lo, hi = sorted((left, right))
    # With a single-hashed 64-byte leaf, (lo, hi) would *be* the inner node: the second-preimage attack.
    assert keccak256(lo + hi) == nodes[inner]
    # The contract double-hashes a 96-byte leaf, so the forged values do not reach the inner node.
    assert leaf_hash(ENCODING, (int.from_bytes(lo, "big"), int.from_bytes(hi, "big"), 0)) != nodes[inner]
    lo_int, hi_int = int.from_bytes(lo, "big"), int.from_bytes(hi, "big")
    for forged in ((lo_int, hi_int, 0), (0, lo_int, hi_int)):
        assert_reverts_with("InvalidProof", t.settle, r.round, *forged, proof, {"from": env.keeper})


def test_only_the_oracle_proposes_and_nobody_vetoes_an_active_root(env, models):
    t = env.t
    r = env.open_and_close()
    for intruder in (env.admin, env.guardian, env.alice):
        assert_reverts_with("AccessControlUnauthorizedAccount", t.proposeRoot, r, "0x" + "55" * 32, 0, 0, 0,
                            MANIFEST_HASH, MANIFEST_URI, {"from": intruder}, expect=(intruder.address, ORACLE_ROLE))
    t.proposeRoot(r, "0x" + "55" * 32, 0, 0, 0, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
    assert_reverts_with("AccessControlUnauthorizedAccount", t.vetoRoot, r, {"from": env.oracle},
                        expect=(env.oracle.address, GUARDIAN_ROLE))
    travel(CHALLENGE + 1)
    t.activateRoot(r, {"from": env.keeper})
    assert_reverts_with("UnexpectedRoundStatus", t.vetoRoot, r, {"from": env.guardian}, expect=(r, ACTIVE))


def test_a_burn_cannot_be_escaped_by_withdrawing_first(env, models):
    t = env.t
    a = models[0]
    r1 = env.open_and_close()
    r2 = env.open_and_close()
    # Requested after both closes: the whole stake is at risk in rounds 1 and 2.
    t.requestWithdrawal(a, 1_000 * UNIT, {"from": env.alice})
    assert_reverts_with("UnsettledRounds", t.withdraw, a, {"from": env.alice}, expect=(a, 0, r2))
    res1 = env.propose(r1, env.leaves_for({}, models), 4_000 * UNIT)
    env.activate(r1)
    t.settle(*res1.settle_args(a), {"from": env.keeper})
    # Round 1 settled, round 2 not even proposed: still locked.
    assert_reverts_with("UnsettledRounds", t.withdraw, a, {"from": env.alice}, expect=(a, r1, r2))
    res2 = env.propose(r2, env.leaves_for({a: (0, 50 * UNIT)}), 4_000 * UNIT)
    # An older, active root cannot stand in for the pending one.
    assert_reverts_with("UnsettledRounds", t.settleAndWithdraw, *res1.settle_args(a), {"from": env.alice},
                        expect=(a, r1, r2))
    env.activate(r2)
    before = env.token.balanceOf(env.alice)
    tx = t.settleAndWithdraw(*res2.settle_args(a), {"from": env.alice})
    assert tx.return_value == 950 * UNIT
    assert env.token.balanceOf(env.alice) == before + 950 * UNIT


def test_a_leaf_for_a_model_that_was_never_registered_settles_nothing(env, models):
    t = env.t
    ghost = 99
    leaves = env.leaves_for({models[0]: (1 * UNIT, 0), ghost: (10 * UNIT, 0)}, models)
    rd = env.open_and_close()
    r = env.propose(rd, leaves, 4_000 * UNIT)
    env.activate(rd)
    assert_reverts_with("UnknownModel", t.settle, *r.settle_args(ghost), {"from": env.keeper}, expect=(ghost,))
    assert_reverts_with("UnknownModel", t.settleBatch, *r.batch_args([models[-1], ghost]), {"from": env.keeper},
                        expect=(ghost,))
    assert t.stakeOf(ghost) == 0


# ---------------------------------------------------------------- a hostile token


@pytest.fixture
def hostile(env):
    """A tournament over ReentrantToken. The token itself is a participant (model 1, staked 1,000) so that a
    reentrant withdraw would pass the owner check if the guard were missing."""
    token = ReentrantToken.deploy(10**9 * UNIT, env.admin, {"from": env.admin})
    t = Tournament.deploy(token, env.admin, CHALLENGE, 500, 500, {"from": env.admin})
    t.grantRole(ORACLE_ROLE, env.oracle, {"from": env.admin})
    token.approve(t, 2**256 - 1, {"from": env.admin})
    t.fundReserve(10_000 * UNIT, {"from": env.admin})
    token.transfer(token, 5_000 * UNIT, {"from": env.admin})
    token.execute(token, token.approve.encode_input(t, 2**256 - 1), {"from": env.alice})
    token.execute(t, t.registerModel.encode_input(), {"from": env.alice})
    token.execute(t, t.stake.encode_input(1, 1_000 * UNIT), {"from": env.alice})
    token.transfer(env.alice, 5_000 * UNIT, {"from": env.admin})
    token.approve(t, 2**256 - 1, {"from": env.alice})
    t.registerModel({"from": env.alice})  # model 2, alice's
    return token, t


def consistent(token, t):
    return token.balanceOf(t) == t.stakedPool() + t.rewardReserve()


def test_reentrant_withdraw_is_stopped_by_the_guard(env, hostile):
    token, t = hostile
    token.execute(t, t.requestWithdrawal.encode_input(1, 400 * UNIT), {"from": env.alice})
    token.arm(t, t.withdraw.encode_input(1), True)
    # The payout transfer calls back into withdraw: the guard reverts the inner call, the token bubbles it up.
    assert_reverts_with("ReentrancyGuardReentrantCall", token.execute, t, t.withdraw.encode_input(1),
                        {"from": env.alice})
    # Swallowing the failure instead: the outer withdraw completes once, the inner one was refused.
    token.arm(t, t.withdraw.encode_input(1), False)
    before = token.balanceOf(token)
    token.execute(t, t.withdraw.encode_input(1), {"from": env.alice})
    assert token.callbackAttempts() >= 1 and not token.lastCallbackSucceeded()
    assert decode_error(token.lastRevertData())[0] == "ReentrancyGuardReentrantCall"
    assert token.balanceOf(token) == before + 400 * UNIT
    assert t.stakeOf(1) == 600 * UNIT
    assert consistent(token, t)


def test_reentrant_stake_and_fund_reserve_are_stopped_by_the_guard(env, hostile):
    token, t = hostile
    token.arm(t, t.stake.encode_input(1, 1 * UNIT), True)
    assert_reverts_with("ReentrancyGuardReentrantCall", t.stake, 2, 10 * UNIT, {"from": env.alice})
    token.arm(t, t.fundReserve.encode_input(1 * UNIT), True)
    assert_reverts_with("ReentrancyGuardReentrantCall", t.fundReserve, 10 * UNIT, {"from": env.alice})
    assert_reverts_with("ReentrancyGuardReentrantCall", t.stake, 2, 10 * UNIT, {"from": env.alice})
    # Swallowed: each outer call lands once, the reentrant one never does.
    token.arm(t, t.fundReserve.encode_input(1 * UNIT), False)
    t.stake(2, 10 * UNIT, {"from": env.alice})
    t.fundReserve(10 * UNIT, {"from": env.alice})
    assert decode_error(token.lastRevertData())[0] == "ReentrancyGuardReentrantCall"
    assert t.stakeOf(2) == 10 * UNIT
    assert t.reserveFunded() == 10_010 * UNIT
    assert consistent(token, t)


def test_reentry_during_the_activation_burn_is_stopped(env, hostile):
    token, t = hostile
    t.openRound(now() + 10, {"from": env.oracle})
    chain.sleep(11)
    t.closeRound(1, {"from": env.oracle})
    token.execute(t, t.requestWithdrawal.encode_input(1, 100 * UNIT), {"from": env.alice})
    tree = settlement_tree([SettlementLeaf(1, 0, 50 * UNIT), SettlementLeaf(2, 0, 0)])
    t.proposeRoot(1, tree.root, 0, 50 * UNIT, 1_000 * UNIT, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
    travel(CHALLENGE + 1)
    token.arm(t, t.withdraw.encode_input(1), True)
    assert_reverts_with("ReentrancyGuardReentrantCall", t.activateRoot, 1, {"from": env.keeper})
    token.disarm()
    supply = token.totalSupply()
    t.activateRoot(1, {"from": env.keeper})
    assert token.totalSupply() == supply - 50 * UNIT
    assert consistent(token, t)
