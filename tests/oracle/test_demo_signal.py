"""The demo's synthetic signal is Numerai-like (issue 16): good models' mean CORR about 0.01-0.03 a round, payouts
rarely at the clip, spammers earning nothing on average. Off-chain: the demo's own round files and model files,
scored by the project's scoring code at the demo's size."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from oracle.demo.run import DemoConfig, RoundDataWorld, model_predictions
from oracle.scoring.pipeline import score_round

ROUNDS = 4


def test_the_demo_tournament_looks_like_a_real_one(tmp_path: Path) -> None:
    config = DemoConfig()
    data = RoundDataWorld(tmp_path, config.live_rows, config.features, config.seed)
    models = list(range(1, config.participants * config.models_per_participant + 1))
    frames = []
    for round in range(1, ROUNDS + 1):
        live = data.write(round)
        predictions = pd.DataFrame({"id": live["id"].astype(str)})
        for model in models:
            file = model_predictions(live, data.world, model, round, config.seed)
            predictions[str(model)] = pd.read_csv(io.BytesIO(file), dtype={"id": str})["prediction"].to_numpy()
        targets = pd.read_parquet(tmp_path / f"targets_{round:05d}.parquet")
        scores = score_round(predictions, targets, {str(m): config.stake for m in models}, config.params).scores
        frames.append(scores.assign(round=round))
    scores = pd.concat(frames)
    clip = int(config.stake * config.params.clip)
    scores["at_clip"] = [max(int(p), int(b)) >= clip for p, b in zip(scores["payout"], scores["burn"])]
    spam = scores["model"].astype(int) % 4 == 0  # model_predictions: every fourth model is a random spammer
    good = scores[~spam]
    assert 0.01 <= good["corr"].mean() <= 0.035, good["corr"].mean()
    assert good.groupby("model")["corr"].mean().max() < 0.06
    assert good["at_clip"].mean() < 0.15 and scores["at_clip"].mean() < 0.15
    assert not good.groupby("model")["at_clip"].all().any(), "no model hits the clip in every round"
    assert abs(scores[spam]["corr"].mean()) < 0.01
