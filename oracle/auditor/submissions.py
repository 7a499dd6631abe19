"""The auditor's check of a bundle's submissions: every published prediction column is a file its model's owner
signed for this chain, contract and round, equal to it value for value; refusals the chain can decide were right.
Thousands of submissions are checked a few at a time and their files compared with the published predictions in
matrix form."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

import numpy as np
import pandas as pd
from web3 import Web3

from oracle.auditor.differences import Difference
from oracle.bundle.round_bundle import REJECTIONS_FILE, SUBMISSIONS_FILE, RoundBundle
from oracle.bundle.store import BundleError
from oracle.chain.client import TournamentClient
from oracle.protocol.submission import Submission, SubmissionError, recover_signer, verify_submission
from oracle.scoring.matrix import PredictionTable
from oracle.scoring.prediction_files import combine_prediction_files

__all__ = ["CHECK_THREADS", "check_submissions"]

#: Submissions whose signature and file are checked at once.
CHECK_THREADS = 4


def _same_values(a: pd.Series, b: pd.Series) -> bool:
    """Same ids in the same order and the same numbers (NaN equal to NaN), compared as arrays: walking a string
    index element by element cost seconds per thousand models."""
    if len(a) != len(b) or not a.index.equals(b.index):
        return False
    return bool(np.array_equal(a.to_numpy(dtype=float), b.to_numpy(dtype=float), equal_nan=True))


def check_submissions(bundle: RoundBundle, client: TournamentClient, owners: Mapping[int, str]) -> list[Difference]:
    """Every prediction column is a signed file of its model's owner; refusals that can be re-checked were right."""
    out: list[Difference] = []
    round = bundle.round
    chain_id, tournament = client.chain_id(), client.tournament.address
    try:
        entries = bundle.json(SUBMISSIONS_FILE)
        published = bundle.prediction_table()
    except (BundleError, KeyError) as exc:
        return [Difference("submission", "bundle", "readable", True, f"error: {exc}")]
    published_models = set(published.models)
    # Files the bundle load found intact: their keccak is the manifest's, already checked against their bytes.
    damaged = {problem.file for problem in bundle.problems}
    known_hash = {name: entry.keccak256 for name, entry in bundle.manifest.files.items() if name not in damaged}
    signed: set[str] = set()
    files: dict[str, tuple[str, bytes]] = {}

    def check(entry: Mapping[str, Any]) -> tuple[Any, bytes, list[Difference]]:
        model = str(entry.get("model_id"))
        try:
            sub = Submission.from_json(entry["record"], f"{SUBMISSIONS_FILE} model {model}")
            data = bundle.raw(entry["file"])
        except (SubmissionError, BundleError, KeyError) as exc:
            return None, b"", [Difference("submission", model, "readable", True, f"error: {exc}")]
        owner = owners.get(sub.model_id)
        if owner is None:
            return sub, data, [Difference("submission", model, "model", "registered before close", "unknown model")]
        found = []
        for problem in verify_submission(
            sub,
            data,
            owner,
            chain_id=chain_id,
            tournament=tournament,
            round=round,
            data_hash=known_hash.get(entry["file"]),
        ):
            field_name = "signature" if problem.code in ("bad_signature", "not_owner") else "record"
            found.append(Difference("submission", model, field_name, "valid", problem))
        return sub, data, found

    # Several at a time, in order: recovering signatures and hashing leave the GIL.
    with ThreadPoolExecutor(CHECK_THREADS) as pool:
        for sub, data, found in pool.map(check, entries):
            out += found
            if sub is None:
                continue
            signed.add(str(sub.model_id))
            if sub.model_id in owners and str(sub.model_id) in published_models:
                # (else refused later by validation: listed in the rejections)
                files[str(sub.model_id)] = (sub.file_name, data)
    out += _compare_published(published, files)
    for column in published.models:
        if column not in signed:
            out.append(Difference("submission", column, "signature", "missing", "predictions without a signed file"))
    try:
        rejections = bundle.json(REJECTIONS_FILE)
    except BundleError:
        rejections = []
    for rejection in rejections:
        out += _recheck_rejection(rejection, owners, chain_id, tournament, round)
    return out


def _compare_published(published: PredictionTable, files: Mapping[str, tuple[str, bytes]]) -> list[Difference]:
    """Each model's published predictions are its signed file's, id for id and value for value (NaN and absent
    alike). The signed files are read into one matrix, by the one reader of prediction files, and compared with the
    published matrix row against row."""
    signed, errors = combine_prediction_files(dict(files))
    out = [Difference("submission", e.model or "bundle", "file", "readable", f"error: {e}") for e in errors]
    if published.raw_ids is None:
        return [
            *out,
            Difference("submission", "bundle", "readable", True, "error: the published predictions have no id column"),
        ]
    assert signed.raw_ids is not None  # combine_prediction_files always lays the files onto their ids' union
    published_ids = pd.Index(published.raw_ids.astype(str).to_numpy())
    signed_ids = pd.Index(signed.raw_ids.astype(str).to_numpy())
    # Where each signed id sits among the published ids (-1: published without that id).
    position = published_ids.get_indexer(signed_ids)
    outside = position < 0
    differs = "differs from the signed file"
    for model in signed.models:
        if model in published.row_of and model in signed.row_of:
            mine = signed.values[signed.row_of[model]]
            if not np.isnan(mine[outside]).all():
                same = False
            else:
                laid = np.full(len(published_ids), np.nan)
                laid[position[~outside]] = mine[~outside]
                same = bool(np.array_equal(laid, published.values[published.row_of[model]], equal_nan=True))
        else:  # a column that is not all numbers (refused by validation, published as sent): cell by cell
            theirs, mine = _by_id(published.column(model), published_ids), _by_id(signed.column(model), signed_ids)
            same = len(mine) == len(theirs) and _same_cells(theirs, mine.reindex(theirs.index))
        if not same:
            out.append(Difference("submission", model, "predictions", "as published", differs))
    return out


def _same_cells(a: pd.Series, b: pd.Series) -> bool:
    """:func:`_same_values`, or for cells that are not numbers, the same text in every cell."""
    try:
        return _same_values(a, b)
    except (TypeError, ValueError):
        return a.index.equals(b.index) and a.astype(str).tolist() == b.astype(str).tolist()


def _by_id(column: pd.Series, ids: pd.Index) -> pd.Series:
    """A column's non-missing values by id, in id order."""
    return column.set_axis(ids).dropna().sort_index()


def _recheck_rejection(
    rejection: Mapping[str, Any], owners: Mapping[int, str], chain_id: int, tournament: str, round: int
) -> list[Difference]:
    """A refusal the chain can decide: an unknown model must be unknown, a non-owner must not be the owner."""
    reason, record = rejection.get("reason"), rejection.get("record")
    if record is None or reason not in ("unknown_model", "not_owner"):
        return []
    try:
        sub = Submission.from_json(record)
    except SubmissionError:
        return []
    model = str(sub.model_id)
    if reason == "unknown_model" and sub.model_id in owners:
        return [Difference("rejection", model, "unknown_model", "refused", "model was registered before the close")]
    if reason == "not_owner":
        try:
            signer = recover_signer(sub)
        except SubmissionError:
            return []
        owner = owners.get(sub.model_id)
        right_domain = (
            sub.chain_id == chain_id and sub.tournament == Web3.to_checksum_address(tournament) and sub.round == round
        )
        if owner is not None and signer == owner and right_domain:
            return [Difference("rejection", model, "not_owner", "refused", f"signed by the owner {owner}")]
    return []
