"""The state behind every tool call of one ``tourney mcp`` process, and the checks the tools share.

One :class:`ParticipantSession` per server process holds the connection (opened once, after the chain policy
check), the unlocked account (from the keystore, with the password from the environment: never an argument), the
spending limit and the request journal. Its helpers make the checks that come first in each tool (model registered
and owned, round opened, file inside the workdir, amount readable) so an agent gets a precise error code; the
participant library repeats them where it must.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from eth_account.signers.local import LocalAccount

from oracle.chain.client import ModelInfo, RoundState, RoundStatus, TournamentClient
from oracle.chain.connection import Connection, connect
from oracle.chain.keystore import Keystore
from oracle.mcp.errors import ToolFailure
from oracle.mcp.journal import RequestJournal
from oracle.mcp.limits import SpendingLimit
from oracle.mcp.outputs import LimitsOut
from oracle.mcp.policy import check_chain
from oracle.participant.amounts import format_amount, parse_amount
from oracle.participant.models import ParticipantError
from oracle.participant.receipts import load_receipts
from oracle.participant.service_client import ServiceClient
from oracle.protocol.receipt import Receipt

__all__ = ["DEFAULT_WORKDIR", "McpSettings", "ParticipantSession"]

DEFAULT_WORKDIR = Path("~/.tourney/mcp")


@dataclass(frozen=True)
class McpSettings:
    """How ``tourney mcp`` was started (the command's options)."""

    rpc: str
    deployment: str
    account: str | None = None
    keystore_dir: str | None = None
    service: str | None = None
    workdir: str | None = None
    max_stake: str | None = None
    max_stake_per_call: str | None = None
    allow_chains: tuple[int, ...] = ()


@dataclass
class ParticipantSession:
    """The state behind every tool call of one server process (see the module docstring)."""

    settings: McpSettings
    conn: Connection
    chain_kind: Literal["local", "allowed"]
    workdir: Path
    limit: SpendingLimit | None
    decimals: int
    symbol: str
    journal: RequestJournal | None = None
    _password: str | None = field(default=None, repr=False)

    # ------------------------------------------------------------------------------------------------ opening

    @classmethod
    def open(cls, settings: McpSettings, password: str | None) -> "ParticipantSession":
        """Check the chain policy, connect, unlock the account (if any) and set up the limit and the journal."""
        conn = connect(settings.rpc, settings.deployment)
        chain_kind = check_chain(settings.rpc, conn.chain_id, settings.allow_chains)
        if settings.account:
            if password is None:
                raise ParticipantError(
                    f"account {settings.account!r} needs its keystore password in TOURNEY_PASSWORD "
                    "(tourney mcp never prompts: stdin is the protocol)"
                )
            conn.account = Keystore(settings.keystore_dir).unlock(settings.account, password)
        decimals = int(conn.token.functions.decimals().call())
        symbol = str(conn.token.functions.symbol().call())
        limit = None
        if settings.max_stake is not None:
            session_cap = parse_amount(settings.max_stake, decimals)
            per_call = parse_amount(settings.max_stake_per_call or settings.max_stake, decimals)
            if per_call > session_cap:
                raise ParticipantError(
                    f"the per-call limit --max-stake-per-call {settings.max_stake_per_call} exceeds "
                    f"the session's --max-stake {settings.max_stake}"
                )
            limit = SpendingLimit(session_cap, per_call)
        elif settings.max_stake_per_call is not None:
            raise ParticipantError("--max-stake-per-call needs --max-stake (the session's limit)")
        workdir = Path(settings.workdir or DEFAULT_WORKDIR).expanduser().resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        session = cls(settings, conn, chain_kind, workdir, limit, decimals, symbol, _password=password)
        if conn.account is not None:
            tournament = conn.deployment.tournament.lower()
            session.journal = RequestJournal(
                workdir / "requests" / f"{conn.chain_id}-{tournament}-{conn.account.address.lower()}.json"
            )
        return session

    def secrets(self) -> list[str]:
        """Strings no output may contain: the private key (hex) and the keystore password."""
        found = []
        if self.conn.account is not None:
            found.append(bytes(self.conn.account.key).hex())
        if self._password and len(self._password) >= 6:
            found.append(self._password)
        return found

    # ------------------------------------------------------------------------------------------------ helpers

    @property
    def client(self) -> TournamentClient:
        return self.conn.client

    def tokens(self, units: int) -> str:
        """Smallest units as exact token text."""
        return format_amount(int(units), self.decimals)

    def address(self) -> str:
        """The signing account's address, or no_account."""
        return self.signer().address

    def signer(self) -> LocalAccount:
        """The signing account, or no_account."""
        if self.conn.account is None:
            raise ToolFailure("no_account", "this tool signs, and the server was started without --account")
        return self.conn.account

    def service_client(self) -> ServiceClient:
        """A client of the operator's service, or no_service."""
        if not self.settings.service:
            raise ToolFailure(
                "no_service", "this tool needs the operator's service, and the server was started without --service"
            )
        return ServiceClient(self.settings.service)

    def model(self, model_id: int) -> ModelInfo:
        """The model's on-chain record, or unknown_model."""
        info = self.client.model_info(int(model_id))
        if not info.registered:
            raise ToolFailure(
                "unknown_model",
                f"model {model_id} is not registered (this tournament has {self.client.model_count()} model(s))",
                model_id=model_id,
            )
        return info

    def own(self, model_id: int) -> ModelInfo:
        """The model's record when this account owns it, or unknown_model / not_owner."""
        info = self.model(model_id)
        if info.owner != self.address():
            raise ToolFailure(
                "not_owner",
                f"model {model_id} is owned by {info.owner}, not by this server's account {self.address()}",
                model_id=model_id,
                owner=info.owner,
            )
        return info

    def round_state(self, round: int) -> RoundState:
        """The round's on-chain state, or unknown_round for a round never opened."""
        state = self.client.round_state(int(round))
        if state.status is RoundStatus.NONE:
            raise ToolFailure(
                "unknown_round",
                f"round {round} has not been opened (newest closed round: {self.client.cursor()[0]})",
                round=round,
            )
        return state

    def path_in_workdir(self, path: str) -> Path:
        """A file inside the workdir; anything outside (keystores included) is refused."""
        candidate = Path(path).expanduser()
        resolved = (candidate if candidate.is_absolute() else self.workdir / candidate).resolve()
        if resolved != self.workdir and self.workdir not in resolved.parents:
            raise ToolFailure(
                "path_outside_workdir",
                f"{path} is outside the server's workdir {self.workdir}",
                workdir=str(self.workdir),
            )
        return resolved

    def data_path(self, kind: str, round: int) -> Path:
        """Where a round's downloaded ``live`` or ``targets`` file is kept."""
        return self.workdir / "data" / f"{kind}_{int(round):05d}.parquet"

    def amount(self, text: str) -> int:
        """Token text to smallest units, or invalid_amount."""
        try:
            return parse_amount(text, self.decimals)
        except ParticipantError as exc:
            raise ToolFailure("invalid_amount", str(exc), amount=text) from None

    def limits_out(self) -> LimitsOut:
        """The spending limit as the tools report it."""
        if self.limit is None:
            return LimitsOut(
                value_tools=False,
                max_stake_session=None,
                max_stake_per_call=None,
                staked_this_session="0",
                max_allowed_now=None,
            )
        return LimitsOut(
            value_tools=True,
            max_stake_session=self.tokens(self.limit.session_cap),
            max_stake_per_call=self.tokens(self.limit.per_call_cap),
            staked_this_session=self.tokens(self.limit.spent),
            max_allowed_now=self.tokens(self.limit.max_allowed),
        )

    def receipts(self) -> list[Receipt]:
        """Every operator receipt this server kept (under the workdir)."""
        receipts, _ = load_receipts(self.workdir / "receipts")
        return receipts
