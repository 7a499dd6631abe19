"""Gas benchmark of the tournament contracts on a local Anvil (its default hardfork: Osaka).

Measures, in gas used per transaction:
- ``round_<n>``: propose + activate of one round whose settlement tree has n leaves (steady state: the previous
  round is active, so the proposal reads real previous totals);
- ``settle_single_100000``: one model settled with a depth-17 proof from a 100,000-leaf tree, in steady state
  (the model was settled in an earlier round, as every model is after its first round); ``_burned`` is the same
  for a model whose result is a burn, and ``flush_burns`` the transaction that then destroys that burn;
- ``settle_batch_256_per_model``: 256 contiguous models settled with one multiproof, divided by 256 (steady state);
  ``settle_batch_256_first_per_model`` is the same for models never settled before;
- ``stake``, ``stake_with_permit``, ``request_withdrawal``, ``withdraw``;
- ``lapse``: ``lapseRound`` of a closed round the oracle never proposed (anyone may call it once the round is
  ``LAPSE_PERIOD`` past its close);
- ``exit``: the guaranteed exit: a withdrawal requested after a close whose round then lapses, taken with
  ``withdraw`` (the model settled through the last active round before it).

Burns are deferred: a single settlement adds the model's burn to ``burnDue``; a batch settlement (or
``flushBurns``) destroys everything due with one ``burn`` call, so batch figures include their burns and a single
settlement's burn costs a share of the next batch (or one ``flushBurns``). Activation moves no tokens.

Only the models the benchmark settles are registered on-chain; the other leaves of the 100,000-leaf tree are zero
amounts for ids that are never settled. What a settlement costs depends on the proof's depth and on the settled
model's storage, not on how many other models exist, so this measures the same transaction a full tournament runs.

Run with ``make bench-gas``; writes ``bench/results/gas.json`` and prints a table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from eth_account import Account

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oracle.chain.deploy import DeployParams  # noqa: E402
from oracle.chain.tx import Sender  # noqa: E402
from oracle.protocol.permit import permit_signature  # noqa: E402
from oracle.settlement.leaves import SettlementLeaf, multiproof_for, proof_for, settlement_tree  # noqa: E402
from oracle.testing.local import local_tournament  # noqa: E402

UNIT = 10**18
CHALLENGE_PERIOD = 3600
TARGETS = {
    "round": 120_000,
    "settle_single_100000": 60_000,
    "settle_batch_256_per_model": 12_000,
    "stake": 90_000,
    "stake_with_permit": 90_000,
    "request_withdrawal": 90_000,
}


class Bench:
    """One deployment on a fresh Anvil: a token, a tournament, the models it registered, and its rounds' leaves."""

    def __init__(self, n_registered: int) -> None:
        params = DeployParams(token_supply=10**9 * UNIT, challenge_period=CHALLENGE_PERIOD)
        self.lapse_period = params.lapse_period
        local = local_tournament(params=params, reserve=10**6 * UNIT)
        self.anvil, self.w3 = local.node, local.w3
        # The keeper (a third party with ether) is the participant here.
        self.admin, self.oracle, self.participant = local.admin, local.oracle, local.keeper
        self.token, self.t = local.token, local.tournament
        self.admin.transact(self.token.functions.transfer(self.participant.address, 10**7 * UNIT))
        self.participant.transact(self.token.functions.approve(self.t.address, 2**256 - 1))
        self.gas: dict[str, int] = {}
        self.cumulative: dict[int, tuple[int, int]] = {}
        for i in range(n_registered):
            self.participant.transact(self.t.functions.registerModel())
            receipt = self.participant.transact(self.t.functions.stake(i + 1, 1_000 * UNIT))
            if i == 0:
                self.gas["stake"] = receipt["gasUsed"]
        self.n_registered = n_registered

    def close(self) -> None:
        self.anvil.stop()

    def sleep(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def run_round(self, n_leaves: int) -> tuple[int, tuple[int, object]]:
        """Open, close, propose and activate a round with n_leaves leaves; return (propose+activate gas, tree).

        Registered models alternate between a 1% payout and a 1% burn; the rest of the leaves carry zeros."""
        round_ = self.t.functions.roundCursor().call()[0] + 1
        self.oracle.transact(self.t.functions.openRound(self.now() + 120))
        self.sleep(121)
        self.oracle.transact(self.t.functions.closeRound(round_))
        leaves = []
        for model_id in range(1, n_leaves + 1):
            payout, burn = self.cumulative.get(model_id, (0, 0))
            if model_id <= self.n_registered:
                if model_id % 2:
                    payout += 10 * UNIT
                else:
                    burn += 10 * UNIT
                self.cumulative[model_id] = (payout, burn)
            leaves.append(SettlementLeaf(model_id, payout, burn))
        tree = settlement_tree(leaves)
        # The round's increases: 10 tokens per registered model, paid to the odd ids and burned from the even ones.
        total_payout = 10 * UNIT * ((self.n_registered + 1) // 2)
        total_burn = 10 * UNIT * (self.n_registered // 2)
        propose = self.oracle.transact(
            self.t.functions.proposeRoot(
                round_,
                tree.root,
                total_payout,
                total_burn,
                b"\xab" * 32,
                "file:///bench/rounds/manifest.json",
            )
        )
        self.sleep(CHALLENGE_PERIOD + 1)
        activate = self.oracle.transact(self.t.functions.activateRoot(round_))
        return propose["gasUsed"] + activate["gasUsed"], (round_, tree)

    def settle_single(self, round_: int, tree, model_id: int) -> int:
        p = proof_for(tree, model_id)
        leaf = p.leaf
        receipt = self.oracle.transact(
            self.t.functions.settle(round_, leaf.model_id, leaf.cumulative_payout, leaf.cumulative_burn, p.proof)
        )
        return receipt["gasUsed"]

    def settle_batch(self, round_: int, tree, model_ids: list[int]) -> int:
        mp = multiproof_for(tree, model_ids)
        leaves = [leaf.as_tuple() for leaf in mp.leaves]
        fn = self.t.functions.settleBatch(round_, leaves, mp.proof, mp.proof_flags)
        assert fn.call() == len(model_ids), "every model of the batch should be settled"
        return self.oracle.transact(fn)["gasUsed"]


def measure() -> dict[str, int]:
    gas: dict[str, int] = {}

    # Rounds of 10 and 1,000 models, every one registered and staked.
    for n in (10, 1_000):
        b = Bench(n)
        try:
            b.run_round(n)  # round 1: the first round has no previous totals to read
            gas[f"round_{n}"], _ = b.run_round(n)
            if n == 10:
                gas["stake"] = b.gas["stake"]
        finally:
            b.close()

    # 100,000 leaves: 300 registered models (ids 1..300), the rest zero leaves.
    b = Bench(300)
    try:
        _, (r1, tree1) = b.run_round(100_000)
        gas["settle_single_100000_first"] = b.settle_single(r1, tree1, 1)
        gas["settle_batch_256_first_per_model"] = b.settle_batch(r1, tree1, list(range(11, 267))) // 256
        for model_id in range(2, 11):
            b.settle_single(r1, tree1, model_id)
        gas["round_100000"], (r2, tree2) = b.run_round(100_000)
        gas["settle_single_100000"] = b.settle_single(r2, tree2, 1)
        # A burned model (even id): the settlement leaves its burn due; flushBurns destroys it (a batch would too).
        gas["settle_single_100000_burned"] = b.settle_single(r2, tree2, 2)
        gas["flush_burns"] = b.participant.transact(b.t.functions.flushBurns())["gasUsed"]
        gas["settle_batch_256_per_model"] = b.settle_batch(r2, tree2, list(range(11, 267))) // 256

        # Withdrawal: request, then withdraw once the model is settled through the rounds it was at risk in.
        gas["request_withdrawal"] = b.participant.transact(b.t.functions.requestWithdrawal(1, 100 * UNIT))["gasUsed"]
        gas["withdraw"] = b.participant.transact(b.t.functions.withdraw(1))["gasUsed"]

        # The guaranteed exit: round 3 closes, model 1 asks for more, the oracle never proposes round 3; once it is
        # LAPSE_PERIOD past its close anyone lapses it, and the withdrawal pays (model 1 is settled through round 2,
        # the last active round before the request).
        b.oracle.transact(b.t.functions.openRound(b.now() + 120))
        b.sleep(121)
        b.oracle.transact(b.t.functions.closeRound(3))
        b.participant.transact(b.t.functions.requestWithdrawal(1, 100 * UNIT))
        b.sleep(b.lapse_period)
        gas["lapse"] = b.participant.transact(b.t.functions.lapseRound(3))["gasUsed"]
        gas["exit"] = b.participant.transact(b.t.functions.withdraw(1))["gasUsed"]

        # stakeWithPermit from a fresh holder with no allowance, signing locally.
        holder = Account.create()
        local = Sender(b.w3, holder)
        b.admin.send_ether(holder.address, 10**18)
        b.admin.transact(b.token.functions.transfer(holder.address, 10_000 * UNIT))
        local.transact(b.t.functions.registerModel())
        model_id = b.t.functions.modelCount().call()
        deadline = b.now() + 3600
        nonce = b.token.functions.nonces(holder.address).call()
        v, r, s = permit_signature(holder, b.token, b.t.address, 1_000 * UNIT, deadline, b.w3.eth.chain_id, nonce=nonce)
        receipt = local.transact(b.t.functions.stakeWithPermit(model_id, 1_000 * UNIT, deadline, v, r, s))
        assert b.token.functions.allowance(holder.address, b.t.address).call() == 0, "permit should be consumed"
        gas["stake_with_permit"] = receipt["gasUsed"]
    finally:
        b.close()
    return gas


def main() -> None:
    gas = measure()
    order = [
        "round_10",
        "round_1000",
        "round_100000",
        "settle_single_100000",
        "settle_batch_256_per_model",
        "stake",
        "stake_with_permit",
        "request_withdrawal",
        "withdraw",
        "settle_single_100000_first",
        "settle_batch_256_first_per_model",
        "settle_single_100000_burned",
        "flush_burns",
        "lapse",
        "exit",
    ]
    result = {k: gas[k] for k in order}
    out = ROOT / "bench" / "results" / "gas.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'transaction':<36}{'gas':>10}{'target':>10}")
    for key, value in result.items():
        target = TARGETS.get("round" if key.startswith("round_") else key)
        mark = "" if target is None else f"{target:>10}" + ("  ok" if value <= target else "  MISSED")
        print(f"{key:<36}{value:>10}{mark}")
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
