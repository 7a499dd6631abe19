"""The auditor: re-derive every proposed root from the chain and the published bundle alone.

For a ``RootProposed`` event the auditor loads the manifest at its URI (checking it against the posted
``manifestHash``), then checks, naming the model and field of every difference:

* **the bundle itself** (``oracle.auditor.recompute``): every file's hash, the scores, payouts and burns recomputed
  from the bundle's predictions, targets, stakes and parameters, the cumulative leaves, the tree and the totals;
* **the link to the previous round**: the bundle builds on the active proposal of the last active round before it
  (a lapsed round has a zero result and no leaves), and its stakes at risk are replayed from chain events up to
  the close with those leaves (``oracle.chain.replay``: tranches, lowered withdrawals, clamps included);
* **submissions**: every prediction column comes from a signed file in the bundle, signed by the model's owner for
  this chain, contract and round, and equal to it value for value; refusals of "unknown model" and "not owner"
  are re-checked against the chain;
* **the proposal**: root, declared payout and burn totals, the bundle's total stake at risk equal the
  recomputation; every model's payout and burn within the round's caps of its own stake at risk (the contract's
  per-model bound); the payout limit the manifest records (and scales payouts to) is the free reserve the
  events show once the previous round resolved;
* **activation** (for an active round): ``RootActivated`` committed exactly the declared payout; a settlement the
  contract clamped for this round is reported as a warning (an honest leaf is never clamped).
* **receipts** (when the caller holds some, e.g. ``tourney verify --receipts DIR``;
  ``oracle.auditor.receipt_evidence``): every genuine operator receipt of the round is honoured by the bundle; a
  receipted file missing or swapped is censorship and fails the round naming the model, while a receipt that is not
  genuine is only a warning.

A proposal verifies only when nothing differs.

The manifest URI and all it leads to are untrusted: read through a bounded :class:`~oracle.bundle.fetch.Fetcher`,
anything that goes wrong with them (even a crash of the checks) is a difference, never an exception; only an RPC
outage raises (the caller retries). A zero ``manifestHash`` fails at once. Following proposals and vetoing is
:mod:`oracle.auditor.watch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from oracle.auditor.differences import Difference
from oracle.auditor.receipt_evidence import ReceiptEvidence, check_receipt_evidence
from oracle.auditor.recompute import recompute_bundle
from oracle.auditor.submissions import check_submissions
from oracle.bundle.fetch import Fetcher, FetchPolicy
from oracle.bundle.round_bundle import TREE, RoundBundle, load_bundle
from oracle.bundle.store import BundleError
from oracle.chain.client import Proposal, RoundState, RoundStatus, TournamentClient
from oracle.chain.tx import is_rpc_outage
from oracle.settlement.leaves import leaves_of_dump

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

    def reason(self, limit: int = 3) -> str:
        """Why the proposal does not verify, in one line (what a guardian's log says when it vetoes)."""
        more = len(self.differences) - limit
        shown = "; ".join(d.describe() for d in self.differences[:limit]) or "verified"
        return shown + (f" (and {more} more difference(s))" if more > 0 else "")

    def models(self) -> list[str]:
        """Models (or leaves) with a difference: what a guardian would quote."""
        return sorted(
            {d.subject for d in self.differences if d.scope in ("model", "leaf", "stake", "submission", "receipt")},
            key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "ok": self.ok,
            "status": self.status,
            "standing": self.standing,
            "root": self.proposal.root,
            "manifest_uri": self.proposal.manifest_uri,
            "manifest_hash": self.proposal.manifest_hash,
            "models": self.models(),
            "differences": [d.to_dict() for d in self.differences],
            "notes": list(self.notes),
            "warnings": list(self.warnings),
            "reason": self.reason(),
        }


# ------------------------------------------------------------------------------------------ helpers


def _base_proposal(client: TournamentClient, proposal: Proposal) -> tuple[int, Proposal | None]:
    """(the last active round before the proposal's round, its active proposal): what the proposal builds on;
    (0, None) when no earlier round is active."""
    if proposal.round == 1:
        return 0, None
    before = client.round_state(proposal.round - 1)
    base = before.last_active_at_or_before if before.status.resolved else 0
    if base == 0:
        return 0, None
    return base, client.current_proposal(base)


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


def check_proposal(
    proposal: Proposal,
    bundle: RoundBundle,
    recomputed_root: str | None,
    recomputed_totals: Mapping[str, int],
    chain_at_risk: int,
) -> list[Difference]:
    """What the chain holds equals what the bundle recomputes to."""
    out = []
    if recomputed_root is not None and proposal.root != recomputed_root.lower():
        out.append(Difference("proposal", "chain", "root", proposal.root, recomputed_root))
    if bundle.manifest.root.lower() != proposal.root:
        out.append(Difference("proposal", "manifest", "root", bundle.manifest.root, proposal.root))
    if bundle.keccak256 != proposal.manifest_hash:
        out.append(Difference("proposal", "chain", "manifestHash", proposal.manifest_hash, bundle.keccak256))
    for name, value in (("round_payout", proposal.payout_total), ("round_burn", proposal.burn_total)):
        if name in recomputed_totals and value != recomputed_totals[name]:
            out.append(Difference("proposal", "chain", name, value, recomputed_totals[name]))
    if bundle.manifest.totals.stake_at_risk != chain_at_risk:
        out.append(
            Difference(
                "proposal", "manifest", "total_stake_at_risk", bundle.manifest.totals.stake_at_risk, chain_at_risk
            )
        )
    return out


def check_bounds(
    client: TournamentClient, proposal: Proposal, bundle: RoundBundle, chain_stakes: Mapping[int, int]
) -> list[Difference]:
    """Every model's payout and burn are within the round's caps (fixed when it opened) of its own stake at risk,
    as replayed from the chain: the contract's per-model bound for one round, floors included. A model with
    nothing at risk moves nothing."""
    state = client.round_state(proposal.round)
    try:
        scores = bundle.scores()
        ids = bundle.model_ids()
    except (BundleError, KeyError) as exc:
        return [Difference("bounds", "bundle", "readable", True, f"error: {exc}")]
    out = []
    for model, payout, burn in zip(scores["model"], scores["payout"], scores["burn"]):
        model_id = ids.get(str(model))
        at_risk = chain_stakes.get(model_id, 0) if model_id is not None else 0
        for name, amount, cap_bps in (
            ("payout_cap", int(payout), state.payout_cap_bps),
            ("burn_cap", int(burn), state.burn_cap_bps),
        ):
            cap = at_risk * cap_bps // BPS
            if amount > cap:
                out.append(Difference("model", str(model), name, amount, cap))
    return out


def check_payout_limit(client: TournamentClient, proposal: Proposal, bundle: RoundBundle) -> list[Difference]:
    """The manifest's payout limit is the chain's: the free reserve from events at the block fixed by the round's
    close and the previous round's resolution (``TournamentClient.round_payout_limit``). The scaling rule itself is
    recomputed with the bundle (``oracle.auditor.recompute``)."""
    recorded = bundle.manifest.payout_limit
    if recorded is None:
        return []  # payouts unscaled: the contract refuses a total above the free reserve by itself
    try:
        limit, block = client.round_payout_limit(proposal.round)
    except ValueError as exc:
        return [Difference("payout_limit", "chain", "limit", recorded.limit, f"cannot be derived: {exc}")]
    out = []
    if recorded.block != block:
        out.append(Difference("payout_limit", "manifest", "block", recorded.block, block))
    if recorded.limit != limit:
        out.append(Difference("payout_limit", "manifest", "limit", recorded.limit, limit))
    return out


def check_activation(client: TournamentClient, proposal: Proposal) -> tuple[list[Difference], list[str]]:
    """An active round committed exactly its declared payout; settlements the contract clamped are warnings."""
    event = client.activation_event(proposal.round)
    if event is None:
        return [Difference("activation", "chain", "RootActivated", "present", "missing")], []
    out = []
    committed = int(event.args["payoutTotal"])
    if committed != proposal.payout_total:
        out.append(Difference("activation", "chain", "payoutTotal", committed, proposal.payout_total))
    warnings = [
        f"model {int(e.args['modelId'])}: the contract clamped its settlement of round {proposal.round} "
        f"(leaf payout {int(e.args['leafPayout'])}, applied {int(e.args['payout'])}; leaf burn "
        f"{int(e.args['leafBurn'])}, applied {int(e.args['burn'])})"
        for e in client.events(["SettlementClamped"])
        if int(e.args["round"]) == proposal.round
    ]
    return out, warnings


# ------------------------------------------------------------------------------------------ verdicts


def verify_proposal(
    client: TournamentClient,
    proposal: Proposal,
    receipts: ReceiptEvidence | None = None,
    policy: FetchPolicy | None = None,
    *,
    fetcher: Fetcher | None = None,
) -> Verdict:
    """Audit one proposal from the chain and its manifest URI alone (and, given ``receipts``, against them).

    The bundle is read through ``fetcher``, or a :class:`Fetcher` under ``policy``; with neither, nothing is allowed
    and the verdict says the manifest could not be read. An RPC outage raises; nothing read from the bundle can."""
    fetcher = fetcher or Fetcher(policy or FetchPolicy())
    state = client.round_state(proposal.round)
    standing_proposal = client.current_proposal(proposal.round)
    standing = standing_proposal is not None and standing_proposal.position_key() == proposal.position_key()
    if standing:
        status = state.status.label
    else:
        # Vetoed, or the last proposal of a round that lapsed unvetoed. Only the standing proposal can be vetoed and
        # a round is proposed again only after a veto, so the i-th proposal was vetoed iff there are more than i.
        keys = [p.position_key() for p in client.proposals(proposal.round)]
        index = keys.index(proposal.position_key()) if proposal.position_key() in keys else 0
        vetoed = index < len(client.round_events("RootVetoed", proposal.round))
        status = "vetoed" if vetoed or state.status is not RoundStatus.LAPSED else "lapsed"
    verdict = Verdict(proposal.round, proposal, status, standing)
    if int(proposal.manifest_hash, 16) == 0:
        verdict.differences.append(
            Difference(
                "proposal",
                "chain",
                "manifestHash",
                proposal.manifest_hash,
                "nonzero (a zero hash commits to no manifest)",
            )
        )
        return verdict
    try:
        _check(client, proposal, receipts, fetcher, verdict, state, standing)
    except Exception as exc:  # an RPC outage is the caller's to retry; anything else fails the round
        if is_rpc_outage(exc):
            raise
        verdict.differences.append(
            Difference(
                "verify",
                "bundle",
                "checked",
                "to completion",
                f"error checking {proposal.manifest_uri}: {type(exc).__name__}: {exc}",
            )
        )
    return verdict


def _check(
    client: TournamentClient,
    proposal: Proposal,
    receipts: ReceiptEvidence | None,
    fetcher: Fetcher,
    verdict: Verdict,
    state: RoundState,
    standing: bool,
) -> None:
    """Every check that reads the bundle (and the chain facts it is compared with), appended to ``verdict``."""
    try:
        bundle = load_bundle(
            proposal.manifest_uri, expected_keccak=proposal.manifest_hash, verify=False, reader=fetcher
        )
    except BundleError as exc:
        verdict.differences.append(Difference("file", "manifest.json", "readable", proposal.manifest_uri, str(exc)))
        return
    report = recompute_bundle(bundle, reader=fetcher)
    verdict.differences += report.differences
    verdict.notes += report.notes
    if bundle.round != proposal.round:
        verdict.differences.append(Difference("proposal", "manifest", "round", bundle.round, proposal.round))

    base_round, base = _base_proposal(client, proposal)
    previous_leaves: dict[int, tuple[int, int]] = {}
    link = bundle.manifest.previous
    if base_round == 0:
        if link is not None:
            verdict.differences.append(Difference("previous", "0", "link", link.uri, None))
    elif base is None:
        verdict.differences.append(Difference("previous", str(base_round), "proposal", "present", "missing"))
    else:
        if link is None or link.keccak256 != base.manifest_hash:
            verdict.differences.append(
                Difference(
                    "previous", str(base_round), "manifestHash", link.keccak256 if link else None, base.manifest_hash
                )
            )
        try:
            previous_leaves = leaves_of_dump(  # its leaves are all it takes: the tree, not its thousands of files
                load_bundle(base.manifest_uri, base.manifest_hash, reader=fetcher, only=[TREE]).tree_dump()
            )
        except BundleError as exc:
            verdict.differences.append(Difference("previous", str(base_round), "bundle", "loads", str(exc)))

    stakes = client.round_stakes(proposal.round, previous_leaves)
    verdict.differences += check_stakes(bundle, stakes.at_risk)
    verdict.differences += check_submissions(bundle, client, stakes.owners)
    verdict.differences += check_proposal(proposal, bundle, report.root, report.totals, stakes.total_at_risk)
    verdict.differences += check_bounds(client, proposal, bundle, stakes.at_risk)
    verdict.differences += check_payout_limit(client, proposal, bundle)
    if standing and state.status is RoundStatus.ACTIVE:
        differences, warnings = check_activation(client, proposal)
        verdict.differences += differences
        verdict.warnings += warnings
    if receipts is not None:
        differences, warnings = check_receipt_evidence(bundle, receipts, client.chain_id(), client.tournament.address)
        verdict.differences += differences
        verdict.warnings += warnings


def verify_round(
    client: TournamentClient, round: int, receipts: ReceiptEvidence | None = None, policy: FetchPolicy | None = None
) -> Verdict:
    """Audit the round's standing proposal (or, when it was vetoed, its latest one)."""
    proposal = client.current_proposal(round)
    if proposal is None:
        found = client.proposals(round)
        if not found:
            raise ValueError(f"round {round} has no RootProposed event on this chain")
        proposal = found[-1]
    return verify_proposal(client, proposal, receipts, policy)


def verify_all(
    client: TournamentClient, receipts: ReceiptEvidence | None = None, policy: FetchPolicy | None = None
) -> list[Verdict]:
    """Audit every proposal ever made, vetoed ones included, in chain order."""
    proposals = [Proposal.of(e) for e in client.events(["RootProposed"])]
    return [verify_proposal(client, p, receipts, policy) for p in proposals]
