"""A round of the real tournament's size, end to end on Anvil: ``make bench-scale`` -> ``bench/results/scale.json``.

For each size (1,000 and 10,000 models; 5,000 live ids): deploy; register and stake every model (EIP-2612 permits,
ten models per participant; transactions signed ahead and sent in JSON-RPC batches with Anvil's automine off);
open the round (``tourney round open``); deliver one signed submission per model through the operator's service
(``tourney serve``, HTTP, the real intake: signature, ownership, validation, receipt); close and snapshot
(``tourney round close``); score, bundle and propose (``tourney round resolve``); activate after the challenge
window (``tourney round activate``); audit (``tourney verify --round 1``); settle every model (``tourney settle
--all``, a keeper). Then check that every model is settled and the token balance equals the staked pool plus the
reserve.

Every phase runs as the command a person would type, in its own process, measured from outside: wall time, peak
RSS (the process's own: it is started through a small launcher, see :data:`LAUNCHER`), JSON-RPC requests by method
(the commands talk to Anvil through :class:`oracle.testing.rpc_counter.RpcCounter`), transactions and gas (the
blocks mined during the phase). The contract calls of the set-up are in :class:`Setup`, the one place to change
when the contract's ABI does.

    .venv/bin/python bench/scale.py                    # 1,000 then 10,000 models (long: run 1,000 first)
    .venv/bin/python bench/scale.py --models 1000      # one size
    .venv/bin/python bench/scale.py --models 200 --ids 500 --keep /tmp/scale   # smoke run, keep the files

Top-level keys of the result (for the largest size run): ``models``, ``close_to_proposal_s``, ``verify_s``,
``settle_all_gas_per_model``, ``settle_all_rpc_reads_per_100_models``; ``runs`` has every phase of every size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from eth_abi import encode as abi_encode  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from eth_utils import function_abi_to_4byte_selector, keccak  # noqa: E402
from eth_utils.abi import get_abi_input_types  # noqa: E402
from web3 import Web3  # noqa: E402

from oracle.chain.anvil import dev_private_keys, start_anvil  # noqa: E402
from oracle.chain.artifacts import abi  # noqa: E402
from oracle.chain.connection import connect  # noqa: E402
from oracle.chain.deploy import UNIT, DeployParams, deploy  # noqa: E402
from oracle.chain.keystore import Keystore  # noqa: E402
from oracle.chain.tx import Sender  # noqa: E402
from oracle.participant.service_client import ServiceClient, ServiceError, check_receipt_matches  # noqa: E402
from oracle.protocol.permit import permit_signature  # noqa: E402
from oracle.protocol.submission import sign_submission  # noqa: E402
from oracle.service.db.engine import default_url  # noqa: E402
from oracle.testing.bulk import send_many  # noqa: E402
from oracle.testing.harness import start_service, write_live, write_targets  # noqa: E402
from oracle.testing.rpc_counter import RpcCounter  # noqa: E402

MODELS_PER_PARTICIPANT = 10
STAKE = 1_000 * UNIT
CHALLENGE_PERIOD = 600
WINDOW = 24 * 3600
PASSWORD = "bench-scale"
PARAMS = {"corr_weight": 0.5, "mmc_weight": 2.0, "clip": 0.05, "payout_threshold": str(10**6 * UNIT)}
TOURNEY = Path(sys.executable).with_name("tourney")
TARGETS = {
    "close_to_proposal_s": "<= 60",
    "verify_s": "<= 60",
    "settle_all_gas_per_model": "<= 12000",
    "settle_all_rpc_reads_per_100_models": "<= 1",
}

#: Runs a command and reports its wall time and peak RSS to a JSON file. It forks and execs the command itself:
#: Linux carries a process's peak RSS over an exec, and this small interpreter, not the benchmark (which holds
#: thousands of signed transactions), is what the command is forked from.
LAUNCHER = """
import json, os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
start = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
json.dump({"wall_s": time.monotonic() - start, "peak_rss_mb": usage.ru_maxrss / 1024, "exit": code,
           "cpu_s": usage.ru_utime + usage.ru_stime, "load_1min": os.getloadavg()[0]}, open(out, "w"))
sys.exit(code)
"""


# ------------------------------------------------------------------------------------------ the contract calls


class Setup:
    """Every contract call of the set-up, encoded with eth_abi (web3's encoder costs milliseconds a call): the one
    place to follow the tournament's ABI."""

    def __init__(self, w3: Any, deployment: Any) -> None:
        self.w3, self.deployment = w3, deployment
        self.token = deployment.token_contract(w3)
        self.tournament = deployment.tournament_contract(w3)
        self.token_name = self.token.functions.name().call()

    @staticmethod
    def _encoder(contract_name: str, function: str) -> Any:
        item = next(i for i in abi(contract_name) if i.get("type") == "function" and i["name"] == function)
        selector, types = function_abi_to_4byte_selector(item), get_abi_input_types(item)
        return lambda *args: selector + abi_encode(types, list(args))

    def transfer(self, to: str, amount: int) -> tuple[str, bytes]:
        return self.token.address, self._encoder("TournamentToken", "transfer")(to, amount)

    def register(self) -> tuple[str, bytes]:
        return self.tournament.address, self._encoder("Tournament", "registerModel")()

    def registered(self, receipts: list[dict[str, Any]]) -> dict[int, str]:
        """Model id -> owner address from raw receipts' ModelRegistered(uint256 indexed modelId, address indexed
        owner, uint32): the mining order across senders is the node's, not the order of sending."""
        topic = "0x" + keccak(text="ModelRegistered(uint256,address,uint32)").hex()
        return {
            int(log["topics"][1], 16): Web3.to_checksum_address("0x" + log["topics"][2][-40:])
            for receipt in receipts
            for log in receipt["logs"]
            if log["topics"][0] == topic
        }

    def stake_with_permit(
        self, owner: LocalAccount, model_id: int, amount: int, deadline: int, nonce: int
    ) -> tuple[str, bytes]:
        v, r, s = permit_signature(
            owner,
            self.token,
            self.tournament.address,
            amount,
            deadline,
            self.deployment.chain_id,
            nonce=nonce,
            name=self.token_name,
        )
        return self.tournament.address, self._encoder("Tournament", "stakeWithPermit")(
            model_id, amount, deadline, v, r, s
        )

    def fund_reserve(self, admin: Sender, amount: int) -> None:
        admin.transact(self.token.functions.approve(self.tournament.address, amount), action="approve reserve")
        admin.transact(self.tournament.functions.fundReserve(amount), action="fund reserve")

    def conservation(self, client: Any) -> tuple[int, int]:
        """(the tournament's token balance, every model's stake + the reward reserve + the burns not yet destroyed):
        equal when nothing leaked (per-claim solvency)."""
        balance = self.token.functions.balanceOf(self.tournament.address).call()
        stakes = sum(state.stake for state in client.model_states().values())
        return int(balance), stakes + client.reserve() + client.burn_due()


# ------------------------------------------------------------------------------------------ measuring


@dataclass
class Phase:
    name: str
    wall_s: float
    peak_rss_mb: float | None = None
    rpc: dict[str, int] = field(default_factory=dict)
    transactions: int = 0
    gas: int = 0
    blocks: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: CPU seconds of the process (user + system) and the machine's 1-minute load when it ended: the machine is
    #: shared, and wall time on 2 busy cores says as much about the neighbours as about the command.
    cpu_s: float | None = None
    load: float | None = None

    def to_dict(self) -> dict[str, Any]:
        rpc_total = sum(self.rpc.values())
        top = dict(sorted(self.rpc.items(), key=lambda kv: -kv[1])[:8])
        return {
            "wall_s": round(self.wall_s, 2),
            "cpu_s": None if self.cpu_s is None else round(self.cpu_s, 2),
            "load_1min": None if self.load is None else round(self.load, 2),
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "rpc_requests": rpc_total,
            "rpc_by_method": top,
            "transactions": self.transactions,
            "gas": self.gas,
            "blocks": self.blocks,
            **self.extra,
        }


class Bench:
    """One size: its chain, deployment, participants and working directory."""

    def __init__(
        self, n_models: int, n_ids: int, workdir: Path, profile: bool = False, wrap: str | None = None
    ) -> None:
        self.n, self.n_ids, self.dir, self.profile, self.wrap = n_models, n_ids, workdir, profile, wrap
        self.phases: list[Phase] = []
        self.anvil = start_anvil(accounts=4, gas_limit=30_000_000)
        self.w3 = self.anvil.web3()
        self.rpc = RpcCounter(self.anvil.url).__enter__()
        self.admin, self.oracle, self.guardian, self.keeper = (Account.from_key(k) for k in dev_private_keys(4))

    def close(self) -> None:
        self.rpc.__exit__(None, None, None)
        self.anvil.stop()

    # -------------------------------------------------------------- helpers

    def block(self) -> int:
        return int(self.w3.eth.block_number)

    def chain_work(self, first: int, last: int) -> tuple[int, int]:
        """(transactions, gas) of blocks first..last."""
        txs = gas = 0
        for number in range(first, last + 1):
            block = self.w3.eth.get_block(number)
            txs += len(block["transactions"])
            gas += int(block["gasUsed"])
        return txs, gas

    def advance_past(self, timestamp: int) -> None:
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        self.w3.provider.make_request("evm_increaseTime", [max(0, timestamp - now) + 1])
        self.w3.provider.make_request("evm_mine", [])

    def env(self, account: str) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TOURNEY_RPC": self.rpc.url,
            "TOURNEY_DEPLOYMENT": str(self.deployment_file),
            "TOURNEY_KEYSTORE_DIR": str(self.dir / "keystores"),
            "TOURNEY_PASSWORD": PASSWORD,
            "TOURNEY_ACCOUNT": account,
            "TOURNEY_STORE": str(self.dir / "store"),
            "TOURNEY_INBOX": str(self.dir / "inbox"),
            "TOURNEY_ROUND_DATA": str(self.dir / "rounds"),
            "TOURNEY_PARAMS": str(self.dir / "params.json"),
            # The receipts are in the service's database: without it the operator would snapshot an empty round.
            "TOURNEY_SERVICE_DB": default_url(str(self.dir / "service" / "state")),
        }

    def command(self, name: str, args: list[str], account: str = "oracle") -> tuple[Phase, Any]:
        """Run ``tourney --json ARGS`` as a phase; returns it and the command's JSON output."""
        report = self.dir / f"{name}.launch.json"
        tourney = [str(TOURNEY)]
        if self.profile:
            tourney = [sys.executable, "-m", "cProfile", "-o", str(self.dir / f"{name}.prof"), str(TOURNEY)]
        if self.wrap:
            tourney = [*self.wrap.replace("{out}", str(self.dir / f"{name}.samples")).split(), str(TOURNEY)]
        before, first = self.rpc.snapshot(), self.block() + 1
        with open(self.dir / f"{name}.out", "wb") as out, open(self.dir / f"{name}.err", "wb") as err:
            code = subprocess.call(
                [sys.executable, "-c", LAUNCHER, str(report), *tourney, "--json", *args],
                env=self.env(account),
                stdout=out,
                stderr=err,
            )
        measured = json.loads(report.read_text())
        if code != 0 and name != "verify":
            raise RuntimeError(
                f"tourney {' '.join(args)} failed ({code}):\n{(self.dir / f'{name}.err').read_text()[-3000:]}"
            )
        last = self.block()
        txs, gas = self.chain_work(first, last)
        rpc = self.rpc.snapshot() - before
        phase = Phase(
            name,
            measured["wall_s"],
            measured["peak_rss_mb"],
            dict(rpc),
            txs,
            gas,
            max(0, last - first + 1),
            cpu_s=measured["cpu_s"],
            load=measured["load_1min"],
        )
        self.phases.append(phase)
        print(
            f"  {name:<10} {phase.wall_s:8.1f} s  {phase.cpu_s:7.1f} cpu-s  {phase.peak_rss_mb:8.0f} MB  "
            f"{sum(rpc.values()):6d} RPC  {txs:5d} tx  {gas:>12,} gas  (load {phase.load:.1f})",
            flush=True,
        )
        try:
            output = json.loads((self.dir / f"{name}.out").read_text())
        except ValueError:
            output = None
        return phase, output

    # -------------------------------------------------------------- phases

    def set_up(self) -> None:
        started, first = time.monotonic(), self.block() + 1
        admin = Sender(self.w3, self.admin)
        self.deployment = deploy(
            admin,
            DeployParams(challenge_period=CHALLENGE_PERIOD, token_supply=10**9 * UNIT),
            oracle=self.oracle.address,
            guardian=self.guardian.address,
            pauser=self.admin.address,
        )
        self.deployment_file = self.deployment.save(self.dir / "deployment.json")
        setup = Setup(self.w3, self.deployment)
        setup.fund_reserve(admin, 10**6 * UNIT)
        n_participants = -(-self.n // MODELS_PER_PARTICIPANT)
        self.participants = [
            Account.from_key(keccak(text=f"bench-scale participant {i}")) for i in range(n_participants)
        ]
        tokens = STAKE * MODELS_PER_PARTICIPANT
        send_many(
            self.w3,
            [(self.admin, p.address, 10**18) for p in self.participants]
            + [(self.admin, setup.transfer(p.address, tokens), 0) for p in self.participants],
        )
        owners = [p for p in self.participants for _ in range(MODELS_PER_PARTICIPANT)][: self.n]
        by_address = {p.address: p for p in self.participants}
        registered = setup.registered(send_many(self.w3, [(owner, setup.register(), 0) for owner in owners]))
        self.owners = {model_id: by_address[owner] for model_id, owner in sorted(registered.items())}
        deadline = int(self.w3.eth.get_block("latest")["timestamp"]) + 30 * 86_400
        permit_nonce: dict[str, int] = {}
        stakes = []
        for model_id, owner in self.owners.items():
            nonce = permit_nonce.get(owner.address, 0)
            permit_nonce[owner.address] = nonce + 1
            stakes.append((owner, setup.stake_with_permit(owner, model_id, STAKE, deadline, nonce), 0))
        send_many(self.w3, stakes)
        self.setup = setup
        keystore = Keystore(self.dir / "keystores", scrypt_n=2**10)
        keystore.import_key("oracle", bytes(self.oracle.key), PASSWORD)
        keystore.import_key("keeper", bytes(self.keeper.key), PASSWORD)
        for name in ("store", "inbox", "rounds", "state"):
            (self.dir / name).mkdir(parents=True, exist_ok=True)
        (self.dir / "params.json").write_text(json.dumps(PARAMS))
        self.live_ids = write_live(self.dir / "rounds", 1, self.n_ids)
        last = self.block()
        txs, gas = self.chain_work(first, last)
        phase = Phase(
            "setup", time.monotonic() - started, None, {}, txs, gas, last - first + 1, {"participants": n_participants}
        )
        self.phases.append(phase)
        print(f"  setup      {phase.wall_s:8.1f} s  {txs:5d} tx  {gas:>12,} gas", flush=True)

    def submit(self, threads: int = 8) -> None:
        """Every model's signed submission through ``tourney serve`` (HTTP), checked against its receipt."""
        service = start_service(
            self.rpc.url,
            self.deployment_file,
            "0x" + bytes(self.oracle.key).hex(),
            self.dir / "service",
            scheduler=False,
            extra_args=[
                "--round-data",
                str(self.dir / "rounds"),
                "--inbox",
                str(self.dir / "inbox"),
                "--store",
                str(self.dir / "store"),
                "--rate-burst",
                "1000",
            ],
        )
        chain_id, tournament = self.deployment.chain_id, self.deployment.tournament
        closes_at = connect(self.anvil.url, self.deployment_file).client.round_state(1).closes_at
        ids_text = [f"{i}," for i in self.live_ids]
        errors: dict[int, str] = {}
        sessions: dict[int, ServiceClient] = {}
        before, started = self.rpc.snapshot(), time.monotonic()

        def one(model_id: int) -> None:
            client = sessions.setdefault(threading.get_ident(), ServiceClient(service.url, timeout=300))
            values = np.random.default_rng(model_id).random(len(ids_text))
            data = ("id,prediction\n" + "".join(f"{i}{v:.6f}\n" for i, v in zip(ids_text, values))).encode()
            sub = sign_submission(self.owners[model_id], chain_id, tournament, 1, model_id, data, closes_at)
            try:
                receipt = client.post_submission(sub, data)
            except ServiceError as exc:
                errors[model_id] = f"{exc.code}: {exc.message}"
                return
            problems = check_receipt_matches(receipt, sub, self.oracle.address)
            if problems:
                errors[model_id] = "; ".join(problems)

        try:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(one, sorted(self.owners)))
        finally:
            service.stop()
        wall = time.monotonic() - started
        if errors:
            raise RuntimeError(f"{len(errors)} submissions refused, e.g. {list(errors.items())[:3]}")
        phase = Phase(
            "intake",
            wall,
            None,
            dict(self.rpc.snapshot() - before),
            0,
            0,
            0,
            {"submissions": len(self.owners), "per_second": round(len(self.owners) / wall, 1)},
        )
        self.phases.append(phase)
        print(
            f"  intake     {wall:8.1f} s  ({phase.extra['per_second']}/s, service RPC {sum(phase.rpc.values())})",
            flush=True,
        )

    def run(self) -> dict[str, Any]:
        print(f"== {self.n} models x {self.n_ids} ids ({self.dir})", flush=True)
        self.set_up()
        self.command("open", ["round", "open", "--window", str(WINDOW)])
        self.submit()
        self.advance_past(connect(self.anvil.url, self.deployment_file).client.round_state(1).closes_at)
        close, _ = self.command("close", ["round", "close"])
        write_targets(self.dir / "rounds", 1, self.live_ids)
        resolve, _ = self.command("resolve", ["round", "resolve", "--round", "1"])
        state = connect(self.anvil.url, self.deployment_file).client.round_state(1)
        self.advance_past(state.activates_at)
        self.command("activate", ["round", "activate"])
        verify, verdict = self.command("verify", ["verify", "--round", "1", "--allow-root", str(self.dir / "store")])
        settle, settled = self.command("settle", ["settle", "--all"], account="keeper")
        client = connect(self.anvil.url, self.deployment_file).client
        progress = client.model_states(self.owners)
        balance, accounted = self.setup.conservation(client)
        snapshot = json.loads((self.dir / "store" / "snapshots" / "round-1.json").read_text())
        checks = {
            "submissions_in_snapshot": len(snapshot["submissions"]),
            "verify_ok": bool(verdict and verdict.get("ok")),
            "models_settled": sum(1 for info in progress.values() if info.settled_round == 1),
            "conservation": balance == accounted,
        }
        if not (
            checks["verify_ok"]
            and checks["submissions_in_snapshot"] == self.n
            and checks["models_settled"] == self.n
            and checks["conservation"]
        ):
            raise RuntimeError(f"the round did not end as it must: {checks}")
        reads = settle.rpc.get("eth_call", 0)
        return {
            "models": self.n,
            "live_ids": self.n_ids,
            "close_to_proposal_s": round(close.wall_s + resolve.wall_s, 2),
            "close_to_proposal_cpu_s": round(close.cpu_s + resolve.cpu_s, 2),
            "verify_s": round(verify.wall_s, 2),
            "verify_cpu_s": round(verify.cpu_s, 2),
            "settle_all_gas_per_model": round(settle.gas / self.n),
            "settle_all_rpc_reads_per_100_models": round(100 * reads / self.n, 3),
            "settle_all_transactions": len(settled["transactions"]),
            "checks": checks,
            "phases": {p.name: p.to_dict() for p in self.phases},
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--ids", type=int, default=5_000)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the working files under this directory.")
    parser.add_argument("--profile", action="store_true", help="Run every command under cProfile (<phase>.prof).")
    parser.add_argument(
        "--wrap",
        default=None,
        metavar="CMD",
        help="Run every command as CMD TOURNEY ARGS, '{out}' in CMD naming <phase>.samples (a profiler).",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.json")
    args = parser.parse_args()
    runs = []
    for n in args.models:
        workdir = Path(tempfile.mkdtemp(prefix=f"scale-{n}-", dir=args.keep))
        bench = Bench(n, args.ids, workdir, profile=args.profile, wrap=args.wrap)
        try:
            runs.append(bench.run())
        finally:
            bench.close()
            if args.keep is None:
                shutil.rmtree(workdir, ignore_errors=True)
    largest = max(runs, key=lambda r: r["models"])
    result = {
        key: largest[key]
        for key in (
            "models",
            "close_to_proposal_s",
            "verify_s",
            "settle_all_gas_per_model",
            "settle_all_rpc_reads_per_100_models",
        )
    }
    result["targets"] = TARGETS
    result["runs"] = runs
    result["notes"] = (
        "one round end to end on Anvil per size; each phase is the tourney command in its own "
        "process (wall time, its own peak RSS, JSON-RPC requests counted by a proxy, transactions "
        "and gas of the blocks it mined); intake = every submission through tourney serve over HTTP; "
        f"machine: {os.cpu_count()} cores, shared"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
