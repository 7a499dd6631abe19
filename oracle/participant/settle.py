"""Settling models against an active root: one model with its proof, or every model of a round's tree in id-ordered
batches (``settleBatch`` with one multiproof per batch). Anyone may settle anyone's model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from oracle.bundle.round_bundle import TREE, RoundBundle, load_bundle
from oracle.bundle.store import BundleError
from oracle.chain.client import Proposal, RoundStatus
from oracle.chain.connection import Connection
from oracle.chain.hashes import tx_hash
from oracle.participant.models import ParticipantError, model_info
from oracle.settlement.leaves import SettlementProof, multiproof_for, proof_for, tree_model_ids
from oracle.settlement.standard import StandardMerkleTree

__all__ = ["BATCH_SIZE", "SettleResult", "active_round", "leaf_proof", "round_tree", "settle_all", "settle_model"]

#: Leaves per settleBatch: 256 contiguous ids keep a batch well under a block and near the per-model gas floor.
BATCH_SIZE = 256



def round_tree(proposal: Proposal, files: Iterable[str] = ()) -> tuple[RoundBundle, StandardMerkleTree]:
    """Load the round's bundle (checked against the on-chain manifest hash) and its settlement tree (checked
    against the on-chain root). Only the tree and the named ``files`` are read: a round's thousands of
    prediction files are not needed to settle it."""
    try:
        bundle = load_bundle(proposal.manifest_uri, expected_keccak=proposal.manifest_hash, only=[TREE, *files])
    except BundleError as exc:
        raise ParticipantError(f"round {proposal.round}: cannot use the published bundle: {exc}") from None
    tree = StandardMerkleTree.load(bundle.tree_dump())
    if tree.root.lower() != proposal.root.lower():
        raise ParticipantError(f"round {proposal.round}: the bundle's tree root {tree.root} is not the on-chain "
                               f"root {proposal.root}")
    return bundle, tree


def active_round(conn: Connection, round: int | None) -> int:
    """``round`` when it is active (default: the newest active round); a clear error otherwise."""
    _, last_activated = conn.client.cursor()
    if round is None:
        if last_activated == 0:
            raise ParticipantError("no round has an active root yet: nothing can be settled")
        return last_activated
    status = conn.client.round_state(int(round)).status
    if status is not RoundStatus.ACTIVE:
        raise ParticipantError(f"round {round} is {status.label}, not active: settle against an active round "
                               f"(newest active: {last_activated or 'none'})")
    return int(round)


def _active_tree(conn: Connection, round: int) -> StandardMerkleTree:
    proposal = conn.client.current_proposal(round)
    assert proposal is not None  # an active round always has its proposal
    return round_tree(proposal)[1]


def leaf_proof(conn: Connection, round: int, model_id: int) -> SettlementProof | None:
    """The model's leaf and proof in active round ``round``'s tree; None when the model has no leaf there."""
    try:
        return proof_for(_active_tree(conn, round), int(model_id))
    except ValueError:
        return None  # registered after the round closed: nothing to settle in it


@dataclass(frozen=True)
class SettleResult:
    """What a settlement did: the round, the models whose stake moved, gas, and transaction hashes."""

    round: int
    settled: list[int]
    skipped: list[int]
    gas_used: int
    transactions: list[str]


def settle_model(conn: Connection, model_id: int, round: int | None = None) -> SettleResult:
    """Settle one model against ``round`` (default: the newest active round); anyone may call it."""
    round = active_round(conn, round)
    settled_round = model_info(conn, model_id).settled_round
    if settled_round >= round:
        return SettleResult(round, [], [int(model_id)], 0, [])
    found = leaf_proof(conn, round, model_id)
    if found is None:
        raise ParticipantError(f"model {model_id} has no leaf in round {round}'s tree")
    leaf = found.leaf
    receipt = conn.sender.transact(
        conn.tournament.functions.settle(round, leaf.model_id, leaf.cumulative_payout, leaf.cumulative_burn,
                                         found.proof),
        action=f"settle model {model_id} against round {round}",
    )
    return SettleResult(round, [int(model_id)], [], int(receipt["gasUsed"]), [tx_hash(receipt)])


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


def settle_all(conn: Connection, round: int | None = None, batch_size: int = BATCH_SIZE) -> SettleResult:
    """Settle every model of the round's tree not yet settled through it, in id-ordered batches (settleBatch with
    one multiproof per batch)."""
    round = active_round(conn, round)
    tree = _active_tree(conn, round)
    ids = tree_model_ids(tree)
    # One batched read of every model's progress (Multicall3 when the chain has it), not one call per model.
    progress = conn.client.model_infos(ids)
    pending = [m for m in ids if progress[m].settled_round < round]
    skipped = sorted(set(ids) - set(pending))
    gas, hashes = 0, []
    for chunk in _chunks(pending, batch_size):
        multiproof = multiproof_for(tree, chunk)
        leaves = [leaf.as_tuple() for leaf in multiproof.leaves]
        receipt = conn.sender.transact(
            conn.tournament.functions.settleBatch(round, leaves, multiproof.proof, multiproof.proof_flags),
            action=f"settle {len(chunk)} models (ids {chunk[0]}..{chunk[-1]}) against round {round}",
        )
        gas += int(receipt["gasUsed"])
        hashes.append(tx_hash(receipt))
    return SettleResult(round, pending, skipped, gas, hashes)
