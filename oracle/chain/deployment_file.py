"""Where a deployment is recorded, and the rule that one deployment never silently replaces another.

Every local chain has chain id 31337, so a chain id cannot tell two local deployments apart: a file that already
records a deployment is replaced only when asked (``force``), whatever the chain. The check runs *before* anything
is deployed, so a refused deployment costs nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, replace
from pathlib import Path
from urllib.parse import urlparse

from oracle.chain.deploy import Deployment
from oracle.chain.tx import ChainError

__all__ = [
    "DEFAULT_DEPLOYMENT_FILE",
    "LOCAL_CHAIN_IDS",
    "DeploymentExists",
    "check_rpc_url",
    "check_writable",
    "default_deployment_file",
    "save_deployment",
]

#: The file ``tourney deploy`` writes and every chain command reads when neither --deployment nor
#: TOURNEY_DEPLOYMENT names another: ``deployment.json`` in the current directory.
DEFAULT_DEPLOYMENT_FILE = "deployment.json"
#: Chain ids of local development chains (Anvil, Hardhat, Ganache).
LOCAL_CHAIN_IDS = frozenset({31337, 1337})


class DeploymentExists(ChainError):
    """The target file already records a deployment: it is not replaced unless asked."""


def default_deployment_file() -> Path | None:
    """``./deployment.json`` when it exists, else None."""
    path = Path(DEFAULT_DEPLOYMENT_FILE)
    return path if path.is_file() else None


def check_rpc_url(url: str, where: str = "--rpc") -> str:
    """The URL itself when it is an http(s) or ws(s) URL; a ChainError saying how to write it otherwise."""
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https", "ws", "wss") and parsed.netloc:
        return url
    hint = f"http://{url}" if not parsed.scheme or not parsed.netloc else "http://127.0.0.1:8545"
    raise ChainError(f"{where} {url!r} is not a JSON-RPC URL: write it with its scheme, e.g. {hint}")


def _describe(path: Path) -> str:
    try:
        known = Deployment.load(path)
    except (ValueError, TypeError, OSError):
        return "a file that is not a deployment record"
    rpc = f", made through {known.rpc}" if known.rpc else ""
    return f"the deployment of tournament {known.tournament} on chain {known.chain_id}{rpc}"


#: What ``tourney deploy`` users do about an existing file (the brownie script names its own variables).
REPLACE_HINT = "write this one elsewhere with --out FILE, or pass --force to replace it"


def check_writable(path: str | os.PathLike[str], force: bool = False, hint: str = REPLACE_HINT) -> Path:
    """``path`` when a deployment may be written there: it does not exist yet, or ``force``."""
    path = Path(path)
    if path.is_dir():
        raise DeploymentExists(
            f"{path} is a directory: name the deployment file, e.g. --out {path / DEFAULT_DEPLOYMENT_FILE}"
        )
    if path.exists() and not force:
        raise DeploymentExists(
            f"{path} already records {_describe(path)}; refusing to replace it (every local chain is chain 31337, "
            f"so it may belong to another chain): {hint}"
        )
    return path


def save_deployment(
    deployment: Deployment, path: str | os.PathLike[str], rpc: str | None = None, force: bool = False
) -> Path:
    """Write ``deployment`` (with the RPC URL it was made through) to ``path``, never over another one unless
    ``force``; the same record written twice is not an overwrite."""
    path = Path(path)
    if rpc is not None:
        deployment = replace(deployment, rpc=rpc)
    if path.exists() and not force:
        try:
            same = json.loads(path.read_text()) == json.loads(json.dumps(asdict(deployment)))
        except (ValueError, OSError):
            same = False
        if not same:
            check_writable(path, force)
    return deployment.save(path)
