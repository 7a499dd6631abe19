"""The auditor: re-derive every proposed root from the chain and the published bundle alone.

For a ``RootProposed`` event the auditor loads the manifest at its URI (checking it against the posted
``manifestHash``), then checks, naming the model and field of every difference:

* **the bundle itself** (``oracle.auditor.recompute``): every file's hash, the scores, payouts and burns recomputed from the
  bundle's predictions, targets, stakes and parameters, the cumulative leaves, the tree and the totals;
* **the link to the previous round**: the bundle builds on the proposal of round r-1 the chain holds (not a vetoed
  one), and its stakes at risk are replayed from chain events up to the close with those previous leaves;
* **submissions**: every prediction column comes from a signed file in the bundle, signed by the model's owner for
  this chain, contract and round, and equal to it value for value; refusals of "unknown model" and "not owner"
  are re-checked against the chain;
* **the proposal**: root, cumulative totals, total stake at risk equal the recomputation; the round's caps hold;
* **activation** (for an active round): ``RootActivated`` moved exactly the round's increase, and the token supply
  fell by exactly the burn in that transaction.
* **receipts** (when the caller holds some, e.g. ``tourney verify --receipts DIR``): every genuine operator receipt
  of the round (signed by the chain's ORACLE_ROLE holder) is honoured by the bundle; a receipted file missing or
  swapped is censorship and fails the round naming the model, while a receipt that is not genuine is only a
  warning (a forged receipt accuses nobody).

A proposal verifies only when nothing differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from eth_utils import event_abi_to_log_topic

from oracle.bundle.store import BundleError
from oracle.bundle.round_bundle import load_bundle, RoundBundle, SUBMISSIONS_FILE, TREE
from oracle.chain.artifacts import abi
from oracle.chain.client import Proposal, RoundStatus, TournamentClient
from oracle.settlement.leaves import leaves_of_dump
from oracle.auditor.recompute import Difference, recompute_bundle
from oracle.auditor.submissions import check_submissions
from oracle.protocol.receipt import check_receipts, Receipt

__all__ = ["Verdict", "ReceiptEvidence", "check_receipt_evidence", "verify_proposal", "verify_round", "verify_all"]

BPS = 10_000


@dataclass
class Verdict:
    """What auditing one proposal found. ``standing`` is False for a proposal that was vetoed later."""

    round: int
    proposal: Proposal
    status: str
    standing: bool
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Reported but not failing: e.g. receipts that are not genuine (they prove nothing against the operator).
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def models(self) -> list[str]:
        """Models (or leaves) with a difference: what a guardian would quote."""
        return sorted({d.subject for d in self.differences if d.scope in ("model", "leaf", "stake", "submission", "receipt")},
                      key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s))

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round, "ok": self.ok, "status": self.status, "standing": self.standing,
            "root": self.proposal.root, "manifest_uri": self.proposal.manifest_uri,
            "manifest_hash": self.proposal.manifest_hash, "models": self.models(),
            "differences": [d.to_dict() for d in self.differences], "notes": list(self.notes),
            "warnings": list(self.warnings),
        }


# ------------------------------------------------------------------------------------------ helpers


def _previous_proposal(client: TournamentClient, proposal: Proposal) -> Proposal | None:
    """The proposal of round r-1 this one built on: the latest one made before it (None for round 1)."""
    if proposal.round == 1:
        return None
    earlier = [p for p in client.proposals(proposal.round - 1) if (p.block, p.log_index) < (proposal.block, proposal.log_index)]
    return earlier[-1] if earlier else None


def check_stakes(bundle: RoundBundle, chain_stakes: Mapping[int, int]) -> list[Difference]:
    """The bundle's stakes at risk equal the replay of chain events, model by model."""
    try:
        recorded = {int(i): int(s) for i, s in zip(bundle.stakes()["model_id"], bundle.stakes()["stake_at_risk"])}
    except (BundleError, KeyError) as exc:
        return [Difference("stake", "bundle", "readable", True, f"error: {exc}")]
    out = []
    for model_id in sorted(set(recorded) | set(chain_stakes)):
        if model_id not in chain_stakes:
            out.append(Difference("stake", str(model_id), "present", True, "not registered before the close"))
        elif model_id not in recorded:
            out.append(Difference("stake", str(model_id), "present", False, True))
        elif recorded[model_id] != chain_stakes[model_id]:
            out.append(Difference("stake", str(model_id), "stake_at_risk", recorded[model_id], chain_stakes[model_id]))
    return out


def check_proposal(proposal: Proposal, bundle: RoundBundle, recomputed_root: str | None,
                   recomputed_totals: Mapping[str, int], chain_at_risk: int) -> list[Difference]:
    """What the chain holds equals what the bundle recomputes to."""
    out = []
    if recomputed_root is not None and proposal.root != recomputed_root.lower():
        out.append(Difference("proposal", "chain", "root", proposal.root, recomputed_root))
    if bundle.manifest.root.lower() != proposal.root:
        out.append(Difference("proposal", "manifest", "root", bundle.manifest.root, proposal.root))
    if bundle.keccak256 != proposal.manifest_hash:
        out.append(Difference("proposal", "chain", "manifestHash", proposal.manifest_hash, bundle.keccak256))
    for name, value in (("cumulative_payout", proposal.cumulative_payout), ("cumulative_burn", proposal.cumulative_burn)):
        if name in recomputed_totals and value != recomputed_totals[name]:
            out.append(Difference("proposal", "chain", name, value, recomputed_totals[name]))
    if proposal.total_stake_at_risk != chain_at_risk:
        out.append(Difference("proposal", "chain", "total_stake_at_risk", proposal.total_stake_at_risk, chain_at_risk))
    return out


def check_bounds(client: TournamentClient, proposal: Proposal, previous: Proposal | None) -> list[Difference]:
    """The round's increases fit its caps (the contract checks too; a second look costs nothing)."""
    state = client.round_state(proposal.round)
    prev_payout = previous.cumulative_payout if previous else 0
    prev_burn = previous.cumulative_burn if previous else 0
    out = []
    payout_cap = proposal.total_stake_at_risk * state.payout_cap_bps // BPS
    burn_cap = proposal.total_stake_at_risk * state.burn_cap_bps // BPS
    if proposal.cumulative_payout - prev_payout > payout_cap:
        out.append(Difference("bounds", "chain", "payout_cap", proposal.cumulative_payout - prev_payout, payout_cap))
    if proposal.cumulative_burn - prev_burn > burn_cap:
        out.append(Difference("bounds", "chain", "burn_cap", proposal.cumulative_burn - prev_burn, burn_cap))
    if proposal.cumulative_payout < prev_payout or proposal.cumulative_burn < prev_burn:
        out.append(Difference("bounds", "chain", "cumulative", "non-decreasing", "decreased"))
    return out


_TRANSFER_TOPIC = None


def check_activation(client: TournamentClient, proposal: Proposal, previous: Proposal | None) -> list[Difference]:
    """An active round moved exactly its increase, and the token supply fell by exactly its burn."""
    global _TRANSFER_TOPIC
    event = client.activation_event(proposal.round)
    if event is None:
        return [Difference("activation", "chain", "RootActivated", "present", "missing")]
    paid, burned = int(event.args["paid"]), int(event.args["burned"])
    want_paid = proposal.cumulative_payout - (previous.cumulative_payout if previous else 0)
    want_burn = proposal.cumulative_burn - (previous.cumulative_burn if previous else 0)
    out = []
    if paid != want_paid:
        out.append(Difference("activation", "chain", "paid", paid, want_paid))
    if burned != want_burn:
        out.append(Difference("activation", "chain", "burned", burned, want_burn))
    if _TRANSFER_TOPIC is None:
        item = next(i for i in abi("TournamentToken") if i.get("type") == "event" and i["name"] == "Transfer")
        _TRANSFER_TOPIC = "0x" + bytes(event_abi_to_log_topic(item)).hex()
    receipt = client.w3.eth.get_transaction_receipt(event.tx_hash)
    zero = "0x" + "00" * 32
    burned_in_tx = sum(
        int.from_bytes(bytes(log["data"]), "big") for log in receipt["logs"]
        if log["address"].lower() == client.token.address.lower() and log["topics"]
        and "0x" + bytes(log["topics"][0]).hex() == _TRANSFER_TOPIC and "0x" + bytes(log["topics"][2]).hex() == zero
    )
    if burned_in_tx != want_burn:
        out.append(Difference("activation", "token", "burned_in_tx", burned_in_tx, want_burn))
    supply_drop = client.total_supply(event.block - 1) - client.total_supply(event.block)
    if supply_drop != want_burn:
        out.append(Difference("activation", "token", "total_supply_drop", supply_drop, want_burn))
    return out


@dataclass(frozen=True)
class ReceiptEvidence:
    """A participant's operator receipts and the address that must have signed them (the chain's oracle)."""

    receipts: Sequence[Receipt]
    operator: str


def check_receipt_evidence(bundle: RoundBundle, evidence: ReceiptEvidence, chain_id: int, tournament: str,
                           ) -> tuple[list[Difference], list[str]]:
    """(differences, warnings) of the bundle against the round's receipts: ``missing`` and ``hash_mismatch`` are
    censorship and differ (naming the model); ``invalid_receipt`` is a warning only."""
    try:
        entries = bundle.json(SUBMISSIONS_FILE)
    except (BundleError, KeyError) as exc:
        return [Difference("receipt", "bundle", SUBMISSIONS_FILE, "readable", f"error: {exc}")], []
    problems = check_receipts(entries, evidence.receipts, round=bundle.round, operator=evidence.operator,
                              chain_id=chain_id, tournament=tournament)
    differences: list[Difference] = []
    warnings: list[str] = []
    for problem in problems:
        if problem.kind == "invalid_receipt":
            warnings.append(f"receipt not genuine, ignored: {problem.message}")
        else:
            differences.append(Difference("receipt", str(problem.model_id), problem.kind, "receipted",
                                          problem.message))
    return differences, warnings


# ------------------------------------------------------------------------------------------ verdicts


def verify_proposal(client: TournamentClient, proposal: Proposal, receipts: ReceiptEvidence | None = None,
                    ) -> Verdict:
    """Audit one proposal from the chain and its manifest URI alone (and, given ``receipts``, against them)."""
    state = client.round_state(proposal.round)
    standing_proposal = client.current_proposal(proposal.round)
    standing = standing_proposal is not None and standing_proposal.position_key() == proposal.position_key()
    status = state.status.label if standing else "vetoed"
    verdict = Verdict(proposal.round, proposal, status, standing)
    try:
        bundle = load_bundle(proposal.manifest_uri, expected_keccak=proposal.manifest_hash, verify=False)
    except BundleError as exc:
        verdict.differences.append(Difference("file", "manifest.json", "readable", proposal.manifest_uri, str(exc)))
        return verdict
    report = recompute_bundle(bundle)
    verdict.differences += report.differences
    verdict.notes += report.notes
    if bundle.round != proposal.round:
        verdict.differences.append(Difference("proposal", "manifest", "round", bundle.round, proposal.round))

    previous = _previous_proposal(client, proposal)
    previous_leaves: dict[int, tuple[int, int]] = {}
    if proposal.round > 1:
        link = bundle.manifest.previous
        if previous is None:
            verdict.differences.append(Difference("previous", str(proposal.round - 1), "proposal", "present", "missing"))
        elif link is None or link.keccak256 != previous.manifest_hash:
            verdict.differences.append(Difference("previous", str(proposal.round - 1), "manifestHash",
                                                  link.keccak256 if link else None, previous.manifest_hash))
        if previous is not None:
            try:
                previous_leaves = leaves_of_dump(
                    load_bundle(previous.manifest_uri, previous.manifest_hash, only=[TREE]).tree_dump())
            except BundleError as exc:
                verdict.differences.append(Difference("previous", str(proposal.round - 1), "bundle", "loads", str(exc)))
    elif bundle.manifest.previous is not None:
        verdict.differences.append(Difference("previous", "0", "link", bundle.manifest.previous.uri, None))

    chain_stakes, owners = client.stakes_at_risk(proposal.round, previous_leaves)
    verdict.differences += check_stakes(bundle, chain_stakes)
    verdict.differences += check_submissions(bundle, client, owners)
    verdict.differences += check_proposal(proposal, bundle, report.root, report.totals, sum(chain_stakes.values()))
    verdict.differences += check_bounds(client, proposal, previous)
    if standing and state.status is RoundStatus.ACTIVE:
        verdict.differences += check_activation(client, proposal, previous)
    if receipts is not None:
        differences, warnings = check_receipt_evidence(bundle, receipts, client.chain_id(),
                                                       client.tournament.address)
        verdict.differences += differences
        verdict.warnings += warnings
    return verdict


def verify_round(client: TournamentClient, round: int, receipts: ReceiptEvidence | None = None) -> Verdict:
    """Audit the round's standing proposal (or, when it was vetoed, its latest one)."""
    proposal = client.current_proposal(round)
    if proposal is None:
        found = client.proposals(round)
        if not found:
            raise ValueError(f"round {round} has no RootProposed event on this chain")
        proposal = found[-1]
    return verify_proposal(client, proposal, receipts)


def verify_all(client: TournamentClient, receipts: ReceiptEvidence | None = None) -> list[Verdict]:
    """Audit every proposal ever made, vetoed ones included, in chain order."""
    proposals = [Proposal.of(e) for e in client.events(["RootProposed"])]
    return [verify_proposal(client, p, receipts) for p in proposals]
