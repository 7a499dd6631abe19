"""Start and stop a local Anvil chain (for the demo, the benchmarks and the end-to-end tests).

Anvil ships in the npm package ``@foundry-rs/anvil-linux-amd64``; ``make setup`` installs it into node_modules.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from web3 import Web3

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES_ANVIL = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"

# Anvil's published development mnemonic: its accounts are public test keys, worthless off a local chain.
DEV_MNEMONIC = "test test test test test test test test test test test junk"


def anvil_binary() -> str:
    """Path of the anvil executable: node_modules first, then PATH."""
    if NODE_MODULES_ANVIL.exists():
        return str(NODE_MODULES_ANVIL)
    found = shutil.which("anvil")
    if found is None:
        raise FileNotFoundError(f"anvil not found at {NODE_MODULES_ANVIL} nor on PATH: run `make setup`")
    return found


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Anvil:
    """A running Anvil process on loopback; use as a context manager or call :meth:`stop`."""

    port: int
    process: subprocess.Popen[bytes]
    accounts: int
    extra_args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def web3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 60}))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "Anvil":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_anvil(
    port: int | None = None,
    accounts: int = 10,
    balance_ether: int = 10_000,
    gas_limit: int = 30_000_000,
    extra_args: list[str] | None = None,
    startup_timeout: float = 30.0,
) -> Anvil:
    """Start Anvil with its default hardfork and the development mnemonic, and wait until it answers JSON-RPC.

    Block base fee is zero so that gas figures are pure gas, and the log goes to a file next to nothing (quiet)."""
    port = port or free_port()
    args = [
        anvil_binary(),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--accounts",
        str(accounts),
        "--balance",
        str(balance_ether),
        "--mnemonic",
        DEV_MNEMONIC,
        "--gas-limit",
        str(gas_limit),
        "--block-base-fee-per-gas",
        "0",
        "--quiet",
        *(extra_args or []),
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))
    node = Anvil(port=port, process=process, accounts=accounts, extra_args=list(extra_args or []))
    deadline = time.monotonic() + startup_timeout
    w3 = node.web3()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"anvil exited at start (code {process.returncode}): {err.strip()}")
        try:
            if w3.is_connected():
                return node
        except Exception:  # noqa: BLE001 - any connection error just means "not up yet"
            pass
        time.sleep(0.05)
    node.stop()
    raise TimeoutError(f"anvil did not answer on {node.url} within {startup_timeout:.0f}s")


def dev_private_keys(count: int) -> list[str]:
    """The private keys of Anvil's development accounts (derived from the public development mnemonic)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return [Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key.hex() for i in range(count)]
