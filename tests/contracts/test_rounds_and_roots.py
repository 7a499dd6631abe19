"""The oracle's side: opening and closing rounds, proposing, vetoing and activating roots; pausing; bounds;
views; roles. Caps and bounds are recomputed here from the rules (5% of the stake at risk, floored)."""

import pytest
from brownie import chain, web3
from eth_abi import encode
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from conftest import (ACTIVE, BPS, BURN_CAP_BPS, CHALLENGE, CLOSED, DEFAULT_ADMIN_ROLE, GUARDIAN_ROLE,
                      MANIFEST_HASH, MANIFEST_URI, NONE, OPEN, ORACLE_ROLE, PAUSER_ROLE, PAYOUT_CAP_BPS, PROPOSED,
                      RESERVE, SUPPLY, UNIT, VETOED, assert_reverts_with, event, now, permit_signature, plain, travel)
from oracle.merkle import leaf_hash
from oracle.settlement import SettlementLeaf, settlement_tree

ROOT = "0x" + "11" * 32


def cap(at_risk: int, bps: int) -> int:
    return at_risk * bps // BPS


@pytest.fixture
def staked(env):
    """Two models with 1,000 each; returns their ids."""
    return env.register(env.alice, 1_000 * UNIT), env.register(env.bob, 1_000 * UNIT)


def propose_args(round_, root=ROOT, payout=0, burn=0, at_risk=0):
    return (round_, root, payout, burn, at_risk, MANIFEST_HASH, MANIFEST_URI)


# ---------------------------------------------------------------- openRound / closeRound


def test_open_round_fixes_the_current_bounds_for_the_round(env):
    closes = now() + 100
    tx = env.t.openRound(closes, {"from": env.oracle})
    assert dict(event(tx, "RoundOpened")) == {"round": 1, "closesAt": closes, "challengePeriod": CHALLENGE,
                                              "payoutCapBps": PAYOUT_CAP_BPS, "burnCapBps": BURN_CAP_BPS}
    info, root = env.t.roundInfo(1)
    assert info["status"] == OPEN and info["closesAt"] == closes and root == "0x" + "00" * 32


def test_open_round_reverts(env):
    t = env.t
    assert_reverts_with("CloseTimeNotInFuture", t.openRound, now(), {"from": env.oracle}, expect=(now(),))
    env.open_round()
    # One round at a time: the next number is taken until the round closes.
    assert_reverts_with("RoundAlreadyOpen", t.openRound, now() + 100, {"from": env.oracle}, expect=(1,))


def test_close_round_snapshots_the_stake_at_risk(env, staked):
    t = env.t
    r = env.open_round(100)
    assert_reverts_with("RoundNotDue", t.closeRound, r, {"from": env.oracle})
    assert_reverts_with("UnexpectedRoundStatus", t.closeRound, 2, {"from": env.oracle}, expect=(2, NONE))
    chain.sleep(101)
    tx = t.closeRound(r, {"from": env.oracle})
    assert dict(event(tx, "RoundClosed")) == {"round": 1, "netDeposits": 2_000 * UNIT, "stakedPool": 2_000 * UNIT}
    info, _ = t.roundInfo(r)
    assert info["status"] == CLOSED and info["netDepositsAtClose"] == 2_000 * UNIT
    assert info["closedAt"] == web3.eth.get_block(tx.block_number)["timestamp"]
    assert plain(t.roundCursor()) == (1, 0)
    assert_reverts_with("UnexpectedRoundStatus", t.closeRound, r, {"from": env.oracle}, expect=(r, CLOSED))
    # The next round can open once this one closed.
    assert env.open_round() == 2


# ---------------------------------------------------------------- proposeRoot


def test_propose_records_the_root_and_starts_the_challenge_window(env, staked):
    a, b = staked
    r = env.open_and_close()
    leaves = env.leaves_for({a: (100 * UNIT, 0), b: (0, 100 * UNIT)})
    tree = settlement_tree(leaves)
    tx = env.t.proposeRoot(r, tree.root, 100 * UNIT, 100 * UNIT, 2_000 * UNIT, MANIFEST_HASH, MANIFEST_URI,
                           {"from": env.oracle})
    ts = web3.eth.get_block(tx.block_number)["timestamp"]
    ev = event(tx, "RootProposed")
    assert ev["root"] == tree.root and ev["manifestHash"] == MANIFEST_HASH and ev["manifestURI"] == MANIFEST_URI
    assert (ev["cumulativePayout"], ev["cumulativeBurn"], ev["totalStakeAtRisk"]) == (100 * UNIT, 100 * UNIT,
                                                                                      2_000 * UNIT)
    assert ev["activatesAt"] == ts + CHALLENGE
    info, root = env.t.roundInfo(r)
    assert root == tree.root
    assert (info["status"], info["cumulativePayout"], info["cumulativeBurn"], info["activatesAt"]) == (
        PROPOSED, 100 * UNIT, 100 * UNIT, ts + CHALLENGE)


def test_propose_reverts_on_zero_root_and_wrong_status(env, staked):
    t = env.t
    assert_reverts_with("UnexpectedRoundStatus", t.proposeRoot, *propose_args(1), {"from": env.oracle},
                        expect=(1, NONE))
    r = env.open_round()
    assert_reverts_with("UnexpectedRoundStatus", t.proposeRoot, *propose_args(r), {"from": env.oracle},
                        expect=(r, OPEN))
    chain.sleep(11)
    t.closeRound(r, {"from": env.oracle})
    assert_reverts_with("ZeroRoot", t.proposeRoot, *propose_args(r, root="0x" + "00" * 32), {"from": env.oracle})
    t.proposeRoot(*propose_args(r), {"from": env.oracle})
    # A pending root cannot be replaced without a veto.
    assert_reverts_with("UnexpectedRoundStatus", t.proposeRoot, *propose_args(r, root="0x" + "22" * 32),
                        {"from": env.oracle}, expect=(r, PROPOSED))
    env.activate(r)
    assert_reverts_with("UnexpectedRoundStatus", t.proposeRoot, *propose_args(r, root="0x" + "22" * 32),
                        {"from": env.oracle}, expect=(r, ACTIVE))


def test_rounds_are_proposed_strictly_in_order(env, staked):
    r1 = env.open_and_close()
    r2 = env.open_and_close()
    assert_reverts_with("PreviousRoundNotProposed", env.t.proposeRoot, *propose_args(r2), {"from": env.oracle},
                        expect=(r1,))
    env.t.proposeRoot(*propose_args(r1), {"from": env.oracle})
    env.t.proposeRoot(*propose_args(r2), {"from": env.oracle})  # pending rounds may queue


def test_cumulative_totals_may_not_decrease(env, staked):
    r1 = env.open_and_close()
    r2 = env.open_and_close()
    env.t.proposeRoot(*propose_args(r1, payout=50, burn=40, at_risk=2_000 * UNIT), {"from": env.oracle})
    assert_reverts_with("CumulativeDecreased", env.t.proposeRoot,
                        *propose_args(r2, payout=49, burn=40, at_risk=2_000 * UNIT), {"from": env.oracle},
                        expect=(r2,))
    assert_reverts_with("CumulativeDecreased", env.t.proposeRoot,
                        *propose_args(r2, payout=50, burn=39, at_risk=2_000 * UNIT), {"from": env.oracle},
                        expect=(r2,))


def test_stake_at_risk_is_bounded_by_the_stake_at_close(env, staked):
    a, _ = staked
    r1 = env.open_and_close()
    # Stake added after the close is not at risk in round 1.
    env.t.stake(a, 500 * UNIT, {"from": env.alice})
    assert_reverts_with("StakeAtRiskTooHigh", env.t.proposeRoot, *propose_args(r1, at_risk=2_000 * UNIT + 1),
                        {"from": env.oracle}, expect=(r1, 2_000 * UNIT + 1, 2_000 * UNIT))
    env.t.proposeRoot(*propose_args(r1, payout=100 * UNIT, burn=40 * UNIT, at_risk=2_000 * UNIT),
                      {"from": env.oracle})
    r2 = env.open_and_close()
    # Round 2's bound: net deposits at its close (2,500) plus round 1's net result (+100 - 40), pending or not.
    bound = 2_500 * UNIT + 100 * UNIT - 40 * UNIT
    assert_reverts_with("StakeAtRiskTooHigh", env.t.proposeRoot,
                        *propose_args(r2, payout=100 * UNIT, burn=40 * UNIT, at_risk=bound + 1),
                        {"from": env.oracle}, expect=(r2, bound + 1, bound))
    env.t.proposeRoot(*propose_args(r2, payout=100 * UNIT, burn=40 * UNIT, at_risk=bound), {"from": env.oracle})


def test_payout_and_burn_caps_are_floored_fractions_of_the_stake_at_risk(env, staked):
    r = env.open_and_close()
    at_risk = 1_999  # 5% of 1,999 is 99.95: the cap is 99
    assert cap(at_risk, PAYOUT_CAP_BPS) == 99
    assert_reverts_with("PayoutCapExceeded", env.t.proposeRoot, *propose_args(r, payout=100, at_risk=at_risk),
                        {"from": env.oracle}, expect=(r, 100, 99))
    assert_reverts_with("BurnCapExceeded", env.t.proposeRoot, *propose_args(r, burn=100, at_risk=at_risk),
                        {"from": env.oracle}, expect=(r, 100, 99))
    env.t.proposeRoot(*propose_args(r, payout=99, burn=99, at_risk=at_risk), {"from": env.oracle})
    # The caps apply to the round's increase, not to the cumulative value.
    r2 = env.open_and_close()
    assert_reverts_with("PayoutCapExceeded", env.t.proposeRoot,
                        *propose_args(r2, payout=99 + 101, burn=99, at_risk=2_000), {"from": env.oracle},
                        expect=(r2, 101, 100))
    env.t.proposeRoot(*propose_args(r2, payout=99 + 100, burn=99 + 100, at_risk=2_000), {"from": env.oracle})


def test_payouts_cannot_exceed_the_funded_reserve_counting_pending_rounds(env):
    # A whale makes 5% of the stake at risk larger than the whole reserve.
    whale = env.register(env.admin, 10_000_000 * UNIT)
    r1 = env.open_and_close()
    r2 = env.open_and_close()
    at_risk = 10_000_000 * UNIT
    assert cap(at_risk, PAYOUT_CAP_BPS) > RESERVE
    assert_reverts_with("PayoutExceedsReserve", env.t.proposeRoot,
                        *propose_args(r1, payout=RESERVE + 1, at_risk=at_risk), {"from": env.oracle},
                        expect=(r1, RESERVE + 1, RESERVE))
    env.t.proposeRoot(*propose_args(r1, payout=60_000 * UNIT, at_risk=at_risk), {"from": env.oracle})
    # Round 1 is still pending, yet its payout is already spoken for.
    r2_at_risk = at_risk + 60_000 * UNIT
    assert_reverts_with("PayoutExceedsReserve", env.t.proposeRoot,
                        *propose_args(r2, payout=60_000 * UNIT + 40_001 * UNIT, at_risk=r2_at_risk),
                        {"from": env.oracle}, expect=(r2, 100_001 * UNIT, RESERVE))
    env.t.proposeRoot(*propose_args(r2, payout=RESERVE, at_risk=r2_at_risk), {"from": env.oracle})
    assert whale == 1


def test_too_many_pending_rounds(env, staked):
    # Proposals may run at most 16 rounds ahead of the last activated one, so a pending root can never overwrite a
    # ring slot (64) that a settleable round (the last 48 active) still uses.
    assert (env.t.ROOT_HISTORY(), env.t.MAX_PENDING_ROUNDS(), env.t.SETTLEABLE_ROUNDS()) == (64, 16, 48)
    for r in range(1, 18):
        assert env.open_and_close() == r
        if r <= 16:
            env.t.proposeRoot(*propose_args(r, root="0x%064x" % r), {"from": env.oracle})
    assert_reverts_with("TooManyPendingRounds", env.t.proposeRoot, *propose_args(17), {"from": env.oracle},
                        expect=(17, 0))
    env.activate(1)
    env.t.proposeRoot(*propose_args(17), {"from": env.oracle})
    assert env.t.roundInfo(17)[1] == ROOT
    assert env.t.roundInfo(1)[1] == "0x%064x" % 1


# ---------------------------------------------------------------- vetoRoot


def test_veto_cascades_to_later_pending_rounds_and_allows_a_new_proposal(env, staked):
    t = env.t
    rounds = [env.open_and_close() for _ in range(3)]
    for r in rounds:
        t.proposeRoot(*propose_args(r), {"from": env.oracle})
    tx = t.vetoRoot(2, {"from": env.guardian})
    assert [(e["round"], e["guardian"]) for e in tx.events["RootVetoed"]] == [(2, env.guardian), (3, env.guardian)]
    assert [t.roundInfo(r)[0]["status"] for r in rounds] == [PROPOSED, VETOED, VETOED]
    # A vetoed round can be proposed again; round 3 must wait for it (it builds on round 2).
    assert_reverts_with("PreviousRoundNotProposed", t.proposeRoot, *propose_args(3), {"from": env.oracle},
                        expect=(2,))
    new_root = "0x" + "33" * 32
    t.proposeRoot(*propose_args(2, root=new_root), {"from": env.oracle})
    assert t.roundInfo(2)[1] == new_root
    assert_reverts_with("UnexpectedRoundStatus", t.vetoRoot, 3, {"from": env.guardian}, expect=(3, VETOED))


def test_veto_only_during_the_window_and_never_after_activation(env, staked):
    t = env.t
    r = env.open_and_close()
    assert_reverts_with("UnexpectedRoundStatus", t.vetoRoot, r, {"from": env.guardian}, expect=(r, CLOSED))
    tx = t.proposeRoot(*propose_args(r), {"from": env.oracle})
    activates_at = event(tx, "RootProposed")["activatesAt"]
    travel(CHALLENGE + 1)
    assert_reverts_with("ChallengeWindowClosed", t.vetoRoot, r, {"from": env.guardian}, expect=(r, activates_at))
    t.activateRoot(r, {"from": env.keeper})
    assert_reverts_with("UnexpectedRoundStatus", t.vetoRoot, r, {"from": env.guardian}, expect=(r, ACTIVE))


def test_a_new_proposal_never_resets_an_earlier_ones_clock(env, staked):
    t = env.t
    r1 = env.open_and_close()
    tx = t.proposeRoot(*propose_args(r1), {"from": env.oracle})
    first_activation = event(tx, "RootProposed")["activatesAt"]
    travel(CHALLENGE // 2)
    r2 = env.open_and_close()
    t.proposeRoot(*propose_args(r2), {"from": env.oracle})
    assert t.roundInfo(r1)[0]["activatesAt"] == first_activation


# ---------------------------------------------------------------- activateRoot


def test_activation_burns_exactly_the_burn_and_moves_the_payout_into_the_pool(env, staked):
    t, token = env.t, env.token
    a, b = staked
    r1 = env.open_and_close()
    env.propose(r1, env.leaves_for({a: (70 * UNIT, 0), b: (0, 90 * UNIT)}), 2_000 * UNIT)
    supply, held = token.totalSupply(), token.balanceOf(t)
    tx = env.activate(r1)
    assert dict(event(tx, "RootActivated")) == {"round": r1, "paid": 70 * UNIT, "burned": 90 * UNIT}
    assert token.totalSupply() == supply - 90 * UNIT
    assert token.balanceOf(t) == held - 90 * UNIT
    assert t.rewardReserve() == RESERVE - 70 * UNIT
    assert t.stakedPool() == 2_000 * UNIT + 70 * UNIT - 90 * UNIT
    assert plain(t.unsettledTotals()) == (70 * UNIT, 90 * UNIT)
    assert plain(t.roundCursor()) == (1, 1)
    # Round 2 moves only its increase over round 1's cumulative totals.
    r2 = env.open_and_close()
    env.propose(r2, env.leaves_for({a: (10 * UNIT, 5 * UNIT)}), 1_980 * UNIT)
    supply = token.totalSupply()
    tx = env.activate(r2)
    assert (event(tx, "RootActivated")["paid"], event(tx, "RootActivated")["burned"]) == (10 * UNIT, 5 * UNIT)
    assert token.totalSupply() == supply - 5 * UNIT
    assert plain(t.unsettledTotals()) == (80 * UNIT, 95 * UNIT)


def test_activation_reverts(env, staked):
    t = env.t
    r1 = env.open_and_close()
    r2 = env.open_and_close()
    assert_reverts_with("UnexpectedRoundStatus", t.activateRoot, r1, {"from": env.keeper}, expect=(r1, CLOSED))
    tx = t.proposeRoot(*propose_args(r1), {"from": env.oracle})
    t.proposeRoot(*propose_args(r2), {"from": env.oracle})
    activates_at = event(tx, "RootProposed")["activatesAt"]
    assert_reverts_with("ChallengeWindowOpen", t.activateRoot, r1, {"from": env.keeper},
                        expect=(r1, activates_at))
    travel(CHALLENGE + 1)
    assert_reverts_with("ActivationOutOfOrder", t.activateRoot, r2, {"from": env.keeper}, expect=(r2, r1))
    assert_reverts_with("ActivationOutOfOrder", t.activateRoot, 0, {"from": env.keeper}, expect=(0, r1))
    t.activateRoot(r1, {"from": env.keeper})
    assert_reverts_with("ActivationOutOfOrder", t.activateRoot, r1, {"from": env.keeper}, expect=(r1, r2))


def test_a_vetoed_root_cannot_be_activated(env, staked):
    r = env.open_and_close()
    env.t.proposeRoot(*propose_args(r), {"from": env.oracle})
    env.t.vetoRoot(r, {"from": env.guardian})
    travel(CHALLENGE + 1)
    assert_reverts_with("UnexpectedRoundStatus", env.t.activateRoot, r, {"from": env.keeper}, expect=(r, VETOED))


# ---------------------------------------------------------------- pause / unpause


def test_pause_blocks_money_in_and_out_and_proposals_but_not_settlement_or_activation(env, staked, local_holder):
    t, token = env.t, env.token
    a, b = staked
    t.requestWithdrawal(a, 10 * UNIT, {"from": env.alice})
    r1 = env.open_and_close()
    result = env.propose(r1, env.leaves_for({a: (10 * UNIT, 0), b: (0, 10 * UNIT)}), 2_000 * UNIT)
    r2 = env.open_and_close()
    pauser_balance = token.balanceOf(env.pauser)
    tx = t.pause({"from": env.pauser})
    assert event(tx, "Paused")["account"] == env.pauser
    holder, acct = local_holder
    m = env.register(acct)  # registering moves no funds and stays open
    deadline = now() + 3600
    sig = permit_signature(token, holder, t.address, 1, 0, deadline)
    blocked = [
        (t.stake, (a, 1, {"from": env.alice})),
        (t.stakeWithPermit, (m, 1, deadline, *sig, {"from": acct})),
        (t.requestWithdrawal, (a, 1, {"from": env.alice})),
        (t.withdraw, (a, {"from": env.alice})),
        (t.settleAndWithdraw, (*result.settle_args(a), {"from": env.alice})),
        (t.proposeRoot, (*propose_args(r2), {"from": env.oracle})),
    ]
    for fn, args in blocked:
        assert_reverts_with("EnforcedPause", fn, *args)
    # Results still flow: the root activates and anyone settles.
    env.activate(r1)
    t.settle(*result.settle_args(b), {"from": env.keeper})
    assert t.stakeOf(b) == 990 * UNIT
    t.fundReserve(1, {"from": env.bob})
    # The pauser gained nothing and can move nobody's funds.
    assert token.balanceOf(env.pauser) == pauser_balance
    assert_reverts_with("EnforcedPause", t.pause, {"from": env.pauser})
    tx = t.unpause({"from": env.pauser})
    assert event(tx, "Unpaused")["account"] == env.pauser
    assert_reverts_with("ExpectedPause", t.unpause, {"from": env.pauser})
    assert_reverts_with("NotModelOwner", t.withdraw, a, {"from": env.pauser}, expect=(a, env.pauser.address))
    t.stake(a, 1, {"from": env.alice})


# ---------------------------------------------------------------- setBounds


def test_set_bounds_validates_and_applies_only_to_rounds_opened_later(env, staked):
    t = env.t
    for bad in ((0, 500, 500), (3600, 10_001, 500), (3600, 500, 10_001)):
        assert_reverts_with("InvalidBounds", t.setBounds, *bad, {"from": env.admin}, expect=bad)
    t.setBounds(3600, 10_000, 0, {"from": env.admin})  # the extremes are allowed
    r1 = env.open_round()
    tx = t.setBounds(7200, 1_000, 200, {"from": env.admin})
    assert dict(event(tx, "BoundsSet")) == {"challengePeriod": 7200, "payoutCapBps": 1_000, "burnCapBps": 200}
    assert plain(t.bounds()) == (7200, 1_000, 200)
    chain.sleep(11)
    t.closeRound(r1, {"from": env.oracle})
    # Round 1 was opened under (3600, 100%, 0%): a 0 burn cap and an hour's window still apply to it.
    assert_reverts_with("BurnCapExceeded", t.proposeRoot, *propose_args(r1, burn=1, at_risk=2_000),
                        {"from": env.oracle}, expect=(r1, 1, 0))
    tx = t.proposeRoot(*propose_args(r1, payout=2_000, at_risk=2_000), {"from": env.oracle})
    assert event(tx, "RootProposed")["activatesAt"] == web3.eth.get_block(tx.block_number)["timestamp"] + 3600
    r2 = env.open_and_close()
    info, _ = t.roundInfo(r2)
    assert (info["challengePeriod"], info["payoutCapBps"], info["burnCapBps"]) == (7200, 1_000, 200)
    at_risk = 2_000 + 2_000  # round 1's payout is part of the stake at risk in round 2
    assert_reverts_with("PayoutCapExceeded", t.proposeRoot, *propose_args(r2, payout=2_000 + 401, at_risk=at_risk),
                        {"from": env.oracle}, expect=(r2, 401, 400))
    tx = t.proposeRoot(*propose_args(r2, payout=2_000 + 400, burn=80, at_risk=at_risk), {"from": env.oracle})
    assert event(tx, "RootProposed")["activatesAt"] == web3.eth.get_block(tx.block_number)["timestamp"] + 7200


# ---------------------------------------------------------------- views


def test_leaf_hash_is_the_openzeppelin_standard_leaf(env):
    for value in ((1, 0, 0), (7, 123 * UNIT, 45 * UNIT), (2**64, 2**96 - 1, 1)):
        assert env.t.leafHash(*value) == "0x" + leaf_hash(("uint256", "uint256", "uint256"), value).hex()


def test_submission_digest_is_the_eip712_digest_participants_sign(env):
    predictions = "0x" + keccak(text="predictions.parquet").hex()
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            "Submission": [
                {"name": "round", "type": "uint256"}, {"name": "modelId", "type": "uint256"},
                {"name": "predictionsHash", "type": "bytes32"}, {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Submission",
        "domain": {"name": "Tournament", "version": "1", "chainId": chain.id, "verifyingContract": env.t.address},
        "message": {"round": 3, "modelId": 42, "predictionsHash": predictions, "deadline": 1_900_000_000},
    }
    signable = encode_typed_data(full_message=typed)
    digest = keccak(b"\x19\x01" + signable.header + signable.body)
    assert env.t.submissionDigest(3, 42, predictions, 1_900_000_000) == "0x" + digest.hex()
    assert env.t.SUBMISSION_TYPEHASH() == "0x" + keccak(
        text="Submission(uint256 round,uint256 modelId,bytes32 predictionsHash,uint256 deadline)").hex()
    # Any field changes the digest (the signature binds all of them).
    assert env.t.submissionDigest(3, 43, predictions, 1_900_000_000) != "0x" + digest.hex()


def test_views_of_a_fresh_deployment(env):
    t = env.t
    assert t.token() == env.token
    assert (t.stakedPool(), t.rewardReserve(), t.reserveFunded(), t.totalNetDeposits()) == (0, RESERVE, RESERVE, 0)
    assert plain(t.unsettledTotals()) == (0, 0) and plain(t.roundCursor()) == (0, 0)
    assert plain(t.bounds()) == (CHALLENGE, PAYOUT_CAP_BPS, BURN_CAP_BPS)
    assert t.ROOT_HISTORY() == 64 and t.modelCount() == 0
    assert env.token.totalSupply() == SUPPLY


# ---------------------------------------------------------------- roles


def test_every_privileged_function_refuses_non_holders(env, staked):
    t = env.t
    r = env.open_round()
    privileged = [
        (DEFAULT_ADMIN_ROLE, t.setBounds, (3600, 500, 500)),
        (DEFAULT_ADMIN_ROLE, t.grantRole, (ORACLE_ROLE, env.carol)),
        (DEFAULT_ADMIN_ROLE, t.revokeRole, (ORACLE_ROLE, env.oracle)),
        (PAUSER_ROLE, t.pause, ()),
        (PAUSER_ROLE, t.unpause, ()),
        (ORACLE_ROLE, t.openRound, (now() + 100,)),
        (ORACLE_ROLE, t.closeRound, (r,)),
        (ORACLE_ROLE, t.proposeRoot, propose_args(r)),
        (GUARDIAN_ROLE, t.vetoRoot, (r,)),
    ]
    holders = {DEFAULT_ADMIN_ROLE: env.admin, PAUSER_ROLE: env.pauser, ORACLE_ROLE: env.oracle,
               GUARDIAN_ROLE: env.guardian}
    everyone = [env.admin, env.oracle, env.guardian, env.pauser, env.alice, env.keeper]
    checked = 0
    for role, fn, args in privileged:
        for caller in everyone:
            if caller == holders[role]:
                continue
            assert_reverts_with("AccessControlUnauthorizedAccount", fn, *args, {"from": caller},
                                expect=(caller.address, role))
            checked += 1
    assert checked == len(privileged) * (len(everyone) - 1)


def test_role_changes_are_evented(env):
    t = env.t
    tx = t.grantRole(ORACLE_ROLE, env.carol, {"from": env.admin})
    assert dict(event(tx, "RoleGranted")) == {"role": "0x" + ORACLE_ROLE.hex(), "account": env.carol,
                                              "sender": env.admin}
    assert t.hasRole(ORACLE_ROLE, env.carol)
    env.t.openRound(now() + 100, {"from": env.carol})  # the new holder can act
    tx = t.revokeRole(ORACLE_ROLE, env.carol, {"from": env.admin})
    assert dict(event(tx, "RoleRevoked")) == {"role": "0x" + ORACLE_ROLE.hex(), "account": env.carol,
                                              "sender": env.admin}
    assert_reverts_with("AccessControlUnauthorizedAccount", t.closeRound, 1, {"from": env.carol},
                        expect=(env.carol.address, ORACLE_ROLE))
    tx = t.renounceRole(GUARDIAN_ROLE, env.guardian, {"from": env.guardian})
    assert event(tx, "RoleRevoked")["account"] == env.guardian
    # Only the admin role administers the others.
    for role in (ORACLE_ROLE, GUARDIAN_ROLE, PAUSER_ROLE, DEFAULT_ADMIN_ROLE):
        assert t.getRoleAdmin(role) == "0x" + DEFAULT_ADMIN_ROLE.hex()
