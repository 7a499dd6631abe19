"""Sending transactions safely: gas with headroom, explicit nonces, retries that cannot double-send, and reverts
decoded into the contracts' custom errors.

Why not just ``contract.functions.f().transact()``: web3.py re-estimates and re-signs on every call, so a retry
after a dropped connection may send a second transaction with a new nonce. Here a transaction is signed once; a
retry resends the same signed bytes (same hash), and a node that already has it answers "already known" or
"nonce too low", after which we wait for the receipt of that one hash.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, TypeVar

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from oracle.chain.artifacts import error_selectors
from oracle.chain.hashes import hex_hash
from oracle.chain.reverts import explain_revert
from oracle.chain.units import format_tokens
from oracle.errors import TourneyError

CONTRACTS_WITH_ERRORS = ("Tournament", "TournamentExtension", "TournamentToken")


class ChainError(TourneyError):
    """Something went wrong talking to the chain; the message says what and what to do."""


class RpcUnavailable(ChainError):
    """The JSON-RPC endpoint does not answer."""


def is_rpc_outage(exc: BaseException) -> bool:
    """True when ``exc`` means the JSON-RPC endpoint could not answer (worth retrying later), not that it answered.

    Transport failures (refused or dropped connections, timeouts, HTTP errors such as 429 or 503) and the JSON-RPC
    "limit exceeded" error (-32005, EIP-1474) are outages; a revert or any other answer is not."""
    if isinstance(exc, (RpcUnavailable, ConnectionError, TimeoutError, OSError)):
        return True
    code = None
    if exc.args and isinstance(exc.args[0], dict):
        code = exc.args[0].get("code")
    rpc_error = getattr(exc, "rpc_response", None)
    if isinstance(rpc_error, dict) and isinstance(rpc_error.get("error"), dict):
        code = rpc_error["error"].get("code", code)
    return code == -32005


class ContractReverted(ChainError):
    """A call or transaction reverted; ``error`` is the contract's custom error name when it has one."""

    def __init__(self, action: str, error: str, args: dict[str, Any], raw: str | None = None) -> None:
        self.action = action
        self.error = error
        self.args_by_name = args
        self.raw = raw
        # The sentence names roles, writes amounts in tokens and times in UTC; the raw name stays for scripts.
        super().__init__(f"{action} refused by the contract: {explain_revert(error, args)} [{error}]")


def decode_revert(data: str | bytes | None) -> tuple[str, dict[str, Any]]:
    """Decode revert data into (error name, arguments) using the project's contract ABIs.

    Handles custom errors, ``Error(string)`` and ``Panic(uint256)``; unknown data comes back as hex."""
    if data is None:
        return "UnknownRevert", {}
    raw = HexBytes(data)
    if len(raw) < 4:
        return "UnknownRevert", {"data": raw.hex()}
    selector, body = bytes(raw[:4]), bytes(raw[4:])
    if selector == bytes.fromhex("08c379a0"):
        return "Error", {"message": abi_decode(["string"], body)[0]}
    if selector == bytes.fromhex("4e487b71"):
        return "Panic", {"code": hex(abi_decode(["uint256"], body)[0])}
    known = error_selectors(*CONTRACTS_WITH_ERRORS)
    if selector in known:
        name, names, types = known[selector]
        values = abi_decode(types, body)
        return name, {n or f"arg{i}": _plain(v) for i, (n, v) in enumerate(zip(names, values))}
    return "UnknownRevert", {"data": raw.hex()}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _revert_data(exc: Exception) -> str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    return None


_T = TypeVar("_T")

# What a failed transaction is replayed with (as a call) to recover its revert reason.
_REPLAYED: tuple[Literal["from", "to", "data", "value"], ...] = ("from", "to", "data", "value")


@dataclass
class Sender:
    """Sends transactions from one account.

    ``account`` is a local key (signed here; the normal case for participants and the operator) or the address of an
    account the node holds unlocked (Anvil's development accounts)."""

    w3: Web3
    account: LocalAccount | str
    gas_headroom: float = 1.25
    receipt_timeout: float = 120.0
    retries: int = 5
    retry_delay: float = 0.5

    @property
    def address(self) -> ChecksumAddress:
        return Web3.to_checksum_address(self.account) if isinstance(self.account, str) else self.account.address

    @property
    def local_account(self) -> LocalAccount:
        """The local key this sender signs with; an error for an account the node holds unlocked."""
        if isinstance(self.account, str):
            raise ChainError(f"{self.account} is an account the node holds unlocked, not a local key")
        return self.account

    def call(self, fn: ContractFunction, action: str | None = None) -> Any:
        """Read-only call with custom errors decoded."""
        try:
            return self._rpc(lambda: fn.call({"from": self.address}))
        except (ContractCustomError, ContractLogicError) as exc:
            raise self._reverted(action or fn.fn_name, exc) from None

    def transact(self, fn: ContractFunction, action: str | None = None, value: int = 0) -> TxReceipt:
        """Estimate, sign once, send (retrying the same bytes on connection errors), wait for the receipt.

        Raises :class:`ContractReverted` with the decoded custom error when the estimate or the transaction
        reverts, and :class:`RpcUnavailable` when the endpoint stays down through every retry."""
        return self._estimate_and_send(fn, {"from": self.address, "value": Wei(value)}, action or fn.fn_name)

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any, action: str = "deploy") -> TxReceipt:
        """Deploy a contract; the receipt's ``contractAddress`` is its address."""
        ctor = self.w3.eth.contract(abi=abi, bytecode=bytecode).constructor(*args)
        return self._estimate_and_send(ctor, {"from": self.address}, action)

    def send_ether(self, to: str, wei: int) -> TxReceipt:
        tx: TxParams = {
            "from": self.address,
            "to": Web3.to_checksum_address(to),
            "value": Wei(wei),
            "gas": 21_000,
            **self._fees(),
        }
        return self._send(tx, "send ether")

    # -------------------------------------------------------------- internals

    def _estimate_and_send(self, call: Any, base: TxParams, action: str) -> TxReceipt:
        """Estimate gas for a contract function or constructor (a revert is decoded here), add headroom, build,
        sign once and send."""
        try:
            gas = self._rpc(lambda: call.estimate_gas(base))
        except (ContractCustomError, ContractLogicError) as exc:
            raise self._reverted(action, exc) from None
        except Web3RPCError as exc:
            if "insufficient funds" in str(exc).lower():
                raise ChainError(self._no_gas_money()) from None
            raise
        tx: TxParams = call.build_transaction({**base, "gas": int(gas * self.gas_headroom), **self._fees()})
        return self._send(tx, action)

    def _fees(self) -> TxParams:
        block = self._rpc(lambda: self.w3.eth.get_block("latest"))
        base_fee = int(block.get("baseFeePerGas", 0) or 0)
        tip = 1 if base_fee else 0
        return {"maxFeePerGas": Wei(2 * base_fee + tip), "maxPriorityFeePerGas": Wei(tip)}

    def _send(self, tx: TxParams, action: str) -> TxReceipt:
        if isinstance(self.account, str):
            tx_hash = self._rpc(lambda: self.w3.eth.send_transaction(tx))  # unlocked dev account
        else:
            tx["nonce"] = self._rpc(lambda: self.w3.eth.get_transaction_count(self.address, "pending"))
            tx["chainId"] = self._rpc(lambda: self.w3.eth.chain_id)
            # eth_account types what it signs as a plain dict of str keys; web3's TxParams (a TypedDict) is that.
            signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
            tx_hash = signed.hash
            self._broadcast(signed.raw_transaction, tx_hash)
        receipt = self._wait(tx_hash, action)
        if receipt["status"] != 1:
            raise self._explain_failed(tx, receipt, action)
        return receipt

    def _broadcast(self, raw: bytes, tx_hash: HexBytes) -> None:
        for attempt in range(self.retries):
            try:
                self.w3.eth.send_raw_transaction(raw)
                return
            except (ConnectionError, OSError, TimeoutError) as exc:
                if attempt == self.retries - 1:
                    raise RpcUnavailable(f"JSON-RPC endpoint unreachable while sending: {exc}") from exc
                time.sleep(self.retry_delay * (attempt + 1))
            except (ValueError, Web3RPCError) as exc:
                # The same signed bytes reached the node on an earlier attempt: wait for that transaction.
                text = str(exc).lower()
                if "already known" in text or "nonce too low" in text or "already imported" in text:
                    return
                if "insufficient funds" in text:
                    raise ChainError(self._no_gas_money()) from None
                raise ChainError(f"node refused the transaction {HexBytes(tx_hash).hex()}: {exc}") from exc

    def _no_gas_money(self) -> str:
        held = self._rpc(lambda: self.w3.eth.get_balance(self.address))
        return (
            f"{self.address} has {format_tokens(held, 18, 'ETH')}, not enough ether to pay for the gas: ask the "
            "operator (or any funded account) to send some, e.g. `tourney token transfer --to "
            f"{self.address} --eth 1`"
        )

    def _wait(self, tx_hash: HexBytes, action: str) -> TxReceipt:
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            try:
                return self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=5, poll_latency=0.05)
            except (TimeExhausted, TransactionNotFound):
                pass
            except (ConnectionError, OSError):
                time.sleep(self.retry_delay)
            if time.monotonic() > deadline:
                raise ChainError(
                    f"{action}: no receipt for {hex_hash(tx_hash)} after {self.receipt_timeout:.0f}s; "
                    "it may still be mined: look it up before sending again"
                )

    def _explain_failed(self, tx: TxParams, receipt: TxReceipt, action: str) -> ContractReverted:
        call: TxParams = {}
        for key in _REPLAYED:
            if key in tx:
                call[key] = tx[key]
        try:
            self.w3.eth.call(call, receipt["blockNumber"] - 1)
        except (ContractCustomError, ContractLogicError) as exc:
            return self._reverted(action, exc)
        except Exception:  # noqa: BLE001 - the replay is best effort; the receipt already says it failed
            pass
        return ContractReverted(action, "TransactionFailed", {"tx": hex_hash(receipt["transactionHash"])})

    def _reverted(self, action: str, exc: Exception) -> ContractReverted:
        data = _revert_data(exc)
        name, args = decode_revert(data)
        if name == "UnknownRevert" and not data:
            args = {"message": str(exc)}
        return ContractReverted(action, name, args, data)

    def _rpc(self, call: Callable[[], _T]) -> _T:
        for attempt in range(self.retries):
            try:
                return call()
            except (ConnectionError, OSError, TimeoutError) as exc:
                if attempt == self.retries - 1:
                    raise RpcUnavailable(
                        f"JSON-RPC endpoint {getattr(self.w3.provider, 'endpoint_uri', '?')} does not answer: {exc}"
                    ) from exc
                time.sleep(self.retry_delay * (attempt + 1))
        raise AssertionError("unreachable")
