"""What the operator publishes, served as files: the deployment, each round's rules, and the artifact store's bundles
by content address (so an auditor anywhere can recompute a round from the service's URL alone).

* ``GET /deployment``: the deployment record (chain id, token and tournament addresses, roles) participants connect
  with; it is what ``tourney deploy`` wrote.
* ``GET /rounds/{round}/rules``: the rules the operator published when it opened the round
  (:mod:`oracle.protocol.rules`).
* ``GET /bundles/rounds/{round}/{manifest}`` and ``GET /bundles/objects/{sha256}.{ext}``: the store's manifests and
  objects, byte for byte. Names are checked against the store's own patterns (no other path can be read); the
  content proves itself (the manifest's keccak is on-chain, every object is named by its SHA-256).
"""

from __future__ import annotations

import dataclasses
import re

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from oracle.bundle.store import MANIFEST_NAME, ArtifactStore, join_path
from oracle.protocol.rules import rules_record_name
from oracle.service.routers.deps import check_round, get_service
from oracle.service.schemas import ApiError, error_responses
from oracle.service.state import Service

__all__ = ["router"]

router = APIRouter()

_OBJECT_NAME = re.compile(r"^[0-9a-f]{64}\.[A-Za-z0-9]{1,10}$")
_IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}


def _store(service: Service) -> ArtifactStore:
    return ArtifactStore(service.config.store)


def _read(store: ArtifactStore, path: str, what: str) -> bytes:
    try:
        return store.fs.cat_file(path)
    except (FileNotFoundError, IsADirectoryError):
        raise ApiError(404, "not_found", f"the store has no {what}") from None


@router.get("/deployment", tags=["published"])
def deployment(service: Service = Depends(get_service)) -> dict:
    """The deployment participants connect to: save it as ``deployment.json`` (``tourney`` reads it by default)."""
    return dataclasses.asdict(service.config.deployment)


@router.get("/rounds/{round}/rules", tags=["published"], responses=error_responses(404))
def rules(round: int, service: Service = Depends(get_service)) -> Response:
    """The round's rules as published when it opened: scoring parameters, the live file's hash and id count, and
    the prediction file format. ``tourney submit`` checks files against them before signing."""
    check_round(round)
    data = _store(service).get_record(rules_record_name(round))
    if data is None:
        raise ApiError(
            404,
            "no_rules",
            f"round {round} has no published rules: it has not been opened yet, or was "
            "opened by an operator that did not publish them",
        )
    return Response(data, media_type="application/json")


@router.get("/bundles/rounds/{round}/{name}", tags=["published"], responses=error_responses(404))
def bundle_manifest(round: int, name: str, service: Service = Depends(get_service)) -> Response:
    """A round's manifest from the store, byte for byte (its keccak is the on-chain manifestHash)."""
    check_round(round)
    if not MANIFEST_NAME.match(name):
        raise ApiError(404, "not_found", f"{name!r} is not a manifest name (manifest-<seq>-<keccak>.json)")
    store = _store(service)
    data = _read(store, join_path(store.root, "rounds", str(round), name), f"manifest {name} for round {round}")
    return Response(data, media_type="application/json", headers=_IMMUTABLE)


@router.get("/bundles/objects/{name}", tags=["published"], responses=error_responses(404))
def bundle_object(name: str, service: Service = Depends(get_service)) -> Response:
    """A bundle file by content address (``<sha256>.<ext>``), byte for byte."""
    if not _OBJECT_NAME.match(name):
        raise ApiError(404, "not_found", f"{name!r} is not an object name (<sha256>.<ext>)")
    store = _store(service)
    data = _read(store, join_path(store.root, "objects", name), f"object {name}")
    return Response(data, media_type="application/octet-stream", headers=_IMMUTABLE)
