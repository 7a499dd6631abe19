"""The participant's actions as MCP tools: a thin layer over :mod:`oracle.participant` that adds what an agent
needs and a person at a terminal does not: typed arguments, structured results, error codes with a next step,
a spending limit, a file sandbox and idempotent retries.

One :class:`ParticipantSession` per server process holds the connection (opened once, after the chain policy
check), the unlocked account (from the keystore, with the password from the environment: never an argument), the
spending limit and the request journal. Every tool method returns an :mod:`oracle.mcp.outputs` model or raises
:class:`~oracle.mcp.errors.ToolFailure`; the server (:mod:`oracle.mcp.server`) turns both into MCP results.

The checks that come first in each tool (model registered and owned, round open, amount within the limit and the
balance) are made here so the agent gets a precise code; the participant library repeats them where it must.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable

import pandas as pd
from pydantic import Field
from web3 import Web3

from oracle.auditor.verify import ReceiptEvidence, verify_round as audit_round
from oracle.bundle.store import BundleError
from oracle.chain.client import ModelInfo, RoundStatus, TournamentClient
from oracle.chain.connection import Connection, connect
from oracle.chain.hashes import tx_hash
from oracle.chain.keystore import Keystore
from oracle.chain.tx import ContractReverted
from oracle.mcp.errors import ToolFailure
from oracle.mcp.journal import RequestJournal
from oracle.mcp.limits import SpendingLimit
from oracle.mcp.outputs import (AccountOut, DownloadOut, LimitsOut, ModelRound, ModelStatusOut, Problem, ReceiptCheck,
                                ReceiptView, RegisterOut, RoundsOut, RoundView, SettleOut, StakeOut, SubmitOut,
                                ValidationOut, VerifyOut, WithdrawalRequestOut, WithdrawOut, Difference)
from oracle.mcp.policy import check_chain
from oracle.participant.amounts import format_amount, parse_amount
from oracle.participant.models import ParticipantError, owned_models, register_model as library_register_model
from oracle.participant.receipts import load_receipts
from oracle.participant.service_client import ServiceClient, ServiceError, submit_over_http
from oracle.participant.settle import round_tree, settle_all, settle_model
from oracle.participant.stake import (request_withdrawal as library_request_withdrawal, stake as library_stake,
                                      withdraw as library_withdraw)
from oracle.participant.status import model_status as library_model_status
from oracle.participant.submit import check_prediction_file, oracle_address
from oracle.protocol.receipt import Receipt, latest_receipts
from oracle.protocol.submission import predictions_hash
from oracle.scoring.tables import read_prediction_file
from oracle.scoring.validation import TableError

__all__ = ["McpSettings", "ParticipantSession", "ToolSpec", "DEFAULT_WORKDIR"]

DEFAULT_WORKDIR = Path("~/.tourney/mcp")
#: How many recent rounds list_rounds shows.
RECENT_ROUNDS = 8
#: How many times submit_predictions signs a replaced file anew (one second earlier each time) before giving up.
RESIGN_ATTEMPTS = 16

RoundArg = Annotated[int, Field(ge=1, lt=2**32, description="A round number (list_rounds shows them).")]
ModelArg = Annotated[int, Field(ge=1, lt=2**64, description="A model id (account_info lists yours).")]
PathArg = Annotated[str, Field(min_length=1, max_length=1024,
                               description="A file inside the server's workdir (a relative path is resolved there).")]
StakeAmount = Annotated[str, Field(pattern=r"^[0-9]{1,30}(\.[0-9]{1,30})?$",
                                   description="Tokens as a decimal string, e.g. \"12.5\".")]
WithdrawAmount = Annotated[str, Field(pattern=r"^(all|[0-9]{1,30}(\.[0-9]{1,30})?)$",
                                      description="Tokens as a decimal string, or \"all\" for the whole settled "
                                                  "stake not already pending.")]
RequestId = Annotated[str | None, Field(
    min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$",
    description="Optional idempotency key: a retry with the same request_id returns the first call's result "
                "instead of moving tokens again.")]


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


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its method, output model and hints; ``moves_value`` tools exist only with a spending limit,
    ``signs`` tools need the account."""

    name: str
    method: Callable[..., Any]
    output: type
    read_only: bool
    idempotent: bool
    moves_value: bool = False
    signs: bool = False


@dataclass
class ParticipantSession:
    """The state behind every tool call of one server process (see the module docstring)."""

    settings: McpSettings
    conn: Connection
    chain_kind: str
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
                raise ParticipantError(f"account {settings.account!r} needs its keystore password in TOURNEY_PASSWORD "
                                       "(tourney mcp never prompts: stdin is the protocol)")
            conn.account = Keystore(settings.keystore_dir).unlock(settings.account, password)
        decimals = int(conn.token.functions.decimals().call())
        symbol = str(conn.token.functions.symbol().call())
        limit = None
        if settings.max_stake is not None:
            session_cap = parse_amount(settings.max_stake, decimals)
            per_call = parse_amount(settings.max_stake_per_call or settings.max_stake, decimals)
            if per_call > session_cap:
                raise ParticipantError(f"the per-call limit --max-stake-per-call {settings.max_stake_per_call} exceeds "
                                       f"the session's --max-stake {settings.max_stake}")
            limit = SpendingLimit(session_cap, per_call)
        elif settings.max_stake_per_call is not None:
            raise ParticipantError("--max-stake-per-call needs --max-stake (the session's limit)")
        workdir = Path(settings.workdir or DEFAULT_WORKDIR).expanduser().resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        session = cls(settings, conn, chain_kind, workdir, limit, decimals, symbol, _password=password)
        if conn.account is not None:
            tournament = conn.deployment.tournament.lower()
            session.journal = RequestJournal(workdir / "requests" /
                                             f"{conn.chain_id}-{tournament}-{conn.account.address.lower()}.json")
        return session

    def secrets(self) -> list[str]:
        """Strings no output may contain: the private key (hex) and the keystore password."""
        found = []
        if self.conn.account is not None:
            found.append(bytes(self.conn.account.key).hex())
        if self._password and len(self._password) >= 6:
            found.append(self._password)
        return found

    def specs(self) -> list[ToolSpec]:
        """The tools this session offers: value-moving ones only with a spending limit."""
        every = [
            ToolSpec("account_info", self.account_info, AccountOut, read_only=True, idempotent=True),
            ToolSpec("list_rounds", self.list_rounds, RoundsOut, read_only=True, idempotent=True),
            ToolSpec("download_live", self.download_live, DownloadOut, read_only=False, idempotent=True),
            ToolSpec("download_targets", self.download_targets, DownloadOut, read_only=False, idempotent=True),
            ToolSpec("validate_predictions", self.validate_predictions, ValidationOut, read_only=True,
                     idempotent=True),
            ToolSpec("submit_predictions", self.submit_predictions, SubmitOut, read_only=False, idempotent=True,
                     signs=True),
            ToolSpec("model_status", self.model_status, ModelStatusOut, read_only=True, idempotent=True),
            ToolSpec("verify_round", self.verify_round, VerifyOut, read_only=True, idempotent=True),
            ToolSpec("register_model", self.register_model, RegisterOut, read_only=False, idempotent=False,
                     signs=True),
            ToolSpec("settle", self.settle, SettleOut, read_only=False, idempotent=True, signs=True),
            ToolSpec("stake", self.stake, StakeOut, read_only=False, idempotent=False, moves_value=True, signs=True),
            ToolSpec("request_withdrawal", self.request_withdrawal, WithdrawalRequestOut, read_only=False,
                     idempotent=False, moves_value=True, signs=True),
            ToolSpec("withdraw", self.withdraw, WithdrawOut, read_only=False, idempotent=False, moves_value=True,
                     signs=True),
        ]
        return [s for s in every if self.limit is not None or not s.moves_value]

    # ------------------------------------------------------------------------------------------------ helpers

    @property
    def client(self) -> TournamentClient:
        return self.conn.client

    def tokens(self, units: int) -> str:
        return format_amount(int(units), self.decimals)

    def _address(self) -> str:
        if self.conn.account is None:
            raise ToolFailure("no_account", "this tool signs, and the server was started without --account")
        return self.conn.account.address

    def _service(self) -> ServiceClient:
        if not self.settings.service:
            raise ToolFailure("no_service", "this tool needs the operator's service, and the server was started "
                              "without --service")
        return ServiceClient(self.settings.service)

    def _model(self, model_id: int) -> ModelInfo:
        """The model's on-chain record, or unknown_model."""
        info = self.client.model_info(int(model_id))
        if not info.registered:
            raise ToolFailure("unknown_model", f"model {model_id} is not registered (this tournament has "
                              f"{self.client.model_count()} model(s))", model_id=model_id)
        return info

    def _own(self, model_id: int) -> ModelInfo:
        info = self._model(model_id)
        if info.owner != self._address():
            raise ToolFailure("not_owner", f"model {model_id} is owned by {info.owner}, not by this server's account "
                              f"{self._address()}", model_id=model_id, owner=info.owner)
        return info

    def _round(self, round: int) -> Any:
        state = self.client.round_state(int(round))
        if state.status is RoundStatus.NONE:
            raise ToolFailure("unknown_round", f"round {round} has not been opened (newest closed round: "
                              f"{self.client.cursor()[0]})", round=round)
        return state

    def _path(self, path: str) -> Path:
        """A file inside the workdir; anything outside (keystores included) is refused."""
        candidate = Path(path).expanduser()
        resolved = (candidate if candidate.is_absolute() else self.workdir / candidate).resolve()
        if resolved != self.workdir and self.workdir not in resolved.parents:
            raise ToolFailure("path_outside_workdir", f"{path} is outside the server's workdir {self.workdir}",
                              workdir=str(self.workdir))
        return resolved

    def _data_path(self, kind: str, round: int) -> Path:
        return self.workdir / "data" / f"{kind}_{int(round):05d}.parquet"

    def _amount(self, text: str) -> int:
        try:
            return parse_amount(text, self.decimals)
        except ParticipantError as exc:
            raise ToolFailure("invalid_amount", str(exc), amount=text) from None

    def _limits(self) -> LimitsOut:
        if self.limit is None:
            return LimitsOut(value_tools=False, max_stake_session=None, max_stake_per_call=None,
                             staked_this_session="0", max_allowed_now=None)
        return LimitsOut(value_tools=True, max_stake_session=self.tokens(self.limit.session_cap),
                         max_stake_per_call=self.tokens(self.limit.per_call_cap),
                         staked_this_session=self.tokens(self.limit.spent),
                         max_allowed_now=self.tokens(self.limit.max_allowed))

    def _receipts(self) -> list[Receipt]:
        receipts, _ = load_receipts(self.workdir / "receipts")
        return receipts

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def _live_ids(self, round: int) -> list[str]:
        path = self._data_path("live", round)
        if not path.exists():
            self.download_live(round)
        return [str(i) for i in pd.read_parquet(path, columns=["id"])["id"]]

    # ------------------------------------------------------------------------------------------------ reading

    def account_info(self) -> AccountOut:
        """Who this server signs as, its balances and models, the chain, the workdir and the spending limits.
        Call it first."""
        address = self.conn.account.address if self.conn.account is not None else None
        return AccountOut(
            address=address, chain_id=self.conn.chain_id, chain=self.chain_kind,
            tournament=Web3.to_checksum_address(self.conn.deployment.tournament),
            token=Web3.to_checksum_address(self.conn.deployment.token), token_symbol=self.symbol,
            token_balance=None if address is None else self.tokens(self.conn.token.functions.balanceOf(address).call()),
            ether_balance=None if address is None else format_amount(self.conn.w3.eth.get_balance(address), 18),
            models=[] if address is None else owned_models(self.conn, address),
            workdir=str(self.workdir), service=self.settings.service, limits=self._limits(),
        )

    def list_rounds(self) -> RoundsOut:
        """The open round with its deadline (chain time) and the most recent rounds with their status."""
        client = self.client
        now = client.now()
        last_closed, last_activated = client.cursor()
        views = []
        for round in range(max(1, last_closed + 2 - RECENT_ROUNDS), last_closed + 2):
            state = client.round_state(round)
            if state.status is RoundStatus.NONE:
                continue
            left = max(0, state.closes_at - now) if state.status is RoundStatus.OPEN else 0
            views.append(RoundView(round=round, status=state.status.label, closes_at=state.closes_at,
                                   seconds_left=left, closed_at=state.closed_at, activates_at=state.activates_at))
        open_round = next((v for v in views if v.status == "open"), None)
        return RoundsOut(chain_time=now, last_closed=last_closed, last_activated=last_activated,
                         open_round=open_round, rounds=views)

    def download_live(self, round: RoundArg) -> DownloadOut:
        """Download a round's live data (Parquet: `id`, `era`, feature columns) from the operator's service into
        the workdir. Downloading again returns the same file."""
        self._round(round)
        data = self._service().live(int(round))
        try:
            frame = pd.read_parquet(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - whatever pyarrow says, the file is unusable
            raise ToolFailure("refused", f"the service's live data for round {round} is not Parquet: {exc}") from None
        if "id" not in frame.columns:
            raise ToolFailure("refused", f"the service's live data for round {round} has no id column")
        path = self._data_path("live", round)
        self._write_atomic(path, data)
        return DownloadOut(round=round, kind="live", path=str(path), rows=len(frame), columns=list(map(str, frame.columns)),
                           sha256=hashlib.sha256(data).hexdigest())

    def download_targets(self, round: RoundArg) -> DownloadOut:
        """Download a resolved round's targets (Parquet: `id`, `target`) from its published bundle, checked against
        the manifest hash and root on chain. Available once the round is proposed or active."""
        state = self._round(round)
        proposal = self.client.current_proposal(int(round))
        if proposal is None:
            raise ToolFailure("not_published", f"round {round} is {state.status.label}: its results are not "
                              "published yet", round=round)
        try:
            bundle, _ = round_tree(proposal)
            targets = bundle.targets()
        except (ParticipantError, BundleError) as exc:
            raise ToolFailure("bundle_unavailable", str(exc), round=round) from None
        buffer = io.BytesIO()
        targets.to_parquet(buffer, index=False)
        data = buffer.getvalue()
        path = self._data_path("targets", round)
        self._write_atomic(path, data)
        return DownloadOut(round=round, kind="targets", path=str(path), rows=len(targets),
                           columns=list(map(str, targets.columns)), sha256=hashlib.sha256(data).hexdigest())

    def validate_predictions(self, round: RoundArg, model_id: ModelArg, path: PathArg) -> ValidationOut:
        """Check a prediction file against the round's live ids with the scoring rules, without sending it.
        `ok` false lists every problem with its rule code."""
        file = self._path(path)
        if not file.is_file():
            raise ToolFailure("file_not_found", f"no file {file}", path=str(file))
        live = self._live_ids(round)
        data = file.read_bytes()
        problems = check_prediction_file(int(model_id), data, file.name, live)
        try:
            rows = len(read_prediction_file(file.name, data))
        except TableError:  # reported among the problems ('unreadable')
            rows = 0
        return ValidationOut(round=round, model_id=model_id, path=str(file), ok=not problems, rows=rows,
                             live_ids=len(live),
                             problems=[Problem(rule=p.rule, message=p.message, ids=list(p.ids)) for p in problems])

    def model_status(self, model_id: ModelArg) -> ModelStatusOut:
        """A model's settled stake and pending withdrawal, per proposed round its score (CORR, MMC), payout, burn
        and whether it is settled, and this server's receipts checked against each round's bundle."""
        self._model(model_id)
        receipts = self._receipts()
        oracle = oracle_address(self.conn) if receipts else None
        status = library_model_status(self.conn, int(model_id), receipts, oracle)
        rounds = [ModelRound(
            round=r["round"], status=r["status"], scored=bool(r.get("scored", False)), corr=r.get("corr"),
            mmc=r.get("mmc"), payout=None if "payout" not in r else self.tokens(r["payout"]),
            burn=None if "burn" not in r else self.tokens(r["burn"]), settled=bool(r["settled"]),
            error=r.get("error")) for r in status.rounds]
        checks = [ReceiptCheck(round=r["round"], predictions_hash=r["predictions_hash"], received_at=r["received_at"],
                               genuine=r["genuine"], bundle=r.get("error") or r["bundle"]) for r in status.receipts]
        return ModelStatusOut(
            model_id=status.model_id, owner=status.owner, stake=self.tokens(status.stake),
            net_deposits=self.tokens(status.net_deposits), settled_round=status.settled_round,
            pending_withdrawal=self.tokens(status.pending_withdrawal),
            withdrawal_after_round=status.withdrawal_after_round if status.pending_withdrawal else None,
            rounds=rounds, receipts=checks)

    def verify_round(self, round: RoundArg) -> VerifyOut:
        """Audit a round's proposal from the chain and its published bundle alone (every score, payout, burn,
        leaf and the root recomputed), holding the bundle to this server's receipts for the round."""
        self._round(round)
        client = self.client
        receipts = [r for r in self._receipts() if r.round == int(round)]
        evidence = ReceiptEvidence(receipts, oracle_address(self.conn)) if receipts else None
        try:
            verdict = audit_round(client, int(round), evidence)
        except ValueError as exc:
            raise ToolFailure("not_published", str(exc), round=round) from None

        def text(value: Any) -> str | None:
            return None if value is None else str(value)

        return VerifyOut(
            round=verdict.round, ok=verdict.ok, status=verdict.status, standing=verdict.standing,
            root=verdict.proposal.root, manifest_uri=verdict.proposal.manifest_uri,
            differences=[Difference(scope=d.scope, subject=str(d.subject), field=d.field, recorded=text(d.recorded),
                                    recomputed=text(d.recomputed)) for d in verdict.differences],
            warnings=list(verdict.warnings), receipts_checked=len(receipts))

    # ------------------------------------------------------------------------------------------------ submitting

    def submit_predictions(self, round: RoundArg, model_id: ModelArg, path: PathArg) -> SubmitOut:
        """Validate, sign (EIP-712, no gas) and deliver a prediction file to the operator's service; returns the
        operator's signed receipt, checked against the chain's oracle and kept. Submitting the same file again
        returns the same receipt; another file before the deadline replaces it (with a new receipt), and so does
        an earlier file sent again."""
        self._address()
        service = self._service()
        file = self._path(path)
        if not file.is_file():
            raise ToolFailure("file_not_found", f"no file {file}", path=str(file))
        self._own(model_id)
        state = self._round(round)
        if state.status is not RoundStatus.OPEN:
            raise ToolFailure("round_not_open", f"round {round} is {state.status.label}, not open for "
                              "submissions", round=round)
        data = file.read_bytes()
        digest = predictions_hash(data)
        key = (self.conn.chain_id, Web3.to_checksum_address(self.conn.deployment.tournament), int(round), int(model_id))
        held = latest_receipts(self._receipts()).get(key)
        if held is not None and held.predictions_hash == digest:
            return self._submitted(round, model_id, file, digest, state.closes_at, held, None, repeated=True)
        now = self.client.now()
        if now >= state.closes_at:
            raise ToolFailure("late", f"round {round} closed for submissions at {state.closes_at} (chain time now "
                              f"{now})", round=round, closes_at=state.closes_at)
        live = self._live_ids(round)
        problems = check_prediction_file(int(model_id), data, file.name, live)
        if problems:
            raise ToolFailure("invalid_predictions", f"{file.name} would not be scored: "
                              + "; ".join(str(p) for p in problems[:5]),
                              problems=[p.to_dict() for p in problems])
        oracle = oracle_address(self.conn)
        # A file that was current earlier and then replaced is refused as "replayed" when its old signature comes
        # back (a signature has no nonce). Its owner may still mean it: the deadline is the one free field of the
        # signed record, so sign again a second earlier, which makes a new signature for the same file.
        for attempt in range(RESIGN_ATTEMPTS + 1):
            try:
                sent = submit_over_http(self.conn.account, service.url, self.conn.chain_id,
                                        self.conn.deployment.tournament, oracle, int(round), int(model_id), data,
                                        state.closes_at - attempt, file_name=file.name,
                                        receipts_dir=self.workdir / "receipts")
                break
            except ServiceError as exc:
                if exc.code != "replayed" or attempt == RESIGN_ATTEMPTS:
                    raise
        return self._submitted(round, model_id, file, digest, sent.submission.deadline, sent.receipt, sent.saved_to,
                               repeated=False)

    def _submitted(self, round: int, model_id: int, file: Path, digest: str, deadline: int, receipt: Receipt,
                   saved: Path | None, repeated: bool) -> SubmitOut:
        return SubmitOut(round=round, model_id=model_id, path=str(file), predictions_hash=digest, deadline=deadline,
                         receipt=ReceiptView(**receipt.to_json()), receipt_path=None if saved is None else str(saved),
                         repeated=repeated)

    # ------------------------------------------------------------------------------------------------ chain actions

    def register_model(self) -> RegisterOut:
        """Register a new model owned by this server's account (gas only, no stake). Each call registers another."""
        address = self._address()
        model_id, receipt = library_register_model(self.conn)
        return RegisterOut(model_id=model_id, owner=address, tx=tx_hash(receipt))

    def settle(self, model_id: Annotated[int | None, Field(ge=1, lt=2**64, description="Settle this model; omit "
                                                                                          "to settle every model.")] = None,
               round: Annotated[int | None, Field(ge=1, lt=2**32, description="An active round; omit for the "
                                                                                "newest.")] = None) -> SettleOut:
        """Apply an active round's results to a model's stake (or every model's): anyone may settle anyone.
        Settling again is harmless: models already settled are listed, nothing is sent for them."""
        self._address()
        _, last_activated = self.client.cursor()
        if round is None and last_activated == 0:
            raise ToolFailure("not_active", "no round has an active root yet")
        if round is not None and self._round(round).status is not RoundStatus.ACTIVE:
            raise ToolFailure("not_active", f"round {round} is {self._round(round).status.label}, not active "
                              f"(newest active round: {last_activated or 'none'})", round=round)
        if model_id is not None:
            self._model(model_id)
            result = settle_model(self.conn, int(model_id), round)
        else:
            result = settle_all(self.conn, round)
        return SettleOut(round=result.round, settled=result.settled, already_settled=result.skipped,
                         transactions=result.transactions, gas=result.gas_used)

    def _idempotent(self, tool: str, request_id: str | None, arguments: dict[str, Any],
                    send: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """(result, repeated): run ``send`` once per request_id (see oracle.mcp.journal)."""
        if request_id is None or self.journal is None:
            return send(), False
        stored = self.journal.begin(tool, request_id, arguments)
        if stored is not None:
            return stored, True
        try:
            result = send()
        except (ToolFailure, ParticipantError, ContractReverted):
            self.journal.abandon(tool, request_id)  # refused before sending, or reverted: nothing happened
            raise
        self.journal.finish(tool, request_id, result)
        return result, False

    def stake(self, model_id: ModelArg, amount: StakeAmount, request_id: RequestId = None) -> StakeOut:
        """Add tokens to one of your models' stake (one transaction, EIP-2612 permit). Within the server's spending
        limit only; the stake counts from the next round that closes."""
        units = self._amount(amount)
        limit = self.limit
        if limit is None:  # the server lists the tool only with a limit; refuse anyway should it be called
            raise ToolFailure("value_tools_off", "the server was started without --max-stake")

        def send() -> dict[str, Any]:
            address = self._address()
            self._own(model_id)
            balance = int(self.conn.token.functions.balanceOf(address).call())
            if units > balance:
                raise ToolFailure("insufficient_balance", f"stake {self.tokens(units)} exceeds your balance "
                                  f"{self.tokens(balance)} {self.symbol}", balance=self.tokens(balance))
            limit.hold(units, self.tokens)
            try:
                receipt = library_stake(self.conn, int(model_id), units)
            except (ParticipantError, ContractReverted):
                limit.release(units)  # refused or reverted: no tokens moved
                raise
            except BaseException:
                limit.commit(units)  # unknown outcome: count it (the transaction may still land)
                raise
            limit.commit(units)
            return {"model_id": int(model_id), "amount": self.tokens(units), "tx": tx_hash(receipt)}

        result, repeated = self._idempotent("stake", request_id, {"model_id": int(model_id), "amount": str(units)}, send)
        net = self._model(model_id).net_deposits
        return StakeOut(**result, net_deposits=self.tokens(net), request_id=request_id, repeated=repeated,
                        limits=self._limits())

    def request_withdrawal(self, model_id: ModelArg, amount: WithdrawAmount,
                           request_id: RequestId = None) -> WithdrawalRequestOut:
        """Ask to take tokens back from a model ("all" = its settled stake not already pending). The amount stays
        at risk in every round already closed; withdraw once the newest of them is active."""

        def send() -> dict[str, Any]:
            pending = self._own(model_id).pending_withdrawal
            available = self.client.stake_of(int(model_id))
            units = available - pending if amount == "all" else self._amount(amount)
            if units <= 0:
                raise ToolFailure("invalid_amount", f"model {model_id} has nothing left to request: settled stake "
                                  f"{self.tokens(available)}, already pending {self.tokens(pending)}")
            if pending + units > available:
                raise ToolFailure("invalid_amount", f"{self.tokens(units)} more would make {self.tokens(pending + units)}"
                                  f" pending, above the settled stake {self.tokens(available)} (settle first to "
                                  "include unsettled payouts)", available=self.tokens(available - pending))
            total, after_round, receipt = library_request_withdrawal(self.conn, int(model_id), units)
            return {"model_id": int(model_id), "requested": self.tokens(units), "pending": self.tokens(total),
                    "after_round": after_round, "tx": tx_hash(receipt)}

        result, repeated = self._idempotent("request_withdrawal", request_id,
                                            {"model_id": int(model_id), "amount": amount}, send)
        return WithdrawalRequestOut(**result, request_id=request_id, repeated=repeated)

    def withdraw(self, model_id: ModelArg) -> WithdrawOut:
        """Take a model's pending withdrawal, settling the model first against the newest active root if needed."""
        info = self._own(model_id)
        settled_round, pending, after_round = info.settled_round, info.pending_withdrawal, info.withdrawal_after_round
        if pending == 0:
            raise ToolFailure("nothing_pending", f"model {model_id} has no pending withdrawal", model_id=model_id)
        _, last_activated = self.client.cursor()
        if settled_round < after_round and last_activated < after_round:
            raise ToolFailure("withdrawal_waits", f"model {model_id}'s withdrawal waits for round {after_round} to be "
                              f"active (newest active: {last_activated or 'none'})", after_round=after_round,
                              last_activated=last_activated)
        paid, receipt = library_withdraw(self.conn, int(model_id))
        return WithdrawOut(model_id=model_id, paid=self.tokens(paid), tx=tx_hash(receipt))

    # ------------------------------------------------------------------------------------------------ resources

    def parameters(self, round: int | None = None) -> dict[str, Any]:
        """The tournament's parameters: the chain's bounds and ring sizes, the round's caps and schedule, and the
        scoring parameters of the newest published round (or of ``round``)."""
        t = self.conn.tournament.functions
        client = self.client
        challenge, payout_cap, burn_cap = t.bounds().call()
        last_closed, last_activated = client.cursor()
        document: dict[str, Any] = {
            "chain_id": self.conn.chain_id, "chain": self.chain_kind,
            "tournament": Web3.to_checksum_address(self.conn.deployment.tournament),
            "token": {"address": Web3.to_checksum_address(self.conn.deployment.token), "symbol": self.symbol,
                      "decimals": self.decimals},
            "bounds": {"challenge_period": int(challenge), "payout_cap_bps": int(payout_cap),
                       "burn_cap_bps": int(burn_cap)},
            "roots": {"history": int(t.ROOT_HISTORY().call()), "max_pending_rounds": int(t.MAX_PENDING_ROUNDS().call()),
                      "settleable_rounds": int(t.SETTLEABLE_ROUNDS().call())},
            "cursor": {"last_closed": last_closed, "last_activated": last_activated},
            "limits": self._limits().model_dump(),
        }
        wanted = int(round) if round is not None else None
        if wanted is not None:
            state = self._round(wanted)
            document["round"] = {"round": wanted, "status": state.status.label, "closes_at": state.closes_at,
                                 "closed_at": state.closed_at, "activates_at": state.activates_at,
                                 "payout_cap_bps": state.payout_cap_bps, "burn_cap_bps": state.burn_cap_bps,
                                 "challenge_period": state.challenge_period}
        # The newest published round is at most a few rounds behind the last closed one (16 may be pending).
        candidates = [wanted] if wanted is not None else range(last_closed, max(0, last_closed - 17), -1)
        document["scoring"] = None
        for candidate in candidates:
            proposal = self.client.current_proposal(candidate)
            if proposal is None:
                continue
            try:
                bundle, _ = round_tree(proposal)
            except ParticipantError:
                continue
            params = bundle.params().to_dict()
            document["scoring"] = {"round": candidate, **params}
            break
        return document
