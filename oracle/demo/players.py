"""The demo's participants: encrypted keystores, ether and tokens, registered models and their stakes.

Half of them stake with an EIP-2612 permit (one transaction), half with approve + stake, so both paths of the
tournament's stake run in every demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from oracle.chain.keystore import Keystore
from oracle.chain.tx import Sender
from oracle.protocol.permit import permit_signature

__all__ = ["KEYSTORE_PASSWORD", "Player", "enroll_players"]

KEYSTORE_PASSWORD = "demo-password-not-for-real-funds"


@dataclass
class Player:
    """One participant: its unlocked account, the Sender that signs for it, and the models it owns."""

    name: str
    account: LocalAccount
    sender: Sender
    models: list[int]


def enroll_players(
    w3: Web3, admin: Sender, token: Any, tournament: Any, keystore: Keystore, count: int, models_each: int, stake: int
) -> list[Player]:
    """``count`` participants, each with a keystore account in ``keystore``, 1 ether and ten times the tokens it
    stakes, ``models_each`` registered models and ``stake`` (smallest units) on each of them."""
    players: list[Player] = []
    chain_id = w3.eth.chain_id
    for i in range(count):
        name = f"participant{i:02d}"
        keystore.create(name, KEYSTORE_PASSWORD)
        account = keystore.unlock(name, KEYSTORE_PASSWORD)
        sender = Sender(w3, account)
        admin.send_ether(account.address, 10**18)
        admin.transact(token.functions.transfer(account.address, 10 * stake * models_each), action=f"tokens for {name}")
        models = []
        for _ in range(models_each):
            receipt = sender.transact(tournament.functions.registerModel(), action=f"{name} registers a model")
            models.append(int(tournament.events.ModelRegistered().process_receipt(receipt)[0]["args"]["modelId"]))
        if i % 2 == 0:
            for model_id in models:
                deadline = int(w3.eth.get_block("latest")["timestamp"]) + 3600
                v, r, s = permit_signature(account, token, tournament.address, stake, deadline, chain_id)
                sender.transact(
                    tournament.functions.stakeWithPermit(model_id, stake, deadline, v, r, s),
                    action=f"{name} stakes on model {model_id} with a permit",
                )
        else:
            sender.transact(token.functions.approve(tournament.address, stake * len(models)), action="approve")
            for model_id in models:
                sender.transact(tournament.functions.stake(model_id, stake), action=f"{name} stakes on {model_id}")
        players.append(Player(name, account, sender, models))
    return players
