"""The auditor on a real Anvil: an honest proposal verifies; a proposal built from a tampered input (one
prediction, one stake at risk, one target, one parameter, one leaf) or a manifest changed after posting fails, with
the model and field named; ``--watch`` with a guardian vetoes a bad root inside its window."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_operator import WINDOW, make_operator, prediction_file, register, submit, write_round_data
from web3 import Web3

from oracle.auditor.watch import watch
from oracle.bundle.fetch import FetchPolicy
from oracle.bundle.round_bundle import load_bundle
from oracle.bundle.write import write_round_bundle
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.deploy import UNIT
from oracle.cli import main
from oracle.protocol.inbox import Inbox
from oracle.scoring.pipeline import score_round
from oracle.settlement.leaves import cumulative_leaves

STAKES = [1_000 * UNIT, 2_000 * UNIT, 1_500 * UNIT]


@pytest.fixture
def closed_round(chain, participants, tmp_path: Path):
    """Round 1 with three staked models, each with a signed submission, closed; the operator and its honest bundle."""
    accounts = [p.account for p in participants[:3]]
    models = [register(chain, acct, stake) for acct, stake in zip(accounts, STAKES)]
    op = make_operator(chain, tmp_path, max_rounds=1)
    ids = write_round_data(tmp_path / "data", 1)
    op.step()
    for i, (acct, model) in enumerate(zip(accounts, models)):
        submit(chain, Inbox(tmp_path / "inbox"), acct, 1, model, prediction_file(ids, 40 + i))
    chain.advance(WINDOW + 1)
    op.close_due()
    uri, _, _, _ = op.build_bundle(1)
    return op, models, load_bundle(uri)


def propose(chain, uri: str, digest: str, manifest) -> None:
    totals = manifest.totals
    chain.oracle.transact(
        chain.tournament.functions.proposeRoot(
            1,
            Web3.to_bytes(hexstr=manifest.root),
            totals.round_payout,
            totals.round_burn,
            Web3.to_bytes(hexstr=digest),
            uri,
        )
    )


def republish(bundle, **changes):
    """A new bundle from ``bundle``'s parts with some replaced (what a dishonest oracle would publish)."""
    extras = {
        name: bundle.raw(name) for name in bundle.files if name.startswith("submission") or name == "rejections.json"
    }
    parts = dict(
        predictions=bundle.predictions(),
        targets=bundle.targets(),
        stakes=bundle.stakes(),
        scores=bundle.scores(),
        params=bundle.params(),
        previous_cumulative=bundle.previous_cumulative(),
        chain=bundle.manifest.chain,
        extra_files=extras,
        payout_limit=bundle.manifest.payout_limit,
    )
    parts.update(changes)
    store = str(Path(bundle.uri).parents[2])
    manifest, uri, digest = write_round_bundle(store, 1, **parts)
    return manifest, uri, digest


def store_of(bundle) -> str:
    """The store a bundle was published in: the only place the auditor is allowed to read manifests from."""
    return str(Path(bundle.uri).parents[2])


def verify_cli(chain, bundle, *args: str) -> tuple[int, dict]:
    env = {"TOURNEY_RPC": chain.url, "TOURNEY_DEPLOYMENT": str(chain.deployment_file)}
    result = CliRunner().invoke(
        main, ["--json", "verify", "--allow-root", store_of(bundle), *args], env=env, catch_exceptions=False
    )
    return result.exit_code, json.loads(result.stdout)


def fields(report: dict) -> set[tuple[str, str, str]]:
    return {(d["scope"], d["subject"], d["field"]) for d in report["verdicts"][0]["differences"]}


def test_honest_proposal_verifies(chain, closed_round) -> None:
    _op, _, bundle = closed_round
    propose(chain, bundle.uri, bundle.keccak256, bundle.manifest)
    code, report = verify_cli(chain, bundle, "--round", "1")
    assert code == 0, report
    assert report["ok"] and report["verdicts"][0]["differences"] == []


def test_tampered_prediction_is_named(chain, closed_round) -> None:
    _, models, bundle = closed_round
    predictions = bundle.predictions()
    predictions.loc[0, str(models[1])] = 0.123456789
    propose(chain, *_swap(republish(bundle, predictions=predictions)))
    code, report = verify_cli(chain, bundle, "--round", "1")
    assert code == 1
    assert ("submission", str(models[1]), "predictions") in fields(report)
    assert str(models[1]) in report["verdicts"][0]["models"]


def test_understated_stake_is_named(chain, closed_round) -> None:
    # A consistent lie: the stake table, the scores and the totals all use the smaller stake; only the chain knows.
    _, models, bundle = closed_round
    stakes = bundle.stakes()
    stakes.loc[stakes["model_id"] == models[2], "stake_at_risk"] = STAKES[2] // 2
    stake_map = {str(m): int(s) for m, s in zip(stakes["model"], stakes["stake_at_risk"])}
    scores = score_round(
        bundle.predictions(), bundle.targets(), stake_map, bundle.params(), payout_limit=bundle.payout_limit()
    ).scores
    manifest, uri, digest = republish(bundle, stakes=stakes, scores=scores)
    propose(chain, uri, digest, manifest)
    code, report = verify_cli(chain, bundle, "--round", "1")
    assert code == 1
    found = fields(report)
    assert ("stake", str(models[2]), "stake_at_risk") in found
    assert ("proposal", "manifest", "total_stake_at_risk") in found


def test_tampered_target_is_caught(chain, closed_round) -> None:
    _, models, bundle = closed_round
    targets = bundle.targets()
    targets["target"] = targets["target"].iloc[::-1].to_numpy()  # targets published are not those scored
    propose(chain, *_swap(republish(bundle, targets=targets)))
    code, report = verify_cli(chain, bundle, "--round", "1")
    assert code == 1
    assert {("model", str(m), "corr") for m in models} <= fields(report)


def test_tampered_parameter_is_caught(chain, closed_round) -> None:
    _, models, bundle = closed_round
    params = replace(bundle.params(), corr_weight=0.5)  # the manifest claims weights the scores did not use
    propose(chain, *_swap(republish(bundle, params=params)))
    code, report = verify_cli(chain, bundle, "--round", "1")
    assert code == 1
    moved = {s for scope, s, f in fields(report) if scope == "model" and f in ("payout", "burn")}
    assert moved and moved <= {str(m) for m in models}


def test_tampered_leaf_is_named(chain, closed_round) -> None:
    _, models, bundle = closed_round
    scores = bundle.scores().set_index("model")
    payouts = {int(m): int(scores.loc[str(m), "payout"]) for m in models}
    burns = {int(m): int(scores.loc[str(m), "burn"]) for m in models}
    payouts[models[0]] += 1
    leaves = cumulative_leaves({}, payouts, burns, models)
    propose(chain, *_swap(republish(bundle, leaves=leaves)))
    code, report = verify_cli(chain, bundle, "--round", "1")
    assert code == 1
    assert ("leaf", str(models[0]), "cumulative_payout") in fields(report)
    assert ("proposal", "chain", "root") in fields(report)


def test_manifest_changed_after_posting_is_caught(chain, closed_round) -> None:
    _, _, bundle = closed_round
    propose(chain, bundle.uri, bundle.keccak256, bundle.manifest)
    data = json.loads(Path(bundle.uri).read_bytes())
    data["params"]["clip"] = 0.01
    Path(bundle.uri).write_bytes(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    code, report = verify_cli(chain, bundle, "--round", "1")
    assert code == 1
    assert any(scope == "file" and subject == "manifest.json" for scope, subject, _ in fields(report))


def test_watch_vetoes_a_bad_root_inside_its_window(chain, closed_round, tmp_path: Path) -> None:
    op, models, bundle = closed_round
    scores = bundle.scores()
    scores.loc[scores["model"] == str(models[0]), "payout"] = 10 * UNIT
    scores.loc[scores["model"] == str(models[0]), "burn"] = 0
    propose(chain, *_swap(republish(bundle, scores=scores)))
    client = TournamentClient(chain.w3, chain.deployment)
    policy = FetchPolicy(roots=(store_of(bundle),))
    state = tmp_path / "guardian"
    actions: list[str] = []
    verdicts = watch(
        client,
        chain.guardian,
        policy=policy,
        interval=0.05,
        stop=lambda: True,
        state_dir=state,
        on_verdict=lambda verdict, action: actions.append(action),
    )
    assert len(verdicts) == 1 and not verdicts[0].ok and actions == ["vetoed"]
    assert str(models[0]) in verdicts[0].models()
    assert client.round_state(1).status is RoundStatus.VETOED
    assert len(client.events(["RootVetoed"])) == 1
    # The operator then re-proposes the honest bundle. A restarted watch (same state) neither re-verifies nor
    # re-vetoes the old proposal, and lets the new one through.
    assert [a.step for a in op.step()] == ["propose"]
    later = watch(
        TournamentClient(chain.w3, chain.deployment), chain.guardian, policy=policy, stop=lambda: True, state_dir=state
    )
    assert [v.ok for v in later] == [True]
    assert client.round_state(1).status is RoundStatus.PROPOSED
    recorded = json.loads((state / "watch.json").read_text())["proposals"]
    assert sorted((r["ok"], r["action"]) for r in recorded.values()) == [(False, "vetoed"), (True, "ok")]


def test_watch_without_guardian_exits_nonzero_on_a_bad_root(chain, closed_round) -> None:
    _, models, bundle = closed_round
    scores = bundle.scores()
    scores.loc[scores["model"] == str(models[1]), "burn"] = 0
    scores.loc[scores["model"] == str(models[1]), "payout"] = 5 * UNIT
    propose(chain, *_swap(republish(bundle, scores=scores)))
    code, report = verify_cli(chain, bundle, "--watch", "--interval", "0.05", "--timeout", "30")
    assert code == 1
    assert str(models[1]) in report["verdicts"][0]["models"]


def _swap(published):
    manifest, uri, digest = published
    return uri, digest, manifest


def test_a_payout_above_the_models_cap_is_named(chain, closed_round) -> None:
    # A consistent lie within the round's totals: model 0 paid 10% of its stake at risk, twice the round's cap. The
    # contract would clamp the leaf at settlement; the auditor names it before activation.
    _, models, bundle = closed_round
    scores = bundle.scores()
    scores.loc[scores["model"] == str(models[0]), "payout"] = STAKES[0] // 10
    scores.loc[scores["model"] == str(models[0]), "burn"] = 0
    propose(chain, *_swap(republish(bundle, scores=scores)))
    code, report = verify_cli(chain, bundle, "--round", "1")
    assert code == 1
    assert ("model", str(models[0]), "payout_cap") in fields(report)
    assert str(models[0]) in report["verdicts"][0]["models"]
