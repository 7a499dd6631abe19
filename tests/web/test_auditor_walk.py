"""An auditor's walk through the web app: round 2's first root is wrong (one model's payout inflated), the guardian
vetoes it and the operator proposes again. The rounds page shows both proposals of round 2 with the background
auditor's verdicts (the bad one naming the model that differs, linked to its page; the re-proposal verified), the
command that reproduces the check, and links to the bundle's files that download the published bytes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from playwright.sync_api import Page
from web3 import Web3

from oracle.chain.connection import Connection
from oracle.chain.deploy import UNIT
from oracle.participant.models import register_model
from oracle.participant.stake import stake
from oracle.protocol.submission import sign_submission
from oracle.testing.driven import DrivenTournament, driven_tournament, inflate_payout
from oracle.testing.harness import encode_request, prediction_csv, service_thread


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, web_dist: Path
) -> Iterator[tuple[DrivenTournament, str, list[int]]]:
    t = driven_tournament(tmp_path_factory.mktemp("auditor"), web_dir=str(web_dist))
    try:
        owners = [t.participant(i) for i in range(2)]
        models = []
        for i, owner in enumerate(owners):
            conn = Connection(t.chain.w3, t.chain.deployment, owner)
            model_id, _ = register_model(conn)
            stake(conn, model_id, (100 + 50 * i) * UNIT)
            models.append((model_id, owner))
        with service_thread(t.service_config) as url:
            for round in (1, 2):
                t.open_round()
                closes_at = t.client.round_state(round).closes_at
                for model_id, owner in models:
                    data = prediction_csv(t.live[round], seed=10 * round + model_id)
                    sub = sign_submission(
                        owner,
                        t.chain.deployment.chain_id,
                        t.chain.deployment.tournament,
                        round,
                        model_id,
                        data,
                        closes_at,
                    )
                    answer = requests.post(
                        f"{url}/rounds/{round}/submissions", json=encode_request(sub, data), timeout=30
                    )
                    assert answer.status_code == 201, answer.text
                t.close(round)
                if round == 1:
                    t.resolve(1)
                    assert t.activate() == [1]
            t.resolve(2, tamper=inflate_payout(models[1][0], 7 * UNIT))
            t.veto(2)
            t.resolve(2)
            yield t, url, [m for m, _ in models]
    finally:
        t.stop()


def _verdicts_ready(url: str, timeout: float = 180) -> dict[int, Any]:
    """The background auditor checks proposals once they are asked for; wait until it has them all."""
    deadline = time.monotonic() + timeout
    while True:
        rounds = {r["round"]: r for r in requests.get(f"{url}/rounds?limit=64", timeout=30).json()["recent"]}
        if all(p["verdict"] is not None for r in rounds.values() for p in r["proposals"]):
            return rounds
        assert time.monotonic() < deadline, "no verdict on every proposal in time"
        time.sleep(1)


def test_auditor_walk_through_a_vetoed_root(
    served: tuple[DrivenTournament, str, list[int]], wallet_page: Callable[..., Page], watch: Any, tmp_path: Path
) -> None:
    t, url, models = served
    rounds = _verdicts_ready(url)
    page = wallet_page(t.chain.url, t.chain.keeper.address, "auditor")
    page.goto(f"{url}/#/rounds")
    card = page.locator('section.round[data-round="2"]')
    card.wait_for()
    assert card.get_attribute("data-status") == "proposed"
    assert "challenge window ends in" in card.inner_text()
    # Unless a root is active by its close + D, the round lapses with a zero result: the card counts down to it.
    assert rounds[2]["lapses_at"] == t.client.round_state(2).lapses_at
    assert "lapses with a zero result in" in card.inner_text()
    bad, good = card.locator('li.proposal[data-seq="0"]'), card.locator('li.proposal[data-seq="1"]')
    assert bad.get_attribute("data-state") == "vetoed" and "vetoed" in bad.locator(".badge").inner_text()
    verdict = bad.locator(".verdict.bad").inner_text()
    count = rounds[2]["proposals"][0]["verdict"]["differences_count"]
    assert f"Does not verify: {count} difference" in verdict and count >= 1
    assert bad.locator(".verdict.bad a").all_inner_texts() == [str(models[1])]
    bad.locator("summary", has_text="What differs").click()
    listed = bad.locator(".verdict.bad details li").all_inner_texts()
    assert any(f"leaf {models[1]}" in line or f"model {models[1]}" in line for line in listed), listed
    assert "Verified" in good.locator(".verdict").inner_text()
    assert good.get_attribute("data-state") == "pending"
    proposals = t.client.proposals(2)
    assert bad.locator("code").first.get_attribute("title") == proposals[0].root
    assert good.locator("code").first.get_attribute("title") == proposals[1].root
    assert "tourney verify --round 2" in card.locator(".reproduce").inner_text()
    links = {a.inner_text(): a.get_attribute("href") for a in good.locator(".files a").all()}
    assert {"manifest.json", "scores.parquet", "tree.json"} <= set(links)
    manifest = page.request.get(f"{url}/{links['manifest.json']}")
    assert manifest.ok and "0x" + Web3.keccak(manifest.body()).hex().removeprefix("0x") == proposals[1].manifest_hash
    one = page.locator('section.round[data-round="1"]')
    assert one.get_attribute("data-status") == "active" and "Verified" in one.locator(".verdict").inner_text()
    page.screenshot(path=str(tmp_path / "rounds.png"), full_page=True)

    # The model named in the failed verdict links to its page, whose round 2 is marked as still challengeable.
    bad.locator(".verdict.bad a").first.click()
    page.wait_for_selector("table.rounds-table")
    assert page.url.endswith(f"#/model/{models[1]}")
    assert "may be vetoed" in page.locator("main").inner_text()
    page.screenshot(path=str(tmp_path / "model.png"), full_page=True)

    # The leaderboard has every model, with round 2 (the standing re-proposal) as the latest results.
    page.goto(f"{url}/#/")
    page.wait_for_selector("table.board tbody tr")
    assert page.locator("table.board tbody tr").count() == len(models)
    assert "latest results: round 2" in page.locator("main").inner_text()
    page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)
    assert watch.problems == []
