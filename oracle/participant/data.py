"""A round's data on the participant's disk: the live data to predict and the round's rules, downloaded from the
operator's service (``<service>/rounds/<r>/live`` and ``/rules``) into a data directory::

    <data dir>/live_<r>.parquet    id, era, feature_* (what to predict)
    <data dir>/rules_<r>.json      the round's published rules (oracle.protocol.rules)

The live file is checked against the hash the rules name. ``tourney submit`` reads both back to check a prediction
file before signing it.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import requests

from oracle.participant.models import ParticipantError
from oracle.protocol.rules import RoundRules, RulesError

__all__ = [
    "DEFAULT_DATA_DIR",
    "Download",
    "RoundCheck",
    "download_round",
    "live_file",
    "local_live_ids",
    "local_rules",
    "round_check",
    "rules_file",
    "service_rules",
]

#: Where round data goes unless --data-dir (TOURNEY_DATA_DIR) says otherwise: ./data.
DEFAULT_DATA_DIR = "data"
_CHUNK = 1 << 16

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Download:
    """What ``download_round`` wrote."""

    round: int
    live: Path
    rows: int
    sha256: str
    rules: Path | None


def live_file(directory: str | os.PathLike[str], round: int) -> Path:
    return Path(directory) / f"live_{int(round)}.parquet"


def rules_file(directory: str | os.PathLike[str], round: int) -> Path:
    return Path(directory) / f"rules_{int(round)}.json"


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _get(url: str, what: str, on_progress: Progress | None = None, timeout: float = 60.0) -> bytes | None:
    """The body of ``url`` (None on 404), streamed with progress; a ParticipantError saying what failed."""
    try:
        with requests.get(url, stream=True, timeout=timeout) as response:
            if response.status_code == 404:
                return None
            if response.status_code >= 400:
                raise ParticipantError(f"{what}: {url} answered HTTP {response.status_code}: {response.text[:300]}")
            total = int(response.headers.get("Content-Length") or 0) or None
            buffer = io.BytesIO()
            for chunk in response.iter_content(_CHUNK):
                buffer.write(chunk)
                if on_progress is not None:
                    on_progress(buffer.tell(), total)
            return buffer.getvalue()
    except requests.RequestException as exc:
        raise ParticipantError(
            f"{what}: the service at {url.split('/rounds/')[0]} does not answer ({exc}); check "
            "the URL the operator gave you (--from / TOURNEY_SERVICE)"
        ) from None


def service_rules(service: str, round: int) -> RoundRules | None:
    """The round's rules from the service (None when it publishes none for the round)."""
    data = _get(f"{service.rstrip('/')}/rounds/{int(round)}/rules", f"round {round}'s rules")
    return None if data is None else RoundRules.from_bytes(data, f"{service}/rounds/{round}/rules")


def download_round(
    service: str, round: int, directory: str | os.PathLike[str], on_progress: Progress | None = None
) -> Download:
    """Download round ``round``'s live data and rules from the service into ``directory``."""
    base = service.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ParticipantError(f"{service!r} is not the operator service's URL: write it as http://HOST:PORT")
    data = _get(f"{base}/rounds/{int(round)}/live", f"round {round}'s live data", on_progress)
    if data is None:
        raise ParticipantError(
            f"round {round} has no live data at {base} yet: it has not been opened (`tourney "
            f"round wait {round} --until open` waits for it)"
        )
    try:
        frame = pd.read_parquet(io.BytesIO(data), columns=None)
    except Exception as exc:  # noqa: BLE001 - whatever pyarrow says, the file is unusable
        raise ParticipantError(f"the service's live data for round {round} is not a Parquet file: {exc}") from None
    if "id" not in frame.columns:
        raise ParticipantError(f"the service's live data for round {round} has no 'id' column")
    digest = hashlib.sha256(data).hexdigest()
    rules = service_rules(base, round)
    if rules is not None and rules.live_sha256 != digest:
        raise ParticipantError(
            f"round {round}'s live data (sha256 {digest}) is not the file its rules name "
            f"({rules.live_sha256}); nothing saved: ask the operator"
        )
    live_path = live_file(directory, round)
    _write_atomic(live_path, data)
    rules_path = None
    if rules is not None:
        rules_path = rules_file(directory, round)
        _write_atomic(rules_path, rules.to_bytes())
    return Download(round=int(round), live=live_path, rows=len(frame), sha256=digest, rules=rules_path)


def local_rules(directory: str | os.PathLike[str], round: int) -> RoundRules | None:
    """The round's rules saved by ``download_round``, or None."""
    path = rules_file(directory, round)
    if not path.is_file():
        return None
    try:
        rules = RoundRules.from_bytes(path.read_bytes(), str(path))
    except RulesError as exc:
        raise ParticipantError(f"{exc}: download the round again (`tourney data download --round {round}`)") from None
    if rules.round != int(round):
        raise ParticipantError(f"{path} holds the rules of round {rules.round}, not round {round}")
    return rules


def local_live_ids(directory: str | os.PathLike[str], round: int) -> list[str] | None:
    """The round's live ids from the downloaded live file, or None when it is not downloaded."""
    path = live_file(directory, round)
    if not path.is_file():
        return None
    return [str(i) for i in pd.read_parquet(path, columns=["id"])["id"]]


@dataclass(frozen=True)
class RoundCheck:
    """What a prediction file is checked against before signing: the round's live ids and its live-share rule."""

    live_ids: list[str]
    min_live_share: float
    source: str


def round_check(round: int, directory: str | os.PathLike[str], service: str | None = None) -> RoundCheck:
    """The round's own rules and live ids: from the data directory, else from the service. Without published rules
    the strictest rule applies (every live id predicted); a participant can never loosen the round's rule."""
    ids = local_live_ids(directory, round)
    rules = local_rules(directory, round)
    where = str(live_file(directory, round))
    if ids is None and service:
        data = _get(f"{service.rstrip('/')}/rounds/{int(round)}/live", f"round {round}'s live data")
        if data is None:
            raise ParticipantError(f"round {round} has no live data at {service}: it has not been opened yet")
        ids = [str(i) for i in pd.read_parquet(io.BytesIO(data), columns=["id"])["id"]]
        where = f"{service.rstrip('/')}/rounds/{round}/live"
        if rules is None:
            rules = service_rules(service, round)
            if rules is not None and rules.live_sha256 != hashlib.sha256(data).hexdigest():
                raise ParticipantError(f"round {round}'s live data at {service} is not the file its rules name")
    if ids is None:
        raise ParticipantError(
            f"no live data for round {round} in {directory}: download it first (`tourney data "
            f"download --round {round} --from URL`), or pass --data-dir where it is"
        )
    if rules is not None and rules.live_ids != len(ids):
        raise ParticipantError(
            f"{where} has {len(ids)} ids but round {round}'s rules say {rules.live_ids}: it is "
            f"not this round's live data; download it again"
        )
    if rules is None:
        return RoundCheck(ids, 1.0, f"{where} (no published rules: every live id must be predicted)")
    return RoundCheck(ids, rules.min_live_share, f"{where} and round {round}'s published rules")
