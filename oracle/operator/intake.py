"""Judging a round's snapshotted submissions: which are accepted, and why each other one is refused (a reason
code and the whole signed record, so an auditor can re-check every refusal)."""

from __future__ import annotations

from typing import Any, Mapping

import fsspec
import pandas as pd

from oracle.chain.client import TournamentClient
from oracle.protocol.inbox import Inbox
from oracle.protocol.submission import Submission, SubmissionError, replay_key, verify_submission
from oracle.scoring.tables import check_model_file, combine_model_files, read_prediction_file
from oracle.scoring.validation import PredictionError

__all__ = ["check_submissions", "file_problems", "judge", "late_detail", "rejection", "rejection_order",
           "scored_predictions", "submission_file_name", "submission_files"]


def _extension(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
    return ext if ext.isalnum() and len(ext) <= 10 else "bin"


def submission_file_name(model_id: int, file_name: str) -> str:
    """The bundle's name for a model's signed prediction file (kept byte for byte, so its hash checks)."""
    return f"submission-{model_id}.{_extension(file_name)}"


def check_submissions(client: TournamentClient, inbox: Inbox, round: int, snapshot: Mapping[str, Any],
                      owners: Mapping[int, str]) -> tuple[dict[int, tuple[Submission, bytes]], list[dict[str, Any]]]:
    """(accepted submission per model id, rejections with reasons) for the snapshot and the late arrivals."""
    chain_id = client.chain_id()
    accepted: dict[int, tuple[Submission, bytes]] = {}
    rejections: list[dict[str, Any]] = []
    # Keyed on the signed content, not the signature bytes: a re-encoded copy of a snapshotted record is that record.
    snapshotted: set[str] = set()
    for i, item in enumerate(snapshot["submissions"]):
        where = f"round {round} snapshot entry {i}"
        try:
            sub = Submission.from_json(item["record"], where)
            with fsspec.open(item["object"], "rb") as handle:
                data = handle.read()
        except (SubmissionError, OSError, KeyError) as exc:
            rejections.append({"model_id": None, "reason": "unreadable", "detail": str(exc)})
            continue
        snapshotted.add(replay_key(sub))
        reason, detail = judge(sub, data, round, owners, chain_id, client.tournament.address)
        if reason is None:
            accepted[sub.model_id] = (sub, data)
        else:
            rejections.append(rejection(sub, reason, detail))
    for problem in snapshot.get("problems", []):
        rejections.append({"model_id": None, "reason": "corrupt_inbox_entry", "detail": problem})
    # Whatever is in the inbox now but not in the snapshot was stamped at or after closesAt (or after the
    # snapshot was taken): late.
    closes_at = int(snapshot.get("closes_at") or client.round_state(round).closes_at)
    for sub, _ in inbox.collect(round):
        if replay_key(sub) not in snapshotted:
            rejections.append(rejection(sub, "late", late_detail(sub, closes_at)))
    return dict(sorted(accepted.items())), rejections


def scored_predictions(accepted: Mapping[int, tuple[Submission, bytes]], rejections: list[dict[str, Any]],
                       live_ids: list[str], min_live_share: float,
                       ) -> tuple[pd.DataFrame, dict[int, tuple[Submission, bytes]]]:
    """(the predictions table of every accepted file that is fit to score, sorted by id; the accepted submissions it
    holds). Each file is read and checked alone against the live ids, as the service and the participant's client
    check it, so a refusal (appended to ``rejections``) names the rule the file broke: ``missing_ids``, not the NaN
    it would become in the combined table."""
    frames: dict[str, pd.DataFrame] = {}
    for model_id, (sub, blob) in accepted.items():
        try:
            frames[str(model_id)] = read_prediction_file(sub.file_name, blob)
        except Exception as exc:  # noqa: BLE001 - any parse failure is the participant's file, not ours
            rejections.append(rejection(sub, "unreadable_file", f"{sub.file_name}: {exc}"))
    for model, problems in file_problems(frames, live_ids, min_live_share).items():
        rejections.append(rejection(accepted[int(model)][0], problems[0].rule, "; ".join(map(str, problems))))
        del frames[model]
    predictions, file_errors = combine_model_files(frames)
    if len(predictions.columns) <= 1:
        # No usable submission: an id-only table of the live ids scores every staked model 0/0.
        predictions = pd.DataFrame({"id": live_ids})
    for error in file_errors:
        sub, _ = accepted[int(error.model)]
        rejections.append(rejection(sub, error.rule, error.message))
    kept = {m: v for m, v in accepted.items() if str(m) in predictions.columns}
    return predictions.sort_values("id", kind="stable").reset_index(drop=True), kept


def file_problems(frames: Mapping[str, Any], live_ids: list[str],
                  min_live_share: float) -> dict[str, list[PredictionError]]:
    """Per model whose file breaks the round's rules (oracle.scoring.tables.check_model_file), every problem."""
    found = {model: check_model_file(model, frame, live_ids, min_live_share) for model, frame in frames.items()}
    return {model: problems for model, problems in found.items() if problems}


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


def submission_files(accepted: Mapping[int, tuple[Submission, bytes]]) -> dict[str, bytes]:
    return {submission_file_name(m, s.file_name): blob for m, (s, blob) in accepted.items()}
