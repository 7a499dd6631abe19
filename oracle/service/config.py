"""The service's settings."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

from oracle.chain.deploy import Deployment
from oracle.scoring.params import RoundParams
from oracle.service.db.engine import default_url

__all__ = ["HISTORY_ROUNDS", "LOGGER_NAME", "ServiceConfig"]

LOGGER_NAME = "tourney.service"
#: History endpoints look back at most this many rounds (the contract keeps 64 roots).
HISTORY_ROUNDS = 64


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the service needs. ``operator`` signs receipts (and, with the scheduler, the round
    transactions); ``db`` is the database URL (``sqlite:///PATH`` or ``postgresql://...``), by default a SQLite
    file in the ``state`` directory; ``intake_threads`` submissions are checked at once per worker (off the event
    loop; a few per core: more only contend for the interpreter lock, which measurably lengthens the slowest
    answers); ``chain_poll`` is how often the chain view reads the latest block and new events."""

    rpc: str
    deployment: Deployment
    operator: LocalAccount
    inbox: str
    store: str
    round_data: str
    state: str
    params: RoundParams
    max_body_bytes: int = 16 * 2**20
    max_file_bytes: int = 8 * 2**20
    rate_capacity: float = 60.0
    rate_per_second: float = 1.0
    scheduler: bool = True
    scheduler_poll: float = 2.0
    submission_window: int = 3600
    max_rounds: int | None = None
    #: The built web app served at ``/`` (None: ``TOURNEY_WEB_DIR`` or web/dist in the repository).
    web_dir: str | None = None
    #: Where this service is reached (manifest URIs are posted under <public_url>/bundles); None: the store's URIs.
    public_url: str | None = None
    db: str | None = None
    intake_threads: int = 4
    chain_poll: float = 0.25

    @property
    def database_url(self) -> str:
        return self.db or default_url(self.state)

    def __post_init__(self) -> None:
        if self.max_file_bytes < 1 or self.max_body_bytes < self.max_file_bytes:
            raise ValueError(
                f"need 1 <= max_file_bytes <= max_body_bytes, got {self.max_file_bytes}, {self.max_body_bytes}"
            )
        if self.intake_threads < 1 or self.chain_poll <= 0:
            raise ValueError(
                f"need intake_threads >= 1 and chain_poll > 0, got {self.intake_threads}, {self.chain_poll}"
            )
