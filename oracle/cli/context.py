"""Connection settings shared by every chain command (participant, operator, verifier).

``@chain_options`` adds ``--rpc`` (``TOURNEY_RPC``), ``--deployment`` (``TOURNEY_DEPLOYMENT``), ``--account``
(``TOURNEY_ACCOUNT``) and ``--keystore-dir`` (``TOURNEY_KEYSTORE_DIR``) to a command and passes one
:class:`ChainOptions` as the ``chain`` argument; ``chain.connect()`` returns an :class:`oracle.chain.connection.Connection`
(unlocking the account's keystore with ``TOURNEY_PASSWORD`` or a hidden prompt). Errors are reported by the
``tourney`` group itself (one handler for every command).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import click

if TYPE_CHECKING:
    from oracle.chain.keystore import Keystore

__all__ = ["ChainOptions", "chain_options", "read_password"]


def read_password(prompt: str, confirm: bool = False) -> str:
    """``$TOURNEY_PASSWORD`` or a hidden prompt (never a command-line argument)."""
    from oracle.chain.keystore import password_from_env

    password = password_from_env()
    if password is not None:
        return password
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)


@dataclass(frozen=True)
class ChainOptions:
    """The connection settings of one command invocation."""

    rpc: str | None
    deployment: str | None
    account: str | None
    keystore_dir: str | None

    def keystore(self) -> Keystore:
        from oracle.chain.keystore import Keystore

        return Keystore(self.keystore_dir)

    def connect(self, need_account: bool = True) -> Any:
        """Connect to the deployment; with ``need_account`` also unlock the signing account."""
        from oracle.chain.connection import ConnectionRefused, connect

        if not self.rpc:
            raise ConnectionRefused("no JSON-RPC endpoint: pass --rpc URL or set TOURNEY_RPC")
        if not self.deployment:
            raise ConnectionRefused("no deployment file: pass --deployment FILE or set TOURNEY_DEPLOYMENT")
        account = None
        if need_account:
            if not self.account:
                raise ConnectionRefused("this command signs: pass --account NAME or set TOURNEY_ACCOUNT "
                                        "(see `tourney account list`)")
            keystore = self.keystore()
            address = keystore.address(self.account)  # fails fast, before prompting, on an unknown name
            account = keystore.unlock(self.account, read_password(f"Password for {self.account} ({address})"))
        return connect(self.rpc, self.deployment, account)


_OPTIONS = (
    click.option("--rpc", envvar="TOURNEY_RPC", default=None, metavar="URL",
                 help="JSON-RPC endpoint [env TOURNEY_RPC]."),
    click.option("--deployment", envvar="TOURNEY_DEPLOYMENT", default=None, metavar="FILE",
                 help="Deployment JSON (oracle.chain.deploy.Deployment.save) [env TOURNEY_DEPLOYMENT]."),
    click.option("--account", envvar="TOURNEY_ACCOUNT", default=None, metavar="NAME",
                 help="Keystore account that signs [env TOURNEY_ACCOUNT]."),
    click.option("--keystore-dir", envvar="TOURNEY_KEYSTORE_DIR", default=None, metavar="DIR",
                 help="Keystore directory [env TOURNEY_KEYSTORE_DIR, default ~/.tourney/keystores]."),
)


def chain_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the connection options to a click command; the command receives them as ``chain: ChainOptions``."""

    @functools.wraps(func)
    def wrapper(*args: Any, rpc: str | None, deployment: str | None, account: str | None,
                keystore_dir: str | None, **kwargs: Any) -> Any:
        return func(*args, chain=ChainOptions(rpc, deployment, account, keystore_dir), **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
