"""Simulated rounds are auditable: the on-chain back end publishes each round's full bundle, and the auditor checks
every one of them from the chain and the bundle alone.

One small tournament (seed 5, 3 rounds, 6 models, 300 live rows) is settled on a real Anvil through
:class:`OnChainLedger`; then ``tourney verify --all`` (the CLI, reading only the ledger's directory) must verify every
round, and a published file changed afterwards must make the auditor fail that round, naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pandas as pd
import pytest
from click.testing import CliRunner

from oracle.bundle.parquet import parquet_bytes
from oracle.bundle.round_bundle import SUBMISSIONS_FILE, TARGETS, load_bundle
from oracle.cli import main
from oracle.simulation.data import TournamentSpec
from oracle.simulation.engine import SimulationResult, default_params, prepare, settle
from oracle.simulation.onchain import OnChainLedger

ROUNDS = 3
SPEC = TournamentSpec(seed=5, n_features=48, history_eras=6, history_rows_per_era=200, live_rows=300, regime_length=2)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OnChainLedger, SimulationResult]]:
    prepared = prepare(SPEC, ROUNDS, tmp_path_factory.mktemp("sim"), n_models=6)
    owners = {p.model_id: p.kind for p in prepared.participants}
    with OnChainLedger.start(owners, tmp_path_factory.mktemp("chain"), clip=default_params().clip) as ledger:
        yield ledger, settle(prepared, default_params(), backend=ledger)


def verify_all_cli(ledger: OnChainLedger) -> tuple[int, dict]:
    """``tourney --json verify --all`` against the ledger's chain, allowed to read manifests from its directory only."""
    env = {
        "TOURNEY_DEPLOYMENT": str(ledger.deployment_file),
        "TOURNEY_RPC": None,
        "TOURNEY_MANIFEST_ROOTS": None,
        "TOURNEY_MANIFEST_HOSTS": None,
    }
    run = CliRunner().invoke(
        main, ["--json", "verify", "--all", "--allow-root", str(ledger.directory)], env=env, catch_exceptions=False
    )
    return run.exit_code, json.loads(run.stdout)


def test_verify_all_passes_every_simulated_round(simulated: tuple[OnChainLedger, SimulationResult]) -> None:
    ledger, result = simulated
    code, report = verify_all_cli(ledger)
    assert code == 0, report
    verdicts = report["verdicts"]
    assert [v["round"] for v in verdicts] == list(range(1, ROUNDS + 1))
    assert all(v["ok"] and v["status"] == "active" and v["differences"] == [] for v in verdicts), verdicts
    # The audit checked real money and real signatures, not empty rounds: payouts and burns moved, and every
    # model's predictions came in a file signed by its owner.
    assert sum(int(v) for v in result.rounds["payout"]) > 0 and sum(int(v) for v in result.rounds["burn"]) > 0
    for verdict in verdicts:
        bundle = load_bundle(verdict["manifest_uri"], verdict["manifest_hash"])
        signed = {entry["model_id"]: entry["record"]["signer"] for entry in bundle.json(SUBMISSIONS_FILE)}
        assert signed == {m: account.address for m, account in ledger.owners.items()}
        assert bundle.manifest.root == ledger.rounds[verdict["round"]].root.lower()


def test_a_tampered_file_fails_its_round(simulated: tuple[OnChainLedger, SimulationResult]) -> None:
    """One target of the last round changed in the published store: that round fails naming the targets file, the
    earlier rounds (which nothing links back to it) still verify. The file is restored afterwards."""
    ledger, _ = simulated
    last = ledger.rounds[ROUNDS]
    bundle = load_bundle(last.manifest_uri)
    entry = bundle.manifest.files[TARGETS]
    path = ledger.directory / "objects" / f"{entry.sha256}.{entry.extension}"
    original = path.read_bytes()
    targets = bundle.targets()
    targets.loc[0, "target"] = 1.0 - float(targets.loc[0, "target"])
    assert not targets.equals(pd.read_parquet(path))
    try:
        path.write_bytes(parquet_bytes(targets, TARGETS))
        verdicts = {v.round: v for v in ledger.audit()}
        assert [r for r, v in sorted(verdicts.items()) if not v.ok] == [ROUNDS]
        assert any(d.scope == "file" and d.subject == TARGETS for d in verdicts[ROUNDS].differences), verdicts[
            ROUNDS
        ].reason()
        code, report = verify_all_cli(ledger)
        assert code == 1
        assert [v["round"] for v in report["verdicts"] if not v["ok"]] == [ROUNDS]
    finally:
        path.write_bytes(original)
    assert all(v.ok for v in ledger.audit())
