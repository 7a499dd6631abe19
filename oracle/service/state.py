"""What the request handlers and the scheduler share: the database (migrated on start) and its submission ledger,
per-thread chain clients, the chain view (owners, deadlines and the clock from memory kept fresh from events), the
live ids and the published bundles, and the submission intake."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import fsspec
import pandas as pd
from web3 import Web3

from oracle.bundle.round_bundle import RoundBundle, load_bundle
from oracle.bundle.store import BundleError
from oracle.chain.client import RoundState, RoundStatus, TournamentClient
from oracle.chain.tx import ChainError
from oracle.operator.round_data import live_path
from oracle.protocol.inbox import Inbox
from oracle.service.chain_view import ChainView
from oracle.service.config import ServiceConfig
from oracle.service.db.engine import Database
from oracle.service.db.ledger import Ledger
from oracle.service.db.source import LedgerInbox
from oracle.service.intake import Intake
from oracle.service.metrics import Metrics
from oracle.service.prediction_check import LiveIds
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
        self._live_ids: dict[int, LiveIds] = {}
        self._bundles: dict[str, RoundBundle] = {}
        self.tournament = Web3.to_checksum_address(self.config.deployment.tournament)
        self.chain_id = int(self.config.deployment.chain_id)
        self.scheduler: "Scheduler | None" = None
        self.executor: ThreadPoolExecutor | None = None
        self.db = Database(
            self.config.database_url, pool_size=self.config.intake_threads + 4, on_error=self.metrics.db_error
        )
        self.schema_revision = self.db.migrate()
        self.ledger = Ledger(self.db)
        self.chain = ChainView(
            lambda: self.client, self.db, int(self.config.deployment.block), poll=self.config.chain_poll
        )
        self.intake = Intake(self, self.ledger)

    def submissions_source(self) -> LedgerInbox:
        """What the operator snapshots rounds from: the ledger, with the files in the inbox."""
        return LedgerInbox(self.ledger, Inbox(self.config.inbox))

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
            raise ApiError(
                503,
                "chain_unavailable",
                f"the service cannot {what} from the chain right now ({exc}); try again shortly",
            ) from None

    def owner_of(self, model_id: int) -> str | None:
        """A model's owner (from the chain view: ownership is fixed at registration, the contract has no transfer)."""
        return self.read_chain(f"read model {model_id}", lambda: self.chain.owner_of(model_id))

    def live_ids(self, round: int) -> LiveIds | None:
        """The round's live ids from the operator's round data (None while unpublished)."""
        if round not in self._live_ids:
            frame = self._read_live(round)
            if frame is None:
                return None
            self._live_ids[round] = LiveIds([str(i) for i in frame["id"]])
        return self._live_ids[round]

    def check_database(self) -> str:
        """The database answers a transaction (raises otherwise); says which database and schema revision."""
        return f"{self.db.backend} schema {self.db.ping()}"

    def check_store(self) -> str:
        """The inbox and the artifact store are reachable (raises otherwise)."""
        for name, url in (("inbox", self.config.inbox), ("store", self.config.store)):
            fs, root = fsspec.core.url_to_fs(url)
            fs.makedirs(root, exist_ok=True)
            if not fs.isdir(root):
                raise OSError(f"the {name} {url} is not a directory")
        return "inbox and store reachable"

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
            raise ApiError(
                404,
                "no_proposal",
                f"round {round} is {state.status.phrase}: it has no proposed "
                "root yet, so there are no published results",
            )
        proposal = self.read_chain(f"read the proposal of round {round}", lambda: self.client.current_proposal(round))
        if proposal is None:
            raise ApiError(404, "no_proposal", f"round {round} has no standing proposal")
        cached = self._bundles.get(proposal.manifest_hash)
        if cached is None:
            try:
                cached = load_bundle(proposal.manifest_uri, expected_keccak=proposal.manifest_hash)
            except (BundleError, OSError) as exc:
                raise ApiError(
                    503,
                    "bundle_unavailable",
                    f"round {round}: the published bundle {proposal.manifest_uri} cannot be read ({exc})",
                ) from None
            self._bundles[proposal.manifest_hash] = cached
        return cached, state.status.label

    # -------------------------------------------------------------- reads

    def round_out(self, round: int, now: int, state: RoundState | None = None) -> RoundOut:
        """A round's state as the API shows it (``state``: already read at the caller's block)."""
        if state is None:
            state = self.read_chain(f"read round {round}", lambda: self.client.round_state(round))
        left = max(0, state.closes_at - now) if state.status is RoundStatus.OPEN else 0
        # A closed round lapses at its close + D unless a root is active by then (0 while open: no close yet).
        lapses_at = state.lapses_at if state.status not in (RoundStatus.NONE, RoundStatus.OPEN) else None
        return RoundOut(
            round=round,
            status=state.status.label,
            closes_at=state.closes_at,
            seconds_left=left,
            closed_at=state.closed_at,
            activates_at=state.activates_at,
            root=state.root,
            lapses_at=lapses_at or None,
        )

    def refresh_round_metrics(self) -> None:
        last_closed = self.read_chain("read the round cursor", self.client.cursor).last_closed
        for round in range(max(1, last_closed - 2), last_closed + 2):
            state = self.read_chain(f"read round {round}", lambda r=round: self.client.round_state(r))
            if state.status is not RoundStatus.NONE:
                self.metrics.set_round(round, int(state.status), state.status is RoundStatus.OPEN)
