"""Token amounts as people write them (``12.5``) and as the chain counts them (smallest units), exactly: Decimal,
never float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from oracle.chain.connection import Connection
from oracle.chain.units import format_amount
from oracle.participant.models import ParticipantError

__all__ = ["format_amount", "parse_amount", "token_decimals"]


def token_decimals(conn: Connection) -> int:
    """The token's ``decimals()``."""
    return int(conn.token.functions.decimals().call())


def parse_amount(text: str | int | Decimal, decimals: int = 18) -> int:
    """Token text (``12.5``) to smallest units, exactly; refuses more fractional digits than the token has."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = Decimal(text)
    else:
        try:
            value = Decimal(str(text).strip().replace("_", ""))
        except InvalidOperation:
            raise ParticipantError(f"amount {text!r} is not a number") from None
    if not value.is_finite():
        raise ParticipantError(f"amount {text!r} is not a finite number")
    units = value.scaleb(decimals)
    if units != units.to_integral_value():
        raise ParticipantError(f"amount {text!r} has more than {decimals} decimal places")
    if units <= 0:
        raise ParticipantError(f"amount {text!r} must be positive")
    return int(units)
