"""Gas-free signed submissions: a participant signs (chain, contract, round, model, file hash, deadline) with EIP-712,
and delivers the prediction file plus the signed record to the operator's inbox.

The typed data is exactly what ``Tournament.submissionDigest`` hashes (domain name "Tournament", version "1", the
chain id and the tournament address; type ``Submission(uint256 round,uint256 modelId,bytes32 predictionsHash,
uint256 deadline)``), so anyone can check a signature against the contract itself. The oracle never holds the key:
it cannot invent or alter predictions, and auditors re-check every signature from the published bundle.
The inbox that stores them is :mod:`oracle.protocol.inbox`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys import KeyAPI
from eth_utils import keccak
from web3 import Web3

from oracle.errors import TourneyError
from oracle.protocol.eip712 import checksum_address, eip712_digest, eip712_document
from oracle.protocol.signatures import non_canonical_reason

__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "SUBMISSION_TYPES",
    "SubmissionError",
    "SubmissionProblem",
    "Submission",
    "predictions_hash",
    "typed_data",
    "submission_digest",
    "replay_key",
    "sign_submission",
    "recover_signer",
    "verify_submission",
]

DOMAIN_NAME = "Tournament"

DOMAIN_VERSION = "1"

SUBMISSION_TYPES: dict[str, list[dict[str, str]]] = {
    "Submission": [
        {"name": "round", "type": "uint256"},
        {"name": "modelId", "type": "uint256"},
        {"name": "predictionsHash", "type": "bytes32"},
        {"name": "deadline", "type": "uint256"},
    ]
}

_HASH_RE = re.compile(r"^0x[0-9a-f]{64}$")

_SIG_RE = re.compile(r"^0x[0-9a-fA-F]{130}$")

_UINT256 = 2**256


class SubmissionError(TourneyError, ValueError):
    """A submission record or an inbox entry is malformed; the message says which and why."""


def predictions_hash(data: bytes) -> str:
    """keccak-256 of the exact bytes of a prediction file, as 0x-prefixed lowercase hex (the signed bytes32)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"predictions_hash wants the file's bytes, got {type(data).__name__}")
    return "0x" + keccak(bytes(data)).hex()


@dataclass(frozen=True)
class Submission:
    """One signed submission. ``signature`` covers (chain_id, tournament, round, model_id, predictions_hash,
    deadline); ``file_name`` and ``received_at`` are delivery metadata, not signed."""

    chain_id: int
    tournament: str
    round: int
    model_id: int
    predictions_hash: str
    deadline: int
    signer: str
    signature: str
    file_name: str = "predictions.csv"
    received_at: int | None = None

    def __post_init__(self) -> None:
        for name in ("chain_id", "round", "model_id", "deadline"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _UINT256:
                raise SubmissionError(f"submission {name} must be an unsigned integer, got {value!r}")
        if self.round < 1 or self.model_id < 1:
            raise SubmissionError(
                f"submission round and model id start at 1, got round {self.round}, model {self.model_id}"
            )
        for name in ("tournament", "signer"):
            address = checksum_address(getattr(self, name))
            if address is None:
                raise SubmissionError(f"submission {name} is not an address: {getattr(self, name)!r}")
            object.__setattr__(self, name, address)
        if not isinstance(self.predictions_hash, str) or not _HASH_RE.match(self.predictions_hash.lower()):
            raise SubmissionError(
                f"submission predictions_hash must be 0x + 64 hex digits, got {self.predictions_hash!r}"
            )
        object.__setattr__(self, "predictions_hash", self.predictions_hash.lower())
        if not isinstance(self.signature, str) or not _SIG_RE.match(self.signature):
            raise SubmissionError(f"submission signature must be 0x + 65 bytes of hex, got {self.signature!r}")
        if not isinstance(self.file_name, str) or not self.file_name or "/" in self.file_name:
            raise SubmissionError(f"submission file_name must be a plain file name, got {self.file_name!r}")
        if self.received_at is not None and (
            isinstance(self.received_at, bool) or not isinstance(self.received_at, int)
        ):
            raise SubmissionError(f"submission received_at must be unix seconds or null, got {self.received_at!r}")

    def to_json(self) -> dict[str, Any]:
        """The record as written to the inbox (plain JSON values)."""
        return asdict(self)

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, record: Any, where: str = "submission") -> "Submission":
        """Parse a record; unknown or missing fields are errors naming ``where``."""
        if not isinstance(record, dict):
            raise SubmissionError(f"{where}: a submission record is a JSON object, got {type(record).__name__}")
        expected = set(cls.__dataclass_fields__)
        required = expected - {"file_name", "received_at"}
        missing, unknown = required - record.keys(), record.keys() - expected
        if missing or unknown:
            raise SubmissionError(f"{where}: missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
        try:
            return cls(**record)
        except SubmissionError as exc:
            raise SubmissionError(f"{where}: {exc}") from None

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "submission") -> "Submission":
        try:
            record = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SubmissionError(f"{where}: not valid JSON ({exc})") from None
        return cls.from_json(record, where)


def typed_data(
    chain_id: int, tournament: str, round: int, model_id: int, predictions_hash: str, deadline: int
) -> dict[str, Any]:
    """The full EIP-712 typed-data document of a submission (what wallets display and sign)."""
    return eip712_document(
        DOMAIN_NAME,
        DOMAIN_VERSION,
        chain_id,
        tournament,
        SUBMISSION_TYPES,
        "Submission",
        {
            "round": int(round),
            "modelId": int(model_id),
            "predictionsHash": bytes.fromhex(predictions_hash[2:]),
            "deadline": int(deadline),
        },
    )


def _signable(sub: Submission) -> SignableMessage:
    """The library's EIP-712 message of ``sub`` (what :func:`_digest` is held equal to, in the tests)."""
    return encode_typed_data(
        full_message=typed_data(
            sub.chain_id, sub.tournament, sub.round, sub.model_id, sub.predictions_hash, sub.deadline
        )
    )


#: keccak of the Submission type string, EIP-712's typeHash.
_TYPE_HASH = keccak(text="Submission(uint256 round,uint256 modelId,bytes32 predictionsHash,uint256 deadline)")


@lru_cache(maxsize=64)
def _domain_separator(chain_id: int, tournament: str) -> bytes:
    """The domain's hashStruct, by the library (once per chain and contract)."""
    return encode_typed_data(full_message=typed_data(chain_id, tournament, 0, 0, "0x" + "00" * 32, 0)).header


def _digest(sub: Submission) -> bytes:
    """``keccak256(0x19 0x01 || domainSeparator || keccak256(typeHash || round || modelId || predictionsHash ||
    deadline))``: every field of the struct is a static 32-byte word, so hashStruct is their concatenation. The
    library's digest, a few microseconds instead of a fraction of a millisecond (tests hold them equal, and the
    contract's ``submissionDigest`` to it); the operator and the auditor recover thousands of signatures a round."""
    struct = keccak(
        _TYPE_HASH
        + sub.round.to_bytes(32, "big")
        + sub.model_id.to_bytes(32, "big")
        + bytes.fromhex(sub.predictions_hash[2:])
        + sub.deadline.to_bytes(32, "big")
    )
    return keccak(b"\x19\x01" + _domain_separator(sub.chain_id, sub.tournament) + struct)


def submission_digest(
    chain_id: int, tournament: str, round: int, model_id: int, predictions_hash: str, deadline: int
) -> str:
    """The EIP-712 digest, equal to the contract's ``submissionDigest(round, modelId, predictionsHash, deadline)``."""
    return eip712_digest(typed_data(chain_id, tournament, round, model_id, predictions_hash, deadline))


def replay_key(sub: Submission) -> str:
    """What makes two submissions the same one: the EIP-712 digest of the signed content (chain, contract, round,
    model, predictions hash, deadline), never the signature bytes (:func:`submission_digest`'s value, by the fast
    :func:`_digest`).

    Duplicate and replay checks (the service's intake, the operator's snapshot) key on this, so an old signed
    request re-encoded (another ``v``, the mirrored ``s``) is still recognised as that old request. Signatures are
    also refused unless canonical (:func:`recover_signer`); the key does not depend on that."""
    return "0x" + _digest(sub).hex()


def sign_submission(
    account: LocalAccount,
    chain_id: int,
    tournament: str,
    round: int,
    model_id: int,
    data: bytes,
    deadline: int,
    file_name: str = "predictions.csv",
) -> Submission:
    """Sign the prediction file ``data`` for (round, model) on this chain and tournament, valid until ``deadline``."""
    digest_of_file = predictions_hash(data)
    unsigned = typed_data(chain_id, tournament, round, model_id, digest_of_file, deadline)
    signed = account.sign_message(encode_typed_data(full_message=unsigned))
    return Submission(
        chain_id=int(chain_id),
        tournament=tournament,
        round=int(round),
        model_id=int(model_id),
        predictions_hash=digest_of_file,
        deadline=int(deadline),
        signer=account.address,
        signature="0x" + bytes(signed.signature).hex(),
        file_name=file_name,
    )


def recover_signer(sub: Submission) -> str:
    """The address whose key produced ``sub.signature`` over ``sub``'s signed fields (checksummed).

    Raises :class:`SubmissionError` when the signature is not canonical (see :mod:`oracle.protocol.signatures`:
    it is refused, not normalised) or cannot be recovered at all."""
    reason = non_canonical_reason(sub.signature)
    if reason is not None:
        raise SubmissionError(
            f"round {sub.round} model {sub.model_id}: non-canonical signature ({reason}); sign "
            "again with a standard wallet"
        )
    try:
        signature = bytes.fromhex(sub.signature[2:])
        v = signature[64] - 27 if signature[64] >= 27 else signature[64]  # Ethereum's 27/28, eth_keys' 0/1
        key = KeyAPI.Signature(signature[:64] + bytes([v])).recover_public_key_from_msg_hash(_digest(sub))
        return key.to_checksum_address()
    except Exception as exc:  # noqa: BLE001 - eth_keys raises several types for malformed signatures
        raise SubmissionError(f"round {sub.round} model {sub.model_id}: unrecoverable signature ({exc})") from None


class SubmissionProblem(str):
    """One reason a submission is refused: the message (this string) and a stable ``code``, the same codes the
    service answers with and the operator records in a bundle's rejections: ``bad_signature``, ``not_owner``,
    ``hash_mismatch``, ``wrong_chain``, ``wrong_contract``, ``wrong_round``, ``expired``."""

    code: str

    def __new__(cls, code: str, message: str) -> "SubmissionProblem":
        problem = super().__new__(cls, message)
        problem.code = code
        return problem


def verify_submission(
    sub: Submission,
    data: bytes,
    owner: str,
    now: int | None = None,
    *,
    chain_id: int | None = None,
    tournament: str | None = None,
    round: int | None = None,
    data_hash: str | None = None,
) -> list[SubmissionProblem]:
    """Every reason ``sub`` is not an acceptable submission of ``data`` by ``owner``; empty means valid.

    ``now`` is the time to judge the deadline by (the operator passes when it received the file); when None,
    ``sub.received_at`` is used if set, else the deadline is not checked. ``chain_id``/``tournament``/``round``,
    when given, must match what was signed (a signature for another chain, contract or round is refused).
    ``data_hash`` is ``predictions_hash(data)`` when the caller has just computed it over these very bytes (the
    auditor's bundle load checks every file's keccak): a file is not hashed twice."""
    where = f"round {sub.round} model {sub.model_id}"
    problems: list[SubmissionProblem] = []

    def refuse(code: str, message: str) -> None:
        problems.append(SubmissionProblem(code, f"{where}: {message}"))

    try:
        signer = recover_signer(sub)
    except SubmissionError as exc:
        refuse("bad_signature", f"bad signature: {exc}")
    else:
        if signer != sub.signer:
            refuse("bad_signature", f"bad signature: it was made by {signer}, the record claims {sub.signer}")
        if not Web3.is_address(owner) or signer != Web3.to_checksum_address(owner):
            refuse("not_owner", f"signer {signer} is not the model's owner {owner}")
    actual = data_hash.lower() if data_hash is not None else predictions_hash(data)
    if actual != sub.predictions_hash:
        refuse("hash_mismatch", f"file hash {actual} does not match the signed predictions hash {sub.predictions_hash}")
    if chain_id is not None and int(chain_id) != sub.chain_id:
        refuse("wrong_chain", f"signed for chain {sub.chain_id}, expected chain {chain_id}")
    if tournament is not None and Web3.to_checksum_address(tournament) != sub.tournament:
        refuse(
            "wrong_contract", f"signed for contract {sub.tournament}, expected {Web3.to_checksum_address(tournament)}"
        )
    if round is not None and int(round) != sub.round:
        refuse("wrong_round", f"signed for round {sub.round}, expected round {round}")
    when = now if now is not None else sub.received_at
    if when is not None and when >= sub.deadline:
        # The round closes when block.timestamp >= closesAt, and the deadline is closesAt.
        refuse("expired", f"deadline {sub.deadline} expired (at {when})")
    return problems
