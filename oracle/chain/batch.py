"""Many view calls in few round trips: JSON-RPC batches of ``eth_call``, encoded and decoded with eth_abi.

Reading every model of a 10,000-model tournament one ``eth_call`` at a time costs 10,000 round trips (and web3's
contract layer about a millisecond of encoding each); a JSON-RPC batch sends a few hundred calls per HTTP request,
every one at the same block, so the models read are one consistent snapshot.
"""

from __future__ import annotations

from typing import Any, Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_abi_to_4byte_selector
from eth_utils.abi import get_abi_input_types, get_abi_output_types

from oracle.chain.artifacts import abi
from oracle.chain.client import ModelInfo, TournamentClient
from oracle.chain.tx import RpcUnavailable

__all__ = ["BATCH_SIZE", "batch_view", "read_models"]

#: Calls per JSON-RPC batch: small enough for hosted endpoints' batch limits and response sizes.
BATCH_SIZE = 500


def _function(contract: str, name: str) -> dict[str, Any]:
    for item in abi(contract):
        if item.get("type") == "function" and item["name"] == name:
            return item
    raise ValueError(f"the {contract} ABI has no function {name!r}")


def batch_view(client: TournamentClient, name: str, args: Sequence[Sequence[Any]], block: int,
               size: int = BATCH_SIZE) -> list[tuple[Any, ...]]:
    """The decoded return values of the tournament's view ``name`` for each argument tuple, all at ``block``."""
    item = _function("Tournament", name)
    selector = function_abi_to_4byte_selector(item)
    inputs, outputs = get_abi_input_types(item), get_abi_output_types(item)
    to = client.tournament.address
    tag = hex(int(block))
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(args), size):
        chunk = args[start:start + size]
        requests = [("eth_call", [{"to": to, "data": "0x" + (selector + abi_encode(inputs, list(a))).hex()}, tag])
                    for a in chunk]
        try:
            answers = client.w3.provider.make_batch_request(requests)  # type: ignore[arg-type]
        except (ConnectionError, OSError, TimeoutError) as exc:
            raise RpcUnavailable(f"JSON-RPC batch of {len(chunk)} {name} calls failed: {exc}") from exc
        if not isinstance(answers, list):  # the node refused the whole batch with one error object
            raise RpcUnavailable(f"the JSON-RPC endpoint refused a batch of {len(chunk)} {name} calls: "
                                 f"{answers.get('error', answers)}")
        for a, answer in zip(chunk, answers):
            if "error" in answer or answer.get("result") is None:
                raise RpcUnavailable(f"{name}({', '.join(map(str, a))}) at block {block} failed: "
                                     f"{answer.get('error', 'no result')}")
            out.append(abi_decode(outputs, bytes.fromhex(str(answer["result"]).removeprefix("0x"))))
    return out


def read_models(client: TournamentClient, model_ids: Sequence[int], block: int) -> list[ModelInfo]:
    """``modelInfo`` of every id at ``block``, in the order given."""
    raws = batch_view(client, "modelInfo", [(int(i),) for i in model_ids], block)
    return [ModelInfo.of(i, raw) for i, raw in zip(model_ids, raws)]
