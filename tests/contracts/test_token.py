"""TournamentToken: fixed supply, burnable, EIP-2612 permit (the supply limit the tournament needs is tested in
test_rounds_and_roots)."""

from brownie import TournamentToken, chain
from conftest import SUPPLY, UNIT, assert_reverts_with, now, permit_signature


def test_whole_fixed_supply_is_minted_to_the_holder(env):
    assert env.token.name() == "Tournament Stake"
    assert env.token.symbol() == "STK"
    assert env.token.decimals() == 18
    assert env.token.totalSupply() == SUPPLY
    # The deployment fixture moved tokens out of the holder; everything is still accounted for.
    holders = [env.admin, env.alice, env.bob, env.carol, env.t]
    assert sum(env.token.balanceOf(h) for h in holders) == SUPPLY


def test_there_is_no_way_to_mint_after_deployment():
    names = {e["name"] for e in TournamentToken.abi if e["type"] == "function"}
    assert not any("mint" in n.lower() for n in names), names


def test_burn_lowers_total_supply_for_good(env):
    before = env.token.totalSupply()
    tx = env.token.burn(7 * UNIT, {"from": env.alice})
    assert env.token.totalSupply() == before - 7 * UNIT
    assert env.token.balanceOf(env.alice) == 1_000_000 * UNIT - 7 * UNIT
    assert tx.events["Transfer"]["to"] == "0x" + "00" * 20


def test_burn_more_than_balance_reverts(env):
    assert_reverts_with(
        "ERC20InsufficientBalance",
        env.token.burn,
        1_000_001 * UNIT,
        {"from": env.alice},
        expect=(env.alice.address, 1_000_000 * UNIT, 1_000_001 * UNIT),
    )


def test_burn_from_needs_allowance(env):
    assert_reverts_with(
        "ERC20InsufficientAllowance",
        env.token.burnFrom,
        env.alice,
        1,
        {"from": env.bob},
        expect=(env.bob.address, 0, 1),
    )
    env.token.approve(env.bob, 5, {"from": env.alice})
    env.token.burnFrom(env.alice, 5, {"from": env.bob})
    assert env.token.totalSupply() == SUPPLY - 5


def test_transfer_moves_balances(env):
    env.token.transfer(env.bob, 3, {"from": env.alice})
    assert env.token.balanceOf(env.bob) == 1_000_000 * UNIT + 3
    assert_reverts_with("ERC20InvalidReceiver", env.token.transfer, "0x" + "00" * 20, 1, {"from": env.alice})


def test_permit_sets_allowance_and_consumes_the_nonce(env, local_holder):
    holder, _ = local_holder
    deadline = now() + 3600
    v, r, s = permit_signature(env.token, holder, env.bob.address, 123, 0, deadline)
    env.token.permit(holder.address, env.bob, 123, deadline, v, r, s, {"from": env.carol})
    assert env.token.allowance(holder.address, env.bob) == 123
    assert env.token.nonces(holder.address) == 1
    # Replaying the same signature recovers a different signer once the nonce moved on.
    assert_reverts_with(
        "ERC2612InvalidSigner", env.token.permit, holder.address, env.bob, 123, deadline, v, r, s, {"from": env.carol}
    )


def test_permit_rejects_expired_and_forged_signatures(env, local_holder):
    holder, _ = local_holder
    past = now() - 1
    v, r, s = permit_signature(env.token, holder, env.bob.address, 1, 0, past)
    assert_reverts_with(
        "ERC2612ExpiredSignature", env.token.permit, holder.address, env.bob, 1, past, v, r, s, expect=(past,)
    )
    deadline = now() + 3600
    v, r, s = permit_signature(env.token, holder, env.bob.address, 1, 0, deadline)
    # Same signature, a different value: the recovered signer is not the holder.
    args = assert_reverts_with("ERC2612InvalidSigner", env.token.permit, holder.address, env.bob, 2, deadline, v, r, s)
    assert args[1] == holder.address.lower()


def test_domain_separator_matches_eip712_of_name_version_chain_contract(env):
    from eth_abi import encode
    from eth_utils import keccak

    typehash = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
    expected = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [typehash, keccak(text="Tournament Stake"), keccak(text="1"), chain.id, env.token.address],
        )
    )
    assert env.token.DOMAIN_SEPARATOR() == "0x" + expected.hex()


def test_revert_helper_itself_fails_on_the_wrong_error_or_a_success(env):
    # The helper must be able to fail: a different error, different arguments and a successful call all trip it.
    import pytest

    with pytest.raises(AssertionError, match="expected ERC20InvalidSender"):
        assert_reverts_with("ERC20InvalidSender", env.token.burn, 1_000_001 * UNIT, {"from": env.alice})
    with pytest.raises(AssertionError, match="args"):
        assert_reverts_with(
            "ERC20InsufficientBalance",
            env.token.burn,
            1_000_001 * UNIT,
            {"from": env.alice},
            expect=(env.alice.address, 0, 0),
        )
    with pytest.raises(AssertionError, match="succeeded"):
        assert_reverts_with("ERC20InsufficientBalance", env.token.burn, 1, {"from": env.alice})
