"""Shared chain fixtures for the end-to-end tests: one real Anvil per session, one deployed tournament with the
oracle/guardian/pauser roles granted and a funded reward reserve, and participants with real encrypted keystores,
ether for gas and tokens to stake.

Isolation: request ``chain`` (function scope) to run a test between ``evm_snapshot`` and ``evm_revert`` (its
clock at the wall clock when it starts); tests that only read may use ``deployment`` directly. Off-chain state
(keystore files, inboxes, artifact stores) lives in per-test ``tmp_path`` or in session directories nothing writes
to after setup.

Roles (Anvil development accounts, public test keys): 0 = admin/deployer (holds the token supply, PAUSER),
1 = oracle, 2 = guardian, 3 = keeper (a third party with ether, no tokens). Participants are fresh random keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from oracle.chain.anvil import Anvil, dev_private_keys, start_anvil
from oracle.chain.deploy import UNIT
from oracle.chain.keystore import Keystore
from oracle.testing.local import LocalTournament, local_tournament

#: Password of every test keystore (also exported as TOURNEY_PASSWORD by ``participant_env``).
KEYSTORE_PASSWORD = "e2e-correct-horse"
#: scrypt cost of test keystores: still standard encrypted V3 files, but unlocking takes milliseconds.
TEST_SCRYPT_N = 2**10
#: Funded into the reward reserve at deployment.
RESERVE = 100_000 * UNIT
#: Tokens each participant receives.
PARTICIPANT_TOKENS = 10_000 * UNIT
PARTICIPANT_ETHER = 10 * 10**18
PARTICIPANTS = 4
#: Challenge window of the test deployment (seconds); short so tests advance time by little.
CHALLENGE_PERIOD = 600


@dataclass(frozen=True)
class Participant:
    """A funded participant: a key in an encrypted keystore named ``name`` in ``keystore_dir``."""

    name: str
    account: LocalAccount
    keystore_dir: Path
    password: str

    @property
    def address(self) -> str:
        return self.account.address


#: The chain the tests run on: oracle.testing.local's tournament (node, web3, deployment, senders by role).
Chain = LocalTournament


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    """One Anvil for the session, on a free port (never 8545)."""
    node = start_anvil(accounts=10)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def dev_accounts() -> list[LocalAccount]:
    return [Account.from_key(k) for k in dev_private_keys(4)]


@pytest.fixture(scope="session")
def deployed(anvil: Anvil, dev_accounts: list[LocalAccount], tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """Token + tournament deployed, roles granted, reward reserve funded; the deployment saved to a JSON file."""
    return local_tournament(
        anvil,
        challenge_period=CHALLENGE_PERIOD,
        reserve=RESERVE,
        save_to=tmp_path_factory.mktemp("deployment") / "deployment.json",
    )


@pytest.fixture(scope="session")
def participants(deployed: Chain, tmp_path_factory: pytest.TempPathFactory) -> list[Participant]:
    """``PARTICIPANTS`` fresh accounts in one keystore directory (names p0, p1, ...), each with ether and tokens."""
    directory = tmp_path_factory.mktemp("keystores")
    keystore = Keystore(directory, scrypt_n=TEST_SCRYPT_N)
    found = []
    for i in range(PARTICIPANTS):
        account = Account.create()
        keystore.import_key(f"p{i}", bytes(account.key), KEYSTORE_PASSWORD)
        deployed.admin.send_ether(account.address, PARTICIPANT_ETHER)
        deployed.admin.transact(
            deployed.token.functions.transfer(account.address, PARTICIPANT_TOKENS), action=f"fund participant p{i}"
        )
        found.append(Participant(f"p{i}", account, directory, KEYSTORE_PASSWORD))
    return found


@pytest.fixture
def chain(deployed: Chain, participants: list[Participant]) -> Iterator[Chain]:
    """The deployed chain, reverted to its post-setup state after the test (participants already funded), its clock
    brought to the wall clock first: each revert rewinds Anvil's clock to the setup block, so a later test would
    otherwise start as far behind the wall clock as the session is old (see LocalTournament.catch_up_clock)."""
    snapshot_id = deployed.snapshot()
    deployed.catch_up_clock()
    try:
        yield deployed
    finally:
        deployed.revert(snapshot_id)


@pytest.fixture
def participant_env(chain: Chain, participants: list[Participant], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for driving ``tourney`` as participant p0: RPC, deployment file, keystore dir and password."""
    env = {
        "TOURNEY_RPC": chain.url,
        "TOURNEY_DEPLOYMENT": str(chain.deployment_file),
        "TOURNEY_KEYSTORE_DIR": str(participants[0].keystore_dir),
        "TOURNEY_PASSWORD": KEYSTORE_PASSWORD,
        "TOURNEY_ACCOUNT": participants[0].name,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
