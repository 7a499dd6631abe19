"""What the web app's routes share beside the :class:`~oracle.service.state.Service`: the event history, the
background auditor, the leaderboard's cache, the token's description, and each published bundle's manifest and
results (scores and tree leaves by model id), cached by manifest hash since a bundle never changes. Only the files
a route needs are read from a bundle, each checked against its manifest entry: a whole bundle holds every model's
predictions, far more than the pages show."""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from oracle.bundle.fetch import FetchPolicy, TrustedReader
from oracle.bundle.manifest import Manifest, ManifestError, keccak_hex
from oracle.bundle.parquet import read_parquet_bytes
from oracle.bundle.round_bundle import SCORES, TREE, read_manifest, store_root_of
from oracle.bundle.store import BundleError, join_path
from oracle.chain.client import Proposal, RoundState, RoundStatus
from oracle.service.audit import Auditor
from oracle.service.history import ChainHistory
from oracle.service.ratelimit import RateLimiter
from oracle.service.schemas import ApiError
from oracle.service.state import Service
from oracle.service.web_schemas import TokenOut
from oracle.settlement.leaves import leaves_of_dump

__all__ = ["RoundScores", "WebState", "audit_policy", "get_web"]


def audit_policy(store: str) -> FetchPolicy:
    """What the background auditor may read, as ``tourney verify`` would: the allow-list of the environment
    (``TOURNEY_MANIFEST_ROOTS``/``_HOSTS``) and this service's own store when it is a local directory (its public
    manifest URIs are read there first, oracle.bundle.mirrors)."""
    policy = FetchPolicy.from_env()
    local = store.removeprefix("file://")
    if "://" in local:
        return policy
    return FetchPolicy(roots=(*policy.roots, local), hosts=policy.hosts)


@dataclass(frozen=True)
class RoundScores:
    """One bundle's per-model results: (corr, mmc) with None for undefined, and the cumulative leaves."""

    scores: dict[int, tuple[float | None, float | None]]
    rows: dict[int, dict[str, Any]]
    leaves: dict[int, tuple[int, int]]


def _score(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _amount(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(int(value))


class WebState:
    """Created with the app; the auditor thread runs with the app's lifespan."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.history = ChainHistory(lambda: service.client, int(service.config.deployment.block))
        self.auditor = Auditor(lambda: service.client, audit_policy(service.config.store))
        # Checking a file parses it: limited per client address like submissions are per signer.
        self.validate_limiter = RateLimiter(service.config.rate_capacity, service.config.rate_per_second)
        self._token: TokenOut | None = None
        self._results: dict[str, RoundScores] = {}
        self._manifests: dict[str, tuple[str, Manifest]] = {}
        self._lock = threading.Lock()
        from oracle.service.board import Board  # the board reads through this state

        self.board = Board(self)

    def sync(self) -> tuple[int, int]:
        """(block, chain time) now, with the event history extended to that block."""
        block, now = self.service.chain_clock()
        self.service.read_chain("read the tournament's events", lambda: self.history.sync(block))
        return block, now

    def token(self) -> TokenOut:
        """The stake token's address, name, symbol and decimals (read once: they never change)."""
        if self._token is None:
            token = self.service.client.token
            name, symbol, decimals = self.service.read_chain(
                "read the token",
                lambda: (
                    token.functions.name().call(),
                    token.functions.symbol().call(),
                    token.functions.decimals().call(),
                ),
            )
            self._token = TokenOut(address=token.address, name=name, symbol=symbol, decimals=int(decimals))
        return self._token

    def round_states(self, newest: int, count: int) -> list[RoundState]:
        """``roundInfo`` of rounds ``newest`` down to ``newest - count + 1`` (never below 1), newest first."""
        client = self.service.client
        return [
            self.service.read_chain(f"read round {r}", lambda r=r: client.round_state(r))
            for r in range(newest, max(0, newest - count), -1)
        ]

    def standing(self, state: RoundState) -> Proposal | None:
        """The proposal standing for a round (its latest, while the round is proposed or active)."""
        if state.status not in (RoundStatus.PROPOSED, RoundStatus.ACTIVE):
            return None
        found = self.history.proposals(state.round)
        return found[-1] if found else None

    def manifest(self, proposal: Proposal) -> Manifest:
        """A proposal's manifest, checked against the hash posted on chain (cached: content-addressed)."""
        return self._located(proposal)[1]

    def _located(self, proposal: Proposal) -> tuple[str, Manifest]:
        """(the store root its objects are under, the manifest): read as the auditor reads a bundle (the service's
        own store for its public URIs, the URI, then the bundle mirrors; oracle.bundle.round_bundle)."""
        with self._lock:
            cached = self._manifests.get(proposal.manifest_hash)
        if cached is not None:
            return cached
        where = f"round {proposal.round}: the published manifest {proposal.manifest_uri}"
        try:
            read_from, data = read_manifest(proposal.manifest_uri, TrustedReader())
            if keccak_hex(data) != proposal.manifest_hash:
                raise ManifestError(
                    f"it hashes to {keccak_hex(data)}, not to the manifestHash on chain {proposal.manifest_hash}"
                )
            cached = (store_root_of(read_from), Manifest.from_bytes(data, proposal.manifest_uri))
        except (BundleError, ManifestError, OSError) as exc:
            raise ApiError(503, "bundle_unavailable", f"{where} cannot be used ({exc})") from None
        with self._lock:
            self._manifests[proposal.manifest_hash] = cached
        return cached

    def file(self, proposal: Proposal, name: str) -> bytes:
        """One file of a proposal's bundle, checked against its manifest entry (only that file is read: a whole
        bundle holds every model's predictions)."""
        root, manifest = self._located(proposal)
        entry = manifest.files[name]
        try:
            data = TrustedReader().read(join_path(root, "objects", f"{entry.sha256}.{entry.extension}"), entry.size)
        except (BundleError, OSError) as exc:
            raise ApiError(
                503,
                "bundle_unavailable",
                f"round {proposal.round}: {name} of the published bundle cannot be read ({exc})",
            ) from None
        problem = entry.mismatch(data)
        if problem:
            raise ApiError(
                503,
                "bundle_unavailable",
                f"round {proposal.round}: {name} of the published bundle does not match its manifest ({problem})",
            )
        return data

    def results(self, proposal: Proposal) -> RoundScores:
        """Scores, per-model result rows and cumulative leaves of a proposal's bundle (503 when unreadable)."""
        with self._lock:
            cached = self._results.get(proposal.manifest_hash)
        if cached is not None:
            return cached
        try:
            table = read_parquet_bytes(self.file(proposal, SCORES), f"round {proposal.round} {SCORES}")
            leaves = {
                int(k): (int(p), int(b)) for k, (p, b) in leaves_of_dump(json.loads(self.file(proposal, TREE))).items()
            }
        except (KeyError, ValueError) as exc:
            raise ApiError(
                503,
                "bundle_unavailable",
                f"round {proposal.round}: the published bundle's results cannot be read ({exc})",
            ) from None
        scores: dict[int, tuple[float | None, float | None]] = {}
        rows: dict[int, dict[str, Any]] = {}
        for row in table.to_dict("records"):
            model = str(row.get("model"))
            if not model.isdigit():
                continue
            model_id = int(model)
            scores[model_id] = (_score(row.get("corr")), _score(row.get("mmc")))
            rows[model_id] = {
                "stake_at_risk": _amount(row.get("stake_at_risk")),
                "payout": _amount(row.get("payout")),
                "burn": _amount(row.get("burn")),
                "corr": scores[model_id][0],
                "mmc": scores[model_id][1],
            }
        cached = RoundScores(scores, rows, leaves)
        with self._lock:
            self._results[proposal.manifest_hash] = cached
        return cached

    def start(self) -> None:
        self.auditor.start()

    def stop(self) -> None:
        self.auditor.stop_event.set()
        self.auditor.join(timeout=10)


def get_web(request: Request) -> WebState:
    """The :class:`WebState` the app was created with (``app.state.web``)."""
    return request.app.state.web
