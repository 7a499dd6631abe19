"""The demo's round data and its models' predictions: live and target files from the simulation's world, and one
prediction file per model (a noisy mix of the signal, skill by model, every fourth a random spammer)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from oracle.simulation.data import TournamentSpec, World, write_live_round

__all__ = ["RoundDataWorld", "model_predictions"]


class RoundDataWorld:
    """Round files for the operator (``live_<r>.parquet``, ``targets_<r>.parquet``) from the simulation's world."""

    def __init__(self, directory: Path, rows: int, features: int, seed: int) -> None:
        self.directory = directory
        # Numerai-like strength (with enough rows that MMC's sampling noise stays small).
        self.spec = TournamentSpec.round_files(seed, features, rows)
        self.world = World.of(self.spec)

    def write(self, round: int) -> pd.DataFrame:
        """Write the round's files; return the live features (what participants see)."""
        live_path, _ = write_live_round(self.world, round, self.directory)
        return pd.read_parquet(live_path)


def model_predictions(live: pd.DataFrame, world: World, model_id: int, round: int, seed: int) -> bytes:
    """A model's prediction file (CSV ``id,prediction``): a noisy mix of the stable features, skill by model.

    Models differ in how much of the signal they see and how noisy they are; every fourth is a random spammer."""
    rng = np.random.default_rng([seed, model_id, round])
    x = live[world.feature_columns].to_numpy(dtype=np.float64) - 0.5
    if model_id % 4 == 0:
        values = rng.random(len(live))
    else:
        skill = 0.2 + 0.8 * ((model_id * 37) % 11) / 10
        signal = x[:, world.stable] @ world.stable_coef
        values = skill * signal / (signal.std() or 1.0) + rng.standard_normal(len(live))
        values = (pd.Series(values).rank(pct=True)).to_numpy()
    frame = pd.DataFrame({"id": live["id"].astype(str), "prediction": np.round(values, 6)})
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()
