"""What the request handlers and the scheduler share: per-thread chain clients, cached chain reads (owners and
deadlines never change once set), the live ids and the published bundles, and the submission intake."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import fsspec
import pandas as pd
from web3 import Web3

from oracle.bundle.round_bundle import load_bundle, RoundBundle
from oracle.bundle.store import BundleError
from oracle.chain.client import RoundStatus, TournamentClient
from oracle.chain.tx import ChainError
from oracle.operator.round_data import live_path
from oracle.service.config import ServiceConfig
from oracle.service.intake import Intake
from oracle.service.metrics import Metrics
from oracle.service.schemas import ApiError, RoundOut

if TYPE_CHECKING:
    from oracle.service.scheduler import Scheduler

__all__ = ["Service"]


@dataclass
class Service:
    """State shared by the request handlers and the scheduler thread."""

    config: ServiceConfig
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        self._local = threading.local()
        self._owners: dict[int, str] = {}
        self._closes_at: dict[int, int] = {}
        self._live_ids: dict[int, pd.Index] = {}
        self._bundles: dict[str, RoundBundle] = {}
        self.tournament = Web3.to_checksum_address(self.config.deployment.tournament)
        self.chain_id = int(self.config.deployment.chain_id)
        self.scheduler: "Scheduler | None" = None
        self.intake = Intake(self)

    # -------------------------------------------------------------- chain access

    @property
    def client(self) -> TournamentClient:
        """One web3 client per thread: the HTTP session underneath is not shared between handler threads."""
        client = getattr(self._local, "client", None)
        if client is None:
            w3 = Web3(Web3.HTTPProvider(self.config.rpc, request_kwargs={"timeout": 30}))
            client = self._local.client = TournamentClient(w3, self.config.deployment)
        return client

    def chain_clock(self) -> tuple[int, int]:
        """(block number, timestamp) of the latest block: the clock deadlines are judged by."""
        block = self.read_chain("read the latest block", lambda: self.client.w3.eth.get_block("latest"))
        self.metrics.saw_block(int(block["number"]))
        return int(block["number"]), int(block["timestamp"])

    def read_chain(self, what: str, call: Any) -> Any:
        """``call()``; a chain that does not answer becomes a 503 the client can retry."""
        try:
            return call()
        except (ChainError, ConnectionError, OSError, TimeoutError) as exc:
            raise ApiError(503, "chain_unavailable", f"the service cannot {what} from the chain right now "
                           f"({exc}); try again shortly") from None

    def owner_of(self, model_id: int) -> str | None:
        # Ownership is fixed at registration (the contract has no transfer), so a found owner is cached forever.
        if model_id not in self._owners:
            owner = self.read_chain(f"read model {model_id}", lambda: self.client.owner_of(model_id))
            if owner is None:
                return None
            self._owners[model_id] = owner
        return self._owners[model_id]

    def closes_at(self, round: int) -> int | None:
        """The round's deadline, or None while the round was never opened (closesAt never changes once set)."""
        if round not in self._closes_at:
            state = self.read_chain(f"read round {round}", lambda: self.client.round_state(round))
            if state.status is RoundStatus.NONE:
                return None
            self._closes_at[round] = state.closes_at
        return self._closes_at[round]

    def live_ids(self, round: int) -> pd.Index | None:
        """The round's live ids from the operator's round data (None while unpublished)."""
        if round not in self._live_ids:
            frame = self._read_live(round)
            if frame is None:
                return None
            self._live_ids[round] = pd.Index(sorted(str(i) for i in frame["id"]))
        return self._live_ids[round]

    def live_path(self, round: int) -> str | None:
        return live_path(self.config.round_data, round)

    def _read_live(self, round: int) -> pd.DataFrame | None:
        path = self.live_path(round)
        if path is None:
            return None
        with fsspec.open(path, "rb") as handle:
            return pd.read_parquet(io.BytesIO(handle.read()), columns=["id"])

    def bundle(self, round: int) -> tuple[RoundBundle, str]:
        """The standing proposal's bundle of a round and its on-chain status (cached by manifest hash)."""
        state = self.read_chain(f"read round {round}", lambda: self.client.round_state(round))
        if state.status not in (RoundStatus.PROPOSED, RoundStatus.ACTIVE):
            raise ApiError(404, "no_proposal", f"round {round} is {state.status.label}: it has no proposed "
                           "root yet, so there are no published results")
        proposal = self.read_chain(f"read the proposal of round {round}", lambda: self.client.current_proposal(round))
        if proposal is None:
            raise ApiError(404, "no_proposal", f"round {round} has no standing proposal")
        cached = self._bundles.get(proposal.manifest_hash)
        if cached is None:
            try:
                cached = load_bundle(proposal.manifest_uri, expected_keccak=proposal.manifest_hash)
            except (BundleError, OSError) as exc:
                raise ApiError(503, "bundle_unavailable", f"round {round}: the published bundle "
                               f"{proposal.manifest_uri} cannot be read ({exc})") from None
            self._bundles[proposal.manifest_hash] = cached
        return cached, state.status.label

    # -------------------------------------------------------------- reads

    def round_out(self, round: int, now: int) -> RoundOut:
        state = self.read_chain(f"read round {round}", lambda: self.client.round_state(round))
        left = max(0, state.closes_at - now) if state.status is RoundStatus.OPEN else 0
        return RoundOut(round=round, status=state.status.label, closes_at=state.closes_at, seconds_left=left,
                        closed_at=state.closed_at, activates_at=state.activates_at, root=state.root)

    def refresh_round_metrics(self) -> None:
        last_closed = self.read_chain("read the round cursor", self.client.cursor).last_closed
        for round in range(max(1, last_closed - 2), last_closed + 2):
            state = self.read_chain(f"read round {round}", lambda r=round: self.client.round_state(r))
            if state.status is not RoundStatus.NONE:
                self.metrics.set_round(round, int(state.status), state.status is RoundStatus.OPEN)
