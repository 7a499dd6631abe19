"""Token amounts as people read them: smallest units (what the chain counts) to exact decimal text, never float."""

from __future__ import annotations

__all__ = ["format_amount", "format_tokens"]


def format_amount(units: int, decimals: int = 18) -> str:
    """Smallest units to exact token text: ``12500000000000000000`` -> ``12.5`` (decimals 18).

    ``whole = |units| // 10**decimals`` and the remainder is written with ``decimals`` digits, trailing zeros
    dropped, so the text parses back to exactly ``units``."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(int(units)), 10**decimals)
    text = f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".") if decimals else str(whole)
    return sign + text


def format_tokens(units: int, decimals: int = 18, symbol: str = "STK", places: int | None = None) -> str:
    """``format_amount`` with thousands separators in the whole part and the symbol: ``1,000.5 STK``; with
    ``places``, at most that many decimals (cut towards zero, for display only: ``~`` marks a cut)."""
    cut = ""
    if places is not None and decimals > places:
        step = 10 ** (decimals - places)
        kept = (abs(int(units)) // step) * step * (1 if units >= 0 else -1)
        cut, units = ("~" if kept != units else ""), kept
    text = format_amount(units, decimals)
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, frac = text.partition(".")
    grouped = f"{int(whole):,}" + (f".{frac}" if frac else "")
    return f"{cut}{sign}{grouped} {symbol}".rstrip()
