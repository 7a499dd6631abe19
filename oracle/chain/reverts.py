"""Reverts in words: the contracts' custom errors as sentences that say what is wrong and what to do.

Role arguments (``bytes32``) are named (``ORACLE_ROLE``, not a hash), amounts are written in tokens and times in
UTC. An error without a sentence here is still shown with its decoded arguments, formatted the same way.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from eth_utils import keccak
from web3 import Web3

from oracle.chain.clock import format_time
from oracle.chain.units import format_tokens

__all__ = ["ROLE_NAMES", "explain_revert", "role_name"]

_ROLES = ("ORACLE_ROLE", "GUARDIAN_ROLE", "PAUSER_ROLE", "KEEPER_ROLE", "ADMIN_ROLE")
#: bytes32 role id (0x-hex) -> role name; DEFAULT_ADMIN_ROLE is the zero word in OpenZeppelin's AccessControl.
ROLE_NAMES: dict[str, str] = {
    "0x" + "00" * 32: "DEFAULT_ADMIN_ROLE",
    **{"0x" + keccak(text=name).hex(): name for name in _ROLES},
}

_AMOUNTS = {
    "amount",
    "requested",
    "available",
    "balance",
    "needed",
    "allowance",
    "minimum",
    "shortfall",
    "reserveAvailable",
    "cap",
    "increase",
    "claimed",
    "bound",
    "payoutTotal",
    "freeReserve",
    "cumulativePayout",
    "reserveFunded",
    "pending",
    "value",
}
_TIMES = {"closesAt", "activatesAt", "lapsesAt", "until", "availableAt", "readyAt", "deadline", "earliest", "latest"}
_STATUSES = ("none", "open", "closed", "proposed", "vetoed", "active", "lapsed")


def role_name(role: Any) -> str:
    """``ORACLE_ROLE`` for its keccak id (bytes or hex); the hex itself for a role this project does not know."""
    text = "0x" + role.hex() if isinstance(role, (bytes, bytearray)) else str(role).lower()
    return ROLE_NAMES.get(text, text)


def _value(name: str, value: Any, decimals: int) -> str:
    if name in ("neededRole", "role"):
        return role_name(value)
    if name in _TIMES and isinstance(value, int):
        return format_time(value)
    if name in _AMOUNTS and isinstance(value, int):
        return format_tokens(value, decimals)
    if name == "status" and isinstance(value, int) and value < len(_STATUSES):
        return _STATUSES[value]
    if isinstance(value, str) and Web3.is_address(value):
        return Web3.to_checksum_address(value)  # as wallets and the deployment file write it
    return str(value)


_Sentence = Callable[[Mapping[str, str]], str]

_SENTENCES: dict[str, _Sentence] = {
    "AccessControlUnauthorizedAccount": lambda a: (
        f"{a['account']} does not hold {a['neededRole']}: sign with the account that holds it (the deployment "
        f"file lists the roles) or have the admin grant it"
    ),
    "NotModelOwner": lambda a: (
        f"model {a['modelId']} is not owned by {a['caller']}: use the account that registered it "
        "(`tourney model list` shows your models)"
    ),
    "UnknownModel": lambda a: (
        f"model {a['modelId']} is not registered: check the id with `tourney model list`, or register one with "
        "`tourney model register`"
    ),
    "ZeroAmount": lambda a: "the amount is zero: pass a positive amount",
    "WithdrawalExceedsStake": lambda a: (
        f"model {a['modelId']} has {a['available']} that can be withdrawn, less than the {a['requested']} asked: "
        f"ask for at most {a['available']}"
    ),
    "NoPendingWithdrawal": lambda a: (
        f"model {a['modelId']} has no pending withdrawal: request one first with `tourney unstake`"
    ),
    "UnsettledRounds": lambda a: (
        f"model {a['modelId']} is settled through round {a['settledRound']}, but this waits until it is settled "
        f"through round {a['requiredRound']}: wait until that round is active (`tourney round wait "
        f"{a['requiredRound']} --until active`), then run it again"
    ),
    "AlreadySettled": lambda a: (
        f"model {a['modelId']} is already settled through round {a['settledRound']}: nothing to do"
    ),
    "ERC20InsufficientBalance": lambda a: (
        f"{a['sender']} holds {a['balance']}, but {a['needed']} are needed: get tokens first "
        "(`tourney token balance` shows what an account holds)"
    ),
    "ERC20InsufficientAllowance": lambda a: (
        f"{a['spender']} may spend only {a['allowance']} of these tokens, {a['needed']} needed: approve more first "
        "(`tourney stake` and `tourney reserve fund` approve for you)"
    ),
    "ERC2612ExpiredSignature": lambda a: f"the permit expired at {a['deadline']}: sign a new one",
    "RoundAlreadyOpen": lambda a: f"round {a['round']} is already open: wait until it closes",
    "RoundNotDue": lambda a: f"round {a['round']} closes at {a['closesAt']}: it cannot be closed before that",
    "CloseTimeNotInFuture": lambda a: (
        f"the closing time {a['closesAt']} is not in the future by the chain's clock: is the chain's clock standing "
        "still? (start a local Anvil with `anvil --block-time 1`)"
    ),
    "ChallengeWindowOpen": lambda a: (
        f"round {a['round']}'s challenge window runs until {a['activatesAt']}: it can be activated after that"
    ),
    "ChallengeWindowClosed": lambda a: (
        f"round {a['round']}'s challenge window ended at {a['activatesAt']}: too late to veto it"
    ),
    "UnexpectedRoundStatus": lambda a: f"round {a['round']} is {a['status']}, which does not allow this step",
    "RootNotActive": lambda a: (
        f"round {a['round']}'s root is not active yet: wait for its activation (`tourney round wait {a['round']} "
        "--until active`)"
    ),
    "InvalidProof": lambda a: (
        "the Merkle proof does not match the round's root: take the proof from the round's published tree "
        "(`tourney status` prints it)"
    ),
    "EnforcedPause": lambda a: (
        "the tournament is paused by its pauser"
        + (f" until {a['until']}" if "until" in a else "")
        + ": try again later"
    ),
    "StakeBelowMinimum": lambda a: (
        f"model {a['modelId']} has no stake yet: its first stake must be at least {a['minimum']}, not {a['amount']}"
    ),
    "TopUpPending": lambda a: (
        f"model {a['modelId']} already has a deposit waiting for its first round: settle it through round "
        f"{a['settleThrough']} first (`tourney settle --model {a['modelId']}`)"
    ),
    "WithdrawalBoundaryPending": lambda a: (
        f"model {a['modelId']} already has a withdrawal at risk in a round: settle it through round "
        f"{a['settleThrough']} first, or take the pending withdrawal"
    ),
    "RoundNotResolved": lambda a: (
        f"round {a['round']} is not resolved yet"
        + ("" if a["lapsesAt"] == "-" else f"; it will be by {a['lapsesAt']} at the latest")
        + ": try again then"
    ),
    "CloseTimeOutOfRange": lambda a: (
        f"the closing time {a['closesAt']} is outside what the contract allows ({a['earliest']} to {a['latest']}): "
        "choose a --window within the deployment's round length limits"
    ),
    "ResolutionOutOfOrder": lambda a: f"rounds resolve in order: round {a['nextRound']} comes first",
    "ProposalPastLapse": lambda a: (
        f"round {a['round']}'s challenge window would end at {a['activatesAt']}, after the round lapses at "
        f"{a['lapsesAt']}: too late to propose it"
    ),
    "ActivationPastLapse": lambda a: (
        f"round {a['round']} reached its lapse deadline {a['lapsesAt']}: it can only lapse"
    ),
    "LapseNotDue": lambda a: f"round {a['round']} can lapse only from {a['lapsesAt']}",
    "PauseCoolingDown": lambda a: f"the last pause ended too recently: the next may start at {a['availableAt']}",
    "Error": lambda a: f"the contract says: {a.get('message', '')}",
    "Panic": lambda a: f"the contract hit an internal error (panic {a.get('code', '?')})",
}


def explain_revert(error: str, args: Mapping[str, Any], decimals: int = 18) -> str:
    """A sentence for the custom error ``error`` with its decoded ``args``; its name and arguments otherwise."""
    shown = {name: _value(name, value, decimals) for name, value in args.items()}
    sentence = _SENTENCES.get(error)
    if sentence is not None:
        try:
            return sentence(shown)
        except KeyError:  # the contract's error has other arguments than the sentence expects: show them all
            pass
    detail = ", ".join(f"{k}={v}" for k, v in shown.items())
    return f"{error}({detail})"
