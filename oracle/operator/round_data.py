"""The operator's round data: each round's live ids (``live_<r>.parquet``) and, once the round resolves, its
targets (``targets_<r>.parquet``), under a directory or any fsspec URL; ``<r>`` plain or zero-padded to five
digits. The service reads the live files from here too."""

from __future__ import annotations

import io
from dataclasses import dataclass

import fsspec
import pandas as pd

from oracle.operator.config import OperatorError

__all__ = ["RoundData", "live_path", "load_round_data"]


@dataclass(frozen=True)
class RoundData:
    """A round's live ids and, once resolved, its targets (``id``, ``target``)."""

    live_ids: list[str]
    targets: pd.DataFrame | None


def _candidates(base: str, kind: str, round: int) -> list[str]:
    base = base.rstrip("/")
    return [f"{base}/{kind}_{round:05d}.parquet", f"{base}/{kind}_{round}.parquet"]


def _first_existing(paths: list[str]) -> str | None:
    for path in paths:
        fs, inner = fsspec.core.url_to_fs(path)
        if fs.exists(inner):
            return path
    return None


def live_path(base: str, round: int) -> str | None:
    """Where ``round``'s live data is, or None while it is not published."""
    return _first_existing(_candidates(base, "live", round))


def _read_first(paths: list[str], columns: list[str] | None = None) -> pd.DataFrame | None:
    path = _first_existing(paths)
    if path is None:
        return None
    with fsspec.open(path, "rb") as handle:
        return pd.read_parquet(io.BytesIO(handle.read()), columns=columns)


def load_round_data(base: str, round: int) -> RoundData | None:
    """The live ids of ``round`` from ``live_<r>.parquet`` (None when absent) and its targets when published."""
    live = _read_first(_candidates(base, "live", round), columns=["id"])
    if live is None:
        return None
    targets = _read_first(_candidates(base, "targets", round))
    if targets is not None:
        missing = {"id", "target"} - set(targets.columns)
        if missing:
            raise OperatorError(f"round {round}: targets file under {base} lacks column(s) {sorted(missing)}")
        targets = targets[["id", "target"]].assign(id=lambda t: t["id"].astype(str))
        targets = targets.sort_values("id", kind="stable").reset_index(drop=True)
    return RoundData(live_ids=sorted(str(i) for i in live["id"]), targets=targets)
