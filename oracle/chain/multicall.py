"""Many view calls in one ``eth_call``: Multicall3's ``aggregate3`` at its canonical address.

Most public chains have Multicall3 deployed at the same address, so reading the state of thousands of models costs a
few calls instead of one per model (a keeper settling a 10,000-model round, an auditor). A chain without it (a fresh
local Anvil) answers nothing there and callers fall back to one call per read; :func:`install_batch_reader` puts a
compatible read-only contract (``contracts/test/BatchReader.sol``) there on a local development chain, which is what
the benchmark and the tests do.
"""

from __future__ import annotations

from typing import Any, Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3

__all__ = ["MULTICALL3", "MAX_CALLS", "has_multicall", "aggregate3", "install_batch_reader"]

#: Multicall3's address, the same on every chain it is deployed to.
MULTICALL3 = Web3.to_checksum_address("0xcA11bde05977b3631167028862bE2a173976CA11")
#: Calls per ``eth_call``: a few thousand gas each, so a batch stays far below any node's call gas cap.
MAX_CALLS = 500
_AGGREGATE3 = function_signature_to_4byte_selector("aggregate3((address,bool,bytes)[])")


def has_multicall(w3: Web3) -> bool:
    """Whether anything answers at Multicall3's address on this chain."""
    return len(w3.eth.get_code(MULTICALL3)) > 0


def aggregate3(w3: Web3, calls: Sequence[tuple[str, bytes]], block: Any = "latest") -> list[tuple[bool, bytes]]:
    """(success, return data) of each (target, calldata) call, all made in one ``eth_call`` (failures allowed:
    the caller decides what a failed read means)."""
    payload = _AGGREGATE3 + abi_encode(["(address,bool,bytes)[]"], [[(target, True, data) for target, data in calls]])
    raw = w3.eth.call({"to": MULTICALL3, "data": "0x" + payload.hex()}, block)
    (results,) = abi_decode(["(bool,bytes)[]"], bytes(raw))
    return [(bool(ok), bytes(data)) for ok, data in results]


def install_batch_reader(w3: Web3) -> None:
    """Put ``BatchReader``'s code at Multicall3's address (``anvil_setCode``): local development chains only."""
    from oracle.chain.artifacts import artifact

    code = artifact("BatchReader")["deployedBytecode"]
    w3.provider.make_request("anvil_setCode", [MULTICALL3, code if code.startswith("0x") else "0x" + code])
