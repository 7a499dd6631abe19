"""The stake-at-risk replay over ledger events (pure: no chain)."""

from oracle.chain.client import ChainEvent
from oracle.chain.replay import replay_stakes_at_risk

OWNER = "0x" + "11" * 20
UNIT = 10**18


def ev(name: str, position: int, **args) -> ChainEvent:
    return ChainEvent(name=name, args=args, block=position, log_index=0, tx_hash="0x" + "00" * 32)


def test_a_covered_burn_shortfall_raises_net_deposits_like_the_contract():
    """150 burned from a 100 stake: before the settlement is covered the model's stake at risk floors at zero,
    after it the covered 50 lifts net deposits so the next round's stake at risk counts the model's new stake."""
    events = [
        ev("ModelRegistered", 1, modelId=1, owner=OWNER, firstRound=1),
        ev("Staked", 2, modelId=1, owner=OWNER, amount=100 * UNIT),
    ]
    previous = {1: (0, 150 * UNIT)}
    assert replay_stakes_at_risk(events, previous)[0] == {1: 0}
    covered = events + [ev("BurnShortfallCovered", 3, modelId=1, round=1, shortfall=50 * UNIT)]
    assert replay_stakes_at_risk(covered, previous)[0] == {1: 0}
    topped_up = covered + [ev("Staked", 4, modelId=1, owner=OWNER, amount=30 * UNIT)]
    # On-chain: net deposits 100 + 50 + 30 = 180, minus the cumulative burn of 150 = a stake of 30.
    assert replay_stakes_at_risk(topped_up, previous)[0] == {1: 30 * UNIT}


def test_pending_withdrawals_leave_the_stake_at_risk_and_withdrawals_clear_them():
    events = [
        ev("ModelRegistered", 1, modelId=7, owner=OWNER, firstRound=1),
        ev("Staked", 2, modelId=7, owner=OWNER, amount=1_000),
        ev("WithdrawalRequested", 3, modelId=7, amount=400, pendingAmount=400, afterRound=1),
    ]
    assert replay_stakes_at_risk(events, {7: (50, 10)})[0] == {7: 1_000 + 50 - 10 - 400}
    paid = events + [ev("Withdrawn", 4, modelId=7, owner=OWNER, amount=400)]
    assert replay_stakes_at_risk(paid, {7: (50, 10)})[0] == {7: 1_000 - 400 + 50 - 10}
