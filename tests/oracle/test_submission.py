"""Signed submissions and the inbox, without a chain (the digest-equals-contract test is in tests/e2e)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak

from oracle.protocol.inbox import Inbox
from oracle.protocol.submission import (
    Submission,
    SubmissionError,
    predictions_hash,
    recover_signer,
    sign_submission,
    verify_submission,
)

CHAIN = 31337
TOURNAMENT = "0x" + "ab" * 20
OWNER = Account.from_key("0x" + "11" * 32)
OTHER = Account.from_key("0x" + "22" * 32)
FILE = b"id,prediction\nn1,0.25\nn2,0.75\n"
DEADLINE = 1_900_000_000


def _signed(account=OWNER, data: bytes = FILE, round: int = 4, model_id: int = 9) -> Submission:
    return sign_submission(account, CHAIN, TOURNAMENT, round, model_id, data, DEADLINE)


def test_predictions_hash_is_keccak_of_exact_bytes() -> None:
    assert predictions_hash(FILE) == "0x" + keccak(FILE).hex()
    assert predictions_hash(FILE) != predictions_hash(FILE + b"\n")
    with pytest.raises(TypeError):
        predictions_hash("text")  # type: ignore[arg-type]


def test_signature_recovers_the_signer_and_verifies() -> None:
    sub = _signed()
    assert sub.signer == OWNER.address
    assert recover_signer(sub) == OWNER.address
    assert (
        verify_submission(sub, FILE, OWNER.address, now=DEADLINE - 1, chain_id=CHAIN, tournament=TOURNAMENT, round=4)
        == []
    )


def test_wrong_signer_is_named() -> None:
    sub = _signed(account=OTHER)
    problems = verify_submission(sub, FILE, OWNER.address, now=0)
    assert len(problems) == 1 and "not the model's owner" in problems[0] and OTHER.address in problems[0]


def test_tampered_fields_break_the_signature() -> None:
    sub = _signed()
    for field, value in (
        ("model_id", 10),
        ("round", 5),
        ("deadline", DEADLINE + 1),
        ("chain_id", 1),
        ("tournament", "0x" + "cd" * 20),
        ("predictions_hash", "0x" + "00" * 32),
    ):
        forged = replace(sub, **{field: value})
        assert recover_signer(forged) != OWNER.address, field
        assert any("bad signature" in p for p in verify_submission(forged, FILE, OWNER.address)), field


def test_hash_mismatch_expiry_and_context_are_reported() -> None:
    sub = _signed()
    problems = verify_submission(
        sub, FILE + b"x", OWNER.address, now=DEADLINE, chain_id=1, tournament="0x" + "cd" * 20, round=5
    )
    text = "\n".join(problems)
    assert "does not match the signed predictions hash" in text
    assert "expired" in text
    assert "expected chain 1" in text and "expected round 5" in text and "signed for contract" in text


def test_received_at_is_the_default_clock() -> None:
    late = replace(_signed(), received_at=DEADLINE + 5)
    assert any("expired" in p for p in verify_submission(late, FILE, OWNER.address))
    assert verify_submission(replace(late, received_at=DEADLINE - 5), FILE, OWNER.address) == []


def test_record_roundtrip_and_malformed_records() -> None:
    sub = _signed()
    assert Submission.from_bytes(sub.to_bytes()) == sub
    with pytest.raises(SubmissionError, match="missing fields"):
        Submission.from_json({"round": 1})
    with pytest.raises(SubmissionError, match="signature"):
        Submission.from_json({**sub.to_json(), "signature": "0x1234"})
    with pytest.raises(SubmissionError, match="not valid JSON"):
        Submission.from_bytes(b"{nope", "inbox entry")
    with pytest.raises(SubmissionError, match="start at 1"):
        replace(sub, model_id=0)
    # An address field that is not text (a hostile record's list or object) is named, not a crash.
    for field, value in (("signer", ["0x" + "11" * 20]), ("tournament", {"a": 1}), ("signer", 7)):
        with pytest.raises(SubmissionError, match=f"{field} is not an address"):
            Submission.from_json({**sub.to_json(), field: value})


def test_inbox_put_get_and_resubmission_replaces(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox")
    first = inbox.put(_signed(), FILE)
    assert first.received_at is not None
    sub, data = inbox.get(4, 9)
    assert data == FILE and sub == first
    newer = FILE + b"n3,0.5\n"
    inbox.put(_signed(data=newer), newer)
    sub, data = inbox.get(4, 9)
    assert data == newer and sub.predictions_hash == predictions_hash(newer)
    assert [s.model_id for s, _ in inbox.collect(4)] == [9]
    assert inbox.get(4, 10) is None and inbox.collect(99) == []


def test_inbox_refuses_a_file_that_is_not_the_signed_one(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    with pytest.raises(SubmissionError, match="nothing delivered"):
        inbox.put(_signed(), FILE + b"tampered")
    assert inbox.get(4, 9) is None


def test_collect_reports_corrupt_entries_and_keeps_good_ones(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    for model_id in (1, 2, 3, 4):
        inbox.put(_signed(model_id=model_id), FILE)
    round_dir = tmp_path / "round-4"
    (round_dir / "model-2.json").write_text("{half")  # half-written record
    record = json.loads((round_dir / "model-3.json").read_text())
    record["model_id"] = 33  # record under the wrong name
    (round_dir / "model-3.json").write_text(json.dumps(record))
    other = b"id,prediction\nn1,0.1\n"
    missing = _signed(model_id=4, data=other)
    (round_dir / "model-4.json").write_bytes(missing.to_bytes())  # points at a file never written
    (round_dir / ".tmp-abc-model-5.json").write_text("partial")  # a writer's temp file
    found = inbox.collect(4)
    assert [s.model_id for s, _ in found] == [1]
    text = "\n".join(found.problems)
    assert len(found.problems) == 3
    assert "model-2.json" in text and "not valid JSON" in text
    assert "model-3.json" in text and "not what its name says" in text
    assert "model-4.json" in text and "is missing" in text


def test_inbox_on_an_fsspec_memory_url() -> None:
    inbox = Inbox("memory://h5-inbox-test")
    inbox.put(_signed(model_id=7), FILE)
    sub, data = inbox.get(4, 7)
    assert data == FILE and verify_submission(sub, data, OWNER.address) == []


def test_every_problem_carries_a_stable_code() -> None:
    sub = _signed(account=OTHER)
    problems = verify_submission(
        sub, FILE + b"x", OWNER.address, now=DEADLINE, chain_id=1, tournament="0x" + "cd" * 20, round=5
    )
    assert sorted(p.code for p in problems) == sorted(
        ["not_owner", "hash_mismatch", "wrong_chain", "wrong_contract", "wrong_round", "expired"]
    )
    forged = replace(_signed(), model_id=10)
    assert "bad_signature" in {p.code for p in verify_submission(forged, FILE, OWNER.address)}


def test_recovery_digest_is_the_libraries_and_recovery_agrees_with_it() -> None:
    """recover_signer hashes the fixed Submission struct itself: the same digest as eth_account's EIP-712 encoder,
    the same signer as eth_account's recovery, the same refusals of signatures that cannot be recovered."""
    from eth_account import Account as Accounts

    from oracle.protocol.submission import _digest, _signable, recover_signer, submission_digest

    rng = random.Random(5)
    for _ in range(40):
        account = Accounts.from_key(rng.randbytes(32))
        sub = sign_submission(
            account,
            rng.choice([1, 31337, 2**40]),
            "0x" + rng.randbytes(20).hex(),
            rng.randrange(1, 2**32),
            rng.randrange(1, 2**64),
            rng.randbytes(50),
            rng.randrange(2**64),
        )
        assert "0x" + _digest(sub).hex() == submission_digest(
            sub.chain_id, sub.tournament, sub.round, sub.model_id, sub.predictions_hash, sub.deadline
        )
        expected = Accounts.recover_message(_signable(sub), signature=sub.signature)
        assert recover_signer(sub) == expected == account.address
    broken = replace(sub, signature=sub.signature[:-2] + "1d")  # v = 29
    with pytest.raises(SubmissionError, match="non-canonical signature"):
        recover_signer(broken)
    with pytest.raises(ValueError, match="v 29 is invalid"):
        Accounts.recover_message(_signable(broken), signature=broken.signature)


# ---------------------------------------------------------------- canonical signatures, replay keys (issue 10, L-5)

SECPK1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _reencodings(sub: Submission) -> dict[str, Submission]:
    """The other encodings of the same signature that ecrecover (and eth_account) accept: v as 0/1, and the mirrored
    s with the other recovery id."""
    raw = bytes.fromhex(sub.signature[2:])
    r, s, v = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
    high_s = (SECPK1_N - s).to_bytes(32, "big")
    flipped = 55 - v  # 27 <-> 28
    return {
        "v-27": replace(sub, signature="0x" + (r + raw[32:64] + bytes([v - 27])).hex()),
        "high-s": replace(sub, signature="0x" + (r + high_s + bytes([flipped])).hex()),
        "high-s, v-27": replace(sub, signature="0x" + (r + high_s + bytes([flipped - 27])).hex()),
    }


def test_only_the_canonical_encoding_of_a_signature_is_accepted() -> None:
    sub = _signed()
    assert recover_signer(sub) == OWNER.address
    from eth_account.messages import encode_typed_data

    from oracle.protocol.submission import typed_data

    message = encode_typed_data(full_message=typed_data(CHAIN, TOURNAMENT, 4, 9, sub.predictions_hash, DEADLINE))
    for name, other in _reencodings(sub).items():
        # The malleability is real: the library recovers the owner from every encoding...
        assert Account.recover_message(message, signature=other.signature) == OWNER.address, name
        # ...and every one but the canonical encoding is refused, saying which rule it breaks.
        with pytest.raises(SubmissionError, match="non-canonical signature") as refused:
            recover_signer(other)
        assert ("v is" if "v-27" in name else "high-s") in str(refused.value), name
        problems = verify_submission(other, FILE, OWNER.address, now=0)
        assert [p.code for p in problems] == ["bad_signature"], name


def test_replay_key_is_the_signed_content_not_the_signature_bytes() -> None:
    from oracle.protocol.submission import replay_key, submission_digest

    sub = _signed()
    assert replay_key(sub) == submission_digest(CHAIN, TOURNAMENT, 4, 9, sub.predictions_hash, DEADLINE)
    for other in _reencodings(sub).values():
        assert replay_key(other) == replay_key(sub)
    # Unsigned delivery metadata is not part of it; every signed field is.
    assert replay_key(replace(sub, received_at=123, file_name="other.csv")) == replay_key(sub)
    for field, value in (
        ("model_id", 10),
        ("round", 5),
        ("deadline", DEADLINE + 1),
        ("chain_id", 1),
        ("tournament", "0x" + "cd" * 20),
        ("predictions_hash", "0x" + "00" * 32),
    ):
        assert replay_key(replace(sub, **{field: value})) != replay_key(sub), field


def test_a_receipt_with_an_address_that_is_not_text_is_named() -> None:
    from oracle.protocol.receipt import Receipt, ReceiptError

    good = {
        "chain_id": CHAIN,
        "tournament": TOURNAMENT,
        "round": 4,
        "model_id": 9,
        "predictions_hash": predictions_hash(FILE),
        "received_at": 100,
        "operator": OWNER.address,
        "signature": "0x" + "ab" * 65,
    }
    checksummed = Receipt.from_json(good).tournament
    assert Receipt.from_json({**good, "tournament": TOURNAMENT.lower()}).tournament == checksummed != TOURNAMENT
    for field, value in (("operator", [OWNER.address]), ("tournament", None)):
        with pytest.raises(ReceiptError, match=f"{field} is not an address"):
            Receipt.from_json({**good, field: value})
