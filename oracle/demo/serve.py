"""``make web-demo`` (``python -m oracle.demo --serve``): after the demo tournament, keep its chain and files and
serve them with the web app until interrupted, so a newcomer can look at a finished tournament in a browser.

The operator's service runs with its scheduler on the demo's store, inbox and round data, and opens one more round
(its live data published, a day to submit) so the wallet page has something to sign. Two of Anvil's development
accounts get tokens for a visitor's browser wallet (they are Anvil's public test keys: never for real funds).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable

import requests
from eth_account import Account

from oracle.chain.anvil import dev_private_keys
from oracle.chain.client import RoundStatus
from oracle.chain.deploy import UNIT
from oracle.service.config import HISTORY_ROUNDS, ServiceConfig
from oracle.testing.harness import service_thread

__all__ = ["VISITOR_ACCOUNTS", "VISITOR_TOKENS", "serve_demo"]

#: Anvil development accounts (by index) funded for a visitor's wallet; 0-3 hold the tournament's roles.
VISITOR_ACCOUNTS = (4, 5)
VISITOR_TOKENS = 1_000 * UNIT
#: Submission window of the round opened for visitors (chain seconds).
VISITOR_WINDOW = 86_400


def serve_demo(anvil: Any, demo: Any, say: Callable[[str], None], stop: threading.Event) -> None:
    """Serve the finished demo (``anvil``, the demo run) until ``stop`` is set (or Ctrl-C in the main thread)."""
    round = demo.config.rounds + 1
    demo.data.write(round)
    keys = dev_private_keys(max(VISITOR_ACCOUNTS) + 1)
    visitors = [Account.from_key(keys[i]) for i in VISITOR_ACCOUNTS]
    for visitor in visitors:
        demo.admin.transact(
            demo.token.functions.transfer(visitor.address, VISITOR_TOKENS), action=f"tokens for {visitor.address}"
        )
    config = ServiceConfig(
        rpc=anvil.url,
        deployment=demo.deployment,
        operator=demo.oracle.account,
        inbox=str(demo.workdir / "inbox"),
        store=str(demo.workdir / "store"),
        round_data=str(demo.workdir / "round-data"),
        state=str(demo.workdir / "web-state"),
        params=demo.config.params,
        scheduler=True,
        submission_window=VISITOR_WINDOW,
        max_rounds=round,
    )
    with service_thread(config) as url:
        deadline = time.monotonic() + 60
        while demo.client.round_state(round).status is not RoundStatus.OPEN:  # the scheduler's first step
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service did not open round {round}")
            time.sleep(0.2)
        say(
            f"the service opens round {round} for submissions from a browser wallet; chain {anvil.url} "
            f"(chain id {demo.deployment.chain_id})"
        )
        for index, visitor in zip(VISITOR_ACCOUNTS, visitors):
            say(
                f"  Anvil development account {index}: {visitor.address} holds {VISITOR_TOKENS // UNIT:,} STK; its key "
                "(a public test key):"
            )
            say(f"    0x{bytes(visitor.key).hex()}")
        # The rounds page asks the service's auditor for a verdict on every proposal: ask now, so they are ready.
        requests.get(f"{url}/rounds", params={"limit": HISTORY_ROUNDS}, timeout=60).raise_for_status()
        say("press Ctrl-C to stop")
        say(f"serving at {url}")
        sys.stdout.flush()
        stop.wait()
