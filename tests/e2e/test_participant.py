"""The participant side end to end on a real Anvil: wallets, staking with permit, withdrawals, signed submissions,
settlement by a third party, status."""

from __future__ import annotations

from oracle.submission import sign_submission, submission_digest


def test_python_digest_equals_contract_submission_digest(chain, participants) -> None:
    sub = sign_submission(participants[0].account, chain.deployment.chain_id, chain.deployment.tournament,
                          3, 7, b"id,prediction\nn1,0.5\n", 1_900_000_000)
    onchain = chain.tournament.functions.submissionDigest(
        3, 7, bytes.fromhex(sub.predictions_hash[2:]), 1_900_000_000).call()
    assert "0x" + onchain.hex() == submission_digest(
        sub.chain_id, sub.tournament, sub.round, sub.model_id, sub.predictions_hash, sub.deadline)
