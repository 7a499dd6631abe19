"""Bundle routes: the raw bytes of a proposal's manifest and of the files it lists, for people who download a
round's results from the rounds page. Only bundles named by a ``RootProposed`` event of this tournament are
served (the service is no open proxy), read from that event's URI and checked against the hashes on chain and in
the manifest before a byte is sent."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from oracle.bundle.manifest import keccak_hex
from oracle.chain.client import Proposal
from oracle.service.schemas import ApiError, error_responses
from oracle.service.web_state import WebState, get_web

__all__ = ["router"]

router = APIRouter()

_HASH = re.compile(r"^0x[0-9a-f]{64}$")
_TYPES = {"json": "application/json", "parquet": "application/vnd.apache.parquet"}
_CONTENT = {
    "content": {
        "application/json": {"schema": {"type": "string", "format": "binary"}},
        "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    }
}


def _proposal(web: WebState, manifest_hash: str) -> Proposal:
    if not _HASH.match(manifest_hash):
        raise ApiError(
            404, "unknown_bundle", f"{manifest_hash!r} is not a manifest hash (0x and 64 lowercase hex digits)"
        )
    web.sync()
    proposal = web.history.proposal_by_hash(manifest_hash)
    if proposal is None:
        raise ApiError(
            404, "unknown_bundle", f"no root of this tournament was proposed with manifest hash {manifest_hash}"
        )
    return proposal


def _download(data: bytes, round: int, name: str) -> Response:
    kind = _TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    return Response(
        data,
        media_type=kind,
        headers={
            "Content-Disposition": f'attachment; filename="{round}-{name}"',
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )


@router.get(
    "/bundles/{manifest_hash}/manifest.json",
    response_class=Response,
    tags=["web"],
    responses={200: {**_CONTENT, "description": "The manifest (canonical JSON)."}, **error_responses(404, 503)},
)
def manifest_file(manifest_hash: str, web: WebState = Depends(get_web)) -> Response:
    """A proposal's manifest exactly as hashed on chain."""
    proposal = _proposal(web, manifest_hash)
    manifest = web.manifest(proposal)
    data = manifest.to_bytes()
    if keccak_hex(data) != proposal.manifest_hash:  # stored in another form than canonical: not what was hashed
        raise ApiError(
            503, "bundle_unavailable", f"round {proposal.round}: the published manifest is not in canonical form"
        )
    return _download(data, proposal.round, "manifest.json")


@router.get(
    "/bundles/{manifest_hash}/files/{name}",
    response_class=Response,
    tags=["web"],
    responses={
        200: {**_CONTENT, "description": "The file's bytes, checked against the manifest."},
        **error_responses(404, 503),
    },
)
def bundle_file(manifest_hash: str, name: str, web: WebState = Depends(get_web)) -> Response:
    """A file the manifest lists, by its name there (``scores.parquet``, ``tree.json``, ...)."""
    proposal = _proposal(web, manifest_hash)
    manifest = web.manifest(proposal)
    if name not in manifest.files:
        raise ApiError(
            404,
            "unknown_file",
            f"the bundle of round {proposal.round} has no file {name!r} (its manifest.json lists every file)",
        )
    return _download(web.file(proposal, name), proposal.round, name)
