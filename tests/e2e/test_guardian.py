"""The guardian fails closed (issue 10, property 7), on a real Anvil with real files and real HTTP servers:

* every hostile manifest URI a stolen oracle key could post (``/``, ``/dev/zero``, an unknown scheme, a directory, a
  FIFO, a 64 GiB file, a parser bomb, a server that stalls, drips or streams forever, a host not allowed) and a zero
  ``manifestHash`` are vetoed, with the reason, without hanging or crashing the watch;
* an RPC outage is retried with backoff and the watch carries on; a proposal still unverified ``veto_margin`` before
  its window ends is vetoed as unverified; a veto owed before a restart is sent after it;
* a poll verifying a proposal after 500 rounds of history costs no more than twice one after 5 (RPC calls counted by
  a proxy in front of Anvil).
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
from click.testing import CliRunner
from eth_utils import keccak
from test_operator import PARAMS, WINDOW, make_operator, prediction_file, register, submit, write_round_data
from web3 import Web3

from oracle.auditor.watch import WatchConfig, Watcher
from oracle.bundle.fetch import FetchPolicy
from oracle.bundle.manifest import ChainRef
from oracle.bundle.round_bundle import REJECTIONS_FILE, SUBMISSIONS_FILE
from oracle.bundle.write import write_round_bundle
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.deploy import UNIT
from oracle.chain.tx import ContractReverted, Sender
from oracle.cli import main
from oracle.protocol.inbox import Inbox
from oracle.scoring.pipeline import score_round
from oracle.testing.hostile_http import HostileServer, start_hostile_server
from oracle.testing.rpc_proxy import RpcProxy, start_rpc_proxy

FETCH_TIMEOUT = 1.5


# ------------------------------------------------------------------------------------------ fixtures and helpers


@pytest.fixture
def store(tmp_path: Path) -> Path:
    directory = tmp_path / "store"
    directory.mkdir()
    return directory


@pytest.fixture
def hostile() -> HostileServer:
    with start_hostile_server() as server:
        yield server


@pytest.fixture
def proxy(chain) -> RpcProxy:
    with start_rpc_proxy(chain.url) as running:
        yield running


@pytest.fixture
def closed_round(chain) -> int:
    """Round 1 opened and closed with no model: enough for the oracle to propose anything."""
    chain.oracle.transact(chain.tournament.functions.openRound(chain.now() + 120))
    chain.advance(121)
    chain.oracle.transact(chain.tournament.functions.closeRound(1))
    return 1


def propose_call(chain, round: int, root: bytes, digest: bytes, uri: str) -> Any:
    """``proposeRoot`` with nothing paid or burned, whichever of the contract's two signatures the ABI has: (round,
    root, cumulative payout, cumulative burn, stake at risk, hash, URI) or, redesigned, (round, root, payout total,
    burn total, hash, URI). The watch depends on neither."""
    inputs = len(chain.tournament.get_function_by_name("proposeRoot").abi["inputs"])
    return chain.tournament.functions.proposeRoot(round, root, *([0] * (inputs - 4)), digest, uri)


def propose(chain, round: int, uri: str, manifest_hash: bytes | None = None) -> None:
    """What a stolen oracle key can post: any root, any URI, any hash."""
    digest = keccak(uri.encode()) if manifest_hash is None else manifest_hash
    chain.oracle.transact(propose_call(chain, round, keccak(b"root" + uri.encode()), digest, uri))


def proxied(proxy: RpcProxy) -> Web3:
    # No client-side retries: the watch's own backoff is what is under test.
    return Web3(Web3.HTTPProvider(proxy.url, exception_retry_configuration=None))


def in_thread(work: Callable[[], Any], limit: float = 120) -> Any:
    """Run ``work`` and fail (rather than hang the suite) if it does not return within ``limit`` seconds."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still running after {limit}s: the watch hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def challenge_period(chain) -> int:
    """The deployment's challenge period (what every round opens with)."""
    return TournamentClient(chain.w3, chain.deployment).bounds()[0]


def status(chain, round: int) -> RoundStatus:
    return TournamentClient(chain.w3, chain.deployment).round_state(round).status


# ------------------------------------------------------------------------------------------ hostile manifests


def _hostile_uri(case: str, store: Path, hostile: HostileServer) -> str:
    if case == "directory":
        (store / "rounds").mkdir()
        return str(store / "rounds")
    if case == "fifo":
        os.mkfifo(store / "manifest.json")  # nobody ever writes: a blocking open would wait forever
        return str(store / "manifest.json")
    if case == "huge file":
        with open(store / "manifest.json", "wb") as handle:
            handle.truncate(64 << 30)  # sparse
        return str(store / "manifest.json")
    if case == "parser bomb":
        (store / "manifest.json").write_bytes(b"[" * 200_000 + b"]" * 200_000)  # nests past Python's recursion limit
        return str(store / "manifest.json")
    if case.startswith("http "):
        return hostile.url("/" + case.split()[1])
    return case


@pytest.mark.parametrize(
    "case, why",
    [
        ("/", "/ is not under an allowed root"),
        ("/dev/zero", "/dev/zero is not under an allowed root"),
        ("nosuchproto://x", "scheme 'nosuchproto' is not allowed"),
        ("", "must be absolute"),
        ("directory", "not a regular file (a directory)"),
        ("fifo", "not a regular file (a FIFO)"),
        ("huge file", f"{64 << 30} bytes, over the limit of {1 << 20} bytes"),
        ("parser bomb", "RecursionError"),
        ("http stall", "no complete answer within"),
        ("http drip", "no complete answer within"),
        ("http endless", f"longer than the limit of {1 << 20} bytes"),
        ("http huge", "announced, over the limit"),
        ("http://10.255.255.1/rounds/1/manifest.json", "10.255.255.1:80 is not an allowed host"),
    ],
)
def test_every_hostile_manifest_uri_is_vetoed_with_its_reason(
    chain, closed_round, store: Path, hostile: HostileServer, case: str, why: str
) -> None:
    uri = _hostile_uri(case, store, hostile)
    propose(chain, closed_round, uri)
    policy = FetchPolicy(roots=(str(store),), hosts=(hostile.host,), max_manifest_bytes=1 << 20, timeout=FETCH_TIMEOUT)
    actions: list[tuple[str, str]] = []
    watcher = Watcher(
        TournamentClient(chain.w3, chain.deployment),
        policy,
        chain.guardian,
        on_verdict=lambda verdict, action: actions.append((action, verdict.reason())),
    )
    in_thread(watcher.poll)
    assert [a for a, _ in actions] == ["vetoed"], actions
    assert why in actions[0][1] and uri in actions[0][1], actions[0][1]
    assert status(chain, closed_round) is RoundStatus.VETOED
    # The watch lives on: the next poll finds nothing left to do.
    in_thread(watcher.poll)
    assert len(actions) == 1


def test_a_zero_manifest_hash_is_vetoed_without_fetching(
    chain, closed_round, store: Path, hostile: HostileServer
) -> None:
    hostile.files["manifest.json"] = b"{}"
    try:
        propose(chain, closed_round, hostile.url("/ok/manifest.json"), manifest_hash=b"\0" * 32)
    except ContractReverted as exc:
        # The redesigned contract refuses it itself; the watch's own check is then a second line.
        assert exc.error == "ZeroManifestHash"
        return
    actions: list[str] = []
    watcher = Watcher(
        TournamentClient(chain.w3, chain.deployment),
        FetchPolicy(hosts=(hostile.host,)),
        chain.guardian,
        on_verdict=lambda verdict, action: actions.append(verdict.reason()),
    )
    in_thread(watcher.poll)
    assert len(actions) == 1 and "manifestHash" in actions[0] and "nonzero" in actions[0]
    assert status(chain, closed_round) is RoundStatus.VETOED
    assert hostile.hits == []


def test_verify_refuses_to_run_without_an_allow_list_and_names_a_hostile_uri(chain, closed_round, store: Path) -> None:
    env = {"TOURNEY_RPC": chain.url, "TOURNEY_DEPLOYMENT": str(chain.deployment_file)}
    bare = CliRunner().invoke(main, ["verify", "--round", "1"], env=env)
    assert bare.exit_code == 2 and "--allow-root" in bare.output and "TOURNEY_MANIFEST_ROOTS" in bare.output
    propose(chain, closed_round, "/dev/zero")
    result = CliRunner().invoke(main, ["--json", "verify", "--round", "1", "--allow-root", str(store)], env=env)
    assert result.exit_code == 1
    verdict = json.loads(result.stdout)["verdicts"][0]
    assert not verdict["ok"] and "/dev/zero is not under an allowed root" in verdict["reason"]


# ------------------------------------------------------------------------------------------ outages and deadlines


def test_an_rpc_outage_is_retried_with_backoff_and_the_watch_carries_on(
    chain, closed_round, store: Path, proxy: RpcProxy
) -> None:
    propose(chain, closed_round, str(store / "rounds" / "1" / "missing.json"))
    down = threading.Event()
    down.set()
    proxy.fail = lambda call: down.is_set()
    notes: list[str] = []
    actions: list[str] = []
    w3 = proxied(proxy)
    watcher = Watcher(
        TournamentClient(w3, chain.deployment),
        FetchPolicy(roots=(str(store),)),
        Sender(w3, chain.guardian.account, retries=1),
        WatchConfig(interval=0.05, backoff=0.1, max_backoff=0.4),
        on_note=notes.append,
        on_verdict=lambda verdict, action: actions.append(action),
    )
    thread = threading.Thread(target=watcher.run, kwargs={"stop": lambda: bool(actions)}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while len(notes) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(notes) >= 5 and thread.is_alive() and actions == []
    assert [n.split("retrying in ")[1] for n in notes[:5]] == ["0.1s", "0.2s", "0.4s", "0.4s", "0.4s"]
    assert all("RPC unavailable while reading events" in n and "503" in n for n in notes[:5])
    down.clear()  # the endpoint is back
    thread.join(60)
    assert not thread.is_alive() and actions == ["vetoed"]
    assert "manifest not found" in watcher.verdicts[0].reason()
    assert status(chain, closed_round) is RoundStatus.VETOED


def test_a_proposal_still_unverified_near_the_end_of_its_window_is_vetoed(
    chain, closed_round, store: Path, proxy: RpcProxy
) -> None:
    propose(chain, closed_round, str(store / "never-read.json"))
    # Half an outage: blocks, logs and transactions go through, every contract read fails. Nothing can be verified,
    # but a veto can still be sent.
    proxy.fail = lambda call: call.get("method") == "eth_call"
    notes: list[str] = []
    actions: list[str] = []
    w3 = proxied(proxy)
    watcher = Watcher(
        TournamentClient(w3, chain.deployment),
        FetchPolicy(roots=(str(store),)),
        Sender(w3, chain.guardian.account, retries=1),
        WatchConfig(interval=0.05, backoff=0.05, max_backoff=0.2, veto_margin=120),
        on_note=notes.append,
        on_verdict=lambda verdict, action: actions.append(action),
    )
    thread = threading.Thread(target=watcher.run, kwargs={"stop": lambda: bool(actions)}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while sum("verifying round 1" in n for n in notes) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum("verifying round 1" in n for n in notes) >= 3 and actions == []
    assert status(chain, closed_round) is RoundStatus.PROPOSED
    chain.advance(challenge_period(chain) - 100)  # 100 s of the window left: less than the margin
    thread.join(60)
    assert not thread.is_alive() and actions == ["vetoed"]
    reason = watcher.verdicts[0].reason()
    assert "not verified 120s before its window ends" in reason and "last error" in reason and "503" in reason
    assert status(chain, closed_round) is RoundStatus.VETOED


def test_a_veto_owed_before_a_restart_is_sent_after_it_without_verifying_again(
    chain, closed_round, store: Path, proxy: RpcProxy, tmp_path: Path
) -> None:
    propose(chain, closed_round, "/dev/zero")
    state = tmp_path / "guardian-state"
    # First run: the verdict is reached, but transactions cannot be sent (estimates fail): no veto yet.
    proxy.fail = lambda call: call.get("method") in ("eth_estimateGas", "eth_sendRawTransaction")
    w3 = proxied(proxy)
    first = Watcher(
        TournamentClient(w3, chain.deployment),
        FetchPolicy(roots=(str(store),)),
        Sender(w3, chain.guardian.account, retries=1),
        state_dir=state,
    )
    in_thread(first.poll)
    recorded = json.loads((state / "watch.json").read_text())["proposals"]
    assert [(r["ok"], r["action"]) for r in recorded.values()] == [(False, None)]
    assert status(chain, closed_round) is RoundStatus.PROPOSED
    # Restarted with a working endpoint: the recorded verdict is acted on, the bundle is not read again.
    proxy.fail = None
    actions: list[str] = []

    def must_not_verify(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a recorded verdict was verified again")

    second = Watcher(
        TournamentClient(proxied(proxy), chain.deployment),
        FetchPolicy(roots=(str(store),)),
        Sender(proxied(proxy), chain.guardian.account),
        state_dir=state,
        verify=must_not_verify,
        on_verdict=lambda verdict, action: actions.append(action),
    )
    in_thread(second.poll)
    assert actions == ["vetoed"] and status(chain, closed_round) is RoundStatus.VETOED
    assert [r["action"] for r in json.loads((state / "watch.json").read_text())["proposals"].values()] == ["vetoed"]


# ------------------------------------------------------------------------------------------ cost with history


def _write_history(chain, rounds: int, store: Path, quiet_model: int) -> None:
    """Rounds 1..rounds opened, closed, proposed and activated by direct transactions with timestamps set ahead
    (evm_setNextBlockTimestamp: no waiting). Their proposals point nowhere, except the last one's, a real bundle
    (the quiet model's one 0/0 leaf) that the next round builds on."""
    w3, oracle = chain.w3, chain.oracle.account
    t = chain.tournament.functions
    nonce = w3.eth.get_transaction_count(oracle.address)
    clock, period = chain.now(), challenge_period(chain)
    for r in range(1, rounds + 1):
        if r == rounds:
            ids = write_round_data(store.parent / "data", r)
            targets = pd.read_parquet(store.parent / "data" / f"targets_{r:05d}.parquet")
            predictions = pd.DataFrame({"id": ids})
            at_risk = TournamentClient(w3, chain.deployment).stake_of(quiet_model)
            scores = score_round(predictions, targets, {str(quiet_model): at_risk}, PARAMS).scores
            stakes = pd.DataFrame({"model": [str(quiet_model)], "model_id": [quiet_model], "stake_at_risk": [at_risk]})
            manifest, uri, digest = write_round_bundle(
                store,
                r,
                predictions=predictions,
                targets=targets,
                stakes=stakes,
                scores=scores,
                params=replace(PARAMS, round_number=r),
                previous_cumulative={},
                chain=ChainRef(chain_id=chain.deployment.chain_id, contract=chain.tournament.address),
                extra_files={SUBMISSIONS_FILE: b"[]", REJECTIONS_FILE: b"[]"},
            )
            root, digest_bytes = Web3.to_bytes(hexstr=manifest.root), Web3.to_bytes(hexstr=digest)
        else:
            uri, root, digest_bytes = f"history://{r}", keccak(b"root %d" % r), keccak(b"manifest %d" % r)
        opened = clock + 1
        steps = [
            (opened, t.openRound(opened + 61)),
            (opened + 61, t.closeRound(r)),
            (opened + 62, propose_call(chain, r, root, digest_bytes, uri)),
            (opened + 62 + period, t.activateRoot(r)),
        ]
        for timestamp, fn in steps:
            w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
            tx = fn.build_transaction(
                {
                    "from": oracle.address,
                    "nonce": nonce,
                    "gas": 400_000,
                    "gasPrice": 10**9,
                    "chainId": chain.deployment.chain_id,
                }
            )
            sent = w3.eth.send_raw_transaction(oracle.sign_transaction(tx).raw_transaction)
            # Mined before the next timestamp is set (Anvil mines each transaction in its own block).
            assert w3.eth.wait_for_transaction_receipt(sent, poll_latency=0.01)["status"] == 1, (r, fn.fn_name)
            nonce += 1
        clock = opened + 62 + period
    assert TournamentClient(w3, chain.deployment).round_state(rounds).status is RoundStatus.ACTIVE


def _poll_costs(chain, participants, proxy: RpcProxy, tmp_path: Path, history: int) -> dict[str, Any]:
    """RPC calls of the poll that verifies round history+1 (honest, three signed submissions): for a watch already
    running (warm) and one started just then (cold), and for a plain client without an event log."""
    store = tmp_path / "store"
    store.mkdir(parents=True)
    quiet_model = register(chain, participants[3].account, 100 * UNIT)  # staked, never submits: 0/0 every round
    _write_history(chain, history, store, quiet_model)
    accounts = [p.account for p in participants[:3]]
    models = [register(chain, account, stake) for account, stake in zip(accounts, (500 * UNIT, 700 * UNIT, 900 * UNIT))]
    op = make_operator(chain, tmp_path)
    round = history + 1
    ids = write_round_data(tmp_path / "data", round)
    assert [a.step for a in op.open_due()] == ["open"]
    for i, (account, model) in enumerate(zip(accounts, models)):
        submit(chain, Inbox(tmp_path / "inbox"), account, round, model, prediction_file(ids, 10 + i))
    chain.advance(WINDOW + 1)
    op.close_due()
    policy = FetchPolicy(roots=(str(store),))
    warm = Watcher(
        TournamentClient(proxied(proxy), chain.deployment),
        policy,
        chain.guardian,
        state_dir=tmp_path / f"warm-{history}",
    )
    warm.poll()  # running before the proposal: the history is already read
    assert [a.step for a in op.propose_due()] == ["propose"]
    costs: dict[str, Any] = {"history": history, "blocks": chain.w3.eth.block_number - chain.deployment.block}
    for name, watcher in (("warm", warm), ("cold", None)):
        proxy.reset()
        if watcher is None:
            watcher = Watcher(TournamentClient(proxied(proxy), chain.deployment), policy, chain.guardian)
        watcher.poll()
        assert [v.ok for v in watcher.verdicts] == [True], [v.reason() for v in watcher.verdicts]
        costs[name] = proxy.total()
        costs[f"{name}_by_method"] = proxy.snapshot()
    from oracle.auditor.verify import verify_proposal

    proxy.reset()
    plain = TournamentClient(proxied(proxy), chain.deployment)
    assert verify_proposal(plain, plain.current_proposal(round), policy=policy).ok
    costs["plain_client"] = proxy.total()
    return costs


@pytest.mark.slow
def test_a_verification_after_500_rounds_costs_at_most_twice_one_after_5(
    chain, participants, proxy: RpcProxy, tmp_path: Path
) -> None:
    results = []
    for history in (5, 500):
        fork = chain.snapshot()
        try:
            results.append(_poll_costs(chain, participants, proxy, tmp_path / f"h{history}", history))
        finally:
            chain.revert(fork)
    short, long = results
    print("\nguardian RPC calls per verifying poll:", json.dumps(results, indent=1))
    assert long["warm"] <= 2 * short["warm"], results
    assert long["cold"] <= 2 * short["cold"], results
    # The event log is what keeps it flat: the warm poll reads logs once, whatever the history.
    assert long["warm_by_method"].get("eth_getLogs", 0) == short["warm_by_method"].get("eth_getLogs", 0) == 1
