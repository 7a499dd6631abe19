"""Settling models against an active root: one model with its proof, or every model of a round's tree in id-ordered
batches (``settleBatch`` with one multiproof per batch). Anyone may settle anyone's model.

Leaves are cumulative, so the newest active root settles every earlier round at once. Which models still need it
comes from ``modelStates`` (one read per 100 models), never one call per model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from oracle.bundle.round_bundle import TREE, RoundBundle, load_bundle
from oracle.bundle.store import BundleError
from oracle.chain.client import ModelState, Proposal, RoundStatus
from oracle.chain.connection import Connection
from oracle.chain.hashes import tx_hash
from oracle.participant.models import ParticipantError, model_info
from oracle.settlement.leaves import SettlementProof, multiproof_for, proof_for, tree_model_ids
from oracle.settlement.standard import StandardMerkleTree

__all__ = [
    "BATCH_SIZE",
    "SettleResult",
    "active_round",
    "leaf_proof",
    "needs_settling",
    "round_tree",
    "settle_all",
    "settle_model",
    "settle_through",
    "settled_through",
]

#: Leaves per settleBatch: 256 contiguous ids keep a batch well under a block and near the per-model gas floor.
BATCH_SIZE = 256
#: Models per ``modelStates`` read when settling them all: 10,000 models in 20 reads (well within an eth_call's gas).
READ_PAGE = 500


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
        raise ParticipantError(
            f"round {proposal.round}: the bundle's tree root {tree.root} is not the on-chain root {proposal.root}"
        )
    return bundle, tree


def active_round(conn: Connection, round: int | None) -> int:
    """``round`` when it is active (default: the newest active round); a clear error otherwise."""
    last_active = conn.client.cursor().last_active
    if round is None:
        if last_active == 0:
            raise ParticipantError("no round has an active root yet: nothing can be settled")
        return last_active
    status = conn.client.round_state(int(round)).status
    if status is not RoundStatus.ACTIVE:
        raise ParticipantError(
            f"round {round} is {status.phrase}, not active: settle against an active round "
            f"(newest active: {last_active or 'none'})"
        )
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
        return None  # no stake at the round's close (or registered after it): nothing to settle in it


def settled_through(conn: Connection, state: ModelState, round: int) -> bool:
    """The contract's rule: a model settled through ``state.settled_round`` has nothing left to settle up to
    ``round`` when every round up to it is resolved and none after its settled round is active."""
    if round <= state.settled_round:
        return True
    if round > conn.client.cursor().last_resolved:
        return False
    return conn.client.round_state(round).last_active_at_or_before <= state.settled_round


def needs_settling(state: ModelState, last_active: int) -> bool:
    """Whether a model is behind the newest active round (a settlement against it would move it)."""
    return state.registered and state.settled_round < last_active


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
        raise ParticipantError(
            f"model {model_id} has no leaf in round {round}'s tree (it had no stake when the "
            "round closed): nothing to settle"
        )
    leaf = found.leaf
    receipt = conn.sender.transact(
        conn.tournament.functions.settle(
            round, leaf.model_id, leaf.cumulative_payout, leaf.cumulative_burn, found.proof
        ),
        action=f"settle model {model_id} against round {round}",
    )
    return SettleResult(round, [int(model_id)], [], int(receipt["gasUsed"]), [tx_hash(receipt)])


def settle_through(conn: Connection, model_id: int, round: int, why: str) -> SettleResult | None:
    """Make the model settled through ``round`` (the contract's rule, :func:`settled_through`), settling it against
    the newest active root if that is what it takes; None when nothing was needed. ParticipantError, saying what
    to wait for, when it cannot be done yet (a round up to ``round`` unresolved, or no leaf for the model)."""
    state = model_info(conn, model_id)
    if settled_through(conn, state, round):
        return None
    cursor = conn.client.cursor()
    if round > cursor.last_resolved:
        pending = cursor.last_resolved + 1
        deadline = conn.client.round_state(pending).lapses_at
        raise ParticipantError(
            f"{why}: model {model_id} must first be settled through round {round}, and round "
            f"{pending} is not resolved yet (activated, or lapsed at {deadline} at the latest)"
        )
    return settle_model(conn, model_id, cursor.last_active)


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def settle_all(conn: Connection, round: int | None = None, batch_size: int = BATCH_SIZE) -> SettleResult:
    """Settle every model of the round's tree not yet settled through it, in id-ordered batches (settleBatch with
    one multiproof per batch). Which models are behind comes from ``modelStates``, one read per 100 models."""
    round = active_round(conn, round)
    tree = _active_tree(conn, round)
    ids = tree_model_ids(tree)
    # Every model's progress in a few calls of the contract's modelStates view, not one call per model.
    states = conn.client.model_states(ids, page=READ_PAGE)
    pending = [m for m in ids if m in states and states[m].settled_round < round]
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
