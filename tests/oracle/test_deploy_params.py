"""Deployment parameters and the public-network refusal (pure: nothing is deployed)."""

from dataclasses import replace

import pytest

from oracle.chain.deploy import (
    DAY,
    PUBLIC_NETWORK_PARAMS,
    DeployParams,
    DeployRefused,
    check_public_network_safety,
)

DEPLOYER = "0x" + "11" * 20
MULTISIG = "0x" + "22" * 20


def test_local_defaults_keep_every_promise_of_the_contract():
    local = DeployParams()
    assert local.challenge_period < local.lapse_period < local.admin_delay
    assert local.burn_cap_bps <= local.max_burn_cap_bps < 10_000
    assert len(local.limits()) == 11 and local.bounds() == (local.challenge_period, 500, 500)


def test_public_defaults_wait_a_day_and_keep_the_admin_slower_than_an_exit():
    p = PUBLIC_NETWORK_PARAMS
    assert p.challenge_period >= DAY and p.min_challenge_period >= DAY
    assert p.admin_delay > p.lapse_period
    check_public_network_safety(p, MULTISIG, DEPLOYER)  # no refusal


@pytest.mark.parametrize(
    "admin, params, fragment",
    [
        (None, PUBLIC_NETWORK_PARAMS, "set TOURNEY_ADMIN"),
        (DEPLOYER, PUBLIC_NETWORK_PARAMS, "is the deploying key itself"),
        (MULTISIG, DeployParams(), "at least a day"),
    ],
)
def test_a_public_deployment_is_refused_when_it_would_leave_trust_behind(admin, params, fragment):
    with pytest.raises(DeployRefused, match=fragment):
        check_public_network_safety(params, admin, DEPLOYER)


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"admin_delay": DAY}, "admin_delay .* must exceed lapse_period"),
        ({"challenge_period": DAY}, "challenge_period .* below lapse_period"),
        ({"challenge_period": 30}, "at least min_challenge_period"),
        ({"payout_cap_bps": 3_000}, "exceed the hard limits"),
        ({"max_burn_cap_bps": 10_000, "burn_cap_bps": 500}, "never burns a whole stake"),
        ({"token_supply": 2**94}, "token_supply"),
        ({"min_stake": -1}, "min_stake must be a non-negative integer"),
    ],
)
def test_contradictory_parameters_are_refused_before_any_transaction(changes, fragment):
    with pytest.raises(ValueError, match=fragment):
        replace(DeployParams(), **changes)
