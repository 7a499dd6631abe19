"""Operator-signed receipts: proof that the service took a participant's submission in time.

A receipt is EIP-712 typed data signed by the operator's key::

    domain  = {name: "Tournament Receipt", version: "1", chainId, verifyingContract: the tournament}
    Receipt(uint256 round,uint256 modelId,bytes32 predictionsHash,uint256 receivedAt)

``receivedAt`` is on the chain's clock (the latest block's timestamp when the service stored the file), the same
clock the round's ``closesAt`` is judged by, and strictly increases per (round, model): the latest receipt of a
model in a round is therefore unambiguous, and it names the file that must be in the round's bundle.

Anyone can check a receipt offline with :func:`verify_receipt` (no chain needed beyond knowing the operator's
address). A receipted submission that the round's bundle lacks, or carries with another hash, is censorship, and
:func:`check_receipts` names the model. The domain name differs from the submissions' ("Tournament") so that a
receipt can never be mistaken for, or replayed as, a participant's signed submission.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3

from oracle.errors import TourneyError
from oracle.protocol.eip712 import checksum_address, eip712_digest, eip712_document
from oracle.protocol.submission import Submission

__all__ = [
    "RECEIPT_DOMAIN_NAME",
    "RECEIPT_DOMAIN_VERSION",
    "RECEIPT_TYPES",
    "ReceiptError",
    "Receipt",
    "ReceiptProblem",
    "receipt_typed_data",
    "receipt_digest",
    "sign_receipt",
    "verify_receipt",
    "latest_receipts",
    "check_receipts",
]

RECEIPT_DOMAIN_NAME = "Tournament Receipt"
RECEIPT_DOMAIN_VERSION = "1"
RECEIPT_TYPES: dict[str, list[dict[str, str]]] = {
    "Receipt": [
        {"name": "round", "type": "uint256"},
        {"name": "modelId", "type": "uint256"},
        {"name": "predictionsHash", "type": "bytes32"},
        {"name": "receivedAt", "type": "uint256"},
    ]
}
_HASH_RE = re.compile(r"^0x[0-9a-f]{64}$")
_SIG_RE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_UINT256 = 2**256


class ReceiptError(TourneyError, ValueError):
    """A receipt is malformed; the message says which field and why."""


@dataclass(frozen=True)
class Receipt:
    """The operator's signed acknowledgement of one stored submission."""

    chain_id: int
    tournament: str
    round: int
    model_id: int
    predictions_hash: str
    received_at: int
    operator: str
    signature: str

    def __post_init__(self) -> None:
        for name in ("chain_id", "round", "model_id", "received_at"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _UINT256:
                raise ReceiptError(f"receipt {name} must be an unsigned integer, got {value!r}")
        for name in ("tournament", "operator"):
            address = checksum_address(getattr(self, name))
            if address is None:
                raise ReceiptError(f"receipt {name} is not an address: {getattr(self, name)!r}")
            object.__setattr__(self, name, address)
        if not isinstance(self.predictions_hash, str) or not _HASH_RE.match(self.predictions_hash.lower()):
            raise ReceiptError(f"receipt predictions_hash must be 0x + 64 hex digits, got {self.predictions_hash!r}")
        object.__setattr__(self, "predictions_hash", self.predictions_hash.lower())
        if not isinstance(self.signature, str) or not _SIG_RE.match(self.signature):
            raise ReceiptError(f"receipt signature must be 0x + 65 bytes of hex, got {self.signature!r}")

    @property
    def key(self) -> tuple[int, str, int, int]:
        """(chain, tournament, round, model): receipts with the same key are for the same slot of a round."""
        return self.chain_id, self.tournament, self.round, self.model_id

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, record: Any, where: str = "receipt") -> "Receipt":
        """Parse a receipt document; missing or unknown fields are errors naming ``where``."""
        if not isinstance(record, dict):
            raise ReceiptError(f"{where}: a receipt is a JSON object, got {type(record).__name__}")
        expected = set(cls.__dataclass_fields__)
        missing, unknown = expected - record.keys(), record.keys() - expected
        if missing or unknown:
            raise ReceiptError(f"{where}: missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
        try:
            return cls(**record)
        except ReceiptError as exc:
            raise ReceiptError(f"{where}: {exc}") from None


def receipt_typed_data(
    chain_id: int, tournament: str, round: int, model_id: int, predictions_hash: str, received_at: int
) -> dict[str, Any]:
    """The full EIP-712 document of a receipt (what the operator signs and anyone re-hashes)."""
    return eip712_document(
        RECEIPT_DOMAIN_NAME,
        RECEIPT_DOMAIN_VERSION,
        chain_id,
        tournament,
        RECEIPT_TYPES,
        "Receipt",
        {
            "round": int(round),
            "modelId": int(model_id),
            "predictionsHash": bytes.fromhex(predictions_hash[2:]),
            "receivedAt": int(received_at),
        },
    )


def _signable(r: Receipt) -> SignableMessage:
    return encode_typed_data(
        full_message=receipt_typed_data(
            r.chain_id, r.tournament, r.round, r.model_id, r.predictions_hash, r.received_at
        )
    )


def receipt_digest(receipt: Receipt) -> str:
    """The EIP-712 digest the operator signed (0x hex)."""
    return eip712_digest(
        receipt_typed_data(
            receipt.chain_id,
            receipt.tournament,
            receipt.round,
            receipt.model_id,
            receipt.predictions_hash,
            receipt.received_at,
        )
    )


def sign_receipt(
    operator: LocalAccount,
    chain_id: int,
    tournament: str,
    round: int,
    model_id: int,
    predictions_hash: str,
    received_at: int,
) -> Receipt:
    """Sign a receipt with the operator's key. Deterministic (RFC 6979): the same fields give the same bytes, so
    a receipt can be re-issued from the stored submission record after a restart."""
    document = receipt_typed_data(chain_id, tournament, round, model_id, predictions_hash, received_at)
    signed = operator.sign_message(encode_typed_data(full_message=document))
    return Receipt(
        chain_id=int(chain_id),
        tournament=tournament,
        round=int(round),
        model_id=int(model_id),
        predictions_hash=predictions_hash.lower(),
        received_at=int(received_at),
        operator=operator.address,
        signature="0x" + bytes(signed.signature).hex(),
    )


def verify_receipt(
    receipt: Receipt, operator: str | None = None, *, chain_id: int | None = None, tournament: str | None = None
) -> list[str]:
    """Every reason ``receipt`` is not a genuine receipt (empty: genuine).

    ``operator`` is the address receipts must come from (the tournament's oracle); when None, the receipt's own
    ``operator`` field is trusted, which only proves internal consistency. ``chain_id``/``tournament`` pin the
    domain."""
    where = f"receipt round {receipt.round} model {receipt.model_id}"
    problems: list[str] = []
    try:
        signer = Web3.to_checksum_address(Account.recover_message(_signable(receipt), signature=receipt.signature))
    except Exception as exc:  # noqa: BLE001 - eth_account raises several types for malformed signatures
        return [f"{where}: unrecoverable signature ({exc})"]
    if signer != receipt.operator:
        problems.append(f"{where}: signed by {signer}, but the receipt claims operator {receipt.operator}")
    if operator is not None and signer != Web3.to_checksum_address(operator):
        problems.append(
            f"{where}: signed by {signer}, not by the tournament's operator {Web3.to_checksum_address(operator)}"
        )
    if chain_id is not None and int(chain_id) != receipt.chain_id:
        problems.append(f"{where}: issued for chain {receipt.chain_id}, expected chain {chain_id}")
    if tournament is not None and Web3.to_checksum_address(tournament) != receipt.tournament:
        problems.append(
            f"{where}: issued for contract {receipt.tournament}, expected {Web3.to_checksum_address(tournament)}"
        )
    return problems


def latest_receipts(receipts: Iterable[Receipt]) -> dict[tuple[int, str, int, int], Receipt]:
    """The latest receipt (highest ``received_at``) per (chain, tournament, round, model)."""
    latest: dict[tuple[int, str, int, int], Receipt] = {}
    for receipt in receipts:
        held = latest.get(receipt.key)
        if held is None or receipt.received_at > held.received_at:
            latest[receipt.key] = receipt
    return latest


# ------------------------------------------------------------------------------------------ censorship check


@dataclass(frozen=True)
class ReceiptProblem:
    """One receipted submission the bundle does not honour (or a receipt that is not genuine)."""

    round: int
    model_id: int
    kind: str  # missing | hash_mismatch | invalid_receipt
    message: str

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _bundle_records(bundle_submissions: Iterable[Any]) -> dict[int, Submission]:
    """model id -> signed record, from a bundle's ``submissions.json`` entries or Submission objects."""
    out: dict[int, Submission] = {}
    for i, entry in enumerate(bundle_submissions):
        if isinstance(entry, Submission):
            sub = entry
        elif isinstance(entry, Mapping) and "record" in entry:
            sub = Submission.from_json(entry["record"], f"bundle submission {i}")
        else:
            sub = Submission.from_json(entry, f"bundle submission {i}")
        out[sub.model_id] = sub
    return out


def check_receipts(
    bundle_submissions: Iterable[Any],
    receipts: Iterable[Receipt],
    *,
    round: int,
    operator: str,
    chain_id: int,
    tournament: str,
) -> list[ReceiptProblem]:
    """What a round's bundle owes its receipts: every problem, naming the model.

    ``bundle_submissions`` are the accepted submissions of round ``round`` (the bundle's ``submissions.json``
    entries, their ``record`` dicts, or :class:`Submission` objects); ``receipts`` may hold any rounds and
    tournaments (only this round's, on this chain and contract, count). For each model, its latest genuine
    receipt must be matched by the bundle: the same predictions hash, or a later submission of the model
    (``received_at`` greater than the receipt's: the participant replaced the file themselves, with their own
    signature, which the verifier checks separately). Otherwise:

    * ``missing``: the bundle has no submission of the model;
    * ``hash_mismatch``: the bundle carries another file that is not newer than the receipt;
    * ``invalid_receipt``: the receipt is not signed by ``operator`` for this domain (not evidence; reported so
      a participant learns their copy is worthless, but it accuses nobody).
    """
    tournament = Web3.to_checksum_address(tournament)
    records = _bundle_records(bundle_submissions)
    problems: list[ReceiptProblem] = []
    genuine: list[Receipt] = []
    for receipt in receipts:
        if receipt.round != round or receipt.chain_id != int(chain_id) or receipt.tournament != tournament:
            continue
        faults = verify_receipt(receipt, operator, chain_id=chain_id, tournament=tournament)
        if faults:
            problems.append(ReceiptProblem(round, receipt.model_id, "invalid_receipt", "; ".join(faults)))
        else:
            genuine.append(receipt)
    for receipt in sorted(latest_receipts(genuine).values(), key=lambda r: r.model_id):
        where = f"round {round} model {receipt.model_id}"
        held = records.get(receipt.model_id)
        if held is None:
            problems.append(
                ReceiptProblem(
                    round,
                    receipt.model_id,
                    "missing",
                    f"{where}: censored: the operator receipted predictions {receipt.predictions_hash} at "
                    f"{receipt.received_at}, but the bundle has no submission of this model",
                )
            )
        elif held.predictions_hash != receipt.predictions_hash and (held.received_at or 0) <= receipt.received_at:
            problems.append(
                ReceiptProblem(
                    round,
                    receipt.model_id,
                    "hash_mismatch",
                    f"{where}: the operator receipted predictions {receipt.predictions_hash} at {receipt.received_at}, "
                    f"but the bundle carries {held.predictions_hash} received at {held.received_at}, not a later one",
                )
            )
    return problems
