"""A deterministic generator of Numerai-shaped tournament data.

Every era is drawn from its own random stream, seeded by ``(seed, era)``, so any era can be
regenerated alone, in any order, on any machine, and the files are byte-identical.

The world
---------
Features are obfuscated and correlated: ``n_factors`` latent Gaussian factors ``Z`` load on every
feature, ``f_j = w_j·Z + sqrt(1 - |w_j|²)·ε_j`` (so ``f_j ~ N(0, 1)``), and each ``f_j`` is cut at the
Gaussian quintiles into 5 equally likely levels ``{0, .25, .5, .75, 1}``. Write ``x_j = (level_j - ½)/σ``
for the standardised level (σ² = 1/8 is the variance of the five equally likely levels).

The latent target of era ``e`` is::

    y = s(e)·Σ_r a_r x_r          risky features: effect flips sign with the regime s(e) = ±1
        +    Σ_l b_l x_l          stable linear features
        +    Σ_k c_k x_i(k) x_j(k)  stable pairwise interactions (invisible to a linear model)
        +    noise·ε

with each of the three signal groups scaled to its configured standard deviation. The regime
``s(e) = (-1)^floor(e / regime_length)`` alternates every ``regime_length`` eras, so a model exposed
to single (risky) features does well while the regime it learned holds and badly after it flips.
The target is ``y`` binned within its era at Numerai's proportions (5%, 20%, 50%, 20%, 5%) into the
same five levels as the features.

Files follow Numerai's layout: ``id``, ``era``, ``feature_*`` (float32), ``target`` (float32).
History is written era by era with a streaming Parquet writer, so memory is bounded by one era
whatever the total size (millions of rows, thousands of features).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import ndtri

__all__ = [
    "LEVELS",
    "TARGET_PROPORTIONS",
    "TournamentSpec",
    "World",
    "era_frame",
    "era_name",
    "feature_names",
    "live_era",
    "read_parquet",
    "write_history",
    "write_live_round",
]

#: The five quantisation levels of every feature and of the target.
LEVELS = np.array([0.0, 0.25, 0.5, 0.75, 1.0], dtype=np.float32)
#: Numerai's target distribution over the five levels.
TARGET_PROPORTIONS = (0.05, 0.20, 0.50, 0.20, 0.05)
#: Standard deviation of five equally likely levels {0, .25, .5, .75, 1}: sqrt(1/8).
_LEVEL_STD = float(np.sqrt(0.125))
#: Gaussian cut points for five equally likely levels.
_FEATURE_CUTS = ndtri(np.array([0.2, 0.4, 0.6, 0.8]))


@dataclass(frozen=True)
class TournamentSpec:
    """Shape and signal of a synthetic tournament; everything is derived from it and ``seed``.

    Eras ``0 .. history_eras-1`` are the training history; live round ``r`` (1-based) is era
    ``history_eras + r - 1``. ``*_std`` are the standard deviations of the three signal groups in
    the latent target, whose noise has standard deviation ``noise_std``.
    """

    seed: int = 0
    n_features: int = 60
    n_factors: int = 6
    factor_loading: float = 0.5
    history_eras: int = 50
    history_rows_per_era: int = 1000
    live_rows: int = 2000
    regime_length: int = 20
    n_risky: int = 4
    n_stable: int = 12
    n_interactions: int = 8
    risky_std: float = 0.12
    stable_std: float = 0.06
    interaction_std: float = 0.12
    noise_std: float = 1.0

    def __post_init__(self) -> None:
        used = self.n_risky + self.n_stable + 2 * self.n_interactions
        if used > self.n_features:
            raise ValueError(f"{used} signal features requested but n_features = {self.n_features}")
        if not 0.0 <= self.factor_loading < 1.0:
            raise ValueError("factor_loading must be in [0, 1)")
        if min(self.history_eras, self.history_rows_per_era, self.live_rows, self.regime_length) < 1:
            raise ValueError("eras, rows and regime_length must be positive")

    @classmethod
    def round_files(cls, seed: int, n_features: int, live_rows: int) -> TournamentSpec:
        """The shape of the operator's round files (``tourney data generate``, the demo): a short history and
        Numerai-like strength, where the stable signal explains little of the target, so good models' CORR is about
        0.01-0.04 a round and payouts rarely reach the clip."""
        return cls(
            seed=seed,
            n_features=n_features,
            n_factors=4,
            n_risky=2,
            n_stable=6,
            n_interactions=4,
            history_eras=1,
            history_rows_per_era=10,
            live_rows=live_rows,
            risky_std=0.1,
            stable_std=0.06,
            interaction_std=0.05,
        )

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def live_era_of(self, round_number: int) -> int:
        """Era index of live round ``round_number`` (1-based)."""
        if round_number < 1:
            raise ValueError("rounds are numbered from 1")
        return self.history_eras + round_number - 1

    def regime(self, era: int) -> int:
        """s(e) = (-1)^floor(e / regime_length): the sign of the risky features' effects."""
        return 1 if (era // self.regime_length) % 2 == 0 else -1


def feature_names(n_features: int) -> list[str]:
    """Obfuscated column names, zero-padded so they sort in column order."""
    width = max(4, len(str(n_features - 1)))
    return [f"feature_{j:0{width}d}" for j in range(n_features)]


def era_name(era: int) -> str:
    """Numerai writes eras as zero-padded strings."""
    return f"{era + 1:04d}"


@dataclass(frozen=True)
class World:
    """The hidden coefficients of a spec: which features matter, how, and with what weight.

    Drawn once from ``seed``; participants never see it (tests and reports may).
    """

    spec: TournamentSpec
    loadings: np.ndarray = field(repr=False)  # (n_factors, n_features)
    risky: np.ndarray  # feature indices whose effect flips with the regime
    risky_coef: np.ndarray
    stable: np.ndarray
    stable_coef: np.ndarray
    pairs: np.ndarray  # (n_interactions, 2) feature indices
    pair_coef: np.ndarray

    @classmethod
    def of(cls, spec: TournamentSpec) -> "World":
        rng = np.random.default_rng([spec.seed, 2**31 - 1])
        n = spec.n_features
        # Each feature loads on one factor mostly, so features come in correlated families
        # (as Numerai's feature groups do) without any feature being a copy of another.
        loadings = np.zeros((spec.n_factors, n))
        family = rng.integers(0, spec.n_factors, size=n)
        strength = spec.factor_loading * rng.uniform(0.5, 1.0, size=n)
        loadings[family, np.arange(n)] = strength
        chosen = rng.permutation(n)
        k = 0
        risky = np.sort(chosen[k : k + spec.n_risky])
        k += spec.n_risky
        stable = np.sort(chosen[k : k + spec.n_stable])
        k += spec.n_stable
        pairs = chosen[k : k + 2 * spec.n_interactions].reshape(-1, 2)
        return cls(
            spec=spec,
            loadings=loadings,
            risky=risky,
            risky_coef=_group_coefficients(rng, spec.n_risky),
            stable=stable,
            stable_coef=_group_coefficients(rng, spec.n_stable),
            pairs=pairs,
            pair_coef=_group_coefficients(rng, spec.n_interactions),
        )

    @cached_property
    def feature_columns(self) -> list[str]:
        return feature_names(self.spec.n_features)

    def draw_levels(self, era: int, rows: int, stream: int) -> np.ndarray:
        """(rows, n_features) level indices 0..4 of one era, from stream ``(seed, era, stream)``."""
        rng = np.random.default_rng([self.spec.seed, era, stream])
        factors = rng.standard_normal((rows, self.spec.n_factors), dtype=np.float32)
        idio = rng.standard_normal((rows, self.spec.n_features), dtype=np.float32)
        residual = np.sqrt(1.0 - (self.loadings**2).sum(axis=0)).astype(np.float32)
        latent = factors @ self.loadings.astype(np.float32)
        latent += idio * residual
        return np.searchsorted(_FEATURE_CUTS.astype(np.float32), latent).astype(np.int8)

    def latent_target(self, levels: np.ndarray, era: int, stream: int) -> np.ndarray:
        """y of the module docstring for one era's level indices."""
        spec = self.spec
        x = lambda cols: (levels[:, cols].astype(np.float64) / 4.0 - 0.5) / _LEVEL_STD  # noqa: E731
        y = spec.regime(era) * spec.risky_std * (x(self.risky) @ self.risky_coef)
        y += spec.stable_std * (x(self.stable) @ self.stable_coef)
        if len(self.pairs):
            products = x(self.pairs[:, 0]) * x(self.pairs[:, 1])
            y += spec.interaction_std * (products @ self.pair_coef)
        rng = np.random.default_rng([spec.seed, era, stream, 1])
        y += spec.noise_std * rng.standard_normal(len(levels))
        return y


def _group_coefficients(rng: np.random.Generator, size: int) -> np.ndarray:
    """Random-sign weights with unit Euclidean norm, so a group of independent standardised
    features contributes exactly unit variance before its ``*_std`` scale."""
    if size == 0:
        return np.zeros(0)
    weights = rng.uniform(0.5, 1.0, size) * rng.choice([-1.0, 1.0], size)
    return weights / np.linalg.norm(weights)


def quantise_target(y: np.ndarray) -> np.ndarray:
    """Bin y by rank into the five levels at TARGET_PROPORTIONS (ties broken by position)."""
    order = np.argsort(y, kind="stable")
    bounds = np.round(np.cumsum(TARGET_PROPORTIONS) * len(y)).astype(int)
    bins = np.searchsorted(bounds, np.arange(len(y)), side="right")
    out = np.empty(len(y), dtype=np.float32)
    out[order] = LEVELS[np.minimum(bins, 4)]
    return out


_HISTORY_STREAM = 0
_LIVE_STREAM = 1


def era_frame(world: World, era: int, rows: int, stream: int = _HISTORY_STREAM) -> pd.DataFrame:
    """One era as a Numerai-layout frame: id, era, feature_*, target."""
    levels = world.draw_levels(era, rows, stream)
    target = quantise_target(world.latent_target(levels, era, stream))
    prefix = "n" if stream == _HISTORY_STREAM else "l"
    ids = [f"{prefix}{world.spec.seed:04x}{era:05d}{i:07d}" for i in range(rows)]
    features = pd.DataFrame(LEVELS[levels], columns=world.feature_columns)
    frame = pd.concat(
        [pd.DataFrame({"id": ids, "era": era_name(era)}), features, pd.DataFrame({"target": target})], axis=1
    )
    return frame


def live_era(world: World, round_number: int) -> pd.DataFrame:
    """The live era of a round, targets included (the simulation reveals them only after scoring)."""
    return era_frame(world, world.spec.live_era_of(round_number), world.spec.live_rows, _LIVE_STREAM)


def iter_history(world: World) -> Iterator[pd.DataFrame]:
    for era in range(world.spec.history_eras):
        yield era_frame(world, era, world.spec.history_rows_per_era, _HISTORY_STREAM)


def write_history(world: World, path: str | Path) -> Path:
    """Stream the training history to one Parquet file, one row group per era (memory: one era)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer: pq.ParquetWriter | None = None
    try:
        for frame in iter_history(world):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return path


def write_live_round(world: World, round_number: int, directory: str | Path) -> tuple[Path, Path]:
    """Write ``live_NNNNN.parquet`` (id, era, features) and ``targets_NNNNN.parquet`` (id, target).

    Kept apart as in the tournament: participants get the features, the targets come later.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frame = live_era(world, round_number)
    live_path = directory / f"live_{round_number:05d}.parquet"
    target_path = directory / f"targets_{round_number:05d}.parquet"
    pq.write_table(pa.Table.from_pandas(frame.drop(columns="target"), preserve_index=False), live_path)
    pq.write_table(pa.Table.from_pandas(frame[["id", "target"]], preserve_index=False), target_path)
    return live_path, target_path


def read_parquet(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read one of the files above (any fsspec URL works through pyarrow's filesystem layer)."""
    return pq.read_table(path, columns=columns).to_pandas()
