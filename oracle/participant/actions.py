"""What a participant does on chain and off: connect, register models, stake (one transaction with a permit),
request and take withdrawals (settling first when needed), settle anyone's model against an active root, submit
signed predictions to the operator's inbox, and read a model's status with the proofs it would use.

Everything here talks to a real JSON-RPC endpoint through :class:`oracle.chain.tx.Sender` (signed once, retried
safely, reverts decoded). Amounts are integers in the token's smallest unit; :func:`parse_amount` converts token
text such as ``12.5`` exactly (Decimal, never float).

The same :func:`connect` is the connection helper of every chain command (participant, operator, verifier).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from oracle.bundle.store import BundleError, RoundBundle, load_bundle
from oracle.chain.client import TournamentClient
from oracle.chain.deploy import Deployment
from oracle.chain.tx import ChainError, RpcUnavailable, Sender
from oracle.settlement.merkle import StandardMerkleTree
from oracle.participant.service_client import HttpSubmitResult, ServiceError, submit_over_http
from oracle.protocol.receipt import Receipt, latest_receipts, verify_receipt
from oracle.settlement.leaves import SettlementProof, multiproof_for, proof_for
from oracle.protocol.submission import Inbox, Submission, eip712_document, sign_submission
from oracle.scoring.validation import PredictionError, TableError, combine_model_files, validate_predictions

__all__ = [
    "ParticipantError",
    "RoundStatus",
    "Connection",
    "connect",
    "parse_amount",
    "format_amount",
    "get_logs",
    "register_model",
    "stake",
    "permit_signature",
    "request_withdrawal",
    "withdraw",
    "RoundPublication",
    "round_publication",
    "round_tree",
    "settle_model",
    "settle_all",
    "SubmitResult",
    "check_prediction_file",
    "submit_predictions",
    "oracle_address",
    "submit_to_service",
    "ModelStatus",
    "model_status",
    "receipt_status",
]

#: Blocks per eth_getLogs request: public endpoints cap ranges (often 10k), so scans go in bounded steps.
LOG_STEP = 5_000
#: Leaves per settleBatch: 256 contiguous ids keep a batch well under a block and near the per-model gas floor.
BATCH_SIZE = 256
PERMIT_LIFETIME = 3600
#: EIP-2612's Permit struct (the token's domain: its name, version "1").
PERMIT_TYPES: dict[str, list[dict[str, str]]] = {"Permit": [
    {"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]}


class ParticipantError(ChainError):
    """A participant action cannot be done; the message says what is wrong and what would fix it."""


class RoundStatus:
    """The contract's ``RoundStatus`` enum."""

    NONE, OPEN, CLOSED, PROPOSED, VETOED, ACTIVE = range(6)
    NAMES = ("none", "open", "closed", "proposed", "vetoed", "active")


# --------------------------------------------------------------------------------------------- connection


@dataclass
class Connection:
    """A web3 connection to one deployment, optionally with a signing account."""

    w3: Web3
    deployment: Deployment
    account: LocalAccount | None = None
    _sender: Sender | None = field(default=None, repr=False)

    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    @property
    def tournament(self) -> Contract:
        return self.deployment.tournament_contract(self.w3)

    @property
    def token(self) -> Contract:
        return self.deployment.token_contract(self.w3)

    @property
    def sender(self) -> Sender:
        """The account's transaction sender; an error when the connection is read-only."""
        if self.account is None:
            raise ParticipantError("this action sends a transaction: pass --account NAME (or set TOURNEY_ACCOUNT)")
        if self._sender is None:
            self._sender = Sender(self.w3, self.account)
        return self._sender

    @property
    def address(self) -> str:
        return self.sender.address

    def now(self) -> int:
        """The chain's clock: the latest block's timestamp."""
        return int(self.w3.eth.get_block("latest")["timestamp"])


def connect(rpc: str, deployment: Deployment | str | Path, account: LocalAccount | None = None,
            timeout: float = 60.0) -> Connection:
    """Connect to ``rpc`` and check that it is the deployment's chain and that the tournament is there."""
    if not isinstance(deployment, Deployment):
        deployment = Deployment.load(deployment)
    w3 = Web3(Web3.HTTPProvider(rpc, request_kwargs={"timeout": timeout}))
    try:
        chain_id = int(w3.eth.chain_id)
    except Exception as exc:  # noqa: BLE001 - any transport error means the endpoint is unusable
        raise RpcUnavailable(f"JSON-RPC endpoint {rpc} does not answer: {exc}") from None
    if chain_id != deployment.chain_id:
        raise ParticipantError(f"{rpc} is chain {chain_id}, but the deployment file is for chain {deployment.chain_id}")
    if len(w3.eth.get_code(Web3.to_checksum_address(deployment.tournament))) == 0:
        raise ParticipantError(f"no contract at the deployment's tournament address {deployment.tournament} on {rpc}")
    return Connection(w3=w3, deployment=deployment, account=account)


def _decimals(conn: Connection) -> int:
    return int(conn.token.functions.decimals().call())


def parse_amount(text: str | int | Decimal, decimals: int = 18) -> int:
    """Token text (``12.5``) to smallest units, exactly; refuses more fractional digits than the token has."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = Decimal(text)
    else:
        try:
            value = Decimal(str(text).strip().replace("_", ""))
        except InvalidOperation:
            raise ParticipantError(f"amount {text!r} is not a number") from None
    if not value.is_finite():
        raise ParticipantError(f"amount {text!r} is not a finite number")
    units = value.scaleb(decimals)
    if units != units.to_integral_value():
        raise ParticipantError(f"amount {text!r} has more than {decimals} decimal places")
    if units <= 0:
        raise ParticipantError(f"amount {text!r} must be positive")
    return int(units)


def format_amount(units: int, decimals: int = 18) -> str:
    """Smallest units to exact token text (``12500000000000000000`` -> ``12.5``)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(int(units)), 10**decimals)
    text = f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".") if decimals else str(whole)
    return sign + text


def get_logs(conn: Connection, event: str, from_block: int | None = None, to_block: int | None = None,
             argument_filters: dict[str, Any] | None = None, step: int = LOG_STEP) -> list[Any]:
    """Decoded logs of a tournament event, scanned in bounded block ranges, in chain order."""
    start = conn.deployment.block if from_block is None else from_block
    end = conn.w3.eth.block_number if to_block is None else to_block
    found: list[Any] = []
    handle = getattr(conn.tournament.events, event)
    while start <= end:
        stop = min(end, start + step - 1)
        found.extend(handle.get_logs(from_block=start, to_block=stop, argument_filters=argument_filters))
        start = stop + 1
    return sorted(found, key=lambda log: (log["blockNumber"], log["logIndex"]))


# --------------------------------------------------------------------------------------------- models, stake


def _model_info(conn: Connection, model_id: int) -> tuple[Any, Any, Any]:
    model, settlement, withdrawal = conn.tournament.functions.modelInfo(int(model_id)).call()
    if settlement[3] == 0:  # firstRound is nonzero for every registered model
        count = conn.tournament.functions.modelCount().call()
        raise ParticipantError(f"model {model_id} is not registered (this tournament has {count} model(s))")
    return model, settlement, withdrawal


def _require_owner(conn: Connection, model_id: int) -> None:
    owner = _model_info(conn, model_id)[0][0]
    if Web3.to_checksum_address(owner) != conn.address:
        raise ParticipantError(f"model {model_id} is owned by {owner}, not by your account {conn.address}")


def register_model(conn: Connection) -> tuple[int, TxReceipt]:
    """Register a new model owned by the connection's account; returns (model id, receipt)."""
    receipt = conn.sender.transact(conn.tournament.functions.registerModel(), action="register model")
    events = conn.tournament.events.ModelRegistered().process_receipt(receipt, errors=DISCARD)
    if len(events) != 1:
        raise ParticipantError(f"register model: expected one ModelRegistered event, got {len(events)}")
    return int(events[0]["args"]["modelId"]), receipt


def permit_signature(account: LocalAccount, token: Contract, spender: str, value: int, deadline: int,
                     chain_id: int, nonce: int | None = None) -> tuple[int, bytes, bytes]:
    """(v, r, s) of an EIP-2612 permit for ``spender`` to take ``value`` of ``token`` from ``account``.

    The one implementation in the project (participants, the demo, the service harness and the gas bench use it).
    ``nonce`` defaults to the token's current nonce for ``account``; pass one to sign ahead of pending permits."""
    if nonce is None:
        nonce = token.functions.nonces(account.address).call()
    message = eip712_document(token.functions.name().call(), "1", chain_id, token.address, PERMIT_TYPES, "Permit", {
        "owner": account.address, "spender": Web3.to_checksum_address(spender), "value": value, "nonce": nonce,
        "deadline": deadline,
    })
    signed = account.sign_message(encode_typed_data(full_message=message))
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def stake(conn: Connection, model_id: int, amount: int) -> TxReceipt:
    """Add ``amount`` to a model's stake in one transaction (stakeWithPermit: no separate approval)."""
    _require_owner(conn, model_id)
    balance = conn.token.functions.balanceOf(conn.address).call()
    if amount > balance:
        raise ParticipantError(f"stake {amount} exceeds your token balance {balance} (smallest units)")
    deadline = conn.now() + PERMIT_LIFETIME
    v, r, s = permit_signature(conn.account, conn.token, conn.tournament.address, amount, deadline, conn.chain_id)
    return conn.sender.transact(
        conn.tournament.functions.stakeWithPermit(int(model_id), int(amount), deadline, v, r, s),
        action=f"stake on model {model_id}",
    )


def request_withdrawal(conn: Connection, model_id: int, amount: int) -> tuple[int, int, TxReceipt]:
    """Request to withdraw ``amount``; returns (pending amount, round it waits for, receipt)."""
    receipt = conn.sender.transact(conn.tournament.functions.requestWithdrawal(int(model_id), int(amount)),
                                   action=f"request withdrawal from model {model_id}")
    args = conn.tournament.events.WithdrawalRequested().process_receipt(receipt, errors=DISCARD)[0]["args"]
    return int(args["pendingAmount"]), int(args["afterRound"]), receipt


# --------------------------------------------------------------------------------------------- publications


@dataclass(frozen=True)
class RoundPublication:
    """A round's proposal as the chain recorded it (the latest RootProposed for the round's current root)."""

    round: int
    status: int
    root: str
    cumulative_payout: int
    cumulative_burn: int
    total_stake_at_risk: int
    manifest_hash: str
    manifest_uri: str

    @property
    def status_name(self) -> str:
        return RoundStatus.NAMES[self.status]


def round_publication(conn: Connection, round: int) -> RoundPublication | None:
    """The round's current proposal, or None if it has none (never proposed, or vetoed and not re-proposed)."""
    # One reading of "the standing proposal" for participants, operator and auditor: the chain client's.
    client = TournamentClient(conn.w3, conn.deployment)
    proposal = client.current_proposal(int(round))
    if proposal is None:
        return None
    return RoundPublication(
        round=int(round), status=int(client.round_state(int(round)).status), root=proposal.root,
        cumulative_payout=proposal.cumulative_payout, cumulative_burn=proposal.cumulative_burn,
        total_stake_at_risk=proposal.total_stake_at_risk, manifest_hash=proposal.manifest_hash,
        manifest_uri=proposal.manifest_uri,
    )


def round_tree(publication: RoundPublication) -> tuple[RoundBundle, StandardMerkleTree]:
    """Load the round's bundle (checked against the on-chain manifest hash) and its settlement tree (checked
    against the on-chain root)."""
    try:
        bundle = load_bundle(publication.manifest_uri, expected_keccak=publication.manifest_hash)
    except BundleError as exc:
        raise ParticipantError(f"round {publication.round}: cannot use the published bundle: {exc}") from None
    tree = StandardMerkleTree.load(bundle.tree_dump())
    if tree.root.lower() != publication.root.lower():
        raise ParticipantError(f"round {publication.round}: the bundle's tree root {tree.root} is not the on-chain "
                               f"root {publication.root}")
    return bundle, tree


def _tree_ids(tree: StandardMerkleTree) -> list[int]:
    return [int(str(tree.at(i)[0]), 0) if isinstance(tree.at(i)[0], str) else int(tree.at(i)[0])
            for i in range(len(tree))]


def _active_round(conn: Connection, round: int | None) -> int:
    last_closed, last_activated = conn.tournament.functions.roundCursor().call()
    if round is None:
        if last_activated == 0:
            raise ParticipantError("no round has an active root yet: nothing can be settled")
        return int(last_activated)
    info, _ = conn.tournament.functions.roundInfo(int(round)).call()
    if int(info[3]) != RoundStatus.ACTIVE:
        raise ParticipantError(f"round {round} is {RoundStatus.NAMES[int(info[3])]}, not active: settle against an "
                               f"active round (newest active: {last_activated or 'none'})")
    return int(round)


def _proof(conn: Connection, round: int, model_id: int) -> SettlementProof | None:
    publication = round_publication(conn, round)
    assert publication is not None  # an active round always has its proposal
    _, tree = round_tree(publication)
    try:
        return proof_for(tree, int(model_id))
    except ValueError:
        return None  # registered after the round closed: nothing to settle in it


# --------------------------------------------------------------------------------------------- settlement


@dataclass(frozen=True)
class SettleResult:
    """What a settlement did: the round, the models whose stake moved, gas, and transaction hashes."""

    round: int
    settled: list[int]
    skipped: list[int]
    gas_used: int
    transactions: list[str]


def settle_model(conn: Connection, model_id: int, round: int | None = None) -> SettleResult:
    """Settle one model against ``round`` (default: the newest active round); anyone may call it."""
    round = _active_round(conn, round)
    settled_round = int(_model_info(conn, model_id)[1][2])
    if settled_round >= round:
        return SettleResult(round, [], [int(model_id)], 0, [])
    found = _proof(conn, round, model_id)
    if found is None:
        raise ParticipantError(f"model {model_id} has no leaf in round {round}'s tree")
    leaf = found.leaf
    receipt = conn.sender.transact(
        conn.tournament.functions.settle(round, leaf.model_id, leaf.cumulative_payout, leaf.cumulative_burn,
                                         found.proof),
        action=f"settle model {model_id} against round {round}",
    )
    return SettleResult(round, [int(model_id)], [], int(receipt["gasUsed"]), ["0x" + bytes(receipt["transactionHash"]).hex()])


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


def settle_all(conn: Connection, round: int | None = None, batch_size: int = BATCH_SIZE) -> SettleResult:
    """Settle every model of the round's tree not yet settled through it, in id-ordered batches (settleBatch with
    one multiproof per batch)."""
    round = _active_round(conn, round)
    publication = round_publication(conn, round)
    assert publication is not None
    _, tree = round_tree(publication)
    ids = _tree_ids(tree)
    pending = [m for m in ids if int(conn.tournament.functions.modelInfo(m).call()[1][2]) < round]
    skipped = sorted(set(ids) - set(pending))
    gas, hashes = 0, []
    for chunk in _chunks(pending, batch_size):
        multiproof = multiproof_for(tree, chunk)
        leaves = [leaf.as_tuple() for leaf in multiproof.leaves]
        receipt = conn.sender.transact(
            conn.tournament.functions.settleBatch(round, leaves, multiproof.proof, multiproof.proof_flags),
            action=f"settle {len(chunk)} models (ids {chunk[0]}..{chunk[-1]}) against round {round}",
        )
        gas += int(receipt["gasUsed"])
        hashes.append("0x" + bytes(receipt["transactionHash"]).hex())
    return SettleResult(round, pending, skipped, gas, hashes)


def withdraw(conn: Connection, model_id: int) -> tuple[int, TxReceipt]:
    """Take a model's pending withdrawal, settling it first against the newest active root when it is behind.

    Returns (amount paid, receipt). Refuses with the round it still waits for when that round is not active."""
    _require_owner(conn, model_id)
    _, settlement, withdrawal = _model_info(conn, model_id)
    pending, after_round = int(withdrawal[0]), int(withdrawal[1])
    if pending == 0:
        raise ParticipantError(f"model {model_id} has no pending withdrawal: request one first (tourney unstake)")
    fn = conn.tournament.functions.withdraw(int(model_id))
    if int(settlement[2]) < after_round:
        _, last_activated = conn.tournament.functions.roundCursor().call()
        if last_activated < after_round:
            raise ParticipantError(
                f"model {model_id}'s withdrawal waits for round {after_round} to be resolved (its stake was at risk "
                f"in it); the newest active round is {last_activated or 'none'}")
        found = _proof(conn, last_activated, model_id)
        if found is None:
            raise ParticipantError(f"model {model_id} has no leaf in round {last_activated}'s tree")
        leaf = found.leaf
        fn = conn.tournament.functions.settleAndWithdraw(int(last_activated), leaf.model_id, leaf.cumulative_payout,
                                                         leaf.cumulative_burn, found.proof)
    receipt = conn.sender.transact(fn, action=f"withdraw from model {model_id}")
    paid = conn.tournament.events.Withdrawn().process_receipt(receipt, errors=DISCARD)[0]["args"]["amount"]
    return int(paid), receipt


# --------------------------------------------------------------------------------------------- submissions


@dataclass(frozen=True)
class SubmitResult:
    """A delivered submission and where it went."""

    submission: Submission
    inbox: str
    replaced: bool


def check_prediction_file(model_id: int, data: bytes, file_name: str, live_ids: Sequence[str] | None = None,
                          min_live_share: float = 1.0) -> list[PredictionError]:
    """Validate one model's prediction file (``id`` + one prediction column, CSV or Parquet) with the scoring
    rules (oracle.scoring.validation). Live ids default to the file's own ids. Returns every problem that would keep the
    model from being scored; ``unknown_ids`` (rows ignored, not fatal) are not counted."""
    model = str(model_id)
    try:
        if file_name.lower().endswith(".parquet"):
            frame = pd.read_parquet(io.BytesIO(data))
        else:
            frame = pd.read_csv(io.BytesIO(data), dtype={"id": str})
    except Exception as exc:  # noqa: BLE001 - any parse failure means the file is unusable
        return [PredictionError(model, "unreadable", (), f"cannot read {file_name}: {exc}")]
    table, errors = combine_model_files({model: frame})
    if errors:
        return errors
    ids = live_ids if live_ids is not None else [str(i) for i in table["id"]]
    try:
        valid = validate_predictions(table, ids, min_live_share=min_live_share)
    except TableError as exc:
        return list(exc.errors)
    return [e for e in valid.errors if e.model is not None or e.rule != "unknown_ids"]


def _prepare_submission(conn: Connection, round: int, model_id: int, path: Path,
                        live_ids: Sequence[str] | None, min_live_share: float) -> tuple[bytes, int]:
    """(file bytes, the round's closesAt) once the file validates, the account owns the model and the round is open.

    Shared by both delivery paths (inbox and service) so they refuse exactly the same things."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ParticipantError(f"no prediction file {path}") from None
    problems = check_prediction_file(model_id, data, path.name, live_ids, min_live_share)
    if problems:
        raise ParticipantError(f"{path} refused for model {model_id}: " + "; ".join(str(p) for p in problems))
    _require_owner(conn, model_id)
    info, _ = conn.tournament.functions.roundInfo(int(round)).call()
    status, closes_at = int(info[3]), int(info[4])
    if status != RoundStatus.OPEN:
        raise ParticipantError(f"round {round} is {RoundStatus.NAMES[status]}, not open for submissions")
    now = max(conn.now(), int(time.time()))
    if now >= closes_at:
        raise ParticipantError(f"round {round} closed for submissions at {closes_at} (now {now}): too late")
    return data, closes_at


def submit_predictions(conn: Connection, round: int, model_id: int, path: str | Path, inbox_url: str,
                       live_ids: Sequence[str] | None = None, min_live_share: float = 1.0) -> SubmitResult:
    """Validate, sign (deadline = the round's closesAt) and deliver a prediction file to a directory inbox.

    The record is stamped ``received_at`` = the chain's clock (latest block timestamp), the clock the service
    stamps with and the one the operator's close snapshot judges against ``closesAt``; a wall-clock stamp would
    drift from the chain (Anvil's evm_increaseTime, a lagging node) and put on-time files on the wrong side."""
    path = Path(path)
    data, closes_at = _prepare_submission(conn, round, model_id, path, live_ids, min_live_share)
    sub = sign_submission(conn.account, conn.chain_id, conn.deployment.tournament, int(round), int(model_id), data,
                          closes_at, file_name=path.name)
    inbox = Inbox(inbox_url)
    replaced = inbox.fs.exists(inbox.record_path(round, model_id))
    stored = inbox.put(replace(sub, received_at=conn.now()), data)
    return SubmitResult(stored, inbox.url, replaced)


def oracle_address(conn: Connection) -> str:
    """The tournament's oracle (the one ORACLE_ROLE holder), read from the chain: receipts must be signed by it."""
    try:
        return TournamentClient(conn.w3, conn.deployment).oracle_address()
    except ValueError as exc:
        raise ParticipantError(str(exc)) from None


def submit_to_service(conn: Connection, round: int, model_id: int, path: str | Path, url: str,
                      live_ids: Sequence[str] | None = None, min_live_share: float = 1.0,
                      receipts_dir: str | Path | None = None) -> HttpSubmitResult:
    """Validate, sign and deliver a prediction file to the operator service at ``url``; keep its checked receipt.

    The receipt must be signed by the oracle address read from the chain (see :func:`oracle_address`); it is
    saved under ``receipts_dir`` (default ``default_receipts_dir()``) before this returns."""
    path = Path(path)
    data, closes_at = _prepare_submission(conn, round, model_id, path, live_ids, min_live_share)
    if conn.account is None:
        raise ParticipantError("submitting signs: pass --account NAME (or set TOURNEY_ACCOUNT)")
    try:
        return submit_over_http(conn.account, url, conn.chain_id, conn.deployment.tournament, oracle_address(conn),
                                int(round), int(model_id), data, closes_at, file_name=path.name,
                                receipts_dir=receipts_dir)
    except ServiceError as exc:
        raise ParticipantError(f"delivering model {model_id} for round {round} to the service at {url} failed: "
                               f"{exc}") from None


# --------------------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class ModelStatus:
    """One model's state on chain and in every proposed round that includes it."""

    model_id: int
    owner: str
    stake: int
    net_deposits: int
    settled_round: int
    first_round: int
    pending_withdrawal: int
    withdrawal_after_round: int
    rounds: list[dict[str, Any]]
    receipts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id, "owner": self.owner, "stake": self.stake, "net_deposits": self.net_deposits,
            "settled_round": self.settled_round, "first_round": self.first_round,
            "pending_withdrawal": self.pending_withdrawal,
            "withdrawal_after_round": self.withdrawal_after_round if self.pending_withdrawal else None,
            "rounds": self.rounds, "receipts": self.receipts,
        }


def _score_row(bundle: RoundBundle, model_id: int) -> dict[str, Any]:
    names = {mid: name for name, mid in bundle.model_ids().items()}
    scores = bundle.scores()
    name = names.get(int(model_id))
    rows = scores[scores["model"].astype(str) == name] if name is not None else scores.iloc[0:0]
    if rows.empty:
        return {"corr": None, "mmc": None, "payout": 0, "burn": 0, "scored": False}
    row = rows.iloc[0]
    return {"corr": float(row["corr"]), "mmc": float(row["mmc"]), "payout": int(row["payout"]),
            "burn": int(row["burn"]), "scored": True}


#: What :func:`receipt_status` says of a receipted submission against its round's published bundle.
IN_BUNDLE, NOT_IN_BUNDLE, OTHER_HASH, NOT_PUBLISHED = "in bundle", "missing from bundle", "other hash", "not published"


def receipt_status(conn: Connection, model_id: int, receipts: Iterable[Receipt],
                   oracle: str | None = None) -> list[dict[str, Any]]:
    """The model's latest receipt per round on this chain and contract, each marked against the round's bundle.

    ``bundle`` is ``in bundle`` (the standing bundle carries the receipted file, same hash), ``other hash`` (it
    carries another file of the model), ``missing from bundle`` (none), or ``not published`` (no standing proposal
    yet). ``genuine`` says whether the receipt is signed by ``oracle`` (the chain's ORACLE_ROLE holder) for this
    domain: a receipt that is not proves nothing."""
    tournament = Web3.to_checksum_address(conn.deployment.tournament)
    mine = [r for r in receipts
            if r.chain_id == conn.chain_id and r.tournament == tournament and r.model_id == int(model_id)]
    out: list[dict[str, Any]] = []
    for receipt in sorted(latest_receipts(mine).values(), key=lambda r: r.round):
        entry: dict[str, Any] = {
            "round": receipt.round, "predictions_hash": receipt.predictions_hash,
            "received_at": receipt.received_at, "operator": receipt.operator,
            "genuine": None if oracle is None else not verify_receipt(receipt, oracle, chain_id=conn.chain_id,
                                                                        tournament=tournament),
            "bundle": NOT_PUBLISHED, "bundle_hash": None,
        }
        publication = round_publication(conn, receipt.round)
        if publication is not None:
            try:
                bundle, _ = round_tree(publication)
                held = {int(e["model_id"]): str(e["record"]["predictions_hash"]).lower()
                        for e in bundle.json("submissions.json")}
            except (ParticipantError, BundleError, KeyError, TypeError) as exc:
                entry["error"] = str(exc)
            else:
                entry["bundle_hash"] = held.get(int(model_id))
                entry["bundle"] = (NOT_IN_BUNDLE if entry["bundle_hash"] is None else
                                   IN_BUNDLE if entry["bundle_hash"] == receipt.predictions_hash else OTHER_HASH)
        out.append(entry)
    return out


def model_status(conn: Connection, model_id: int, receipts: Iterable[Receipt] = (),
                 oracle: str | None = None) -> ModelStatus:
    """Stake, pending withdrawal, per proposed round: score, payout/burn, settled or not, and the proof; and the
    model's receipts (see :func:`receipt_status`) among ``receipts``."""
    model, settlement, withdrawal = _model_info(conn, model_id)
    last_closed, _ = conn.tournament.functions.roundCursor().call()
    rounds: list[dict[str, Any]] = []
    for round in range(int(settlement[3]), int(last_closed) + 1):
        publication = round_publication(conn, round)
        if publication is None:
            continue
        entry: dict[str, Any] = {"round": round, "status": publication.status_name,
                                 "manifest_uri": publication.manifest_uri, "root": publication.root,
                                 "settled": int(settlement[2]) >= round}
        try:
            bundle, tree = round_tree(publication)
            entry.update(_score_row(bundle, model_id))
            found = proof_for(tree, int(model_id))
            entry.update(cumulative_payout=found.leaf.cumulative_payout,
                         cumulative_burn=found.leaf.cumulative_burn, proof=list(found.proof))
        except ParticipantError as exc:
            entry["error"] = str(exc)
        except ValueError:
            entry["error"] = f"model {model_id} has no leaf in round {round}'s tree"
        rounds.append(entry)
    return ModelStatus(
        model_id=int(model_id), owner=Web3.to_checksum_address(model[0]), stake=int(
            conn.tournament.functions.stakeOf(int(model_id)).call()),
        net_deposits=int(model[1]), settled_round=int(settlement[2]), first_round=int(settlement[3]),
        pending_withdrawal=int(withdrawal[0]), withdrawal_after_round=int(withdrawal[1]), rounds=rounds,
        receipts=receipt_status(conn, model_id, receipts, oracle),
    )


def owned_models(conn: Connection, owner: str) -> list[int]:
    """Model ids registered to ``owner`` (from ModelRegistered events; ownership never changes)."""
    logs = get_logs(conn, "ModelRegistered", argument_filters={"owner": Web3.to_checksum_address(owner)})
    return [int(log["args"]["modelId"]) for log in logs]
