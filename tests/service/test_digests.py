"""The intake's receipt signature equals the protocol's, on any domain and values."""

from __future__ import annotations

from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.protocol.receipt import Receipt, receipt_digest, sign_receipt, verify_receipt
from oracle.service.digests import receipt_signature

OPERATOR = Account.from_key(b"\x07" * 32)
uint = st.integers(min_value=0, max_value=2**256 - 1)
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
hashes = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())


@settings(max_examples=40, deadline=None)
@given(
    chain_id=st.integers(min_value=1, max_value=2**64),
    tournament=addresses,
    round=uint,
    model=uint,
    file=hashes,
    number=uint,
)
def test_fast_receipt_signature_equals_the_protocol_one(
    chain_id: int, tournament: str, round: int, model: int, file: str, number: int
) -> None:
    reference = sign_receipt(OPERATOR, chain_id, tournament, round, model, file, number)
    fast = receipt_signature(OPERATOR, chain_id, tournament, round, model, file, number)
    assert fast == reference.signature
    receipt = Receipt(**{**reference.to_json(), "signature": fast})
    assert verify_receipt(receipt, OPERATOR.address) == [] and receipt_digest(receipt).startswith("0x")
