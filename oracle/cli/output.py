"""Shared output for every ``tourney`` subcommand: rich tables for people, ``--json`` for scripts.

A command builds one JSON-able result and a renderer for humans, then calls :meth:`Output.emit`. In
``--json`` mode only the JSON document goes to stdout (nothing else), so ``tourney --json ... | jq``
always works; human output and progress go through rich. Token amounts are exact integers and are
emitted as decimal strings in JSON (JavaScript readers lose precision beyond 2**53).

Imports only click at load time: every ``tourney`` command imports this module, and ``tourney --help`` must not
pay for rich, numpy or pandas (see :mod:`oracle.cli`).
"""

from __future__ import annotations

import json
import math
import numbers
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, NoReturn, Sequence

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "Output",
    "get_output",
    "jsonable",
    "make_table",
    "fail",
    "json_option",
    "tokens_cell",
]

EXIT_OK = 0
#: The command ran but the answer is "no": differences found, table-level input errors.
EXIT_FAILED = 1
# click itself exits with 2 on usage errors (unknown option, missing argument).

_MAX_SAFE_INT = 2**53 - 1


#: Keys whose integer values are token amounts (smallest units): always decimal strings in JSON, whatever their size,
#: so a script never has to handle both a number and a string for the same field.
AMOUNT_KEYS = frozenset(
    {
        "amount",
        "balance",
        "burn",
        "committed",
        "cumulative_burn",
        "cumulative_payout",
        "ether",
        "free",
        "funded",
        "net_deposits",
        "paid",
        "payout",
        "pending",
        "pending_withdrawal",
        "requested",
        "reserve",
        "reserve_funded",
        "round_burn",
        "round_payout",
        "stake",
        "stake_at_risk",
        "tokens",
        "total_stake_at_risk",
        "payout_threshold",
    }
)


def _loaded(name: str) -> Any:
    """An already imported module, or None: a value cannot be a numpy or pandas object unless the library is
    loaded, so type checks need not import it."""
    return sys.modules.get(name)


def _is_int(value: Any, np: Any) -> bool:
    return (isinstance(value, int) or (np is not None and isinstance(value, np.integer))) and not (
        isinstance(value, bool) or (np is not None and isinstance(value, np.bool_))
    )


def jsonable(value: Any) -> Any:
    """Convert a result to plain JSON values: token amounts (see AMOUNT_KEYS) and other ints beyond 2**53 as decimal
    strings, NaN as null, frames as records."""
    np, pd = _loaded("numpy"), _loaded("pandas")
    if isinstance(value, bool) or (np is not None and isinstance(value, np.bool_)):
        return bool(value)
    if isinstance(value, int) or (np is not None and isinstance(value, np.integer)):
        value = int(value)
        return value if abs(value) <= _MAX_SAFE_INT else str(value)
    if isinstance(value, float) or (np is not None and isinstance(value, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if pd is not None and isinstance(value, pd.DataFrame):
        return [jsonable(dict(zip(value.columns, row))) for row in value.itertuples(index=False, name=None)]
    if isinstance(value, Mapping):
        return {str(k): (str(int(v)) if k in AMOUNT_KEYS and _is_int(v, np) else jsonable(v)) for k, v in value.items()}
    if (
        isinstance(value, (list, tuple, set, frozenset))
        or (np is not None and isinstance(value, np.ndarray))
        or (pd is not None and isinstance(value, pd.Series))
    ):
        return [jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    return str(value)


def tokens_cell(units: Any) -> str:
    """A token amount in smallest units (an int or its decimal string) as exact tokens for a table: ``1,000.5``.
    Anything that is not an integer amount (a missing value, a float) is left to the table's own formatting."""
    from oracle.chain.units import format_tokens

    if isinstance(units, str) and units.lstrip("-").isdigit():
        units = int(units)
    # numbers.Integral takes numpy's integers without importing numpy at start-up (numpy's bool is not Integral).
    if isinstance(units, numbers.Integral) and not isinstance(units, bool):
        return format_tokens(int(units), symbol="")
    return _cell(units)


def make_table(
    title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Iterable[str] = ()
) -> Table:
    """A rich table; columns named in ``numeric`` are right-aligned."""
    from rich.table import Table

    right = set(numeric)
    table = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        table.add_column(name, justify="right" if name in right else "left", overflow="fold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    np = _loaded("numpy")
    if isinstance(value, float) or (np is not None and isinstance(value, np.floating)):
        return "nan" if value != value else f"{float(value):.6f}".replace("-0.000000", "0.000000")
    return str(value)


@dataclass
class Output:
    """Where a command's results go; one per invocation, created by the ``tourney`` group.

    The rich consoles are made on first use: a command that fails early or prints JSON never loads rich."""

    json_mode: bool = False
    _console: Console | None = field(default=None, repr=False)
    _err_console: Console | None = field(default=None, repr=False)

    @property
    def console(self) -> Console:
        """Human output on stdout."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(soft_wrap=False, width=_width())
        return self._console

    @property
    def err_console(self) -> Console:
        """Notes, warnings, errors and progress on stderr."""
        if self._err_console is None:
            from rich.console import Console

            self._err_console = Console(stderr=True, width=_width())
        return self._err_console

    def emit(self, data: Mapping[str, Any], render: Callable[[Console], None]) -> None:
        """Print ``data`` as JSON (``--json``) or call ``render`` with the human console."""
        if self.json_mode:
            click.echo(json.dumps(jsonable(data), indent=2, sort_keys=True, allow_nan=False))
        else:
            render(self.console)

    def note(self, message: str) -> None:
        """A human-only remark (suppressed in JSON mode, which must print exactly one document)."""
        if not self.json_mode:
            self.err_console.print(message)


def _width() -> int | None:
    # Rich falls back to 80 columns off a terminal, which folds wide tables in logs and CI output.
    return None if sys.stdout.isatty() else 160


def get_output(ctx: click.Context | None = None) -> Output:
    """The Output of the running ``tourney`` invocation (a plain human one outside the group)."""
    ctx = ctx or click.get_current_context(silent=True)
    if ctx is not None:
        found = ctx.find_object(Output)
        if found is not None:
            return found
    return Output()


def fail(message: str, code: int = EXIT_FAILED, details: Mapping[str, Any] | None = None) -> NoReturn:
    """Report a command-level failure (as ``{"error": ...}`` in JSON mode) and exit with ``code``."""
    out = get_output()
    if out.json_mode:
        click.echo(json.dumps(jsonable({"error": message, **(details or {})}), indent=2, sort_keys=True))
    else:
        from rich.markup import escape

        out.err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise click.exceptions.Exit(code)


def fail_with(exc: BaseException) -> NoReturn:
    """The one place an error becomes ``error: <message>`` (exit 1): every :class:`~oracle.errors.TourneyError`
    and a missing file, caught by the ``tourney`` group. Structured parts go to the JSON document: a revert's
    custom error and arguments, a table's broken rules."""
    if isinstance(exc, FileNotFoundError):
        fail(f"file not found: {exc.filename or exc}")
    details: dict[str, Any] = {}
    revert = getattr(exc, "error", None)
    if isinstance(revert, str):
        details = {"revert": revert, "revert_args": getattr(exc, "args_by_name", {})}
    problems = getattr(exc, "errors", None)
    if isinstance(problems, list):
        details["errors"] = [e.to_dict() if hasattr(e, "to_dict") else str(e) for e in problems]
    fail(" ".join(str(exc).split()), details=details)


def _enable_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        output = ctx.find_object(Output)
        if output is None:
            ctx.obj = output = Output()
        output.json_mode = True


#: ``--json`` on a subcommand too (``tourney score ... --json``), same effect as the global flag.
json_option = click.option(
    "--json",
    "json_mode",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_enable_json,
    help="Machine output: one JSON document on stdout (same as tourney --json).",
)
