"""Seeds in worker processes give exactly what they give in this process."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracle.simulation.seeds import SeedConfig, run_seeds, seed_directory

TINY = SeedConfig(rounds=3, n_models=8, live_rows=300, n_features=48, history_eras=6, history_rows=200, regime_length=3)


def test_parallel_runs_equal_serial_runs(tmp_path: Path) -> None:
    serial = run_seeds(TINY, [3, 4], tmp_path / "serial", jobs=1)
    parallel = run_seeds(TINY, [3, 4], tmp_path / "parallel", jobs=2)
    assert [r.seed for r in parallel] == [3, 4]
    for a, b in zip(serial, parallel):
        assert a.measures == b.measures
        assert a.result.final_balances == b.result.final_balances
        assert b.directory == seed_directory(tmp_path / "parallel", b.seed, several=True)
        assert (b.directory / "results" / "rounds.parquet").is_file()
    # Different seeds are different tournaments.
    assert serial[0].result.final_balances != serial[1].result.final_balances
    with pytest.raises(ValueError, match="jobs"):
        run_seeds(TINY, [3], tmp_path / "none", jobs=0)
