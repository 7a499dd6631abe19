"""What a forger or a hostile token can try against the mechanics (proofs, leaves, reentrancy), and why each
attempt fails. The attacks of the security review (H-1 .. L-9) are in test_regressions.py."""

import pytest
from brownie import ReentrantToken, Tournament, chain
from conftest import (
    ACTIVE,
    CHALLENGE,
    GUARDIAN_ROLE,
    MANIFEST_HASH,
    MANIFEST_URI,
    MIN_ROUND_LENGTH,
    ORACLE_ROLE,
    UNIT,
    assert_reverts_with,
    decode_error,
    event,
    now,
    params,
    travel,
)

from oracle.merkle import keccak256, leaf_hash, node_hash, process_proof
from oracle.settlement import SettlementLeaf, settlement_tree

ENCODING = ("uint256", "uint256", "uint256")


@pytest.fixture
def models(env):
    return [env.register(owner, 1_000 * UNIT) for owner in (env.alice, env.bob, env.carol, env.alice)]


def test_reusing_an_old_root_moves_nothing(env, models):
    t = env.t
    a, b = models[:2]
    r1 = env.full_round({a: (40 * UNIT, 0), b: (0, 40 * UNIT)}, model_ids=models)
    env.settle(r1, a)
    # Round 2 re-proposes round 1's root: the cumulative leaves are the same, so nothing new is owed.
    r2 = env.open_and_close()
    t.proposeRoot(r2, r1.tree.root, 0, 0, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
    env.activate(r2)
    tx = t.settle(r2, *r1.settle_args(a)[1:], {"from": env.keeper})
    assert (event(tx, "Settled")["payout"], event(tx, "Settled")["burn"]) == (0, 0)
    assert t.stakeOf(a) == 1_040 * UNIT
    assert_reverts_with("AlreadySettled", t.settle, r2, *r1.settle_args(a)[1:], {"from": env.keeper}, expect=(a, r2))
    env.solvent()


def test_zero_root_and_empty_multiproof_are_rejected(env, models):
    t = env.t
    r = env.full_round({models[0]: (1 * UNIT, 0)}, model_ids=models)
    r2 = env.open_and_close()
    assert_reverts_with(
        "ZeroRoot", t.proposeRoot, r2, "0x" + "00" * 32, 0, 0, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle}
    )
    # With no leaves, OpenZeppelin's multiproof "proves" proof[0] against itself: passing the root as proof[0]
    # would verify. The batch refuses empty leaves outright.
    assert_reverts_with("EmptyBatch", t.settleBatch, r.round, [], [r.tree.root], [], {"from": env.keeper})


def test_an_inner_node_cannot_pass_as_a_leaf(env, models):
    t = env.t
    r = env.full_round({m: (i * UNIT, 0) for i, m in enumerate(models)})
    tree = r.tree
    # Take a real inner node and its two real children from the tree (heap layout: children of i at 2i+1, 2i+2).
    nodes = [bytes.fromhex(h[2:]) for h in tree.dump()["tree"]]
    inner = 1
    left, right = nodes[2 * inner + 1], nodes[2 * inner + 2]
    assert node_hash(left, right) == nodes[inner]
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
        assert_reverts_with(
            "AccessControlUnauthorizedAccount",
            t.proposeRoot,
            r,
            "0x" + "55" * 32,
            0,
            0,
            MANIFEST_HASH,
            MANIFEST_URI,
            {"from": intruder},
            expect=(intruder.address, ORACLE_ROLE),
        )
    t.proposeRoot(r, "0x" + "55" * 32, 0, 0, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
    assert_reverts_with(
        "AccessControlUnauthorizedAccount",
        t.vetoRoot,
        r,
        {"from": env.oracle},
        expect=(env.oracle.address, GUARDIAN_ROLE),
    )
    travel(CHALLENGE + 1)
    t.activateRoot(r, {"from": env.keeper})
    assert_reverts_with("UnexpectedRoundStatus", t.vetoRoot, r, {"from": env.guardian}, expect=(r, ACTIVE))


def test_a_burn_cannot_be_escaped_by_withdrawing_first(env, models):
    t = env.t
    a = models[0]
    r1 = env.open_and_close()
    # Requested after round 1 closed: the whole stake is at risk in round 1.
    t.requestWithdrawal(a, 1_000 * UNIT, {"from": env.alice})
    lapses_at = t.roundInfo(r1)["lapsesAt"]
    assert_reverts_with("RoundNotResolved", t.withdraw, a, {"from": env.alice}, expect=(r1, lapses_at))
    res = env.propose(r1, env.leaves_for({a: (0, 50 * UNIT)}, models))
    env.activate(r1)
    assert_reverts_with("UnsettledRounds", t.withdraw, a, {"from": env.alice}, expect=(a, 0, r1))
    before = env.token.balanceOf(env.alice)
    tx = t.settleAndWithdraw(*res.settle_args(a), {"from": env.alice})
    assert tx.return_value == 950 * UNIT
    assert env.token.balanceOf(env.alice) == before + 950 * UNIT


# ---------------------------------------------------------------- a hostile token


@pytest.fixture
def hostile(env):
    """A tournament over ReentrantToken. The token itself is a participant (model 1, staked 1,000) so that a
    reentrant withdraw would pass the owner check if the guard were missing."""
    token = ReentrantToken.deploy(10**9 * UNIT, env.admin, {"from": env.admin})
    t = Tournament.deploy(params(token, env.admin, env.oracle, env.guardian, env.pauser), {"from": env.admin})
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
    return token.balanceOf(t) == t.stakeOf(1) + t.stakeOf(2) + t.reserve() + t.burnDue()


def test_reentrant_withdraw_is_stopped_by_the_guard(env, hostile):
    token, t = hostile
    token.execute(t, t.requestWithdrawal.encode_input(1, 400 * UNIT), {"from": env.alice})
    token.arm(t, t.withdraw.encode_input(1), True)
    # The payout transfer calls back into withdraw: the guard reverts the inner call, the token bubbles it up.
    assert_reverts_with(
        "ReentrancyGuardReentrantCall", token.execute, t, t.withdraw.encode_input(1), {"from": env.alice}
    )
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
    assert t.reserve() == 10_010 * UNIT
    assert consistent(token, t)


def test_reentry_during_the_activation_burn_is_stopped(env, hostile):
    token, t = hostile
    t.openRound(now() + MIN_ROUND_LENGTH + 10, {"from": env.oracle})
    chain.sleep(MIN_ROUND_LENGTH + 11)
    t.closeRound(1, {"from": env.oracle})
    tree = settlement_tree([SettlementLeaf(1, 0, 50 * UNIT), SettlementLeaf(2, 0, 0)])
    t.proposeRoot(1, tree.root, 0, 50 * UNIT, MANIFEST_HASH, MANIFEST_URI, {"from": env.oracle})
    travel(CHALLENGE + 1)
    t.activateRoot(1, {"from": env.keeper})
    t.settle(1, 1, 0, 50 * UNIT, tree.get_proof(0), {"from": env.keeper})
    assert t.burnDue() == 50 * UNIT
    # The burn of flushBurns calls back into flushBurns: the guard stops it; nothing is burned twice.
    token.arm(t, t.flushBurns.encode_input(), True)
    assert_reverts_with("ReentrancyGuardReentrantCall", t.flushBurns, {"from": env.keeper})
    token.disarm()
    supply = token.totalSupply()
    t.flushBurns({"from": env.keeper})
    assert token.totalSupply() == supply - 50 * UNIT and t.burnDue() == 0
    assert consistent(token, t)
