"""Judging a round's snapshotted submissions: which are accepted, and why each other one is refused (a reason
code and the whole signed record, so an auditor can re-check every refusal)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

import fsspec
import pandas as pd

from oracle.bundle.manifest import FileEntry
from oracle.bundle.store import ArtifactStore
from oracle.chain.client import TournamentClient
from oracle.chain.clock import format_time
from oracle.protocol.inbox import Inbox
from oracle.protocol.submission import Submission, SubmissionError, replay_key, verify_submission
from oracle.scoring.matrix import PredictionTable
from oracle.scoring.prediction_files import combine_prediction_files
from oracle.scoring.tables import check_model_file, read_prediction_file
from oracle.scoring.validation import PredictionError, TableError, validate_predictions

#: Submissions read and judged at once.
JUDGE_THREADS = 4

__all__ = [
    "check_submissions",
    "file_problems",
    "judge",
    "late_detail",
    "rejection",
    "rejection_order",
    "scored_predictions",
    "stored_submission_files",
    "submission_file_name",
]


def _extension(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
    return ext if ext.isalnum() and len(ext) <= 10 else "bin"


def submission_file_name(model_id: int, file_name: str) -> str:
    """The bundle's name for a model's signed prediction file (kept byte for byte, so its hash checks)."""
    return f"submission-{model_id}.{_extension(file_name)}"


def check_submissions(
    client: TournamentClient, inbox: Inbox, round: int, snapshot: Mapping[str, Any], owners: Mapping[int, str]
) -> tuple[dict[int, tuple[Submission, bytes]], list[dict[str, Any]]]:
    """(accepted submission per model id, rejections with reasons) for the snapshot and the late arrivals."""
    chain_id, tournament = client.chain_id(), client.tournament.address
    accepted: dict[int, tuple[Submission, bytes]] = {}
    rejections: list[dict[str, Any]] = []
    # Keyed on the signed content, not the signature bytes: a re-encoded copy of a snapshotted record is that record.
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
            snapshotted.add(replay_key(sub))
            if reason is None:
                accepted[sub.model_id] = (sub, data)
            else:
                rejections.append(rejection(sub, reason, detail))
    for problem in snapshot.get("problems", []):
        rejections.append({"model_id": None, "reason": "corrupt_inbox_entry", "detail": problem})
    # Whatever is in the inbox now but not in the snapshot was stamped at or after closesAt (or after the
    # snapshot was taken): late.
    closes_at = int(snapshot.get("closes_at") or client.round_state(round).closes_at)
    for sub in inbox.records(round):  # records only: late arrivals' files need not be read
        if replay_key(sub) not in snapshotted:
            rejections.append(rejection(sub, "late", late_detail(sub, closes_at)))
    return dict(sorted(accepted.items())), rejections


def scored_predictions(
    accepted: Mapping[int, tuple[Submission, bytes]],
    rejections: list[dict[str, Any]],
    live_ids: list[str],
    min_live_share: float,
) -> tuple[PredictionTable, dict[int, tuple[Submission, bytes]]]:
    """(the predictions of every accepted file that is fit to score, ids sorted, read straight into the scoring
    matrix; the accepted submissions it holds). Each file is judged alone against the live ids, as the service and
    the participant's client check it, so a refusal (appended to ``rejections``) names the rule the file broke
    (``missing_ids``, not the NaN it would become in the combined table): a file whose ids are exactly the live ids
    by the combined table's validation (the same per-model rules), any other by
    :func:`oracle.scoring.tables.check_model_file` on the file itself."""
    files = {str(m): (sub.file_name, blob) for m, (sub, blob) in accepted.items()}
    ids_of: dict[str, Any] = {}
    predictions, file_errors = combine_prediction_files(files, ids_of=ids_of)
    for error in file_errors:
        assert error.model is not None  # combine_model_files names the model of every per-file error
        sub, _ = accepted[int(error.model)]
        if error.rule == "unreadable":  # the participant's file, not ours
            rejections.append(rejection(sub, "unreadable_file", f"{sub.file_name}: {error.message}"))
        else:
            rejections.append(rejection(sub, error.rule, error.message))
    live = pd.Index([str(i) for i in live_ids])
    exact: dict[int, bool] = {}  # by id list (files share a handful of them)
    problems: dict[str, list[PredictionError]] = {}
    for model in predictions.models:
        ids = ids_of[model]
        if id(ids) not in exact:
            exact[id(ids)] = len(ids) == len(live) and bool(live.isin(ids).all()) and not live.has_duplicates
        if not exact[id(ids)]:
            found = check_model_file(model, read_prediction_file(*files[model]), live_ids, min_live_share)
            if found:
                problems[model] = found
    if predictions.models:
        try:
            checked = validate_predictions(predictions, live_ids, min_live_share=min_live_share).errors
        except TableError as exc:
            checked = exc.errors
        for error in checked:
            if error.model is not None and error.model not in problems and exact.get(id(ids_of[error.model])):
                problems.setdefault(error.model, []).append(error)
    for model, found in problems.items():
        rejections.append(rejection(accepted[int(model)][0], found[0].rule, "; ".join(map(str, found))))
    if problems:
        kept_ids = {id(ids_of[m]): ids_of[m] for m in predictions.models if m not in problems}
        if len(kept_ids) == len({id(ids_of[m]) for m in predictions.models}):
            predictions = predictions.without(set(problems))  # the same ids: the refused rows go
        else:  # a refused file brought ids no other file has: the table is laid out again without it
            predictions, _ = combine_prediction_files(
                {m: f for m, f in files.items() if m in ids_of and m not in problems}
            )
    if not predictions.models:
        # No usable submission: an id-only table of the live ids scores every staked model 0/0.
        predictions = PredictionTable.from_frame(pd.DataFrame({"id": sorted(map(str, live_ids))}))
    kept = {m: v for m, v in accepted.items() if str(m) in set(predictions.models)}
    return predictions, kept


def file_problems(
    frames: Mapping[str, Any], live_ids: list[str], min_live_share: float
) -> dict[str, list[PredictionError]]:
    """Per model whose file breaks the round's rules (oracle.scoring.tables.check_model_file), every problem."""
    found = {model: check_model_file(model, frame, live_ids, min_live_share) for model, frame in frames.items()}
    return {model: problems for model, problems in found.items() if problems}


def judge(
    sub: Submission,
    data: bytes,
    round: int,
    owners: Mapping[int, str],
    chain_id: int,
    tournament: str,
) -> tuple[str | None, str]:
    """Why a submission is refused (reason code and detail), or (None, "") when it is accepted."""
    if sub.model_id not in owners:
        return "unknown_model", f"model {sub.model_id} was not registered when round {round} closed"
    problems = verify_submission(sub, data, owners[sub.model_id], chain_id=chain_id, tournament=tournament, round=round)
    if not problems:
        return None, ""
    codes = {problem.code for problem in problems}
    # One reason per refusal, the most telling first; anything else (hash, chain, contract, round) is "invalid".
    reason = next((code for code in ("bad_signature", "not_owner", "expired") if code in codes), "invalid")
    return reason, "; ".join(problems)


def rejection(sub: Submission, reason: str, detail: str) -> dict[str, Any]:
    # The whole signed record goes in, so an auditor can re-check that the refusal was deserved.
    return {
        "model_id": sub.model_id,
        "reason": reason,
        "detail": detail,
        "signature": sub.signature,
        "record": sub.to_json(),
    }


def late_detail(sub: Submission, closes_at: int) -> str:
    if sub.received_at is None:
        return "no received_at stamp: cannot show it arrived before the round closed"
    if sub.received_at >= closes_at:
        # People read this in `tourney status`; the signed record beside it keeps the exact stamp.
        return (
            f"received at {format_time(sub.received_at)}, at or after the round's close at "
            f"{format_time(closes_at)} (chain time)"
        )
    return "delivered after the round's snapshot was taken"


def rejection_order(r: Mapping[str, Any]) -> tuple:
    # Deterministic order, so the same inputs give a byte-identical rejections file.
    return (r["model_id"] is None, r["model_id"] or 0, r["reason"], r.get("signature", ""), r["detail"])


def stored_submission_files(
    store: ArtifactStore, snapshot: Mapping[str, Any], accepted: Mapping[int, tuple[Submission, bytes]]
) -> tuple[dict[str, FileEntry], dict[str, bytes]]:
    """The accepted submissions' files for the bundle: (entries of those the snapshot already put in ``store``,
    bytes of the others). An accepted file's keccak was checked against its signed hash when it was judged, and the
    snapshot's object is named by its sha256: nothing needs hashing or writing again (10,000 files: 1 GB)."""
    objects = {
        item["record"].get("signature"): item.get("object")
        for item in snapshot.get("submissions", [])
        if isinstance(item, Mapping) and isinstance(item.get("record"), Mapping)
    }
    stored: dict[str, FileEntry] = {}
    other: dict[str, bytes] = {}
    for model_id, (sub, blob) in accepted.items():
        name = submission_file_name(model_id, sub.file_name)
        uri = str(objects.get(sub.signature) or "")
        entry = FileEntry(
            name=name, sha256=uri.rsplit("/", 1)[-1].split(".", 1)[0], keccak256=sub.predictions_hash, size=len(blob)
        )
        if uri and store.object_uri(entry) == uri:
            stored[name] = entry
        else:
            other[name] = blob
    return stored, other
