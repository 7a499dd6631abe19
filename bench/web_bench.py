"""The web app's figures: the leaderboard's first render with 10,000 models, and the size of the built assets;
writes bench/results/web.json (``make bench-web``).

The tournament is real: on its own Anvil, 10,000 models are registered and staked by 100 participants
(transactions signed ahead and sent in JSON-RPC batches), every model's signed prediction file is put in the
operator's inbox, and round 1 is closed, scored, proposed and activated by the operator; the service (its real
app in a thread, serving web/dist) then answers the app. The first render is measured in Debian's Chromium
(Playwright) from navigation start to the app's ``leaderboard-rendered`` mark (set once the frame that shows the
table is painted), each load in a fresh browser context (nothing cached), with the service's leaderboard already
built for the current block; the service's build of the leaderboard (a new block) is timed on its own.

    .venv/bin/python bench/web_bench.py [--models 10000] [--loads 5]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

# bench/oracle.py (the benchmark aggregator) would shadow the oracle package when run as a script from bench/.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import requests  # noqa: E402
from eth_abi import encode as abi_encode  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from eth_utils import function_signature_to_4byte_selector  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from oracle.chain.deploy import UNIT  # noqa: E402
from oracle.protocol.inbox import Inbox  # noqa: E402
from oracle.protocol.submission import sign_submission  # noqa: E402
from oracle.service.webapp import DEFAULT_WEB_DIR  # noqa: E402
from oracle.testing.driven import DrivenTournament, driven_tournament  # noqa: E402
from oracle.testing.harness import fund_participants, prediction_csv, service_thread  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "web.json"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PARTICIPANTS = 100
LIVE_IDS = 20
BATCH = 500


def _send(t: DrivenTournament, signed: list[bytes]) -> None:
    """Raw transactions in JSON-RPC batches with automine off, each batch mined into as few blocks as the gas limit
    allows before the next is sent (one block per transaction would be ten thousand blocks), and every receipt
    checked: the set-up must be exactly as planned."""
    provider = t.chain.w3.provider
    provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        for start in range(0, len(signed), BATCH):
            answers = provider.make_batch_request(
                [
                    ("eth_sendRawTransaction", ["0x" + raw.hex()])  # type: ignore[misc]
                    for raw in signed[start : start + BATCH]
                ]
            )
            assert isinstance(answers, list) and all("result" in a for a in answers), str(answers)[:500]
            hashes = [a["result"] for a in answers]
            for _ in range(100):
                provider.make_request("evm_mine", [])  # type: ignore[arg-type]
                receipts = provider.make_batch_request(
                    [
                        ("eth_getTransactionReceipt", [h])  # type: ignore[misc]
                        for h in hashes
                    ]
                )
                assert isinstance(receipts, list), str(receipts)[:500]
                mined = [r["result"] for r in receipts if r.get("result")]
                assert all(int(r["status"], 16) == 1 for r in mined), "a set-up transaction reverted"
                if len(mined) == len(hashes):
                    break
            else:
                raise AssertionError(f"{len(hashes) - len(mined)} set-up transactions were never mined")
    finally:
        provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]


def _calls(t: DrivenTournament, calls: list[tuple[LocalAccount, str, bytes]], gas: int) -> list[bytes]:
    """Signed transactions (account, to, calldata), nonces counted per account from the chain's."""
    w3 = t.chain.w3
    nonces: dict[str, int] = {}
    out = []
    for account, to, data in calls:
        nonce = nonces.setdefault(account.address, w3.eth.get_transaction_count(account.address))
        nonces[account.address] = nonce + 1
        tx = {
            "to": to,
            "data": data,
            "gas": gas,
            "gasPrice": 10**9,
            "nonce": nonce,
            "chainId": w3.eth.chain_id,
            "value": 0,
        }
        out.append(bytes(account.sign_transaction(tx).raw_transaction))
    return out


def build(t: DrivenTournament, models: int) -> dict[str, float]:
    """``models`` registered and staked models, each with a signed file in round 1's inbox; round 1 activated."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    accounts = [Account.create() for _ in range(PARTICIPANTS)]
    fund_participants(t.chain.w3, t.chain.admin.account, t.chain.deployment, accounts, tokens=60_000 * UNIT)
    tournament, token = t.chain.deployment.tournament, t.chain.deployment.token
    register = function_signature_to_4byte_selector("registerModel()")
    owners = [accounts[i % PARTICIPANTS] for i in range(models)]
    _send(t, _calls(t, [(owner, tournament, register) for owner in owners], 300_000))
    infos = list(t.client.model_states(range(1, models + 1)).values())
    by_address = {a.address: a for a in accounts}
    approve = function_signature_to_4byte_selector("approve(address,uint256)")
    stake = function_signature_to_4byte_selector("stake(uint256,uint256)")
    calls = [(a, token, approve + abi_encode(["address", "uint256"], [tournament, 2**255])) for a in accounts]
    calls += [
        (
            by_address[i.owner],
            tournament,
            stake + abi_encode(["uint256", "uint256"], [i.model_id, (1 + i.model_id * 7919 % 500) * UNIT]),
        )
        for i in infos
    ]
    _send(t, _calls(t, calls, 300_000))
    timings["register_and_stake_s"] = time.perf_counter() - started

    started = time.perf_counter()
    round = t.open_round()
    closes_at = t.client.round_state(round).closes_at
    inbox, now = Inbox(t.workdir / "inbox"), t.chain.now()
    for info in infos:
        data = prediction_csv(t.live[round], seed=info.model_id)
        sub = sign_submission(
            by_address[info.owner], t.chain.deployment.chain_id, tournament, round, info.model_id, data, closes_at
        )
        inbox.put(replace(sub, received_at=now), data)
    timings["submissions_s"] = time.perf_counter() - started
    started = time.perf_counter()
    t.close(round)
    t.resolve(round)
    assert t.activate() == [round]
    timings["close_resolve_activate_s"] = time.perf_counter() - started
    return timings


def first_render(url: str, models: int, loads: int) -> dict[str, Any]:
    """Median and worst first render over ``loads`` cold page loads, and what the leaderboard's fetch cost."""
    renders, fetches = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for _ in range(loads):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                errors: list[str] = []
                page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
                page.goto(f"{url}/#/")
                page.wait_for_function(
                    "() => performance.getEntriesByName('leaderboard-rendered').length > 0", timeout=120_000
                )
                renders.append(page.evaluate("performance.getEntriesByName('leaderboard-rendered')[0].startTime"))
                fetches.append(
                    page.evaluate("""() => {
                    const e = performance.getEntriesByType('resource').find((r) => r.name.endsWith('/leaderboard'));
                    return { start: e.startTime, end: e.responseEnd, bytes: e.transferSize, body: e.decodedBodySize };
                }""")
                )
                shown = page.locator(".count").inner_text()
                assert page.locator("table.board tbody tr").count() == 50, "one page of 50 rows"
                assert shown.endswith(f"of {models:,}"), shown
                assert not errors, errors
                context.close()
        finally:
            browser.close()
    return {
        "loads": loads,
        "median_ms": round(statistics.median(renders)),
        "max_ms": round(max(renders)),
        "all_ms": [round(r) for r in renders],
        "leaderboard_fetch_done_median_ms": round(statistics.median(f["end"] for f in fetches)),
        "leaderboard_transfer_bytes": fetches[-1]["bytes"],
        "leaderboard_json_bytes": fetches[-1]["body"],
    }


def assets() -> dict[str, Any]:
    files = sorted((DEFAULT_WEB_DIR / "assets").iterdir())
    sizes = {f.name: {"bytes": f.stat().st_size, "gzip": len(gzip.compress(f.read_bytes(), 9))} for f in files}
    index = DEFAULT_WEB_DIR / "index.html"
    first = [n for n in sizes if n.startswith("index-")]  # what the leaderboard's first load fetches
    return {
        "files": sizes,
        "total_bytes": sum(s["bytes"] for s in sizes.values()),
        "total_gzip": sum(s["gzip"] for s in sizes.values()),
        "first_load_gzip": sum(sizes[n]["gzip"] for n in first) + len(gzip.compress(index.read_bytes(), 9)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    assert (DEFAULT_WEB_DIR / "index.html").is_file(), "build the app first: make web"
    with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp:
        t = driven_tournament(Path(tmp), live_ids=LIVE_IDS, web_dir=str(DEFAULT_WEB_DIR))
        try:
            setup = build(t, args.models)
            with service_thread(t.service_config) as url:
                t.chain.w3.provider.make_request("evm_mine", [])  # a new block: the next request builds afresh
                started = time.perf_counter()
                board = requests.get(f"{url}/leaderboard", timeout=300)
                build_s = time.perf_counter() - started
                started = time.perf_counter()
                again = requests.get(f"{url}/leaderboard", timeout=300)
                cached_s = time.perf_counter() - started
                rows = board.json()["models"]
                assert len(rows) == args.models and again.content == board.content
                assert sum(r["corr"] is not None for r in rows) == args.models, "every model scored in round 1"
                render = first_render(url, args.models, args.loads)
        finally:
            t.stop()
    result = {
        "models": args.models,
        "first_render": render,
        "service": {
            "leaderboard_build_s": round(build_s, 2),
            "leaderboard_cached_s": round(cached_s, 3),
            "json_bytes": len(board.content),
            "gzip_bytes": len(gzip.compress(board.content, 6)),
        },
        "assets": assets(),
        "setup": {k: round(v, 1) for k, v in setup.items()},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m": round(os.getloadavg()[0], 1),
        },
        "note": "first render: navigation start to the leaderboard-rendered mark (table painted), fresh context "
        "each load, service and Anvil on the same 2-core machine shared with other work",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
