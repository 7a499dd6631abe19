"""A round's proposals as the rounds page shows them: every ``RootProposed`` in order, whether a veto followed it
or it is the active root, its totals, links to its bundle's files, and the auditor's verdict."""

from __future__ import annotations

from oracle.bundle.round_bundle import REJECTIONS_FILE, STANDARD_FILES, SUBMISSIONS_FILE
from oracle.chain.client import Proposal, RoundState, RoundStatus
from oracle.service.schemas import ApiError
from oracle.service.web_schemas import ProposalOut
from oracle.service.web_state import WebState

__all__ = ["LINKED_FILES", "bundle_links", "proposals_out"]


#: The files linked from the rounds page: the round's tables, tree and records. The signed prediction file of every
#: model is in the bundle too (listed in the manifest and in submissions.json, served by the same route), but a link
#: each would make the page, and GET /rounds, grow with the number of models.
LINKED_FILES = (*STANDARD_FILES, SUBMISSIONS_FILE, REJECTIONS_FILE)


def bundle_links(manifest_hash: str, names: list[str]) -> dict[str, str]:
    """Relative URLs of a bundle's manifest and of its :data:`LINKED_FILES` (served by the bundles routes)."""
    base = f"bundles/{manifest_hash}"
    return {
        "manifest.json": f"{base}/manifest.json",
        **{name: f"{base}/files/{name}" for name in sorted(names) if name in LINKED_FILES},
    }


def _totals(web: WebState, proposal: Proposal) -> tuple[dict[str, str], dict[str, str]]:
    """(totals, file links): from the manifest when its bundle reads, else from the event alone (the round's payout
    and burn; no links)."""
    try:
        manifest = web.manifest(proposal)
    except ApiError:
        return {"round_payout": str(proposal.payout_total), "round_burn": str(proposal.burn_total)}, {}
    return manifest.totals.to_dict(), bundle_links(proposal.manifest_hash, list(manifest.files))


def proposals_out(web: WebState, state: RoundState) -> list[ProposalOut]:
    """Every proposal of the round, oldest first (the event history must be synced)."""
    history = web.history
    found = history.proposals(state.round)
    if not found:
        return []
    vetoes = history.vetoes(state.round)
    out = []
    for seq, proposal in enumerate(found):
        following = found[seq + 1] if seq + 1 < len(found) else None
        veto = next(
            (
                v
                for v in vetoes
                if v.position > proposal.position_key() and (following is None or v.position < following.position_key())
            ),
            None,
        )
        if veto is not None:
            status = "vetoed"
        elif following is None and state.status is RoundStatus.ACTIVE:
            status = "active"
        elif following is None and state.status is RoundStatus.LAPSED:
            status = "lapsed"  # not activated by the round's close + D: its result is zero
        else:
            status = "pending"
        totals, files = _totals(web, proposal)
        verdict_status = "vetoed" if status == "vetoed" else state.status.label
        out.append(
            ProposalOut(
                seq=seq,
                root=proposal.root,
                manifest_hash=proposal.manifest_hash,
                manifest_uri=proposal.manifest_uri,
                proposed_at=history.block_time(proposal.block),
                proposed_tx=proposal.tx_hash,
                activates_at=proposal.activates_at,
                state=status,
                vetoed_at=history.block_time(veto.block) if veto else None,
                vetoed_by=str(veto.args["guardian"]) if veto else None,
                totals=totals,
                files=files,
                verdict=web.auditor.verdict(proposal, verdict_status),
            )
        )
    return out
