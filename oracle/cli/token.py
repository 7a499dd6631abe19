"""``tourney token balance|transfer`` and ``tourney reserve fund|show``: tokens, gas money and the reward reserve.

Amounts are typed and printed in tokens with decimals (``12.5``); JSON carries smallest units as decimal strings.
An account is named by its address (``0x...``) or by a keystore account name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from oracle.cli.context import ChainOptions, chain_options
from oracle.cli.output import fail, get_output, json_option, make_table

if TYPE_CHECKING:
    from rich.console import Console  # imported where used: `tourney --help` must not pay for rich

__all__ = ["reserve_group", "token_group"]


def _address(chain: ChainOptions, who: str) -> tuple[str, str]:
    """(label, checksummed address) of an address or a keystore account name."""
    from web3 import Web3

    if Web3.is_address(who):
        return who, Web3.to_checksum_address(who)
    keystore = chain.keystore()
    if keystore.exists(who):
        return who, keystore.address(who)
    fail(f"{who!r} is neither an address (0x...) nor an account of {keystore.directory} (`tourney account list`)")
    raise AssertionError


def _ether(text: str) -> int:
    from oracle.participant.amounts import parse_amount

    return parse_amount(text, 18)


@click.group("token")
def token_group() -> None:
    """The tournament's token and gas money: balances, transfers."""


@token_group.command("balance")
@click.argument("who", nargs=-1)
@chain_options
@json_option
def balance_command(chain: ChainOptions, who: tuple[str, ...]) -> None:
    """Tokens and ether (for gas) held by each WHO (address or account name; default: --account)."""
    from oracle.chain.units import format_tokens
    from oracle.participant.tokens import balances, token_symbol

    names = list(who) or ([chain.account] if chain.account else [])
    if not names:
        fail("name an account or address (tourney token balance alice), or pass --account NAME", code=2)
    targets = [_address(chain, name) for name in names]
    conn = chain.connect(need_account=False)
    symbol = token_symbol(conn)
    found = [(label, balances(conn, address)) for label, address in targets]
    data = {
        "symbol": symbol,
        "decimals": 18,
        "balances": [{"name": label, "address": b.address, "tokens": b.tokens, "ether": b.ether} for label, b in found],
    }

    def render(console: Console) -> None:
        rows = [
            (label, b.address, format_tokens(b.tokens, 18, symbol), format_tokens(b.ether, 18, "ETH", places=6))
            for label, b in found
        ]
        console.print(
            make_table(
                "Balances", ["account", "address", "tokens", "ether (gas)"], rows, numeric=("tokens", "ether (gas)")
            )
        )

    get_output().emit(data, render)


@token_group.command("transfer")
@click.option("--to", "to", required=True, metavar="ADDRESS|NAME", help="Who receives (address or account name).")
@click.argument("amount", required=False)
@click.option(
    "--eth", "ether", default=None, metavar="AMOUNT", help="Also send this much ether for gas (e.g. 1 or 0.05)."
)
@chain_options
@json_option
def transfer_command(chain: ChainOptions, to: str, amount: str | None, ether: str | None) -> None:
    """Send AMOUNT tokens (e.g. 1000 or 12.5) from --account to --to, and with --eth ether for gas."""
    from oracle.chain.hashes import tx_hash
    from oracle.chain.units import format_tokens
    from oracle.participant.amounts import parse_amount
    from oracle.participant.tokens import send_ether, token_symbol, transfer_tokens

    if amount is None and ether is None:
        fail("nothing to send: give an AMOUNT of tokens, --eth AMOUNT of ether, or both", code=2)
    label, address = _address(chain, to)
    who = address if label == address else f"{label} ({address})"
    conn = chain.connect()
    symbol = token_symbol(conn)
    data: dict[str, Any] = {"to": address, "symbol": symbol}
    lines = []
    if ether is not None:
        wei = _ether(ether)
        receipt = send_ether(conn, address, wei)
        data.update(ether=wei, ether_tx=tx_hash(receipt))
        lines.append(f"sent {format_tokens(wei, 18, 'ETH')} to {who} for gas (tx {tx_hash(receipt)})")
    if amount is not None:
        units = parse_amount(amount, 18)
        receipt = transfer_tokens(conn, address, units)
        data.update(tokens=units, tokens_tx=tx_hash(receipt))
        lines.append(f"sent {format_tokens(units, 18, symbol)} to {who} (tx {tx_hash(receipt)})")
    get_output().emit(data, lambda c: c.print("\n".join(lines), highlight=False))


@click.group("reserve")
def reserve_group() -> None:
    """The reward reserve that payouts are drawn from: fund it, show it."""


def _render_reserve(state: Any, symbol: str, first: str | None = None) -> Any:
    from oracle.chain.units import format_tokens

    def render(console: Console) -> None:
        if first:
            console.print(first, highlight=False)
        console.print(
            f"reward reserve: {format_tokens(state.reserve, 18, symbol)} (committed to activated rounds: "
            f"{format_tokens(state.committed, 18, symbol)}; free: {format_tokens(state.free, 18, symbol)})",
            highlight=False,
        )

    return render


@reserve_group.command("show")
@chain_options
@json_option
def reserve_show(chain: ChainOptions) -> None:
    """What the reward reserve holds."""
    from oracle.participant.tokens import reserve_state, token_symbol

    conn = chain.connect(need_account=False)
    state = reserve_state(conn)
    get_output().emit(
        {"reserve": state.reserve, "committed": state.committed, "free": state.free},
        _render_reserve(state, token_symbol(conn)),
    )


@reserve_group.command("fund")
@click.argument("amount")
@chain_options
@json_option
def reserve_fund(chain: ChainOptions, amount: str) -> None:
    """Move AMOUNT of --account's tokens into the reward reserve (approves the tournament first when needed)."""
    from oracle.chain.hashes import tx_hash
    from oracle.chain.units import format_tokens
    from oracle.participant.amounts import parse_amount
    from oracle.participant.tokens import fund_reserve, reserve_state, token_symbol

    conn = chain.connect()
    units = parse_amount(amount, 18)
    receipts = fund_reserve(conn, units)
    state = reserve_state(conn)
    symbol = token_symbol(conn)
    data = {
        "funded": units,
        "reserve": state.reserve,
        "committed": state.committed,
        "free": state.free,
        "transactions": [tx_hash(r) for r in receipts],
    }
    get_output().emit(
        data,
        _render_reserve(
            state,
            symbol,
            f"funded the reserve with {format_tokens(units, 18, symbol)} ({len(receipts)} transaction(s))",
        ),
    )
