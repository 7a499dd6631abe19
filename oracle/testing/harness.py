"""Run the real service on a local chain: a test-and-benchmark harness, not part of the service itself.

Shared on purpose by its users: the end-to-end tests (``tests/e2e/test_service*.py``, ``tests/e2e/mcp``), the
benchmark ``bench/service_bench.py`` and the demo (``service_thread``). It lives in the package rather than under
``tests/`` so that the benchmark can import it without importing test modules; nothing in the running service
(``oracle.service.app``) imports it. Change it with every user in mind.

Everything here is real: ``tourney serve`` as a subprocess (uvicorn on a free loopback port), Anvil over JSON-RPC,
signed transactions, encrypted keystores. Helpers batch transactions (sign with explicit nonces, send, then wait
for every receipt) because setting up hundreds of models one round trip at a time would dominate the test time.
A concurrent burst of submissions and the load scenario built on these helpers are in oracle.testing.burst.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3

from oracle.chain.anvil import free_port
from oracle.chain.deploy import Deployment
from oracle.chain.hashes import tx_hash
from oracle.chain.keystore import Keystore
from oracle.protocol.permit import permit_signature
from oracle.protocol.submission import Submission

__all__ = [
    "ServiceProcess",
    "start_service",
    "service_thread",
    "write_live",
    "write_targets",
    "prediction_csv",
    "send_batch",
    "fund_participants",
    "register_models",
    "stake_models",
    "encode_request",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
TOURNEY = Path(sys.executable).with_name("tourney")


# ------------------------------------------------------------------------------------------ the service process


@dataclass
class ServiceProcess:
    """A ``tourney serve`` subprocess; its JSON log goes to ``log_path``."""

    process: subprocess.Popen
    port: int
    log_path: Path
    args: list[str]
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tourney serve exited with {self.process.returncode}: {self.log()[-2000:]}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"tourney serve did not answer on {self.url} within {timeout:.0f}s: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs (the crash the service must survive)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> "ServiceProcess":
        """Start the same command again (same port, directories and key) and wait until it answers."""
        self.stop()
        handle = open(self.log_path, "ab")  # noqa: SIM115 - the child process writes to it until stop()
        process = subprocess.Popen(self.args, env=self.env, stdout=handle, stderr=handle)
        again = ServiceProcess(process, self.port, self.log_path, self.args, self.env)
        again.wait_ready()
        return again


def start_service(
    rpc: str,
    deployment_file: Path,
    oracle_key: str,
    workdir: Path,
    *,
    scheduler: bool = True,
    extra_args: Sequence[str] = (),
    port: int | None = None,
) -> ServiceProcess:
    """Start ``tourney serve`` for the oracle key (imported into an encrypted keystore under ``workdir``).

    ``workdir`` gets ``inbox/``, ``store/``, ``rounds/`` (round data: the caller writes live/targets files),
    ``state/`` and ``keystores/``; the log is ``workdir/service.log``."""
    for name in ("inbox", "store", "rounds", "state"):
        (workdir / name).mkdir(parents=True, exist_ok=True)
    keystore = Keystore(workdir / "keystores", scrypt_n=2**10)
    if not keystore.exists("oracle"):
        keystore.import_key("oracle", oracle_key, "service-test")
    port = port or free_port()
    args = [
        str(TOURNEY),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--state",
        str(workdir / "state"),
        "--store",
        str(workdir / "store"),
        "--inbox",
        str(workdir / "inbox"),
        "--round-data",
        str(workdir / "rounds"),
        "--poll",
        "0.3",
        *([] if scheduler else ["--no-scheduler"]),
        *extra_args,
    ]
    env = {
        **os.environ,
        "TOURNEY_RPC": rpc,
        "TOURNEY_DEPLOYMENT": str(deployment_file),
        "TOURNEY_KEYSTORE_DIR": str(workdir / "keystores"),
        "TOURNEY_ACCOUNT": "oracle",
        "TOURNEY_PASSWORD": "service-test",
    }
    log_path = workdir / "service.log"
    handle = open(log_path, "ab")  # noqa: SIM115 - the child process writes to it until stop()
    process = subprocess.Popen(args, env=env, stdout=handle, stderr=handle)
    service = ServiceProcess(process, port, log_path, args, env)
    service.wait_ready()
    return service


@contextmanager
def service_thread(config: Any) -> Iterator[str]:
    """The service's app (a ``oracle.service.app.ServiceConfig``) under uvicorn on a free loopback port, in a thread
    of this process; yields its URL and stops it on exit. Starts in a fraction of a second where ``tourney serve``
    takes seconds of imports: for the demo and for tests that need a service but not its process boundary."""
    import uvicorn

    from oracle.service.app import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config), host="127.0.0.1", port=port, log_config=None, access_log=False, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, name=f"service-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the service did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# ------------------------------------------------------------------------------------------ round data


def write_live(round_data: Path, round: int, n_ids: int = 200, features: int = 4, seed: int = 0) -> list[str]:
    """``live_<round>.parquet`` (id + features); returns the live ids."""
    rng = np.random.default_rng(seed + round)
    ids = [f"r{round}-{i:05d}" for i in range(n_ids)]
    frame = pd.DataFrame({"id": ids, **{f"f{j}": rng.random(n_ids) for j in range(features)}})
    frame.to_parquet(round_data / f"live_{round}.parquet", index=False)
    return ids


def write_targets(round_data: Path, round: int, live_ids: Sequence[str], seed: int = 0) -> None:
    """``targets_<round>.parquet`` (id, target): the operator resolves the round once this exists."""
    rng = np.random.default_rng(10_000 + seed + round)
    frame = pd.DataFrame({"id": list(live_ids), "target": rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], len(live_ids))})
    tmp = round_data / f".targets_{round}.tmp"
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, round_data / f"targets_{round}.parquet")  # the operator must never see half a file


def close_and_await_proposal(
    w3: Web3,
    client: Any,
    service: ServiceProcess,
    round_data: Path,
    live_ids: Sequence[str],
    closes_at: int,
    deadline: float,
    poll: float,
) -> Any:
    """Move the chain past ``closes_at``, publish round 1's targets and wait (until ``deadline``, by the monotonic
    clock) for the service's scheduler to propose it; returns the proposal. The load tests and benchmarks end a
    burst this way."""
    from web3.types import RPCEndpoint

    from oracle.chain.client import RoundStatus

    w3.provider.make_request(
        RPCEndpoint("evm_increaseTime"), [closes_at - int(w3.eth.get_block("latest")["timestamp"]) + 1]
    )
    w3.provider.make_request(RPCEndpoint("evm_mine"), [])
    write_targets(round_data, 1, live_ids)
    while client.round_state(1).status is not RoundStatus.PROPOSED:
        if time.monotonic() > deadline or service.process.poll() is not None:
            raise TimeoutError(f"round 1 was not proposed in time; service log:\n{service.log()[-3000:]}")
        time.sleep(poll)
    proposal = client.current_proposal(1)
    assert proposal is not None
    return proposal


def prediction_csv(live_ids: Sequence[str], seed: int) -> bytes:
    """A valid prediction file (id, prediction in [0, 1]) for the live ids."""
    rng = np.random.default_rng(seed)
    values = rng.random(len(live_ids))
    return ("id,prediction\n" + "".join(f"{i},{v:.6f}\n" for i, v in zip(live_ids, values))).encode()


# ------------------------------------------------------------------------------------------ batched transactions


def send_batch(w3: Web3, txs: Iterable[tuple[LocalAccount, Any, int]], gas: int = 400_000) -> list[Any]:
    """Send (account, contract function or (to, value) pair, value) transactions with explicit nonces and wait
    for all receipts; raises if any reverted (the setup must be exactly what the test assumes)."""
    nonces: dict[str, int] = {}
    chain_id = w3.eth.chain_id
    hashes = []
    for account, call, value in txs:
        nonce = nonces.get(account.address)
        if nonce is None:
            nonce = w3.eth.get_transaction_count(account.address, "pending")
        nonces[account.address] = nonce + 1
        base: dict[str, Any] = {
            "from": account.address,
            "nonce": nonce,
            "gas": gas,
            "gasPrice": 10**9,
            "chainId": chain_id,
            "value": value,
        }
        tx = call.build_transaction(base) if not isinstance(call, str) else {**base, "to": call, "gas": 21_000}
        hashes.append(w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction))
    receipts = [w3.eth.wait_for_transaction_receipt(h, timeout=120) for h in hashes]
    failed = [tx_hash(r) for r in receipts if r["status"] != 1]
    if failed:
        raise RuntimeError(f"{len(failed)} setup transaction(s) reverted, e.g. {failed[:3]}")
    return receipts


def fund_participants(
    w3: Web3,
    funder: LocalAccount,
    deployment: Deployment,
    accounts: Sequence[LocalAccount],
    ether: int = 10**18,
    tokens: int = 0,
) -> None:
    token = deployment.token_contract(w3)
    txs: list[tuple[LocalAccount, Any, int]] = [(funder, a.address, ether) for a in accounts]
    if tokens:
        txs += [(funder, token.functions.transfer(a.address, tokens), 0) for a in accounts]
    send_batch(w3, txs)


def register_models(
    w3: Web3, deployment: Deployment, accounts: Sequence[LocalAccount], per_account: int
) -> dict[int, LocalAccount]:
    """Register ``per_account`` models for each account; returns model id -> owner account (from the events)."""
    tournament = deployment.tournament_contract(w3)
    receipts = send_batch(
        w3, [(a, tournament.functions.registerModel(), 0) for a in accounts for _ in range(per_account)]
    )
    by_address = {a.address: a for a in accounts}
    owners: dict[int, LocalAccount] = {}
    for receipt in receipts:
        for event in tournament.events.ModelRegistered().process_receipt(receipt):
            owners[int(event["args"]["modelId"])] = by_address[Web3.to_checksum_address(event["args"]["owner"])]
    return owners


def stake_models(w3: Web3, deployment: Deployment, stakes: dict[int, tuple[LocalAccount, int]]) -> None:
    """stakeWithPermit on each model (one permit per owner at a time: permits consume the owner's nonce)."""
    tournament, token = deployment.tournament_contract(w3), deployment.token_contract(w3)
    deadline = int(w3.eth.get_block("latest")["timestamp"]) + 10 * 86_400
    for model_id, (account, amount) in stakes.items():
        v, r, s = permit_signature(account, token, tournament.address, amount, deadline, deployment.chain_id)
        send_batch(w3, [(account, tournament.functions.stakeWithPermit(model_id, amount, deadline, v, r, s), 0)])


# ------------------------------------------------------------------------------------------ requests


def encode_request(sub: Submission, data: bytes) -> dict[str, Any]:
    """The JSON body of ``POST /rounds/{round}/submissions`` for a signed record and its file."""
    return {
        "submission": {k: v for k, v in sub.to_json().items() if k != "received_at"},
        "file": base64.b64encode(data).decode(),
    }
