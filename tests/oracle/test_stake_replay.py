"""The stake-at-risk replay over ledger events (pure: no chain). The end-to-end test
``tests/e2e/test_stake_rule.py`` checks the same rule against the contract's own bounds."""

import pytest

from oracle.chain.client import ChainEvent
from oracle.chain.replay import replay_ledger, replay_stakes_at_risk, round_stakes

OWNER = "0x" + "11" * 20
UNIT = 10**18


def ev(name: str, position: int, **args) -> ChainEvent:
    return ChainEvent(name=name, args=args, block=position, log_index=0, tx_hash="0x" + "00" * 32)


def registered(model_id: int, position: int = 0) -> ChainEvent:
    return ev("ModelRegistered", position, modelId=model_id, owner=OWNER, settledRound=0)


def staked(model_id: int, position: int, amount: int) -> ChainEvent:
    return ev("Staked", position, modelId=model_id, owner=OWNER, amount=amount, atRiskFrom=1)


def test_pending_withdrawals_leave_the_stake_at_risk_and_withdrawals_clear_them():
    events = [
        registered(7, 1),
        staked(7, 2, 1_000),
        ev("WithdrawalRequested", 3, modelId=7, amount=400, pending=400, afterRound=1),
    ]
    assert replay_stakes_at_risk(events, {7: (50, 10)})[0] == {7: 1_000 + 50 - 10 - 400}
    paid = events + [ev("Withdrawn", 4, modelId=7, owner=OWNER, amount=400)]
    assert replay_stakes_at_risk(paid, {7: (50, 10)})[0] == {7: 1_000 - 400 + 50 - 10}


def test_a_second_request_sets_the_whole_pending_amount():
    events = [
        registered(1, 1),
        staked(1, 2, 1_000),
        ev("WithdrawalRequested", 3, modelId=1, amount=100, pending=100, afterRound=0),
        ev("WithdrawalRequested", 4, modelId=1, amount=250, pending=350, afterRound=0),
    ]
    assert replay_stakes_at_risk(events, {})[0] == {1: 650}


def test_lowered_and_cancelled_withdrawals_put_the_released_amount_back_at_risk():
    base = [
        registered(1, 1),
        staked(1, 2, 1_000),
        ev("WithdrawalRequested", 3, modelId=1, amount=600, pending=600, afterRound=0),
    ]
    lowered = base + [ev("WithdrawalLowered", 4, modelId=1, pending=200, atRiskFrom=1)]
    cancelled = base + [ev("WithdrawalLowered", 4, modelId=1, pending=0, atRiskFrom=1)]
    assert replay_stakes_at_risk(base, {})[0] == {1: 400}
    assert replay_stakes_at_risk(lowered, {})[0] == {1: 800}
    assert replay_stakes_at_risk(cancelled, {})[0] == {1: 1_000}


def test_a_clamped_settlement_folds_the_difference_into_net_deposits():
    """A bad root's leaf claimed a payout of 90 and a burn of 40 over the recorded values; the contract applied 5 and
    10: net deposits move by (40 - 10) - (90 - 5) = -55, so net + leaf payout - leaf burn is the real stake."""
    events = [
        registered(1, 1),
        staked(1, 2, 1_000),
        ev("SettlementClamped", 3, modelId=1, round=1, leafPayout=90, leafBurn=40, payout=5, burn=10),
    ]
    assert replay_ledger(events)[1].net_deposits == 1_000 - 55
    # The next round builds on the bad leaf's cumulative values (90, 40): the stake is 1,000 + 5 - 10.
    assert replay_stakes_at_risk(events, {1: (90, 40)})[0] == {1: 995}


def test_zero_stake_models_stay_out_of_the_round_but_keep_their_owner():
    events = [registered(1, 1), registered(2, 2), staked(1, 3, 500)]
    stakes = round_stakes(events, {})
    assert stakes.at_risk == {1: 500}
    assert set(stakes.owners) == {1, 2} and stakes.owners[2].lower() == OWNER
    assert stakes.stake == {1: 500, 2: 0}


def test_a_model_with_a_leaf_stays_in_the_round_even_at_zero():
    events = [registered(1, 1), staked(1, 2, 500), ev("Withdrawn", 3, modelId=1, owner=OWNER, amount=500)]
    assert replay_stakes_at_risk(events, {1: (0, 0)})[0] == {1: 0}
    assert replay_stakes_at_risk(events, {})[0] == {}


def test_a_model_whose_whole_stake_is_asked_back_is_in_the_round_at_zero():
    events = [
        registered(1, 1),
        staked(1, 2, 500),
        ev("WithdrawalRequested", 3, modelId=1, amount=500, pending=500, afterRound=0),
    ]
    stakes = round_stakes(events, {})
    assert stakes.at_risk == {1: 0} and stakes.stake == {1: 500}


def test_leaves_of_unregistered_ids_are_not_stakes():
    events = [registered(1, 1), staked(1, 2, 500)]
    assert replay_stakes_at_risk(events, {1: (0, 0), 99: (5, 0)})[0] == {1: 500}


def test_events_for_a_model_never_registered_are_refused():
    with pytest.raises(ValueError, match=r"model 3.*no ModelRegistered"):
        replay_ledger([staked(3, 1, 10)])
