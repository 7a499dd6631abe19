"""The example participants: shared fits, bulk prediction, and the retraining period."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from oracle.simulation.data import TournamentSpec, World, live_era, read_parquet, write_history
from oracle.simulation.engine import PreparedTournament, prepare
from oracle.simulation.participants import Crowd, default_population

TINY = TournamentSpec(seed=2, n_features=48, history_eras=6, history_rows_per_era=300, live_rows=400, regime_length=3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Crowd:
    history = read_parquet(write_history(World.of(TINY), tmp_path_factory.mktemp("h") / "train.parquet"))
    crowd = Crowd(default_population(10, seed=TINY.seed, gbt_iter=10))
    crowd.train(history, [c for c in history.columns if c.startswith("feature_")])
    return crowd


def test_neutral_model_is_the_gbt_booster_neutralised(trained: Crowd) -> None:
    by_name = {p.name: p for p in trained.people}
    gbt, neutral = by_name["gbt_0"], by_name["neutral_0"]
    assert gbt.family_key() == neutral.family_key()
    # Five real models (linear_0, gbt_0, neutral_0, consensus_0, linear_1) need four fitted families, not five.
    assert len(trained.families) == 4
    family = trained.families[gbt.family_key()]
    live = live_era(World.of(TINY), 1).drop(columns="target")
    subs = trained.predict([live], [1])[0]
    risky = live[family.risky].to_numpy(np.float64)
    corr = lambda a, b: float(np.corrcoef(a, b)[0, 1])  # noqa: E731
    # Neutralised: no linear exposure left to the riskiest features (ranking keeps it near zero); the raw
    # booster has some. And it is still the same model underneath.
    assert max(abs(corr(subs[neutral.model_id], risky[:, j])) for j in range(risky.shape[1])) < 0.05
    assert max(abs(corr(subs[gbt.model_id], risky[:, j])) for j in range(risky.shape[1])) > 0.05
    assert corr(subs[gbt.model_id], subs[neutral.model_id]) > 0.5


def test_predicting_rounds_together_equals_one_at_a_time(trained: Crowd) -> None:
    lives = [live_era(World.of(TINY), r).drop(columns="target") for r in (1, 2, 3)]
    together = trained.predict(lives, [1, 2, 3])
    fresh = Crowd(trained.people)
    fresh.families = trained.families  # same fits, fresh spam streams
    alone = [fresh.predict([live], [r])[0] for r, live in zip((1, 2, 3), lives)]
    for a, b in zip(together, alone):
        assert a.keys() == b.keys()
        for m in a:
            np.testing.assert_allclose(a[m], b[m], rtol=0, atol=1e-12)
    # Spammers draw fresh noise each round.
    spam = next(p.model_id for p in trained.people if p.kind == "spam")
    assert not np.allclose(together[0][spam], together[1][spam])


def test_retraining_period_changes_only_rounds_after_a_retrain(tmp_path: Path) -> None:
    once = prepare(TINY, 3, tmp_path / "once", n_models=6)
    every2 = prepare(TINY, 3, tmp_path / "every2", n_models=6, retrain_every=2)
    kinds = {str(p.model_id): p.kind for p in once.participants}

    def same(a: PreparedTournament, b: PreparedTournament, r: int) -> dict[str, bool]:
        pa, pb = a.predictions(r), b.predictions(r)
        return {m: bool(np.array_equal(pa[m], pb[m])) for m in kinds}

    assert all(same(once, every2, 1).values()) and all(same(once, every2, 2).values())
    third = same(once, every2, 3)
    assert all(third[m] for m, k in kinds.items() if k == "spam")
    assert not any(third[m] for m, k in kinds.items() if k != "spam")
    with pytest.raises(ValueError, match="retrain_every"):
        prepare(TINY, 3, tmp_path / "bad", n_models=6, retrain_every=0)
