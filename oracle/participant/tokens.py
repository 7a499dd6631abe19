"""Tokens and gas: what an account holds, handing tokens or ether to another account, and funding the reward reserve
(``approve`` then ``fundReserve``, the approval only when the current allowance is short).

Every check runs before anything is sent, and says in tokens what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3
from web3.types import TxReceipt

from oracle.chain.connection import Connection
from oracle.chain.units import format_tokens
from oracle.participant.models import ParticipantError

__all__ = [
    "Balances",
    "ReserveState",
    "balances",
    "fund_reserve",
    "reserve_state",
    "send_ether",
    "token_symbol",
    "transfer_tokens",
]


@dataclass(frozen=True)
class Balances:
    """An address's tokens (smallest units) and ether (wei)."""

    address: str
    tokens: int
    ether: int


@dataclass(frozen=True)
class ReserveState:
    """The reward reserve: the tokens in it, the part activated rounds committed to payouts not yet settled, and the
    free rest (what a new round's payouts can draw on)."""

    reserve: int
    committed: int
    free: int


def token_symbol(conn: Connection) -> str:
    return str(conn.token.functions.symbol().call())


def balances(conn: Connection, address: str) -> Balances:
    address = Web3.to_checksum_address(address)
    return Balances(address, int(conn.token.functions.balanceOf(address).call()), int(conn.w3.eth.get_balance(address)))


def _require_tokens(conn: Connection, units: int, what: str) -> None:
    held = balances(conn, conn.address).tokens
    if units > held:
        symbol = token_symbol(conn)
        raise ParticipantError(
            f"{what} needs {format_tokens(units, 18, symbol)} but {conn.address} holds "
            f"{format_tokens(held, 18, symbol)}"
        )


def transfer_tokens(conn: Connection, to: str, units: int) -> TxReceipt:
    """Send ``units`` of the token from the connection's account to ``to``."""
    to = Web3.to_checksum_address(to)
    _require_tokens(conn, units, f"sending tokens to {to}")
    return conn.sender.transact(conn.token.functions.transfer(to, int(units)), action=f"transfer tokens to {to}")


def send_ether(conn: Connection, to: str, wei: int) -> TxReceipt:
    """Send ``wei`` of the chain's ether (gas money) to ``to``."""
    to = Web3.to_checksum_address(to)
    held = balances(conn, conn.address).ether
    if wei >= held:
        raise ParticipantError(
            f"sending {format_tokens(wei, 18, 'ETH')} to {to} needs more than the "
            f"{format_tokens(held, 18, 'ETH')} {conn.address} holds (gas is paid on top)"
        )
    return conn.sender.send_ether(to, int(wei))


def reserve_state(conn: Connection) -> ReserveState:
    t = conn.tournament.functions
    return ReserveState(int(t.reserve().call()), int(t.committedPayout().call()), int(t.freeReserve().call()))


def fund_reserve(conn: Connection, units: int) -> list[TxReceipt]:
    """Move ``units`` of the account's tokens into the reward reserve; returns the receipts (approve, fund)."""
    _require_tokens(conn, units, "funding the reserve")
    receipts = []
    spender = conn.tournament.address
    if int(conn.token.functions.allowance(conn.address, spender).call()) < units:
        receipts.append(
            conn.sender.transact(
                conn.token.functions.approve(spender, int(units)),
                action="approve the tournament to take the reserve's tokens",
            )
        )
    receipts.append(conn.sender.transact(conn.tournament.functions.fundReserve(int(units)), action="fund the reserve"))
    return receipts
