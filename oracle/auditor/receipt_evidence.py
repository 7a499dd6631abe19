"""A participant's operator receipts as evidence against a round's bundle (``tourney verify --receipts DIR``).

Every genuine receipt (signed by the chain's ORACLE_ROLE holder) must be honoured by the bundle: a receipted file
missing or swapped is censorship and a difference naming the model; a receipt that is not genuine is only a warning
(a forged receipt accuses nobody).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from oracle.auditor.differences import Difference
from oracle.bundle.round_bundle import SUBMISSIONS_FILE, RoundBundle
from oracle.bundle.store import BundleError
from oracle.protocol.receipt import Receipt, check_receipts

__all__ = ["ReceiptEvidence", "check_receipt_evidence"]


@dataclass(frozen=True)
class ReceiptEvidence:
    """A participant's operator receipts and the address that must have signed them (the chain's oracle)."""

    receipts: Sequence[Receipt]
    operator: str


def check_receipt_evidence(
    bundle: RoundBundle,
    evidence: ReceiptEvidence,
    chain_id: int,
    tournament: str,
) -> tuple[list[Difference], list[str]]:
    """(differences, warnings) of the bundle against the round's receipts: ``missing`` and ``hash_mismatch`` are
    censorship and differ (naming the model); ``invalid_receipt`` is a warning only."""
    try:
        entries = bundle.json(SUBMISSIONS_FILE)
    except (BundleError, KeyError) as exc:
        return [Difference("receipt", "bundle", SUBMISSIONS_FILE, "readable", f"error: {exc}")], []
    problems = check_receipts(
        entries,
        evidence.receipts,
        round=bundle.round,
        operator=evidence.operator,
        chain_id=chain_id,
        tournament=tournament,
    )
    differences: list[Difference] = []
    warnings: list[str] = []
    for problem in problems:
        if problem.kind == "invalid_receipt":
            warnings.append(f"receipt not genuine, ignored: {problem.message}")
        else:
            differences.append(Difference("receipt", str(problem.model_id), problem.kind, "receipted", problem.message))
    return differences, warnings
