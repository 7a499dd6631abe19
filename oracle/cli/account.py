"""Account commands: ``tourney account create``, ``import``, ``list`` (encrypted V3 keystores, no chain needed).

Passwords come from ``TOURNEY_PASSWORD`` or a hidden prompt, never from a command-line argument.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from oracle.cli.context import read_password
from oracle.cli.output import get_output, json_option, make_table

if TYPE_CHECKING:
    from rich.console import Console

    from oracle.chain.keystore import Keystore

__all__ = ["account_group", "keystore_dir_option"]


def _keystore(keystore_dir: str | None) -> Keystore:
    from oracle.chain.keystore import Keystore

    return Keystore(keystore_dir)


keystore_dir_option = click.option(
    "--keystore-dir",
    envvar="TOURNEY_KEYSTORE_DIR",
    default=None,
    metavar="DIR",
    help="Keystore directory [env TOURNEY_KEYSTORE_DIR, default ~/.tourney/keystores].",
)


@click.group("account")
def account_group() -> None:
    """Encrypted keystore accounts: create, import, list."""


@account_group.command("create")
@click.argument("name")
@keystore_dir_option
@json_option
def account_create(name: str, keystore_dir: str | None) -> None:
    """Create a new random account NAME (password from TOURNEY_PASSWORD or a prompt)."""
    from oracle.chain.keystore import KeystoreError

    keystore = _keystore(keystore_dir)
    if keystore.exists(name):
        raise KeystoreError(f"account {name!r} already exists at {keystore.path(name)}; choose another name")
    entry = keystore.create(name, read_password(f"Password for new account {name}", confirm=True))
    get_output().emit(
        {"name": entry.name, "address": entry.address, "path": str(entry.path)},
        lambda c: c.print(f"created {entry.name} {entry.address} ({entry.path})", highlight=False),
    )


@account_group.command("import")
@click.argument("name")
@click.option(
    "--keystore-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Import this V3 keystore file (copied as is; its password is asked to check it).",
)
@keystore_dir_option
@json_option
def account_import(name: str, keystore_file: str | None, keystore_dir: str | None) -> None:
    """Import an account as NAME: a private key from stdin or a hidden prompt, or --keystore-file."""
    from oracle.chain.keystore import KeystoreError, parse_private_key

    keystore = _keystore(keystore_dir)
    if keystore.exists(name):
        raise KeystoreError(f"account {name!r} already exists at {keystore.path(name)}; choose another name")
    if keystore_file:
        entry = keystore.import_file(name, keystore_file, read_password(f"Password of {keystore_file}"))
    else:
        stdin = sys.stdin
        text = stdin.readline() if not stdin.isatty() else click.prompt("Private key (hex)", hide_input=True, err=True)
        key = parse_private_key(text)
        entry = keystore.import_key(name, key, read_password(f"Password for account {name}", confirm=True))
    get_output().emit(
        {"name": entry.name, "address": entry.address, "path": str(entry.path)},
        lambda c: c.print(f"imported {entry.name} {entry.address} ({entry.path})", highlight=False),
    )


@account_group.command("list")
@keystore_dir_option
@json_option
def account_list(keystore_dir: str | None) -> None:
    """List the accounts of the keystore directory (no password needed)."""
    keystore = _keystore(keystore_dir)
    entries = keystore.list()
    problems = keystore.problems()
    data = {
        "keystore_dir": str(keystore.directory),
        "accounts": [{"name": e.name, "address": e.address, "path": str(e.path)} for e in entries],
        "problems": problems,
    }

    def render(console: Console) -> None:
        console.print(
            make_table(f"Accounts in {keystore.directory}", ["name", "address"], [(e.name, e.address) for e in entries])
        )
        for problem in problems:
            console.print(f"skipped: {problem}", highlight=False)

    get_output().emit(data, render)
