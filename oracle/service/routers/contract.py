"""The deployed contracts for the web app's wallet: addresses and the build's ABIs (functions, events and errors),
so the app calls the contract and decodes its reverts by name without a build of its own."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from web3 import Web3

from oracle.chain.artifacts import abi
from oracle.service.routers.deps import get_service
from oracle.service.state import Service
from oracle.service.web_schemas import ContractOut

__all__ = ["router"]

router = APIRouter()


@router.get("/contract", response_model=ContractOut, tags=["web"])
def contract(service: Service = Depends(get_service)) -> Response:
    """Chain id, the tournament's and the token's addresses and JSON ABIs, the deployment block (changes only with a
    redeployment, so clients may cache it)."""
    deployment = service.config.deployment
    body = ContractOut(
        chain_id=service.chain_id,
        tournament={"address": service.tournament, "deployment_block": int(deployment.block), "abi": abi("Tournament")},
        token={"address": Web3.to_checksum_address(deployment.token), "abi": abi("TournamentToken")},
    )
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "public, max-age=300"})
