"""A model's status as its owner (or anyone) sees it: stake, pending tranche and withdrawal (with the time by which
the withdrawal can be taken at the latest: the exit bound), per closed round the score, payout and burn, whether
it is settled and the proof to settle it, and the owner's receipts marked against each round's published bundle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from web3 import Web3

from oracle.bundle.round_bundle import REJECTIONS_FILE, SCORES, STAKES, SUBMISSIONS_FILE, RoundBundle
from oracle.bundle.store import BundleError
from oracle.chain.client import RoundStatus
from oracle.chain.connection import Connection
from oracle.participant.models import ParticipantError, model_info
from oracle.participant.reasons import unscored_reason
from oracle.participant.settle import round_tree
from oracle.participant.stake import exit_status
from oracle.protocol.receipt import Receipt, latest_receipts, verify_receipt
from oracle.settlement.leaves import proof_for

__all__ = ["IN_BUNDLE", "NOT_IN_BUNDLE", "NOT_PUBLISHED", "OTHER_HASH", "ModelStatus", "model_status", "receipt_status"]


@dataclass(frozen=True)
class ModelStatus:
    """One model's state on chain and in every closed round since it registered.

    ``exit`` describes the pending withdrawal (None: none): ``deadline`` is when it can be taken at the latest,
    whatever the oracle, guardian, pauser or admin do; ``exit_bound`` is the tournament's D in seconds."""

    model_id: int
    owner: str
    stake: int
    net_deposits: int
    settled_round: int
    registered_after: int
    pending_withdrawal: int
    withdrawal_after_round: int
    tranche: int
    tranche_from: int
    exit_bound: int
    exit: dict[str, Any] | None
    rounds: list[dict[str, Any]]
    receipts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "owner": self.owner,
            "stake": self.stake,
            "net_deposits": self.net_deposits,
            "settled_round": self.settled_round,
            "registered_after": self.registered_after,
            "pending_withdrawal": self.pending_withdrawal,
            "withdrawal_after_round": self.withdrawal_after_round if self.pending_withdrawal else None,
            "tranche": self.tranche,
            "tranche_from": self.tranche_from if self.tranche else None,
            "exit_bound": self.exit_bound,
            "exit": self.exit,
            "rounds": self.rounds,
            "receipts": self.receipts,
        }


def _score_row(bundle: RoundBundle, model_id: int) -> dict[str, Any]:
    names = {mid: name for name, mid in bundle.model_ids().items()}
    scores = bundle.scores()
    name = names.get(int(model_id))
    rows = scores[scores["model"].astype(str) == name] if name is not None else scores.iloc[0:0]
    if rows.empty:
        return {"corr": None, "mmc": None, "payout": 0, "burn": 0, "scored": False}
    row = rows.iloc[0]
    return {
        "corr": float(row["corr"]),
        "mmc": float(row["mmc"]),
        "payout": int(row["payout"]),
        "burn": int(row["burn"]),
        "scored": True,
    }


#: What :func:`receipt_status` says of a receipted submission against its round's published bundle.
IN_BUNDLE, NOT_IN_BUNDLE, OTHER_HASH, NOT_PUBLISHED = "in bundle", "missing from bundle", "other hash", "not published"


def receipt_status(
    conn: Connection, model_id: int, receipts: Iterable[Receipt], oracle: str | None = None
) -> list[dict[str, Any]]:
    """The model's latest receipt per round on this chain and contract, each marked against the round's bundle.

    ``bundle`` is ``in bundle`` (the standing bundle carries the receipted file, same hash), ``other hash`` (it
    carries another file of the model), ``missing from bundle`` (none), or ``not published`` (no standing proposal
    yet). ``genuine`` says whether the receipt is signed by ``oracle`` (the chain's ORACLE_ROLE holder) for this
    domain: a receipt that is not proves nothing."""
    tournament = Web3.to_checksum_address(conn.deployment.tournament)
    mine = [
        r
        for r in receipts
        if r.chain_id == conn.chain_id and r.tournament == tournament and r.model_id == int(model_id)
    ]
    out: list[dict[str, Any]] = []
    for receipt in sorted(latest_receipts(mine).values(), key=lambda r: r.round):
        entry: dict[str, Any] = {
            "round": receipt.round,
            "predictions_hash": receipt.predictions_hash,
            "received_at": receipt.received_at,
            "operator": receipt.operator,
            "genuine": None
            if oracle is None
            else not verify_receipt(receipt, oracle, chain_id=conn.chain_id, tournament=tournament),
            "bundle": NOT_PUBLISHED,
            "bundle_hash": None,
        }
        proposal = conn.client.current_proposal(receipt.round)
        if proposal is not None:
            try:
                bundle, _ = round_tree(proposal, [SUBMISSIONS_FILE])
                held = {
                    int(e["model_id"]): str(e["record"]["predictions_hash"]).lower()
                    for e in bundle.json(SUBMISSIONS_FILE)
                }
            except (ParticipantError, BundleError, KeyError, TypeError) as exc:
                entry["error"] = str(exc)
            else:
                entry["bundle_hash"] = held.get(int(model_id))
                entry["bundle"] = (
                    NOT_IN_BUNDLE
                    if entry["bundle_hash"] is None
                    else IN_BUNDLE
                    if entry["bundle_hash"] == receipt.predictions_hash
                    else OTHER_HASH
                )
        out.append(entry)
    return out


def model_status(
    conn: Connection, model_id: int, receipts: Iterable[Receipt] = (), oracle: str | None = None
) -> ModelStatus:
    """Stake, pending tranche and withdrawal (with its exit deadline), per closed round since registration: status,
    score, payout/burn, settled or not, and the proof; and the model's receipts (see :func:`receipt_status`) among
    ``receipts``."""
    info = model_info(conn, model_id)
    registered = conn.client.events(["ModelRegistered"], indexed=int(model_id))
    registered_after = int(registered[0].args["settledRound"]) if registered else 0
    last_closed = conn.client.cursor().last_closed
    rounds: list[dict[str, Any]] = []
    for round in range(registered_after + 1, last_closed + 1):
        state, proposal = conn.client.standing_proposal(round)
        if proposal is None:
            if state.status is RoundStatus.LAPSED:
                rounds.append(
                    {"round": round, "status": state.status.label, "settled": True, "error": "lapsed: a zero result"}
                )
            continue
        entry: dict[str, Any] = {
            "round": round,
            "status": state.status.label,
            "manifest_uri": proposal.manifest_uri,
            "root": proposal.root,
            "settled": info.settled_round >= round,
        }
        try:
            # The files the score and, if unscored, the reason come from (unscored_reason reads the two records).
            bundle, tree = round_tree(proposal, [STAKES, SCORES, REJECTIONS_FILE, SUBMISSIONS_FILE])
            entry.update(_score_row(bundle, model_id))
            if entry.get("corr") is None or entry["corr"] != entry["corr"]:  # not scored: say why
                entry["unscored"], entry["why"] = unscored_reason(bundle, model_id)
            found = proof_for(tree, int(model_id))
            entry.update(
                cumulative_payout=found.leaf.cumulative_payout,
                cumulative_burn=found.leaf.cumulative_burn,
                proof=list(found.proof),
            )
        except ParticipantError as exc:
            entry["error"] = str(exc)
        except ValueError:
            entry["error"] = f"model {model_id} has no leaf in round {round}'s tree (no stake at its close)"
        rounds.append(entry)
    pending_exit = exit_status(conn, info)
    return ModelStatus(
        model_id=int(model_id),
        owner=info.owner,
        stake=info.stake,
        net_deposits=info.net_deposits,
        settled_round=info.settled_round,
        registered_after=registered_after,
        pending_withdrawal=info.withdrawal,
        withdrawal_after_round=info.withdrawal_after,
        tranche=info.tranche,
        tranche_from=info.tranche_from,
        exit_bound=conn.client.exit_bound(),
        exit=pending_exit.to_dict() if pending_exit else None,
        rounds=rounds,
        receipts=receipt_status(conn, model_id, receipts, oracle),
    )
