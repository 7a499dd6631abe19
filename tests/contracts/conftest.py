"""Shared fixtures and helpers for the contract tests (brownie on Anvil).

Deployments are module-scoped and every test runs inside brownie's snapshot (`fn_isolation`), so each test starts
from the same freshly deployed state without redeploying.

Expected values are computed here in Python (oracle.settlement / oracle.merkle for trees, plain integer arithmetic
for caps and balances), never read back from the contract under test.

Revert assertions go through `assert_reverts_with`, which replays the call with a raw `eth_call` and decodes the
4-byte selector of the revert data against every custom error of the compiled contracts, so each assertion names
the error and can check its arguments. A call runs against the latest block (its timestamp included), which is
also what a transaction sent next would see apart from the timestamp moving forward.
"""

from __future__ import annotations

import importlib
import itertools
import threading
import time
from dataclasses import dataclass, field

import eth_abi
import pytest
from brownie import ReentrantToken, Tournament, TournamentExtension, TournamentToken, accounts, chain, web3
from brownie.network.transaction import Status, TransactionReceipt
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from web3.exceptions import TransactionNotFound

from oracle.settlement import SettlementLeaf, multiproof_for, proof_for, settlement_tree

UNIT = 10**18
SUPPLY = 1_000_000_000 * UNIT
BPS = 10_000
RESERVE = 100_000 * UNIT
PARTICIPANT_FUNDS = 1_000_000 * UNIT
MANIFEST_HASH = "0x" + "ab" * 32
MANIFEST_URI = "file:///rounds/manifest.json"

# Hard limits of the test deployment (immutable) and its first bounds.
MIN_STAKE = 10 * UNIT
MIN_ROUND_LENGTH = 60
MAX_ROUND_LENGTH = 7 * 86_400
MIN_CLOSE_SPACING = 60
MIN_CHALLENGE_PERIOD = 600
MAX_PAYOUT_CAP_BPS = 2_000
MAX_BURN_CAP_BPS = 2_000
LAPSE_PERIOD = 3 * 86_400  # the exit bound D
MAX_PAUSE = 86_400
PAUSE_COOLDOWN = 86_400
ADMIN_DELAY = 4 * 86_400  # > D
CHALLENGE = 3_600
PAYOUT_CAP_BPS = 500
BURN_CAP_BPS = 500
LIMITS = (
    MIN_STAKE,
    MIN_ROUND_LENGTH,
    MAX_ROUND_LENGTH,
    MIN_CLOSE_SPACING,
    MIN_CHALLENGE_PERIOD,
    MAX_PAYOUT_CAP_BPS,
    MAX_BURN_CAP_BPS,
    LAPSE_PERIOD,
    MAX_PAUSE,
    PAUSE_COOLDOWN,
    ADMIN_DELAY,
)
BOUNDS = (CHALLENGE, PAYOUT_CAP_BPS, BURN_CAP_BPS)

ORACLE_ROLE = keccak(text="ORACLE_ROLE")
GUARDIAN_ROLE = keccak(text="GUARDIAN_ROLE")
PAUSER_ROLE = keccak(text="PAUSER_ROLE")
DEFAULT_ADMIN_ROLE = b"\x00" * 32
ZERO_ADDRESS = "0x" + "00" * 20

# RoundStatus enum, in declaration order.
NONE, OPEN, CLOSED, PROPOSED, VETOED, ACTIVE, LAPSED = range(7)


def params(
    token, admin, oracle=ZERO_ADDRESS, guardian=ZERO_ADDRESS, pauser=ZERO_ADDRESS, limits=LIMITS, bounds=BOUNDS
) -> tuple:
    """The constructor's Params struct as brownie takes it."""
    return (token, admin, oracle, guardian, pauser, tuple(limits), tuple(bounds))


# ---------------------------------------------------------------- brownie/Anvil confirmation race
#
# Brownie decides a transaction was "dropped without known replacement" when the sender's nonce has moved past
# it while its receipt is not found. Anvil's automine makes the new nonce visible a moment before the receipt,
# so under load brownie sometimes gives up on a transaction that was mined. Before accepting "dropped", look
# for the receipt again for a short while; a transaction that really vanished still ends up dropped.


class _PatientEvent(threading.Event):
    """The receipt's confirmation event; `set` is held back while the receipt is being re-checked."""

    hold = False

    def set(self):
        if not self.hold:
            super().set()


class _ThreadingShim:
    Event = _PatientEvent
    Thread = threading.Thread


_transaction_module = importlib.import_module("brownie.network.transaction")
_transaction_module.threading = _ThreadingShim  # receipts now create _PatientEvent confirmation events
_original_await_confirmation = TransactionReceipt._await_confirmation


def _await_confirmation_patient(self, block_number=None, required_confs=1):
    event = self._confirmed
    event.hold = True  # the sending thread must not wake on a premature "dropped"
    try:
        for _ in range(30):
            _original_await_confirmation(self, block_number, required_confs)
            if self.status != -2:
                return
            time.sleep(0.1)
            try:
                receipt = web3.eth.get_transaction_receipt(self.txid)
            except TransactionNotFound:
                receipt = None
            if receipt is None or receipt["blockHash"] is None:
                continue
            self.status = Status(-1)
            block_number = receipt["blockNumber"]
    finally:
        event.hold = False
        event.set()


TransactionReceipt._await_confirmation = _await_confirmation_patient


def plain(value):
    """A brownie return value as plain Python (tuples of ints and strings), so `==` against literals works."""
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return str(value)
    return value


# ---------------------------------------------------------------- custom-error decoding


def _error_table() -> dict[bytes, tuple[str, list[str]]]:
    """selector -> (name, input types) over every error any compiled contract declares (OZ errors included)."""
    table: dict[bytes, tuple[str, list[str]]] = {}
    for container in (Tournament, TournamentExtension, TournamentToken, ReentrantToken):
        for entry in container.abi:
            if entry["type"] != "error":
                continue
            types = [_abi_type(i) for i in entry["inputs"]]
            selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
            table[selector] = (entry["name"], types)
    return table


def _abi_type(item: dict) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return item["type"]


def decode_error(data: str | bytes) -> tuple[str, tuple]:
    """(error name, decoded arguments) of ABI-encoded revert data."""
    raw = bytes.fromhex(data[2:]) if isinstance(data, str) else bytes(data)
    if len(raw) < 4:
        return ("<empty revert>", ())
    table = _error_table()
    if raw[:4] == keccak(text="Error(string)")[:4]:
        return ("Error", eth_abi.decode(["string"], raw[4:]))
    if raw[:4] == keccak(text="Panic(uint256)")[:4]:
        return ("Panic", eth_abi.decode(["uint256"], raw[4:]))
    if raw[:4] not in table:
        return (f"<unknown selector 0x{raw[:4].hex()}>", ())
    name, types = table[raw[:4]]
    return name, eth_abi.decode(types, raw[4:])


def revert_data(fn, *args) -> str | None:
    """Raw revert data of `fn(*args)` called at the latest block, or None if the call succeeds.

    `fn` is a brownie contract method (or a ContractContainer's `deploy`); a trailing dict gives `from`/`value`."""
    params = args[-1] if args and isinstance(args[-1], dict) else {}
    args = args[:-1] if params else args
    sender = params.get("from", accounts[0])
    call = {"from": str(sender), "data": fn.encode_input(*args)}
    address = getattr(fn, "_address", None)
    if address:
        call["to"] = address
    response = web3.provider.make_request("eth_call", [call, "latest"])
    if "error" not in response:
        return None
    data = response["error"].get("data")
    assert data is not None, f"call failed without revert data: {response['error']}"
    return data if isinstance(data, str) else data.get("data")


def assert_reverts_with(error_name: str, fn, *args, expect: tuple | None = None) -> tuple:
    """Assert that `fn(*args)` reverts with the custom error `error_name` (and arguments `expect`, if given).

    Returns the decoded arguments so a test can check some of them."""
    data = revert_data(fn, *args)
    assert data is not None, f"expected {error_name}, but the call succeeded"
    name, decoded = decode_error(data)
    assert name == error_name, f"expected {error_name}, got {name}{decoded}"
    decoded = tuple(_normalise(v) for v in decoded)
    if expect is not None:
        assert decoded == tuple(_normalise(v) for v in expect), f"{error_name} args {decoded} != {expect}"
    return decoded


def _normalise(v):
    if isinstance(v, str) and v.startswith("0x") and len(v) == 42:
        return v.lower()
    if isinstance(v, (bytes, bytearray)) and len(v) == 32:
        return "0x" + bytes(v).hex()
    return v


# ---------------------------------------------------------------- chain helpers


def now() -> int:
    """Timestamp of the latest block: what a call sees as block.timestamp."""
    return web3.eth.get_block("latest")["timestamp"]


def travel(seconds: int) -> None:
    """Move time forward and mine, so calls (which run on the latest block) see the new time too."""
    chain.sleep(seconds)
    chain.mine()


def event(tx, name: str) -> dict:
    assert name in tx.events, f"{name} not emitted; got {list(tx.events.keys())}"
    return tx.events[name]


@dataclass
class RoundResult:
    """A proposed round, as the test's off-chain oracle computed it."""

    round: int
    leaves: list[SettlementLeaf]
    tree: object
    payout: int
    burn: int

    def proof(self, model_id: int):
        return proof_for(self.tree, model_id)

    def settle_args(self, model_id: int) -> tuple:
        p = self.proof(model_id)
        return (self.round, p.leaf.model_id, p.leaf.cumulative_payout, p.leaf.cumulative_burn, p.proof)

    def batch_args(self, model_ids) -> tuple:
        mp = multiproof_for(self.tree, model_ids)
        return (self.round, [leaf.as_tuple() for leaf in mp.leaves], mp.proof, mp.proof_flags)


@dataclass
class Env:
    """One deployment and its actors, with helpers that drive rounds the way the operator does."""

    token: object
    t: object
    admin: object
    oracle: object
    guardian: object
    pauser: object
    alice: object
    bob: object
    carol: object
    keeper: object
    # Off-chain record of every model's cumulative (payout, burn) through the last proposed round.
    cumulative: dict = field(default_factory=dict)

    def register(self, owner, stake: int = 0) -> int:
        tx = self.t.registerModel({"from": owner})
        model_id = event(tx, "ModelRegistered")["modelId"]
        if stake:
            self.t.stake(model_id, stake, {"from": owner})
        return model_id

    def open_round(self, duration: int = MIN_ROUND_LENGTH + 10) -> int:
        tx = self.t.openRound(now() + duration, {"from": self.oracle})
        return event(tx, "RoundOpened")["round"]

    def open_and_close(self) -> int:
        r = self.open_round()
        chain.sleep(MIN_ROUND_LENGTH + 11)
        self.t.closeRound(r, {"from": self.oracle})
        return r

    def leaves_for(self, deltas: dict[int, tuple[int, int]], model_ids=None) -> list[SettlementLeaf]:
        """Cumulative leaves: previous cumulative values plus this round's (payout, burn) per model."""
        ids = sorted(set(model_ids or []) | set(deltas) | set(self.cumulative))
        leaves = []
        for m in ids:
            p, b = self.cumulative.get(m, (0, 0))
            dp, db = deltas.get(m, (0, 0))
            leaves.append(SettlementLeaf(m, p + dp, b + db))
        return leaves

    def propose(
        self, round_: int, leaves: list[SettlementLeaf], payout=None, burn=None, record: bool = True
    ) -> RoundResult:
        """Proposes the tree of `leaves`; totals default to the leaves' increases (an honest proposal)."""
        tree = settlement_tree(leaves)
        if payout is None or burn is None:
            inc_p = sum(leaf.cumulative_payout - self.cumulative.get(leaf.model_id, (0, 0))[0] for leaf in leaves)
            inc_b = sum(leaf.cumulative_burn - self.cumulative.get(leaf.model_id, (0, 0))[1] for leaf in leaves)
            payout = inc_p if payout is None else payout
            burn = inc_b if burn is None else burn
        self.t.proposeRoot(round_, tree.root, payout, burn, MANIFEST_HASH, MANIFEST_URI, {"from": self.oracle})
        if record:
            for leaf in leaves:
                self.cumulative[leaf.model_id] = (leaf.cumulative_payout, leaf.cumulative_burn)
        return RoundResult(round_, leaves, tree, payout, burn)

    def activate(self, round_: int):
        travel(CHALLENGE + 1)
        return self.t.activateRoot(round_, {"from": self.keeper})

    def lapse(self, round_: int):
        info = self.t.roundInfo(round_)
        wait = info["lapsesAt"] - now()
        if wait > 0:
            travel(wait)
        return self.t.lapseRound(round_, {"from": self.keeper})

    def full_round(self, deltas: dict[int, tuple[int, int]], activate=True, model_ids=None) -> RoundResult:
        """Open, close, propose (honest totals) and, by default, activate one round."""
        r = self.open_and_close()
        result = self.propose(r, self.leaves_for(deltas, model_ids))
        if activate:
            self.activate(r)
        return result

    def settle(self, result: RoundResult, model_id: int, sender=None):
        return self.t.settle(*result.settle_args(model_id), {"from": sender or self.keeper})

    def solvent(self) -> None:
        """Per-claim solvency: the contract holds every model's stake, the reserve and the burns due; every stake
        is the model's own (nonnegative by type) and the free reserve is part of the reserve."""
        t = self.t
        stakes = sum(t.stakeOf(m) for m in range(1, t.modelCount() + 1))
        assert self.token.balanceOf(t) >= stakes + t.reserve() + t.burnDue()
        assert t.committedPayout() <= t.reserve()
        assert t.freeReserve() == t.reserve() - t.committedPayout()


@pytest.fixture(scope="module")
def actors():
    return dict(
        admin=accounts[0],
        oracle=accounts[1],
        guardian=accounts[2],
        pauser=accounts[3],
        alice=accounts[4],
        bob=accounts[5],
        carol=accounts[6],
        keeper=accounts[7],
    )


def deploy_tournament(token, actors, limits=LIMITS, bounds=BOUNDS):
    a = actors
    return Tournament.deploy(
        params(token, a["admin"], a["oracle"], a["guardian"], a["pauser"], limits, bounds), {"from": a["admin"]}
    )


def deploy_env(actors, reserve: int = RESERVE) -> Env:
    a = actors
    token = TournamentToken.deploy("Tournament Stake", "STK", SUPPLY, a["admin"], {"from": a["admin"]})
    t = deploy_tournament(token, a)
    token.approve(t, 2**256 - 1, {"from": a["admin"]})
    if reserve:
        t.fundReserve(reserve, {"from": a["admin"]})
    for name in ("alice", "bob", "carol"):
        token.transfer(a[name], PARTICIPANT_FUNDS, {"from": a["admin"]})
        token.approve(t, 2**256 - 1, {"from": a[name]})
    return Env(token=token, t=t, **a)


@pytest.fixture(scope="module")
def env(actors) -> Env:
    return deploy_env(actors)


@pytest.fixture(autouse=True)
def isolation(fn_isolation, env):
    # Each test starts from the module's deployment; the off-chain record must be reset with the chain.
    saved = dict(env.cumulative)
    yield
    env.cumulative.clear()
    env.cumulative.update(saved)


# ---------------------------------------------------------------- signatures


def permit_signature(token, owner: Account, spender: str, value: int, nonce: int, deadline: int) -> tuple:
    """EIP-2612 permit signed locally with eth_account (domain from the token's name, version "1")."""
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": "Tournament Stake",
            "version": "1",
            "chainId": chain.id,
            "verifyingContract": str(token.address),
        },
        "message": {
            "owner": owner.address,
            "spender": str(spender),
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    }
    signed = Account.sign_message(encode_typed_data(full_message=typed), owner.key)
    return signed.v, "0x" + signed.r.to_bytes(32, "big").hex(), "0x" + signed.s.to_bytes(32, "big").hex()


_key_counter = itertools.count(1)


@pytest.fixture
def local_holder(env):
    """A participant whose key the test holds (for permits): funded with ether and 10,000 tokens, no allowance."""
    acct = Account.from_key(keccak(text=f"tournament-test-holder-{next(_key_counter)}"))
    brownie_acct = accounts.add(acct.key.hex())
    env.admin.transfer(brownie_acct, 10**18)
    env.token.transfer(brownie_acct, 10_000 * UNIT, {"from": env.admin})
    return acct, brownie_acct
