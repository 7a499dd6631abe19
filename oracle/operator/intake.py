"""Judging a round's snapshotted submissions: which are accepted, and why each other one is refused (a reason
code and the whole signed record, so an auditor can re-check every refusal)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

import fsspec

from oracle.bundle.manifest import FileEntry
from oracle.bundle.store import ArtifactStore
from oracle.chain.client import TournamentClient
from oracle.protocol.inbox import Inbox
from oracle.protocol.submission import Submission, SubmissionError, verify_submission

#: Submissions read and judged at once.
JUDGE_THREADS = 4

__all__ = ["check_submissions", "judge", "late_detail", "rejection", "rejection_order", "stored_submission_files",
           "submission_file_name"]


def _extension(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
    return ext if ext.isalnum() and len(ext) <= 10 else "bin"


def submission_file_name(model_id: int, file_name: str) -> str:
    """The bundle's name for a model's signed prediction file (kept byte for byte, so its hash checks)."""
    return f"submission-{model_id}.{_extension(file_name)}"


def check_submissions(client: TournamentClient, inbox: Inbox, round: int, snapshot: Mapping[str, Any],
                      owners: Mapping[int, str]) -> tuple[dict[int, tuple[Submission, bytes]], list[dict[str, Any]]]:
    """(accepted submission per model id, rejections with reasons) for the snapshot and the late arrivals."""
    chain_id, tournament = client.chain_id(), client.tournament.address
    accepted: dict[int, tuple[Submission, bytes]] = {}
    rejections: list[dict[str, Any]] = []
    snapshotted: set[str] = set()

    def read_and_judge(numbered: tuple[int, Mapping[str, Any]]) -> tuple[Any, ...]:
        i, item = numbered
        try:
            sub = Submission.from_json(item["record"], f"round {round} snapshot entry {i}")
            with fsspec.open(item["object"], "rb") as handle:
                data = handle.read()
        except (SubmissionError, OSError, KeyError) as exc:
            return None, None, "unreadable", str(exc)
        return (sub, data, *judge(sub, data, round, owners, chain_id, tournament))

    # Several at a time, in order: reading, hashing the file and recovering the signature leave the GIL.
    with ThreadPoolExecutor(JUDGE_THREADS) as pool:
        for sub, data, reason, detail in pool.map(read_and_judge, enumerate(snapshot["submissions"])):
            if sub is None:
                rejections.append({"model_id": None, "reason": reason, "detail": detail})
                continue
            snapshotted.add(sub.signature)
            if reason is None:
                accepted[sub.model_id] = (sub, data)
            else:
                rejections.append(rejection(sub, reason, detail))
    for problem in snapshot.get("problems", []):
        rejections.append({"model_id": None, "reason": "corrupt_inbox_entry", "detail": problem})
    # Whatever is in the inbox now but not in the snapshot was stamped at or after closesAt (or after the
    # snapshot was taken): late.
    closes_at = int(snapshot.get("closes_at") or client.round_state(round).closes_at)
    for sub in inbox.records(round, known=snapshotted):  # records only: late arrivals' files need not be read
        if sub.signature not in snapshotted:
            rejections.append(rejection(sub, "late", late_detail(sub, closes_at)))
    return dict(sorted(accepted.items())), rejections


def judge(sub: Submission, data: bytes, round: int, owners: Mapping[int, str], chain_id: int, tournament: str,
          ) -> tuple[str | None, str]:
    """Why a submission is refused (reason code and detail), or (None, "") when it is accepted."""
    if sub.model_id not in owners:
        return "unknown_model", f"model {sub.model_id} was not registered when round {round} closed"
    problems = verify_submission(sub, data, owners[sub.model_id], chain_id=chain_id,
                                 tournament=tournament, round=round)
    if not problems:
        return None, ""
    codes = {problem.code for problem in problems}
    # One reason per refusal, the most telling first; anything else (hash, chain, contract, round) is "invalid".
    reason = next((code for code in ("bad_signature", "not_owner", "expired") if code in codes), "invalid")
    return reason, "; ".join(problems)


def rejection(sub: Submission, reason: str, detail: str) -> dict[str, Any]:
    # The whole signed record goes in, so an auditor can re-check that the refusal was deserved.
    return {"model_id": sub.model_id, "reason": reason, "detail": detail, "signature": sub.signature,
            "record": sub.to_json()}


def late_detail(sub: Submission, closes_at: int) -> str:
    if sub.received_at is None:
        return "no received_at stamp: cannot show it arrived before the round closed"
    if sub.received_at >= closes_at:
        return f"received at {sub.received_at}, at or after the round's closesAt {closes_at}"
    return "delivered after the round's snapshot was taken"


def rejection_order(r: Mapping[str, Any]) -> tuple:
    # Deterministic order, so the same inputs give a byte-identical rejections file.
    return (r["model_id"] is None, r["model_id"] or 0, r["reason"], r.get("signature", ""), r["detail"])


def stored_submission_files(store: ArtifactStore, snapshot: Mapping[str, Any],
                            accepted: Mapping[int, tuple[Submission, bytes]]) -> tuple[dict[str, FileEntry],
                                                                                       dict[str, bytes]]:
    """The accepted submissions' files for the bundle: (entries of those the snapshot already put in ``store``,
    bytes of the others). An accepted file's keccak was checked against its signed hash when it was judged, and the
    snapshot's object is named by its sha256: nothing needs hashing or writing again (10,000 files: 1 GB)."""
    objects = {item["record"].get("signature"): item.get("object") for item in snapshot.get("submissions", [])
               if isinstance(item, Mapping) and isinstance(item.get("record"), Mapping)}
    stored: dict[str, FileEntry] = {}
    other: dict[str, bytes] = {}
    for model_id, (sub, blob) in accepted.items():
        name = submission_file_name(model_id, sub.file_name)
        uri = str(objects.get(sub.signature) or "")
        entry = FileEntry(name=name, sha256=uri.rsplit("/", 1)[-1].split(".", 1)[0], keccak256=sub.predictions_hash,
                          size=len(blob))
        if uri and store.object_uri(entry) == uri:
            stored[name] = entry
        else:
            other[name] = blob
    return stored, other
