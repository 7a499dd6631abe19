"""A participant's walk through the web app with a browser wallet: connect, register a model, stake with a permit
(one signature, one transaction), submit predictions (a bad file's problems first, then a good file signed with
eth_signTypedData_v4) and keep the operator's receipt; after the operator resolves two rounds, see the scores and
the charts; request a withdrawal, be told in words why it cannot be taken yet, settle, withdraw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from playwright.sync_api import Page

from oracle.bundle.round_bundle import load_bundle
from oracle.chain.deploy import UNIT
from oracle.protocol.receipt import Receipt, verify_receipt
from oracle.protocol.submission import predictions_hash, sign_submission
from oracle.testing.driven import DrivenTournament, driven_tournament
from oracle.testing.harness import encode_request, prediction_csv, service_thread


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, web_dist: Path) -> Iterator[tuple[DrivenTournament, str]]:
    t = driven_tournament(tmp_path_factory.mktemp("participant"), web_dir=str(web_dist), live_ids=200)
    try:
        with service_thread(t.service_config) as url:
            yield t, url
    finally:
        t.stop()


def _stats(page: Page, selector: str) -> str:
    return page.locator(selector).first.inner_text()


def _nonce(t: DrivenTournament, address: str) -> int:
    return int(t.chain.w3.eth.get_transaction_count(address, "latest"))


def _charts(page: Page) -> dict[str, Any]:
    found = page.eval_on_selector_all(".chart", "els => els.map(e => JSON.parse(e.dataset.chart))")
    return {c["title"].split(" ")[0]: c for c in found}


def test_participant_walk(
    served: tuple[DrivenTournament, str], wallet_page: Callable[..., Page], watch: Any, tmp_path: Path
) -> None:
    t, url = served
    account = t.participant(0, tokens=1_000 * UNIT)
    token = t.chain.token.functions
    round = t.open_round()
    page = wallet_page(t.chain.url, account.address, "participant")

    # Connect (EIP-6963 discovery of the injected wallet).
    page.goto(f"{url}/#/wallet")
    page.get_by_role("button", name="Test wallet (Anvil)").click()
    page.wait_for_selector("#connect h2:text('Connected')")
    assert page.locator("#connect code.account").inner_text() == account.address
    assert "1,000 STK" in _stats(page, "#connect .stats")

    # Register a model.
    model_id = t.client.model_count() + 1
    page.get_by_role("button", name="Register a new model").click()
    page.wait_for_selector(f"#models .status:text('Registered model {model_id}')")
    assert page.locator(f'#models tr[data-model="{model_id}"]').count() == 1
    assert t.client.owner_of(model_id) == account.address

    # Stake with a permit: one signature, exactly one transaction.
    before = _nonce(t, account.address)
    stake_form = page.locator("form", has=page.locator("h3", has_text=f"Stake on model {model_id}"))
    stake_form.locator("input").fill("100")
    stake_form.get_by_role("button", name="Stake with permit").click()
    page.wait_for_selector(f"#actions .notice.ok:text('Staked 100 STK on model {model_id}')")
    assert _nonce(t, account.address) - before == 1
    assert t.client.stake_of(model_id) == 100 * UNIT
    assert "100 STK" in _stats(page, "#actions .stats")

    # A bad file: every problem listed before signing, and it cannot be signed.
    live = t.live[round]
    files = page.locator('#submit input[type="file"]')
    bad = ("id,prediction\n" + "".join(f"{i},1.5\n" for i in live[:150]) + "stranger,0.5\n").encode()
    files.set_input_files(files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": bad}])
    page.wait_for_selector("#submit .notice.error")
    problems = page.locator("#submit .problems li").all_inner_texts()
    assert len(problems) >= 2 and any("out_of_range" in p for p in problems), problems
    assert page.get_by_role("button", name="Sign and submit").first.is_disabled()
    page.screenshot(path=str(tmp_path / "wallet-invalid-file.png"), full_page=True)

    # A good file: checked, signed (EIP-712), delivered; the receipt is shown, checked and downloadable.
    good = prediction_csv(live, seed=1)
    files.set_input_files(files=[{"name": "predictions.csv", "mimeType": "text/csv", "buffer": good}])
    page.wait_for_selector(f"#submit .notice.ok:text('passes round {round}')")
    page.get_by_role("button", name="Sign and submit").first.click()
    page.wait_for_selector(".receipt-card")
    assert "signed by the tournament's operator" in page.locator(".receipt-card").inner_text()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download receipt").click()
    receipt = Receipt.from_json(json.loads(Path(download.value.path()).read_text()))
    assert (receipt.round, receipt.model_id, receipt.predictions_hash) == (round, model_id, predictions_hash(good))
    assert (
        verify_receipt(
            receipt,
            t.chain.oracle.address,
            chain_id=t.chain.deployment.chain_id,
            tournament=t.chain.deployment.tournament,
        )
        == []
    )
    stored = t.operator.inbox.get(round, model_id)
    assert stored is not None and stored[0].predictions_hash == receipt.predictions_hash
    page.screenshot(path=str(tmp_path / "wallet-receipt.png"), full_page=True)

    # The operator resolves round 1 and, after a second submission (over HTTP), round 2; both activate.
    t.close(round)
    second = t.open_round()
    t.resolve(round)
    assert t.activate() == [round]
    data = prediction_csv(t.live[second], seed=2)
    sub = sign_submission(
        account,
        t.chain.deployment.chain_id,
        t.chain.deployment.tournament,
        second,
        model_id,
        data,
        t.client.round_state(second).closes_at,
    )
    assert requests.post(f"{url}/rounds/{second}/submissions", json=encode_request(sub, data), timeout=30).ok
    t.close(second)
    t.resolve(second)
    assert t.activate() == [second]

    # The model page: scores and charts from the published bundles, the receipts check.
    scores = {}
    for r in (round, second):
        proposal = t.client.current_proposal(r)
        assert proposal is not None
        table = load_bundle(proposal.manifest_uri, proposal.manifest_hash).scores()
        scores[r] = table[table["model"] == str(model_id)].iloc[0].to_dict()
    page.goto(f"{url}/#/model/{model_id}")
    page.wait_for_selector(".chart canvas")
    charts = _charts(page)
    assert charts["CORR"]["rounds"] == [round, second]
    assert charts["CORR"]["series"]["CORR"] == [scores[r]["corr"] for r in (round, second)]
    assert charts["CORR"]["series"]["MMC"] == [scores[r]["mmc"] for r in (round, second)]
    assert charts["Payout"]["series"]["payout"] == pytest.approx(
        [int(scores[r]["payout"]) / UNIT for r in (round, second)]
    )
    assert charts["Stake"]["series"]["at risk"] == pytest.approx(
        [int(scores[r]["stake_at_risk"]) / UNIT for r in (round, second)]
    )
    rows = page.locator("table.rounds-table tbody tr")
    assert rows.count() == 2 and "active" in rows.first.inner_text()
    rows.first.get_by_role("button", name="Check").click()
    page.wait_for_selector(".receipt .pos")
    assert "signed by the operator" in page.locator(".receipt .pos").inner_text()
    page.screenshot(path=str(tmp_path / "model.png"), full_page=True)

    # The leaderboard lists the model with its latest CORR.
    page.goto(f"{url}/#/")
    page.wait_for_selector(f'table.board tbody tr[data-model="{model_id}"]')
    row = page.locator(f'table.board tbody tr[data-model="{model_id}"]').inner_text()
    corr = scores[second]["corr"]
    assert f"{abs(corr):.4f}" in row
    page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)

    # Request a withdrawal; withdrawing before the model is settled is refused in words; settle; withdraw.
    page.goto(f"{url}/#/wallet?model={model_id}")
    page.wait_for_selector(f"#actions h2:text('model {model_id}')")
    request_form = page.locator("form", has=page.locator("h3", has_text="Request a withdrawal"))
    request_form.locator("input").fill("40")
    request_form.get_by_role("button", name="Request withdrawal").click()
    page.wait_for_selector("#actions .notice.ok:text('Requested 40 STK')")
    stats = _stats(page, "#actions .stats")
    # Its last round at risk is active: takeable now once settled, and by that round's close + D whatever happens.
    assert "40 STK" in stats and "at the latest by" in stats, stats
    assert f"waits for the model to be settled through round {second}" in stats, stats
    assert t.client.model_state(model_id).withdrawal == 40 * UNIT
    page.get_by_role("button", name="Withdraw", exact=True).click()
    page.wait_for_selector("#actions .notice.error")
    refusal = page.locator("#actions .notice.error").inner_text()
    assert f"settle the model through round {second} first" in refusal and "0x" not in refusal, refusal
    page.screenshot(path=str(tmp_path / "wallet-unsettled.png"), full_page=True)
    page.get_by_role("button", name=f"Settle through round {second}").click()
    page.wait_for_selector(f"#settle-status:text('settled through round {second}')")
    assert t.client.settled_round(model_id) == second
    balance = token.balanceOf(account.address).call()
    page.get_by_role("button", name="Withdraw", exact=True).click()
    page.wait_for_selector(f"#withdraw-status:text('Withdrawn from model {model_id}')")
    assert token.balanceOf(account.address).call() == balance + 40 * UNIT
    assert t.client.model_state(model_id).withdrawal == 0
    page.wait_for_function(
        "() => /Pending withdrawal\\s*none/i.test(document.querySelector('#actions .stats').innerText)"
    )
    page.screenshot(path=str(tmp_path / "wallet-withdrawn.png"), full_page=True)
    assert watch.problems == []
