"""What the operator needs before each step, and what it waits for next.

* A round opens only once its live data is published (``live_<r>.parquet`` under the round data): participants
  could not predict otherwise. Opening it first publishes the round's rules (:mod:`oracle.protocol.rules`).
* A round resolves only once its targets are published (``targets_<r>.parquet``).
* When nothing is due, :func:`next_steps` says what comes next and when (by the chain's clock), or which file is
  missing, so "nothing due" is never the whole answer.
"""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import fsspec
import pandas as pd

from oracle.bundle.mirrors import add_alias, public_base
from oracle.bundle.store import ArtifactStore
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.clock import format_time, stale_clock_warning
from oracle.operator.config import OperatorConfig, OperatorError
from oracle.operator.round_data import live_path
from oracle.protocol.inbox import Inbox
from oracle.protocol.rules import RoundRules, rules_record_name

__all__ = [
    "Notices",
    "live_missing",
    "next_steps",
    "no_models",
    "open_blocker",
    "prepare_paths",
    "publish_rules",
    "published_uri",
    "round_data_missing",
    "stays_open",
    "targets_missing",
]


def _names(kind: str, round: int) -> str:
    return f"{kind}_{round:05d}.parquet (or {kind}_{round}.parquet)"


def round_data_missing(url: str) -> str | None:
    """Why the round data cannot be read at all (a typo must not look like "nothing due"), or None."""
    fs, root = fsspec.core.url_to_fs(url)
    if fs.exists(root):
        return None
    return (
        f"round data {url} does not exist: it is the directory (or fsspec URL) holding each round's "
        "live_<r>.parquet and targets_<r>.parquet; check --round-data / TOURNEY_ROUND_DATA (`tourney data "
        "generate` makes a synthetic one)"
    )


def live_missing(config: OperatorConfig, round: int) -> str | None:
    """Why ``round`` cannot open for lack of live data (naming the file), or None when it is published."""
    if live_path(config.round_data, round) is not None:
        return None
    unreadable = round_data_missing(config.round_data)
    if unreadable:
        return f"round {round} is not opened: {unreadable}"
    return (
        f"round {round} is not opened: its live data is not published: no {_names('live', round)} under "
        f"{config.round_data}"
    )


def no_models(client: TournamentClient, round: int) -> str | None:
    """Why ``round`` waits to open while no model is registered: a round closed without models has no settlement
    tree, so it could never be proposed, and every later round would wait behind it."""
    if client.model_count() > 0:
        return None
    return (
        f"round {round} is not opened: no model is registered yet (a round needs at least one model to settle); "
        "it opens once a participant registers one"
    )


def stays_open(round: int) -> str:
    return (
        f"round {round} is past its deadline but stays open: no model is registered yet (a round closed without "
        "models could never settle); it closes once a participant registers one"
    )


def targets_missing(config: OperatorConfig, round: int) -> str | None:
    """Why a closed round cannot resolve for lack of targets (naming the file), or None when they are published."""
    unreadable = round_data_missing(config.round_data)
    if unreadable:
        return f"round {round} cannot resolve: {unreadable}"
    base = config.round_data.rstrip("/")
    for name in (f"targets_{round:05d}.parquet", f"targets_{round}.parquet"):
        fs, path = fsspec.core.url_to_fs(f"{base}/{name}")
        if fs.exists(path):
            return None
    return f"round {round} waits for its targets: publish {_names('targets', round)} under {config.round_data}"


def publish_rules(store: ArtifactStore, config: OperatorConfig, round: int) -> RoundRules:
    """Write the rules of ``round`` (its parameters and the live file's hash and id count) into the store."""
    path = live_path(config.round_data, round)
    if path is None:
        raise OperatorError(live_missing(config, round) or f"round {round}: no live data")
    with fsspec.open(path, "rb") as handle:
        data = handle.read()
    ids = len(pd.read_parquet(io.BytesIO(data), columns=["id"]))
    rules = RoundRules(
        round=round,
        params=replace(config.params, round_number=round),
        live_file=path.rstrip("/").rsplit("/", 1)[-1],
        live_sha256=hashlib.sha256(data).hexdigest(),
        live_ids=ids,
    )
    store.put_record(rules_record_name(round), rules.to_bytes())
    return rules


def next_steps(client: TournamentClient, config: OperatorConfig) -> list[str]:
    """What the operator waits for, by the chain's clock: the next round to resolve, and the open (or next) one."""
    now = client.now()
    cursor = client.cursor()
    last_closed, last_resolved = int(cursor[0]), int(cursor[1])
    waits: list[str] = []
    for round in range(last_resolved + 1, last_closed + 1):
        state = client.round_state(round)
        if state.status is RoundStatus.PROPOSED:
            waits.append(
                f"round {round} is proposed; its challenge window ends {format_time(state.activates_at, now)},"
                " then it is activated"
            )
            break
        if state.status in (RoundStatus.CLOSED, RoundStatus.VETOED):
            waits.append(
                targets_missing(config, round) or f"round {round} is {state.status.phrase} and can resolve now"
            )
            break
    round = last_closed + 1
    state = client.round_state(round)
    if state.status is RoundStatus.OPEN:
        past = now >= state.closes_at and client.model_count() == 0
        waits.append(
            stays_open(round) if past else f"round {round} is open; it closes {format_time(state.closes_at, now)}"
        )
    elif config.max_rounds is not None and round > config.max_rounds:
        waits.append(f"no round after {config.max_rounds} (--max-rounds)")
    elif state.status is RoundStatus.NONE:
        waits.append(live_missing(config, round) or no_models(client, round) or f"round {round} can open now")
    return waits


def open_blocker(client: TournamentClient, config: OperatorConfig, round: int, wait_for_models: bool) -> str | None:
    """Why ``round`` cannot open now (its live data, or with ``wait_for_models`` the first model), or None."""
    missing = live_missing(config, round)
    if missing is None and wait_for_models:
        missing = no_models(client, round)
    return missing


def prepare_paths(config: OperatorConfig, store: ArtifactStore, inbox: Inbox) -> None:
    """The inbox exists from the start (a participant's client refuses a missing one: a mistyped path); the
    operator's own public manifest URIs are read from its store."""
    inbox.fs.makedirs(inbox.root, exist_ok=True)
    if config.public_url:
        add_alias(config.public_url, store.url)


def published_uri(config: OperatorConfig, store: ArtifactStore, uri: str) -> str:
    """The manifest URI posted on-chain: under ``public_url`` when set (anyone can open it), else the store's."""
    root = store.url.rstrip("/")
    if not config.public_url or not uri.startswith(root + "/"):
        return uri
    return public_base(config.public_url) + uri[len(root) :]


@dataclass
class Notices:
    """What the operator says while it waits: each wait once (not on every pass), and a chain clock that stands
    still at most every five minutes (nothing would ever fall due)."""

    log: Callable[[str], None]
    said: set[str] = field(default_factory=set)
    clock_warned_at: float = float("-inf")

    def wait(self, message: str | None) -> list[Any]:
        """Say ``message`` once; nothing was done (the empty list of actions)."""
        if message and message not in self.said:
            self.said.add(message)
            self.log(message)
        return []

    def refuse(self, message: str, strict: bool) -> list[Any]:
        if strict:
            raise OperatorError(message)
        return self.wait(message)

    def check_clock(self, client: TournamentClient) -> None:
        warning = stale_clock_warning(client.now())
        if warning and time.monotonic() - self.clock_warned_at > 300:
            self.clock_warned_at = time.monotonic()
            self.log(f"warning: {warning}")
