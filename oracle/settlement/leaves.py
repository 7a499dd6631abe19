"""The per-round settlement tree the contracts verify.

One leaf per staked model, cumulative over every round settled so far::

    leaf = keccak256(bytes.concat(keccak256(abi.encode(modelId, cumulativePayout, cumulativeBurn))))

with the three values as ``uint256`` (the OpenZeppelin standard leaf; the contract keeps every amount below
``2**94`` (its ledgers are ``int96``; recorded cumulative values saturate there), so they are bounded here by
``2**94``). Leaves are *not* sorted by hash: they
sit in ascending model-id order (``sort_leaves=False``), so a contiguous range of model ids occupies
contiguous leaf positions and settles with one short multiproof.

Cumulative leaves make settlement idempotent on chain: the contract pays out
``cumulativePayout - alreadySettledPayout`` (likewise for burns), so replaying a proof applies nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from oracle.settlement.standard import StandardMerkleTree

__all__ = [
    "AMOUNT_LIMIT",
    "LEAF_ENCODING",
    "SettlementLeaf",
    "SettlementMultiProof",
    "SettlementProof",
    "Previous",
    "cumulative_leaves",
    "leaves_of_dump",
    "read_dump_leaves",
    "round_leaves",
    "tree_model_ids",
    "multiproof_for",
    "proof_for",
    "settlement_tree",
    "totals",
]

LEAF_ENCODING: tuple[str, str, str] = ("uint256", "uint256", "uint256")
#: The contract's amount cap (AMOUNT_CAP = 2**94 - 1, beyond which recorded values saturate): every cumulative
#: amount must be below this.
AMOUNT_LIMIT = 2**94
#: Model ids are uint256 in the leaf.
MODEL_ID_LIMIT = 2**256


@dataclass(frozen=True, slots=True)
class SettlementLeaf:
    """One model's totals over all rounds to date, in the token's smallest unit."""

    model_id: int
    cumulative_payout: int
    cumulative_burn: int

    def as_tuple(self) -> tuple[int, int, int]:
        """The leaf value in ``LEAF_ENCODING`` order."""
        return (self.model_id, self.cumulative_payout, self.cumulative_burn)


@dataclass(frozen=True)
class SettlementProof:
    """Arguments of a single-model settlement call."""

    leaf: SettlementLeaf
    proof: list[str]


@dataclass(frozen=True)
class SettlementMultiProof:
    """Arguments of a batch settlement call: leaves in the order the verifier consumes them."""

    leaves: list[SettlementLeaf]
    proof: list[str]
    proof_flags: list[bool]


def _check_int(value: Any, name: str, limit: int, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: {name} must be an int, got {type(value).__name__} {value!r}")
    if not 0 <= value < limit:
        raise ValueError(f"{where}: {name} = {value} is outside [0, 2**{limit.bit_length() - 1})")


def _validated(leaves: Iterable[SettlementLeaf]) -> list[tuple[int, int, int]]:
    """Leaf values in tree order, after checking types, ranges and strictly ascending ids."""
    values: list[tuple[int, int, int]] = []
    previous_id = -1
    for position, leaf in enumerate(leaves):
        where = f"leaf {position}"
        if not isinstance(leaf, SettlementLeaf):
            raise ValueError(f"{where}: expected a SettlementLeaf, got {type(leaf).__name__}")
        model_id, payout, burn = leaf.model_id, leaf.cumulative_payout, leaf.cumulative_burn
        # Plain ints are the overwhelmingly common case: check them inline, fall back for the message.
        if not (
            type(model_id) is int
            and type(payout) is int
            and type(burn) is int
            and 0 <= model_id < MODEL_ID_LIMIT
            and 0 <= payout < AMOUNT_LIMIT
            and 0 <= burn < AMOUNT_LIMIT
        ):
            _check_int(model_id, "model_id", MODEL_ID_LIMIT, where)
            _check_int(payout, f"cumulative_payout of model {model_id}", AMOUNT_LIMIT, where)
            _check_int(burn, f"cumulative_burn of model {model_id}", AMOUNT_LIMIT, where)
        if model_id <= previous_id:
            problem = "duplicate" if model_id == previous_id else "out of order"
            raise ValueError(
                f"{where}: model_id {model_id} is {problem}; leaves must have unique ids in ascending order "
                f"(previous id {previous_id})"
            )
        previous_id = model_id
        values.append((model_id, payout, burn))
    if not values:
        raise ValueError("a settlement tree needs at least one leaf")
    return values


def settlement_tree(leaves: Iterable[SettlementLeaf]) -> StandardMerkleTree:
    """The OZ standard tree of the leaves, in ascending model-id order (no hash sorting).

    The leaves must already be sorted by ``model_id`` (use :func:`cumulative_leaves`): silently
    re-sorting would hide a caller that paired amounts with the wrong models.
    """
    return StandardMerkleTree.of(_validated(leaves), LEAF_ENCODING, sort_leaves=False)


def cumulative_leaves(
    previous: Mapping[int, tuple[int, int]],
    payouts: Mapping[int, int],
    burns: Mapping[int, int],
    model_ids: Iterable[int],
) -> list[SettlementLeaf]:
    """This round's leaves, sorted by id: ``cumulative = previous + this round`` for each model.

    ``previous[m] = (cumulative_payout, cumulative_burn)`` after the last round; models absent from it
    start at 0, models absent from ``payouts``/``burns`` add 0. Every id in ``model_ids`` gets a leaf,
    and every id with a payout or burn must be among them (otherwise money would vanish from the totals).
    Models in ``previous`` but not in ``model_ids`` are dropped: pass them in ``model_ids`` to carry them.
    """
    ids = sorted(set(model_ids))
    known = set(ids)
    for name, amounts in (("payouts", payouts), ("burns", burns)):
        stray = sorted(set(amounts) - known)
        if stray:
            raise ValueError(f"{name} has amounts for model ids not in model_ids: {stray[:10]}")
        for model_id, amount in amounts.items():
            _check_int(amount, f"{name}[{model_id}]", AMOUNT_LIMIT, f"model {model_id}")
    leaves = []
    for model_id in ids:
        prior = previous.get(model_id, (0, 0))
        if not (isinstance(prior, (tuple, list)) and len(prior) == 2):
            raise ValueError(f"previous[{model_id}] must be (cumulative_payout, cumulative_burn), got {prior!r}")
        payout = prior[0] + payouts.get(model_id, 0)
        burn = prior[1] + burns.get(model_id, 0)
        leaf = SettlementLeaf(model_id, payout, burn)
        _validated([leaf])  # range-checks the sums (uint96) with the model named
        leaves.append(leaf)
    return leaves


def round_leaves(
    previous: Mapping[int, tuple[int, int]],
    payouts: Mapping[int, int],
    burns: Mapping[int, int],
    round_model_ids: Iterable[int],
) -> list[SettlementLeaf]:
    """The leaf rule, the one place it is stated: round r's tree has a leaf for every model that had one before
    (``previous``, the leaves of round r-1) and every model registered when round r closed (``round_model_ids``),
    each ``previous + this round`` (see :func:`cumulative_leaves`). A model keeps its leaf forever once it has
    one, so the newest root settles every round before it."""
    return cumulative_leaves(previous, payouts, burns, set(previous) | set(round_model_ids))


#: model id -> (cumulative payout, cumulative burn): the leaves of a tree, as the next round builds on them.
Previous = dict[int, tuple[int, int]]


def read_dump_leaves(dump: Mapping[str, Any]) -> tuple[Previous, list[tuple[int, Any, str]]]:
    """The one parser of a ``standard-v1`` settlement dump's values: (model id -> (cumulative payout, cumulative
    burn), unreadable entries as (index, entry, why)). Values are ints, decimal or 0x-hex strings, as both
    libraries write and read them."""
    leaves: Previous = {}
    problems: list[tuple[int, Any, str]] = []
    for i, entry in enumerate(dump.get("values") or []):
        try:
            model_id, payout, burn = (_amount(v) for v in entry["value"])
        except (KeyError, TypeError, ValueError) as exc:
            problems.append((i, entry, f"unreadable: {exc}"))
            continue
        leaves[model_id] = (payout, burn)
    return leaves, problems


def leaves_of_dump(dump: Mapping[str, Any]) -> Previous:
    """:func:`read_dump_leaves`, refusing a dump with any unreadable entry (ValueError naming the first)."""
    leaves, problems = read_dump_leaves(dump)
    if problems:
        index, entry, why = problems[0]
        raise ValueError(f"settlement tree values[{index}] {entry!r}: {why}")
    return leaves


def tree_model_ids(tree: StandardMerkleTree) -> list[int]:
    """The model ids of a settlement tree's leaves, in leaf (ascending id) order."""
    return [_amount(tree.at(i)[0]) for i in range(len(tree))]


def totals(leaves: Iterable[SettlementLeaf]) -> tuple[int, int]:
    """(Σ cumulative_payout, Σ cumulative_burn): the totals proposed with the root."""
    payout = burn = 0
    for leaf in leaves:
        payout += leaf.cumulative_payout
        burn += leaf.cumulative_burn
    return payout, burn


def _amount(v: Any) -> int:
    # Values loaded from a JSON dump are strings (decimal as written by both libraries, 0x-hex allowed
    # by the JS encoder); trees built here hold ints.
    if isinstance(v, str):
        return int(v, 16) if v[:2].lower() == "0x" else int(v)
    return int(v)


def _leaf_from_value(value: Sequence[Any]) -> SettlementLeaf:
    return SettlementLeaf(*(_amount(v) for v in value))


def _index_of(tree: StandardMerkleTree, model_id: int) -> int:
    """Position of ``model_id`` in an id-ordered settlement tree (binary search over the leaves)."""
    low, high = 0, len(tree)
    while low < high:
        mid = (low + high) // 2
        if _amount(tree.at(mid)[0]) < model_id:
            low = mid + 1
        else:
            high = mid
    if low == len(tree) or _amount(tree.at(low)[0]) != model_id:
        raise ValueError(f"model {model_id} has no leaf in this settlement tree")
    return low


def proof_for(tree: StandardMerkleTree, model_id: int) -> SettlementProof:
    """Leaf values and proof (0x-hex bytes32 list) for settling one model."""
    index = _index_of(tree, model_id)
    return SettlementProof(leaf=_leaf_from_value(tree.at(index)), proof=tree.get_proof(index))


def multiproof_for(tree: StandardMerkleTree, model_ids: Iterable[int]) -> SettlementMultiProof:
    """Leaves, proof and flags for settling several models in one call (ids unique, non-empty)."""
    ids = list(model_ids)
    if not ids:
        raise ValueError("multiproof_for needs at least one model id (contracts reject empty multiproofs)")
    if len(set(ids)) != len(ids):
        repeated = sorted(m for m, count in Counter(ids).items() if count > 1)
        raise ValueError(f"multiproof_for: model ids must be unique; repeated: {repeated[:10]}")
    multiproof = tree.get_multi_proof([_index_of(tree, m) for m in ids])
    return SettlementMultiProof(
        leaves=[_leaf_from_value(v) for v in multiproof.leaves],
        proof=multiproof.proof,
        proof_flags=multiproof.proof_flags,
    )
