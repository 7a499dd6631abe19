"""Thousands of transactions on Anvil in a few seconds: signed ahead with explicit nonces, sent in JSON-RPC batch
requests with automatic mining off, mined block after block, receipts fetched in batches. For set-ups at the scale of
the real tournament (the scale benchmark registers and stakes 10,000 models); test and benchmark support only."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import requests
from eth_account.signers.local import LocalAccount
from eth_utils import event_abi_to_log_topic
from web3 import HTTPProvider, Web3
from web3.types import RPCEndpoint

__all__ = ["RPC_BATCH", "register_models_bulk", "rpc_batch", "send_many"]


#: Transactions per JSON-RPC batch request in :func:`send_many`.
RPC_BATCH = 250


def rpc_batch(w3: Web3, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
    """The results of ``(method, params)`` calls sent as one JSON-RPC batch request to ``w3``'s HTTP endpoint, in
    order (raw JSON values); raises on any error."""
    payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    if not isinstance(w3.provider, HTTPProvider):
        raise TypeError(f"batched JSON-RPC calls need an HTTP provider, not {type(w3.provider).__name__}")
    answer = requests.post(str(w3.provider.endpoint_uri), json=payload, timeout=600).json()
    by_id = {item["id"]: item for item in answer}
    errors = [item["error"] for item in answer if "error" in item]
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(calls)} batched JSON-RPC calls failed, e.g. {errors[:2]}")
    return [by_id[i]["result"] for i in range(len(calls))]


def send_many(w3: Web3, txs: Iterable[tuple[LocalAccount, Any, int]], gas: int = 400_000) -> list[dict[str, Any]]:
    """:func:`send_batch` for thousands of transactions on Anvil (a call may also be a ``(to, calldata)`` pair
    encoded by the caller): every transaction is signed first (explicit nonces), sent in JSON-RPC batches of
    :data:`RPC_BATCH` with automatic mining off, then mined block after block
    (``evm_mine``, as many per block as the gas limit takes) and the receipts fetched in batches, as raw JSON
    (hex strings). Each sender's transactions are mined in list order (nonces); raises if any reverted."""
    nonces: dict[str, int] = {}
    chain_id = w3.eth.chain_id
    raws: list[bytes] = []
    for account, call, value in txs:
        nonce = nonces.get(account.address)
        if nonce is None:
            nonce = w3.eth.get_transaction_count(account.address, "pending")
        nonces[account.address] = nonce + 1
        base = {
            "from": account.address,
            "nonce": nonce,
            "gas": gas,
            "gasPrice": 10**9,
            "chainId": chain_id,
            "value": value,
        }
        tx: dict[str, Any]
        if isinstance(call, str):
            tx = {**base, "to": call, "gas": 21_000}
        elif isinstance(call, tuple):  # (to, calldata) already encoded: web3 encodes at milliseconds a call
            tx = {**base, "to": call[0], "data": call[1]}
        else:
            tx = call.build_transaction(base)
        raws.append(account.sign_transaction(tx).raw_transaction)
    hashes: list[str] = []
    w3.provider.make_request(RPCEndpoint("evm_setAutomine"), [False])
    try:
        for start in range(0, len(raws), RPC_BATCH):
            hashes += rpc_batch(
                w3, [("eth_sendRawTransaction", ["0x" + bytes(raw).hex()]) for raw in raws[start : start + RPC_BATCH]]
            )
        while int(w3.provider.make_request(RPCEndpoint("txpool_status"), [])["result"]["pending"], 16):
            w3.provider.make_request(RPCEndpoint("evm_mine"), [])
    finally:
        w3.provider.make_request(RPCEndpoint("evm_setAutomine"), [True])
    receipts: list[dict[str, Any]] = []
    for start in range(0, len(hashes), RPC_BATCH):
        receipts += rpc_batch(w3, [("eth_getTransactionReceipt", [h]) for h in hashes[start : start + RPC_BATCH]])
    failed = [r["transactionHash"] for r in receipts if int(r["status"], 16) != 1]
    if failed:
        raise RuntimeError(f"{len(failed)} setup transaction(s) reverted, e.g. {failed[:3]}")
    return receipts


def register_models_bulk(
    w3: Web3,
    deployment: Any,
    accounts: Sequence[LocalAccount],
    per_account: int,
) -> dict[int, LocalAccount]:
    """``per_account`` models registered for each account through :func:`send_many`; model id -> owner, read from
    the raw receipts' ModelRegistered(uint256 indexed modelId, address indexed owner, uint32 firstRound) (the node
    mines the senders' transactions in its own order)."""
    tournament = deployment.tournament_contract(w3)
    topic = "0x" + bytes(event_abi_to_log_topic(tournament.events.ModelRegistered().abi)).hex()
    by_address = {a.address: a for a in accounts}
    owners: dict[int, LocalAccount] = {}
    for receipt in send_many(
        w3, [(a, tournament.functions.registerModel(), 0) for a in accounts for _ in range(per_account)]
    ):
        for log in receipt["logs"]:
            if log["topics"][0] == topic:
                owners[int(log["topics"][1], 16)] = by_address[Web3.to_checksum_address("0x" + log["topics"][2][-40:])]
    return owners
