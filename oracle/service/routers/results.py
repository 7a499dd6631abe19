"""Result routes: the standing proposal's manifest, scores, and each model's leaf and proof."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends

from oracle.service.routers.deps import check_round, get_service
from oracle.service.schemas import ApiError, ManifestOut, ProofOut, ScoresOut, error_responses
from oracle.service.state import Service
from oracle.settlement.leaves import proof_for
from oracle.settlement.standard import StandardMerkleTree

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/rounds/{round}/manifest", response_model=ManifestOut, responses=error_responses(404, 503), tags=["results"]
)
def manifest(round: int, service: Service = Depends(get_service)) -> ManifestOut:
    """The manifest of the round's standing proposal (its keccak is the on-chain manifestHash)."""
    check_round(round)
    bundle, status = service.bundle(round)
    return ManifestOut(
        round=round,
        manifest_uri=bundle.uri,
        manifest_hash=bundle.keccak256,
        status=status,
        manifest=bundle.manifest.to_dict(),
    )


@router.get("/rounds/{round}/scores", response_model=ScoresOut, responses=error_responses(404, 503), tags=["results"])
def scores(round: int, service: Service = Depends(get_service)) -> ScoresOut:
    """Per-model scores, stakes at risk, payouts and burns of the round's standing proposal."""
    check_round(round)
    bundle, _ = service.bundle(round)
    rows = json.loads(bundle.scores().to_json(orient="records", default_handler=str))
    for row in rows:
        for key in ("stake_at_risk", "payout", "burn"):
            if key in row and row[key] is not None:
                row[key] = str(row[key])
    return ScoresOut(round=round, manifest_uri=bundle.uri, scores=rows)


@router.get(
    "/rounds/{round}/models/{model_id}/proof",
    response_model=ProofOut,
    responses=error_responses(404, 503),
    tags=["results"],
)
def proof(round: int, model_id: int, service: Service = Depends(get_service)) -> ProofOut:
    """The model's cumulative leaf and Merkle proof in the round's tree (arguments of ``settle``)."""
    check_round(round)
    bundle, status = service.bundle(round)
    tree = StandardMerkleTree.load(bundle.tree_dump())
    try:
        found = proof_for(tree, model_id)
    except (KeyError, ValueError):
        raise ApiError(
            404,
            "not_in_tree",
            f"model {model_id} has no leaf in round {round}'s tree "
            "(no stake when the round closed, or registered after it)",
        ) from None
    return ProofOut(
        round=round,
        model_id=model_id,
        cumulative_payout=str(found.leaf.cumulative_payout),
        cumulative_burn=str(found.leaf.cumulative_burn),
        proof=list(found.proof),
        root=bundle.manifest.root,
        status=status,
    )
