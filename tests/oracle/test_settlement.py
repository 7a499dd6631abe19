"""oracle.settlement.leaves: leaf layout, validation, cumulative arithmetic, proofs the contracts accept."""

from __future__ import annotations

import json
import random
from typing import Any

import eth_abi
import pytest
from eth_utils import keccak

from oracle.settlement.leaves import (
    AMOUNT_LIMIT,
    LEAF_ENCODING,
    SettlementLeaf,
    cumulative_leaves,
    leaves_of_dump,
    multiproof_for,
    proof_for,
    read_dump_leaves,
    round_leaves,
    settlement_tree,
    totals,
    tree_model_ids,
)
from oracle.settlement.standard import StandardMerkleTree


def onchain_leaf(model_id: int, payout: int, burn: int) -> str:
    """keccak256(bytes.concat(keccak256(abi.encode(modelId, cumulativePayout, cumulativeBurn)))), via eth_abi."""
    inner = keccak(eth_abi.encode(["uint256", "uint256", "uint256"], [model_id, payout, burn]))
    return "0x" + keccak(inner).hex()


def sample_leaves(n: int, seed: int = 7) -> list[SettlementLeaf]:
    rng = random.Random(seed)
    ids = sorted(rng.sample(range(1, 10 * n + 10), n))
    return [SettlementLeaf(m, rng.getrandbits(90), rng.getrandbits(80)) for m in ids]


@pytest.fixture(scope="module")
def js_trees(merkle_js: Any) -> dict[str, Any]:
    """The JS library's tree over the same leaves, unsorted, with a contiguous-range multiproof."""
    leaves = sample_leaves(300)
    values = [[str(x) for x in leaf.as_tuple()] for leaf in leaves]
    [result] = merkle_js(
        [
            {
                "op": "of",
                "values": values,
                "encoding": list(LEAF_ENCODING),
                "sortLeaves": False,
                "proveIndices": [0, 137, 299],
                "multiproofs": [list(range(40, 296))],
                "dump": True,
            }
        ]
    )
    assert "error" not in result, result
    return {"leaves": leaves, **result}


def test_tree_matches_js_in_id_order(js_trees: dict[str, Any]) -> None:
    leaves = js_trees["leaves"]
    tree = settlement_tree(leaves)
    assert tree.root == js_trees["root"]
    assert [tree.get_proof(i) for i in (0, 137, 299)] == js_trees["indexProofs"]
    assert tree.dump() == js_trees["dump"]
    # id order, not hash order: leaf k sits at node 2n-2-k and is the k-th smallest id
    n = len(leaves)
    assert [tree.tree_index(k) for k in range(n)] == [2 * n - 2 - k for k in range(n)]
    assert [tree.at(k)[0] for k in range(n)] == sorted(leaf.model_id for leaf in leaves)


def test_leaf_is_the_onchain_double_hash() -> None:
    leaf = SettlementLeaf(42, 10**18, 5 * 10**16)
    tree = settlement_tree([leaf])
    assert tree.leaf_hash(leaf.as_tuple()) == onchain_leaf(42, 10**18, 5 * 10**16) == tree.root


def test_contiguous_range_multiproof_verifies_and_matches_js(js_trees: dict[str, Any]) -> None:
    leaves = js_trees["leaves"]
    tree = settlement_tree(leaves)
    ids = [leaf.model_id for leaf in leaves[40:296]]
    m = multiproof_for(tree, ids)
    [expected] = js_trees["multiproofs"]
    assert m.proof == expected["proof"]
    assert m.proof_flags == expected["proofFlags"]
    assert [[str(x) for x in leaf.as_tuple()] for leaf in m.leaves] == expected["leaves"]
    assert sorted(m.leaves, key=lambda leaf: leaf.model_id) == leaves[40:296]
    as_json = {"leaves": [leaf.as_tuple() for leaf in m.leaves], "proof": m.proof, "proofFlags": m.proof_flags}
    assert StandardMerkleTree.verify_multi_proof(tree.root, LEAF_ENCODING, as_json)
    # a contiguous range is cheap: far fewer proof nodes than one proof per model (256 * 9 here)
    assert len(m.proof) <= 2 * 9


def test_single_proof_for_model(js_trees: dict[str, Any]) -> None:
    leaves = js_trees["leaves"]
    tree = settlement_tree(leaves)
    p = proof_for(tree, leaves[137].model_id)
    assert p.leaf == leaves[137]
    assert p.proof == js_trees["indexProofs"][1]
    assert StandardMerkleTree.verify(tree.root, LEAF_ENCODING, p.leaf.as_tuple(), p.proof)
    with pytest.raises(ValueError, match="model 3 has no leaf"):
        proof_for(tree, 3)


def test_proofs_from_a_loaded_dump_give_int_leaves(js_trees: dict[str, Any]) -> None:
    loaded = StandardMerkleTree.load(json.dumps(js_trees["dump"]))  # values are decimal strings here
    leaf = js_trees["leaves"][0]
    p = proof_for(loaded, leaf.model_id)
    assert p.leaf == leaf and p.proof == js_trees["indexProofs"][0]
    assert multiproof_for(loaded, [leaf.model_id]).leaves == [leaf]


@pytest.mark.parametrize(
    "leaves, message",
    [
        ([], "at least one leaf"),
        ([SettlementLeaf(1, 0, 0), SettlementLeaf(1, 5, 0)], r"leaf 1: model_id 1 is duplicate"),
        ([SettlementLeaf(2, 0, 0), SettlementLeaf(1, 0, 0)], r"leaf 1: model_id 1 is out of order"),
        ([SettlementLeaf(-1, 0, 0)], r"leaf 0: model_id = -1 is outside"),
        ([SettlementLeaf(1, AMOUNT_LIMIT, 0)], r"cumulative_payout of model 1 = .* outside \[0, 2\*\*94\)"),
        ([SettlementLeaf(1, 0, -3)], r"cumulative_burn of model 1 = -3"),
        ([SettlementLeaf(1, 1.5, 0)], r"cumulative_payout of model 1 must be an int, got float"),  # type: ignore[arg-type]
        ([SettlementLeaf(1, True, 0)], r"must be an int, got bool"),  # type: ignore[arg-type]
        ([(1, 0, 0)], r"leaf 0: expected a SettlementLeaf, got tuple"),
    ],
)
def test_settlement_tree_rejects(leaves: list[Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settlement_tree(leaves)


def test_largest_amounts_are_accepted() -> None:
    top = AMOUNT_LIMIT - 1
    tree = settlement_tree([SettlementLeaf(2**256 - 1, top, top)])
    assert tree.root == onchain_leaf(2**256 - 1, top, top)


def test_cumulative_leaves_add_this_round_to_previous() -> None:
    previous = {1: (100, 7), 2: (50, 0), 9: (3, 3)}
    payouts = {1: 20, 4: 11}
    burns = {2: 5, 4: 0}
    leaves = cumulative_leaves(previous, payouts, burns, model_ids=[4, 2, 1, 6])
    assert leaves == [
        SettlementLeaf(1, 120, 7),
        SettlementLeaf(2, 50, 5),
        SettlementLeaf(4, 11, 0),  # new model starts at zero
        SettlementLeaf(6, 0, 0),  # listed without amounts: still gets a leaf
    ]
    assert totals(leaves) == (181, 12)


def test_cumulative_leaves_rejects_lost_money_and_overflow() -> None:
    with pytest.raises(ValueError, match=r"payouts has amounts for model ids not in model_ids: \[5\]"):
        cumulative_leaves({}, {5: 1}, {}, [1])
    with pytest.raises(ValueError, match=r"burns\[1\] = -1"):
        cumulative_leaves({}, {}, {1: -1}, [1])
    with pytest.raises(ValueError, match=r"cumulative_payout of model 1 = .* outside"):
        cumulative_leaves({1: (AMOUNT_LIMIT - 1, 0)}, {1: 1}, {}, [1])
    with pytest.raises(ValueError, match=r"previous\[1\] must be"):
        cumulative_leaves({1: 5}, {}, {}, [1])  # type: ignore[dict-item]


def test_multiproof_for_rejects_empty_unknown_and_duplicates() -> None:
    tree = settlement_tree(sample_leaves(10))
    known = tree.at(0)[0]
    with pytest.raises(ValueError, match="at least one model id"):
        multiproof_for(tree, [])
    with pytest.raises(ValueError, match=f"model ids must be unique.*{known}"):
        multiproof_for(tree, [known, known])
    with pytest.raises(ValueError, match="model 0 has no leaf"):
        multiproof_for(tree, [known, 0])


def test_totals_of_nothing_is_zero() -> None:
    assert totals([]) == (0, 0)


def test_the_leaf_rule_keeps_every_earlier_leaf_and_adds_the_round_models() -> None:
    previous = {2: (5, 1), 7: (0, 3)}
    leaves = round_leaves(previous, {3: 4}, {2: 2}, [2, 3])
    assert [leaf.as_tuple() for leaf in leaves] == [(2, 5, 3), (3, 4, 0), (7, 0, 3)]
    with pytest.raises(ValueError, match="not in model_ids"):
        round_leaves(previous, {9: 1}, {}, [2])  # money for a model with no leaf would vanish from the totals


def test_one_dump_parser_reads_what_both_libraries_write_and_names_bad_entries() -> None:
    tree = settlement_tree(cumulative_leaves({}, {1: 10, 4: 2}, {4: 1}, [1, 4]))
    dump = tree.dump()
    assert leaves_of_dump(dump) == {1: (10, 0), 4: (2, 1)}
    assert tree_model_ids(tree) == tree_model_ids(StandardMerkleTree.load(dump)) == [1, 4]
    dump["values"][1]["value"] = ["0x4", "0x2", "1"]  # 0x-hex is what the JS encoder also accepts
    assert leaves_of_dump(dump) == {1: (10, 0), 4: (2, 1)}
    dump["values"].append({"value": ["five"], "treeIndex": 0})
    leaves, problems = read_dump_leaves(dump)
    assert leaves == {1: (10, 0), 4: (2, 1)} and [i for i, _, _ in problems] == [2]
    with pytest.raises(ValueError, match=r"values\[2\]"):
        leaves_of_dump(dump)
