"""Which chains ``tourney mcp`` talks to: local development chains by default, any other only when named.

A chain is *local* when its JSON-RPC endpoint is on the loopback interface and its id is a development chain id
(:data:`LOCAL_CHAIN_IDS`). A mainnet fork on localhost keeps its real chain id, so it is not local. Anything else
must be named with ``--allow-chain ID``: an agent's mistakes then cost test tokens unless a human chose otherwise.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Literal
from urllib.parse import urlsplit

from oracle.errors import TourneyError

__all__ = ["LOCAL_CHAIN_IDS", "ChainNotAllowed", "is_loopback", "check_chain"]

#: Development chain ids: Anvil and Hardhat (31337), Ganache and ``geth --dev`` (1337).
LOCAL_CHAIN_IDS = frozenset({31337, 1337})


class ChainNotAllowed(TourneyError):
    """The endpoint is not a local development chain and was not named with ``--allow-chain``."""


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost`` or a loopback address)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_chain(rpc: str, chain_id: int, allowed: Iterable[int] = ()) -> Literal["local", "allowed"]:
    """``"local"`` or ``"allowed"``; raise :class:`ChainNotAllowed` for any other chain."""
    if is_loopback(rpc) and int(chain_id) in LOCAL_CHAIN_IDS:
        return "local"
    if int(chain_id) in {int(c) for c in allowed}:
        return "allowed"
    where = "a loopback endpoint" if is_loopback(rpc) else "not a loopback endpoint"
    raise ChainNotAllowed(
        f"{rpc} is chain {chain_id} ({where}); tourney mcp talks to local development chains "
        f"(ids {sorted(LOCAL_CHAIN_IDS)} on localhost) unless started with --allow-chain {chain_id}"
    )
