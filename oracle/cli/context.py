"""Connection settings shared by every chain command (participant, operator, verifier).

``@chain_options`` adds ``--rpc`` (``TOURNEY_RPC``), ``--deployment`` (``TOURNEY_DEPLOYMENT``), ``--account``
(``TOURNEY_ACCOUNT``) and ``--keystore-dir`` (``TOURNEY_KEYSTORE_DIR``) to a command and passes one
:class:`ChainOptions` as the ``chain`` argument; ``chain.connect()`` returns an
:class:`oracle.chain.connection.Connection` (unlocking the account's keystore with ``TOURNEY_PASSWORD`` or a hidden
prompt). Errors are reported by the ``tourney`` group itself (one handler for every command).
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

        deployment, rpc = self.resolved()
        if not deployment:
            raise ConnectionRefused(
                "no deployment file: pass --deployment FILE or set TOURNEY_DEPLOYMENT (the file "
                "`tourney deploy` writes; ./deployment.json is used when it exists)"
            )
        if not rpc:
            raise ConnectionRefused(
                f"no JSON-RPC endpoint: {deployment} records none; pass --rpc URL or set TOURNEY_RPC"
            )
        account = None
        if need_account:
            if not self.account:
                raise ConnectionRefused(
                    "this command signs: pass --account NAME or set TOURNEY_ACCOUNT (see `tourney account list`)"
                )
            keystore = self.keystore()
            address = keystore.address(self.account)  # fails fast, before prompting, on an unknown name
            account = keystore.unlock(self.account, read_password(f"Password for {self.account} ({address})"))
        return connect(rpc, deployment, account)

    def resolved(self) -> tuple[str | None, str | None]:
        """(deployment file, RPC URL): ``--deployment`` or ./deployment.json; ``--rpc`` or the URL the deployment
        file records. The URL is checked to be one (``127.0.0.1:8545`` without its scheme is refused, saying so)."""
        from oracle.chain.deploy import Deployment
        from oracle.chain.deployment_file import check_rpc_url, default_deployment_file

        deployment = self.deployment or (str(default_deployment_file() or "") or None)
        rpc = self.rpc
        if not rpc and deployment:
            rpc = Deployment.load(deployment).rpc
        return deployment, (
            check_rpc_url(rpc, "--rpc" if self.rpc else f"the RPC URL in {deployment}") if rpc else None
        )


_OPTIONS = (
    click.option(
        "--rpc",
        envvar="TOURNEY_RPC",
        default=None,
        metavar="URL",
        help="JSON-RPC endpoint [env TOURNEY_RPC; default: the URL the deployment file records].",
    ),
    click.option(
        "--deployment",
        envvar="TOURNEY_DEPLOYMENT",
        default=None,
        metavar="FILE",
        help="Deployment file written by `tourney deploy` [env TOURNEY_DEPLOYMENT; default ./deployment.json].",
    ),
    click.option(
        "--account",
        envvar="TOURNEY_ACCOUNT",
        default=None,
        metavar="NAME",
        help="Keystore account that signs [env TOURNEY_ACCOUNT].",
    ),
    click.option(
        "--keystore-dir",
        envvar="TOURNEY_KEYSTORE_DIR",
        default=None,
        metavar="DIR",
        help="Keystore directory [env TOURNEY_KEYSTORE_DIR, default ~/.tourney/keystores].",
    ),
)


def chain_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the connection options to a click command; the command receives them as ``chain: ChainOptions``."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        rpc: str | None,
        deployment: str | None,
        account: str | None,
        keystore_dir: str | None,
        **kwargs: Any,
    ) -> Any:
        return func(*args, chain=ChainOptions(rpc, deployment, account, keystore_dir), **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
