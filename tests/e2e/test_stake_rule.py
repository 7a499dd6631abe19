"""The off-chain stake-at-risk rule is the contract's, exactly: for every model, the replay from chain events
(``TournamentClient.round_stakes``, what the operator scores and the auditor checks) gives the stake at risk from
which the contract's own per-model bounds (``settlementBounds``) are computed, through top-ups after a close
(tranches), withdrawals requested before and after a close, lowered and cancelled withdrawals, settled and unsettled
models. Leaves at the very edge of the bounds then settle without a single clamp."""

from __future__ import annotations

from pathlib import Path

from web3 import Web3

from oracle.chain.client import TournamentClient
from oracle.chain.deploy import UNIT
from oracle.settlement.leaves import cumulative_leaves, multiproof_for, settlement_tree

BPS = 10_000
MANIFEST_HASH = b"\xab" * 32


class Tournament:
    """Round steps and participant actions straight through the contract, with the honest leaves kept here."""

    def __init__(self, chain) -> None:
        self.chain = chain
        self.t = chain.tournament
        self.client = TournamentClient(chain.w3, chain.deployment)
        self.leaves: dict[int, tuple[int, int]] = {}
        self.trees: dict[int, object] = {}

    def register(self, participant, stake: int) -> int:
        sender = self.chain.sender(participant.account)
        receipt = sender.transact(self.t.functions.registerModel())
        model = int(self.t.events.ModelRegistered().process_receipt(receipt)[0]["args"]["modelId"])
        if stake:
            self.stake(participant, model, stake)
        return model

    def stake(self, participant, model: int, amount: int) -> None:
        sender = self.chain.sender(participant.account)
        sender.transact(self.chain.token.functions.approve(self.t.address, amount))
        sender.transact(self.t.functions.stake(model, amount))

    def open_and_close(self) -> int:
        round_ = self.client.cursor().last_closed + 1
        closes_at = self.chain.now() + 600
        self.chain.oracle.transact(self.t.functions.openRound(closes_at))
        self.chain.advance(601)
        self.chain.oracle.transact(self.t.functions.closeRound(round_))
        return round_

    def resolve(self, round_: int, at_risk: dict[int, int], winners: set[int]) -> None:
        """Propose and activate the round with every model at the edge of its bound: winners paid the payout cap of
        their stake at risk, the others burned the burn cap."""
        state = self.client.round_state(round_)
        payouts = {m: r * state.payout_cap_bps // BPS for m, r in at_risk.items() if m in winners}
        burns = {m: r * state.burn_cap_bps // BPS for m, r in at_risk.items() if m not in winners}
        leaves = cumulative_leaves(self.leaves, payouts, burns, set(self.leaves) | set(at_risk))
        tree = settlement_tree(leaves)
        self.chain.oracle.transact(
            self.t.functions.proposeRoot(
                round_,
                Web3.to_bytes(hexstr=tree.root),
                sum(payouts.values()),
                sum(burns.values()),
                MANIFEST_HASH,
                f"file:///rounds/{round_}.json",
            )
        )
        self.chain.advance(state.challenge_period + 1)
        self.chain.keeper.transact(self.t.functions.activateRoot(round_))
        self.leaves = {leaf.model_id: (leaf.cumulative_payout, leaf.cumulative_burn) for leaf in leaves}
        self.trees[round_] = tree

    def settle(self, round_: int, models: list[int]) -> None:
        proof = multiproof_for(self.trees[round_], models)
        self.chain.keeper.transact(
            self.t.functions.settleBatch(
                round_, [leaf.as_tuple() for leaf in proof.leaves], proof.proof, proof.proof_flags
            )
        )

    def bounds(self, model: int, round_: int) -> tuple[int, int]:
        max_payout, min_stake = self.t.functions.settlementBounds(model, round_).call()
        return int(max_payout), int(min_stake)


def test_the_replayed_stakes_at_risk_are_the_contracts(chain, participants, tmp_path: Path) -> None:
    tour = Tournament(chain)
    p = participants
    t = tour.t
    a = tour.register(p[0], 1_000 * UNIT)  # plain stake
    b = tour.register(p[1], 1_000 * UNIT)  # asks 300 back, lowers it to 100 before the close
    c = tour.register(p[2], 1_000 * UNIT)  # tops up 500 after the close: a tranche at risk from round 2
    d = tour.register(p[3], 1_000 * UNIT)  # asks 400 back before the close, cancels after it
    e = tour.register(p[0], 1_000 * UNIT)  # asks 200 back after the close: still at risk in round 1
    f = tour.register(p[1], 0)  # never stakes: no leaf
    g = tour.register(p[2], 700 * UNIT)  # never settled by anyone until the end
    sender = chain.sender
    sender(p[1].account).transact(t.functions.requestWithdrawal(b, 300 * UNIT))
    sender(p[1].account).transact(t.functions.lowerWithdrawal(b, 100 * UNIT))
    sender(p[3].account).transact(t.functions.requestWithdrawal(d, 400 * UNIT))
    r1 = tour.open_and_close()
    tour.stake(p[2], c, 500 * UNIT)
    sender(p[3].account).transact(t.functions.lowerWithdrawal(d, 0))
    sender(p[0].account).transact(t.functions.requestWithdrawal(e, 200 * UNIT))

    stakes1 = tour.client.round_stakes(r1, {})
    assert stakes1.at_risk == {
        a: 1_000 * UNIT,
        b: 900 * UNIT,
        c: 1_000 * UNIT,
        d: 600 * UNIT,
        e: 1_000 * UNIT,
        g: 700 * UNIT,
    }
    assert f not in stakes1.at_risk and f in stakes1.owners
    tour.resolve(r1, stakes1.at_risk, winners={a, c, e})
    state1 = tour.client.round_state(r1)
    for model, at_risk in stakes1.at_risk.items():
        stake = tour.client.stake_of(model)
        assert tour.bounds(model, r1) == (
            at_risk * state1.payout_cap_bps // BPS,
            stake - at_risk * state1.burn_cap_bps // BPS,
        ), model
    tour.settle(r1, [a, b, c, d, e])

    # Round 2: a asks 100 back before the close; c's tranche and d's cancelled request are at risk again; e's
    # request (made after round 1 closed) is not at risk in round 2.
    sender(p[0].account).transact(t.functions.requestWithdrawal(a, 100 * UNIT))
    r2 = tour.open_and_close()
    stakes2 = tour.client.round_stakes(r2, tour.leaves)
    expected = {m: 1_000 * UNIT + tour.leaves[m][0] - tour.leaves[m][1] for m in (a, b, c, d, e)}
    expected[a] -= 100 * UNIT
    expected[b] -= 100 * UNIT
    expected[c] += 500 * UNIT
    expected[e] -= 200 * UNIT
    expected[g] = 700 * UNIT + tour.leaves[g][0] - tour.leaves[g][1]
    assert stakes2.at_risk == expected
    tour.resolve(r2, stakes2.at_risk, winners={b, d, g})
    state2 = tour.client.round_state(r2)
    for model in (a, b, c, d, e):  # settled through round 1: round 2's caps apply exactly
        at_risk = stakes2.at_risk[model]
        stake = tour.client.stake_of(model)
        assert tour.bounds(model, r2) == (
            at_risk * state2.payout_cap_bps // BPS,
            stake - at_risk * state2.burn_cap_bps // BPS,
        ), model

    # Every leaf sits at the edge of its bound, g two rounds behind: everything settles, nothing is clamped, and
    # each stake is deposits - withdrawals + the leaf's payout - its burn.
    tour.settle(r2, [a, b, c, d, e, g])
    assert tour.client.events(["SettlementClamped"]) == []
    deposits = {a: 1_000, b: 1_000, c: 1_500, d: 1_000, e: 1_000, g: 700}
    for model, units in deposits.items():
        payout, burn = tour.leaves[model]
        state = tour.client.model_state(model)
        assert (state.cumulative_payout, state.cumulative_burn) == (payout, burn)
        assert state.stake == units * UNIT + payout - burn
    assert tour.client.model_state(f).settled_round == 0 and tour.client.stake_of(f) == 0
