"""The synthetic tournament's data: deterministic, Numerai-shaped, with a regime that flips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from oracle.simulation.data import (
    LEVELS,
    TARGET_PROPORTIONS,
    TournamentSpec,
    World,
    era_frame,
    live_era,
    read_parquet,
    write_history,
    write_live_round,
)

SMALL = TournamentSpec(seed=7, n_features=48, history_eras=6, history_rows_per_era=400, live_rows=500, regime_length=3)


def test_same_seed_same_bytes_and_different_seed_differs(tmp_path: Path) -> None:
    a = write_history(World.of(SMALL), tmp_path / "a.parquet")
    b = write_history(World.of(SMALL), tmp_path / "b.parquet")
    c = write_history(World.of(TournamentSpec(**{**SMALL.to_dict(), "seed": 8})), tmp_path / "c.parquet")
    assert a.read_bytes() == b.read_bytes()
    assert not read_parquet(a).equals(read_parquet(c))


def test_an_era_is_the_same_alone_or_inside_the_history(tmp_path: Path) -> None:
    """Each era has its own random stream: regenerating era 4 alone gives the rows in the file."""
    history = read_parquet(write_history(World.of(SMALL), tmp_path / "h.parquet"))
    alone = era_frame(World.of(SMALL), 4, SMALL.history_rows_per_era)
    inside = history[history["era"] == alone["era"].iloc[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(inside, alone)


def test_numerai_layout_levels_and_target_distribution(tmp_path: Path) -> None:
    path = write_history(World.of(SMALL), tmp_path / "h.parquet")
    frame = read_parquet(path)
    features = [c for c in frame.columns if c.startswith("feature_")]
    assert list(frame.columns) == ["id", "era", *features, "target"]
    assert len(features) == SMALL.n_features
    assert frame["id"].is_unique
    assert sorted(frame["era"].unique()) == [f"{e + 1:04d}" for e in range(SMALL.history_eras)]
    assert set(np.unique(frame[features].to_numpy())) == set(LEVELS.tolist())
    assert frame[features[0]].dtype == np.float32
    # Features: five roughly equally likely levels.
    shares = pd.Series(frame[features].to_numpy().ravel()).value_counts(normalize=True)
    assert np.allclose(shares.sort_index().to_numpy(), 0.2, atol=0.01)
    # Target: Numerai's 5/20/50/20/5 within every era, exactly up to rounding of the bin edges.
    for _, era in frame.groupby("era"):
        counts = era["target"].value_counts().reindex(LEVELS.tolist()).to_numpy()
        expected = np.diff(np.round(np.cumsum((0.0, *TARGET_PROPORTIONS)) * len(era)))
        assert counts.tolist() == expected.tolist()
    # One row group per era: the writer streams, memory is bounded by one era.
    assert pq.ParquetFile(path).num_row_groups == SMALL.history_eras


def test_live_round_files_keep_targets_apart(tmp_path: Path) -> None:
    live_path, target_path = write_live_round(World.of(SMALL), 2, tmp_path)
    live, targets = read_parquet(live_path), read_parquet(target_path)
    assert "target" not in live.columns
    assert list(targets.columns) == ["id", "target"]
    assert live["id"].tolist() == targets["id"].tolist()
    assert len(live) == SMALL.live_rows
    assert live["era"].unique().tolist() == [f"{SMALL.live_era_of(2) + 1:04d}"]
    # Live ids never collide with history ids.
    history_ids = set(era_frame(World.of(SMALL), SMALL.live_era_of(2), 50)["id"])
    assert history_ids.isdisjoint(live["id"])


def test_risky_features_flip_sign_with_the_regime_and_stable_ones_do_not() -> None:
    """Partial effects (OLS of the target on every feature, so correlated families do not blur them):
    the risky features' effects flip between a +1 and a -1 era, the strongest stable one keeps its sign."""
    rows = 60_000
    spec = TournamentSpec(seed=3, regime_length=1)
    world = World.of(spec)
    assert spec.regime(0) == 1 and spec.regime(1) == -1

    def partial_effects(era: int) -> np.ndarray:
        frame = era_frame(world, era, rows)
        x = np.column_stack([frame[world.feature_columns].to_numpy(np.float64), np.ones(rows)])
        return np.linalg.lstsq(x, frame["target"].to_numpy(np.float64), rcond=None)[0][:-1]

    plus, minus = partial_effects(0), partial_effects(1)
    assert (np.sign(plus[world.risky]) == np.sign(world.risky_coef)).all()
    assert (np.sign(minus[world.risky]) == -np.sign(world.risky_coef)).all()
    strongest = world.stable[int(np.argmax(np.abs(world.stable_coef)))]
    sign = np.sign(world.stable_coef).astype(int)[int(np.argmax(np.abs(world.stable_coef)))]
    assert np.sign(plus[strongest]) == np.sign(minus[strongest]) == sign
    # The signal is real but weak: no single feature's marginal correlation is large.
    frame = era_frame(world, 0, 20_000)
    marginal = [abs(np.corrcoef(frame[c], frame["target"])[0, 1]) for c in world.feature_columns]
    assert 0.01 < max(marginal) < 0.15


def test_spec_rejects_more_signal_features_than_features() -> None:
    with pytest.raises(ValueError, match="signal features"):
        TournamentSpec(n_features=10)
    with pytest.raises(ValueError, match="rounds are numbered from 1"):
        SMALL.live_era_of(0)


def test_live_era_is_deterministic() -> None:
    pd.testing.assert_frame_equal(live_era(World.of(SMALL), 3), live_era(World.of(SMALL), 3))
