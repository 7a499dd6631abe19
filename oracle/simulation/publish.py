"""Publishing a simulated round as the operator publishes a real one, so an auditor can check it.

The on-chain back end (:mod:`oracle.simulation.onchain`) proposes every round with the URI of a full round bundle
written by the operator's own code (``oracle.bundle.write.write_round_bundle``): the predictions, targets, stakes at
risk, scores, parameters, the previous round's cumulative leaves and the settlement tree, linked to the previous
round's manifest. Each model's predictions go in as a file signed (EIP-712, ``oracle.protocol.submission``) by the
model's owner for this chain, contract and round, and ``submissions.json`` lists them in the operator's format, so the
auditor's signature check passes exactly when the published predictions are the signed ones.

With that, ``tourney verify --all`` (``oracle.auditor.verify.verify_all``) recomputes every simulated round from its
bundle and the chain events alone, as it would a real tournament's.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, replace

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from eth_account.signers.local import LocalAccount

from oracle.bundle.manifest import ChainRef, Manifest, canonical_json
from oracle.bundle.round_bundle import REJECTIONS_FILE, SUBMISSIONS_FILE
from oracle.bundle.store import ArtifactStore
from oracle.bundle.write import write_round_bundle
from oracle.operator.intake import submission_file_name
from oracle.protocol.submission import sign_submission
from oracle.scoring.params import RoundParams

__all__ = ["RoundEvidence", "publish_round", "signed_submissions"]

#: The name each simulated participant gives its prediction file (Parquet: the floats go in bit for bit).
PREDICTION_FILE = "predictions.parquet"


@dataclass(frozen=True)
class RoundEvidence:
    """What a round's amounts were computed from: the predictions (``id`` plus one column per model, named by its
    decimal model id), the resolved targets, the round's parameters and the scores table ``score_round`` returned
    for them (``RoundScores.scores``, payouts and burns included)."""

    predictions: pd.DataFrame
    targets: pd.DataFrame
    params: RoundParams
    scores: pd.DataFrame


def _prediction_file(ids: pd.Series, values: pd.Series) -> bytes:
    """One model's prediction file: ``id`` and ``prediction``, as Parquet bytes (what its owner signs)."""
    sink = io.BytesIO()
    table = pa.table({"id": ids.astype(str).to_numpy(), "prediction": values.to_numpy(dtype="float64")})
    pq.write_table(table, sink)
    return sink.getvalue()


def signed_submissions(
    predictions: pd.DataFrame,
    owners: Mapping[int, LocalAccount],
    *,
    chain_id: int,
    tournament: str,
    round: int,
    closes_at: int,
    received_at: int,
) -> dict[str, bytes]:
    """The bundle's submission files: each model's prediction file signed by its owner, valid until the round's
    ``closes_at`` and received at ``received_at`` (before it), plus ``submissions.json`` listing them and an empty
    ``rejections.json`` (the simulated participants never send a bad file)."""
    if not received_at < closes_at:
        raise ValueError(f"round {round}: submissions received at {received_at}, not before the close {closes_at}")
    files: dict[str, bytes] = {}
    entries = []
    for column in (c for c in predictions.columns if c != "id"):
        model_id = int(column)
        if model_id not in owners:
            raise ValueError(f"round {round}: model {model_id} has predictions but no owner account to sign them")
        data = _prediction_file(predictions["id"], predictions[column])
        signed = sign_submission(
            owners[model_id], chain_id, tournament, round, model_id, data, closes_at, file_name=PREDICTION_FILE
        )
        signed = replace(signed, received_at=received_at)
        name = submission_file_name(model_id, signed.file_name)
        files[name] = data
        entries.append({"model_id": model_id, "file": name, "record": signed.to_json()})
    files[SUBMISSIONS_FILE] = canonical_json(entries)
    files[REJECTIONS_FILE] = canonical_json([])
    return files


def publish_round(
    store: ArtifactStore,
    round: int,
    evidence: RoundEvidence,
    at_risk: Mapping[int, int],
    previous_cumulative: Mapping[int, tuple[int, int]],
    previous_uri: str | None,
    chain: ChainRef,
    submissions: Mapping[str, bytes],
) -> tuple[Manifest, str, str]:
    """Write the round's full bundle to ``store`` and commit its manifest; returns (manifest, uri, keccak).

    ``at_risk`` is the chain's stake at risk per model id (the replay the auditor repeats); the models are named by
    their decimal ids, as in the predictions. ``previous_uri`` is the manifest of the last active round before this
    one (None for the first)."""
    stakes = pd.DataFrame(
        {"model": [str(m) for m in at_risk], "model_id": list(at_risk), "stake_at_risk": list(at_risk.values())}
    )
    return write_round_bundle(
        store,
        round,
        predictions=evidence.predictions,
        targets=evidence.targets,
        stakes=stakes,
        scores=evidence.scores,
        params=replace(evidence.params, round_number=round),
        previous_cumulative=previous_cumulative,
        chain=chain,
        previous=previous_uri,
        extra_files=submissions,
    )
