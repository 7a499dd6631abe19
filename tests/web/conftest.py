"""Browser tests of the web app: Playwright (Python) driving Debian's Chromium against the real service (its app in
a thread, serving the built web/dist) over a real Anvil. A test wallet is injected into every page before its
scripts run: an EIP-1193 provider announced through EIP-6963 that forwards every request to Anvil, whose
development accounts sign (``eth_sendTransaction``, ``eth_signTypedData_v4``).

Every page is watched: a console error, an uncaught exception, a failed request or an HTTP error status fails the
test that saw it (:class:`PageWatch`). Assertions are on what the page shows (text, rows, chart data); each test
saves a screenshot of the pages it checks under its temporary directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from oracle.service.webapp import DEFAULT_WEB_DIR

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: How long a page waits for what it expects: transactions are mined at once, but the machine may be busy.
PAGE_TIMEOUT_MS = 60_000

#: The test wallet (runs in the page before any of its scripts). EIP-1193 ``request`` forwards to Anvil's JSON-RPC;
#: accounts are the one given. EIP-6963: announced now and on every ``eip6963:requestProvider``.
TEST_WALLET = """
({ rpc, account }) => {
  let id = 0;
  const listeners = {};
  const provider = {
    async request({ method, params }) {
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
      const response = await fetch(rpc, { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }) });
      const body = await response.json();
      if (body.error) {
        const err = new Error(body.error.message);
        err.code = body.error.code;
        err.data = body.error.data;
        throw err;
      }
      return body.result;
    },
    on(event, fn) { (listeners[event] ??= []).push(fn); },
    removeListener(event, fn) { listeners[event] = (listeners[event] ?? []).filter((f) => f !== fn); },
  };
  const info = { uuid: "6f1f3a55-0000-4000-8000-00000000a11e", name: "Test wallet (Anvil)",
    rdns: "dev.tournament.test",
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 8 8'%3E" +
          "%3Ccircle cx='4' cy='4' r='4' fill='%232553c9'/%3E%3C/svg%3E" };
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider",
    { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
}
"""


@dataclass
class PageWatch:
    """Console errors, page errors, failed requests and HTTP errors seen on the watched pages."""

    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page, name: str) -> Page:
        page.on(
            "console",
            lambda m: self.problems.append(f"{name}: console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.problems.append(f"{name}: page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"{name}: request failed: {r.url} ({r.failure})"))
        page.on(
            "response",
            lambda r: self.problems.append(f"{name}: HTTP {r.status} for {r.url}") if r.status >= 400 else None,
        )
        return page


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The built app; missing is a failure (``make test`` builds it), not a skip."""
    assert (DEFAULT_WEB_DIR / "index.html").is_file(), (
        f"{DEFAULT_WEB_DIR} has no built app: run `make web` (npm ci and npm run build in web/)"
    )
    return DEFAULT_WEB_DIR


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def wallet_page(browser: Browser, watch: PageWatch) -> Iterator[Callable[[str, str, str], Page]]:
    """Opens a watched page in a fresh browser context (no cache, no storage) carrying the test wallet:
    ``wallet_page(rpc, account, name)``. Further pages of the same context: ``page.context.new_page()``."""
    contexts: list[BrowserContext] = []

    def open_page(rpc: str, account: str, name: str) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        context.add_init_script(script=f"({TEST_WALLET})({{ rpc: {rpc!r}, account: {account!r} }})")
        contexts.append(context)
        page = watch.watch(context.new_page(), name)
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        return page

    yield open_page
    for context in contexts:
        context.close()
