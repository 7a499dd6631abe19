"""A keeper's ``settle --all`` reads every model's progress in batches (the contract's ``modelStates`` view), not one
call per model: bounded reads, counted on the wire, with the same answers."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from oracle.bundle.write import write_round_bundle
from oracle.chain.connection import connect
from oracle.participant.settle import READ_PAGE, settle_all
from oracle.scoring.params import RoundParams
from oracle.scoring.pipeline import score_round
from oracle.settlement.leaves import cumulative_leaves, settlement_tree, totals
from oracle.testing.bulk import register_models_bulk
from oracle.testing.rpc_counter import RpcCounter

MODELS = 400
PARAMS = RoundParams(corr_weight=1.0, mmc_weight=0.0, clip=0.05, payout_threshold=10**30)


def activated_round(chain, store: Path, model_ids: list[int]) -> int:
    """Round 1 closed, a bundle whose tree has a leaf for every model published, its root proposed and activated."""
    closes_at = chain.now() + 1000
    chain.oracle.transact(chain.tournament.functions.openRound(closes_at))
    chain.advance(1001)
    chain.oracle.transact(chain.tournament.functions.closeRound(1))
    ids = [f"n{i}" for i in range(8)]
    predictions = pd.DataFrame({"id": ids, str(model_ids[0]): [0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.8, 0.6]})
    targets = pd.DataFrame({"id": ids, "target": [0.0, 0.25, 0.5, 0.75, 1.0, 0.25, 0.75, 0.5]})
    stakes = pd.DataFrame({"model": [str(m) for m in model_ids], "model_id": model_ids, "stake_at_risk": 0})
    scores = score_round(predictions, targets, stakes.rename(columns={"stake_at_risk": "stake"}), PARAMS).scores
    leaves = cumulative_leaves({}, {}, {}, model_ids)
    _, uri, digest = write_round_bundle(
        store,
        1,
        predictions=predictions,
        targets=targets,
        stakes=stakes,
        scores=scores,
        params=PARAMS,
        previous_cumulative={},
        leaves=leaves,
    )
    payout, burn = totals(leaves)
    chain.oracle.transact(
        chain.tournament.functions.proposeRoot(1, settlement_tree(leaves).root, payout, burn, digest, uri)
    )
    chain.advance(700)
    chain.keeper.transact(chain.tournament.functions.activateRoot(1))
    return 1


def test_settle_all_reads_model_states_in_batches(chain, participants, tmp_path: Path) -> None:
    owners = register_models_bulk(
        chain.w3, chain.deployment, [p.account for p in participants], MODELS // len(participants)
    )
    model_ids = sorted(owners)
    assert len(model_ids) == MODELS
    round_ = activated_round(chain, tmp_path / "store", model_ids)

    with RpcCounter(chain.url) as rpc:
        # One read per model (a sample of them), then all of them a page at a time.
        sample = model_ids[::20]
        keeper = connect(rpc.url, chain.deployment_file, chain.keeper.account)
        rpc.reset()
        one_by_one = {m: keeper.client.model_state(m) for m in sample}
        assert rpc.total("eth_call") == len(sample) and rpc.total("eth_chainId") == 0  # the chain id is cached
        rpc.reset()
        batched = keeper.client.model_states(model_ids, page=READ_PAGE)
        assert rpc.total("eth_call") == math.ceil(MODELS / READ_PAGE)
        assert {m: batched[m] for m in sample} == one_by_one  # the same answers
        assert len(batched) == MODELS and all(state.registered for state in batched.values())

        keeper = connect(rpc.url, chain.deployment_file, chain.keeper.account)
        rpc.reset()
        result = settle_all(keeper, batch_size=128)
        assert result.round == round_ and result.settled == model_ids and result.skipped == []
        assert len(result.transactions) == math.ceil(MODELS / 128)
        # The cursor, the round's status and the model states: at most one read per 100 models all told.
        assert rpc.total("eth_call") <= MODELS / 100, rpc.snapshot()
    keeper = connect(chain.url, chain.deployment_file, chain.keeper.account)
    after = keeper.client.model_states(model_ids)
    assert {m: state.settled_round for m, state in after.items()} == dict.fromkeys(model_ids, round_)
    assert after[model_ids[7]] == keeper.client.model_state(model_ids[7])
    again = settle_all(keeper)
    assert again.settled == [] and again.skipped == model_ids and again.transactions == []


def test_events_decode_as_web3_decodes_them(chain, participants, tmp_path: Path) -> None:
    """The client's own event decoder (eth_abi, for speed) gives web3's answer for every event a round emits."""
    owners = register_models_bulk(chain.w3, chain.deployment, [p.account for p in participants[:2]], 3)
    activated_round(chain, tmp_path / "store", sorted(owners))
    keeper = connect(chain.url, chain.deployment_file, chain.keeper.account)
    settle_all(keeper)
    client = keeper.client
    logs = chain.w3.eth.get_logs({"address": chain.tournament.address, "fromBlock": chain.deployment.block})
    names = set()
    for log in logs:
        event = client._decode(log)
        assert event is not None
        expected = getattr(chain.tournament.events, event.name)().process_log(log)["args"]
        assert event.args == dict(expected), event.name
        names.add(event.name)
    assert {
        "ModelRegistered",
        "RoundOpened",
        "RoundClosed",
        "RootProposed",
        "RootActivated",
        "BatchSettled",
        "RoleGranted",
    } <= names
