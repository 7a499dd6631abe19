"""A participant's models: registering one, finding one's own, and the checks every model action starts with."""

from __future__ import annotations

from web3 import Web3
from web3.logs import DISCARD
from web3.types import TxReceipt

from oracle.chain.client import ModelInfo
from oracle.chain.connection import Connection
from oracle.chain.tx import ChainError

__all__ = ["ParticipantError", "model_info", "owned_models", "register_model", "require_owner"]


class ParticipantError(ChainError):
    """A participant action cannot be done; the message says what is wrong and what would fix it."""


def model_info(conn: Connection, model_id: int) -> ModelInfo:
    """A registered model's on-chain record; a clear error for an id never registered."""
    info = conn.client.model_info(int(model_id))
    if not info.registered:
        raise ParticipantError(
            f"model {model_id} is not registered (this tournament has {conn.client.model_count()} model(s))"
        )
    return info


def require_owner(conn: Connection, model_id: int) -> None:
    owner = model_info(conn, model_id).owner
    if owner != conn.address:
        raise ParticipantError(f"model {model_id} is owned by {owner}, not by your account {conn.address}")


def register_model(conn: Connection) -> tuple[int, TxReceipt]:
    """Register a new model owned by the connection's account; returns (model id, receipt)."""
    receipt = conn.sender.transact(conn.tournament.functions.registerModel(), action="register model")
    events = conn.tournament.events.ModelRegistered().process_receipt(receipt, errors=DISCARD)
    if len(events) != 1:
        raise ParticipantError(f"register model: expected one ModelRegistered event, got {len(events)}")
    return int(events[0]["args"]["modelId"]), receipt


def owned_models(conn: Connection, owner: str) -> list[int]:
    """Model ids registered to ``owner``, from ModelRegistered events (ownership never changes)."""
    owner = Web3.to_checksum_address(owner)
    registered = conn.client.events(["ModelRegistered"])
    return [int(e.args["modelId"]) for e in registered if Web3.to_checksum_address(e.args["owner"]) == owner]
