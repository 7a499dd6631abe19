"""The tools that read: who the server signs as, the rounds, a round's data, a file's validation, a model's status
and history, a round's audit, and the tournament's parameters (the resources). None of them signs or moves tokens;
the downloads write only into the workdir."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pandas as pd
from web3 import Web3

from oracle.auditor.verify import ReceiptEvidence
from oracle.auditor.verify import verify_round as audit_round
from oracle.bundle.fetch import FetchPolicy
from oracle.bundle.round_bundle import TARGETS
from oracle.bundle.store import BundleError
from oracle.chain.client import RoundStatus
from oracle.mcp.arguments import ModelArg, PathArg, RoundArg
from oracle.mcp.errors import ToolFailure
from oracle.mcp.outputs import (
    AccountOut,
    Difference,
    DownloadOut,
    ModelRound,
    ModelStatusOut,
    Problem,
    ReceiptCheck,
    RoundsOut,
    RoundView,
    ValidationOut,
    VerifyOut,
)
from oracle.mcp.session import ParticipantSession
from oracle.participant.amounts import format_amount
from oracle.participant.models import ParticipantError, owned_models
from oracle.participant.settle import round_tree
from oracle.participant.status import model_status as library_model_status
from oracle.participant.submit import check_prediction_file, oracle_address
from oracle.scoring.tables import read_prediction_file
from oracle.scoring.validation import TableError

__all__ = [
    "account_info",
    "list_rounds",
    "download_live",
    "download_targets",
    "validate_predictions",
    "model_status",
    "verify_round",
    "live_ids",
    "parameters",
]

#: How many recent rounds list_rounds shows.
RECENT_ROUNDS = 8


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def live_ids(session: ParticipantSession, round: int) -> list[str]:
    """The round's live ids, from the downloaded live file (downloaded first when missing)."""
    path = session.data_path("live", round)
    if not path.exists():
        download_live(session, round)
    return [str(i) for i in pd.read_parquet(path, columns=["id"])["id"]]


def account_info(session: ParticipantSession) -> AccountOut:
    """Who this server signs as, its balances and models, the chain, the workdir and the spending limits.
    Call it first."""
    address = session.conn.account.address if session.conn.account is not None else None
    return AccountOut(
        address=address,
        chain_id=session.conn.chain_id,
        chain=session.chain_kind,
        tournament=Web3.to_checksum_address(session.conn.deployment.tournament),
        token=Web3.to_checksum_address(session.conn.deployment.token),
        token_symbol=session.symbol,
        token_balance=None
        if address is None
        else session.tokens(session.conn.token.functions.balanceOf(address).call()),
        ether_balance=None if address is None else format_amount(session.conn.w3.eth.get_balance(address), 18),
        models=[] if address is None else owned_models(session.conn, address),
        workdir=str(session.workdir),
        service=session.settings.service,
        limits=session.limits_out(),
    )


def list_rounds(session: ParticipantSession) -> RoundsOut:
    """The open round with its deadline (chain time) and the most recent rounds with their status."""
    client = session.client
    now = client.now()
    last_closed, _, last_activated = client.cursor()
    views = []
    for round in range(max(1, last_closed + 2 - RECENT_ROUNDS), last_closed + 2):
        state = client.round_state(round)
        if state.status is RoundStatus.NONE:
            continue
        left = max(0, state.closes_at - now) if state.status is RoundStatus.OPEN else 0
        views.append(
            RoundView(
                round=round,
                status=state.status.label,
                closes_at=state.closes_at,
                seconds_left=left,
                closed_at=state.closed_at,
                activates_at=state.activates_at,
            )
        )
    open_round = next((v for v in views if v.status == "open"), None)
    return RoundsOut(
        chain_time=now, last_closed=last_closed, last_activated=last_activated, open_round=open_round, rounds=views
    )


def download_live(session: ParticipantSession, round: RoundArg) -> DownloadOut:
    """Download a round's live data (Parquet: `id`, `era`, feature columns) from the operator's service into
    the workdir. Downloading again returns the same file."""
    session.round_state(round)
    data = session.service_client().live(int(round))
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - whatever pyarrow says, the file is unusable
        raise ToolFailure("refused", f"the service's live data for round {round} is not Parquet: {exc}") from None
    if "id" not in frame.columns:
        raise ToolFailure("refused", f"the service's live data for round {round} has no id column")
    path = session.data_path("live", round)
    _write_atomic(path, data)
    return DownloadOut(
        round=round,
        kind="live",
        path=str(path),
        rows=len(frame),
        columns=list(map(str, frame.columns)),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def download_targets(session: ParticipantSession, round: RoundArg) -> DownloadOut:
    """Download a resolved round's targets (Parquet: `id`, `target`) from its published bundle, checked against
    the manifest hash and root on chain. Available once the round is proposed or active."""
    state = session.round_state(round)
    proposal = session.client.current_proposal(int(round))
    if proposal is None:
        raise ToolFailure(
            "not_published", f"round {round} is {state.status.phrase}: its results are not published yet", round=round
        )
    try:
        bundle, _ = round_tree(proposal, [TARGETS])
        targets = bundle.targets()
    except (ParticipantError, BundleError) as exc:
        raise ToolFailure("bundle_unavailable", str(exc), round=round) from None
    buffer = io.BytesIO()
    targets.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    path = session.data_path("targets", round)
    _write_atomic(path, data)
    return DownloadOut(
        round=round,
        kind="targets",
        path=str(path),
        rows=len(targets),
        columns=list(map(str, targets.columns)),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def validate_predictions(
    session: ParticipantSession, round: RoundArg, model_id: ModelArg, path: PathArg
) -> ValidationOut:
    """Check a prediction file against the round's live ids with the scoring rules, without sending it.
    `ok` false lists every problem with its rule code."""
    file = session.path_in_workdir(path)
    if not file.is_file():
        raise ToolFailure("file_not_found", f"no file {file}", path=str(file))
    live = live_ids(session, round)
    data = file.read_bytes()
    problems = check_prediction_file(int(model_id), data, file.name, live)
    try:
        rows = len(read_prediction_file(file.name, data))
    except TableError:  # reported among the problems ('unreadable')
        rows = 0
    return ValidationOut(
        round=round,
        model_id=model_id,
        path=str(file),
        ok=not problems,
        rows=rows,
        live_ids=len(live),
        problems=[Problem(rule=p.rule, message=p.message, ids=list(p.ids)) for p in problems],
    )


def model_status(session: ParticipantSession, model_id: ModelArg) -> ModelStatusOut:
    """A model's settled stake and pending withdrawal, per proposed round its score (CORR, MMC), payout, burn
    and whether it is settled, and this server's receipts checked against each round's bundle."""
    session.model(model_id)
    receipts = session.receipts()
    oracle = oracle_address(session.conn) if receipts else None
    status = library_model_status(session.conn, int(model_id), receipts, oracle)
    rounds = [
        ModelRound(
            round=r["round"],
            status=r["status"],
            scored=bool(r.get("scored", False)),
            corr=r.get("corr"),
            mmc=r.get("mmc"),
            payout=None if "payout" not in r else session.tokens(r["payout"]),
            burn=None if "burn" not in r else session.tokens(r["burn"]),
            settled=bool(r["settled"]),
            error=r.get("error"),
        )
        for r in status.rounds
    ]
    checks = [
        ReceiptCheck(
            round=r["round"],
            predictions_hash=r["predictions_hash"],
            received_at=r["received_at"],
            genuine=r["genuine"],
            bundle=r.get("error") or r["bundle"],
        )
        for r in status.receipts
    ]
    return ModelStatusOut(
        model_id=status.model_id,
        owner=status.owner,
        stake=session.tokens(status.stake),
        net_deposits=session.tokens(status.net_deposits),
        settled_round=status.settled_round,
        pending_withdrawal=session.tokens(status.pending_withdrawal),
        withdrawal_after_round=status.withdrawal_after_round if status.pending_withdrawal else None,
        rounds=rounds,
        receipts=checks,
    )


def verify_round(session: ParticipantSession, round: RoundArg) -> VerifyOut:
    """Audit a round's proposal from the chain and its published bundle alone (every score, payout, burn,
    leaf and the root recomputed), holding the bundle to this server's receipts for the round."""
    session.round_state(round)
    client = session.client
    receipts = [r for r in session.receipts() if r.round == int(round)]
    evidence = ReceiptEvidence(receipts, oracle_address(session.conn)) if receipts else None
    try:
        # Manifest URIs come from the chain: read only from the places TOURNEY_MANIFEST_ROOTS/HOSTS allow.
        verdict = audit_round(client, int(round), evidence, FetchPolicy.from_env())
    except ValueError as exc:
        raise ToolFailure("not_published", str(exc), round=round) from None

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return VerifyOut(
        round=verdict.round,
        ok=verdict.ok,
        status=verdict.status,
        standing=verdict.standing,
        root=verdict.proposal.root,
        manifest_uri=verdict.proposal.manifest_uri,
        differences=[
            Difference(
                scope=d.scope,
                subject=str(d.subject),
                field=d.field,
                recorded=text(d.recorded),
                recomputed=text(d.recomputed),
            )
            for d in verdict.differences
        ],
        warnings=list(verdict.warnings),
        receipts_checked=len(receipts),
    )


def _exit_limits(session: ParticipantSession) -> dict[str, Any]:
    """The immutable limits a participant plans around: the exit bound D (a withdrawal requested at t can be taken
    by t + D whatever any privileged key does), the smallest first stake, the longest pause."""
    limits = session.client.hard_limits()
    return {
        "exit_bound": limits.lapse_period,
        "min_stake": session.tokens(limits.min_stake),
        "max_pause": limits.max_pause,
        "admin_delay": limits.admin_delay,
    }


def parameters(session: ParticipantSession, round: int | None = None) -> dict[str, Any]:
    """The tournament's parameters: the chain's bounds and exit limits, the round's caps and schedule, and the
    scoring parameters of the newest published round (or of ``round``)."""
    t = session.conn.tournament.functions
    client = session.client
    challenge, payout_cap, burn_cap = t.bounds().call()
    last_closed, _, last_activated = client.cursor()
    document: dict[str, Any] = {
        "chain_id": session.conn.chain_id,
        "chain": session.chain_kind,
        "tournament": Web3.to_checksum_address(session.conn.deployment.tournament),
        "token": {
            "address": Web3.to_checksum_address(session.conn.deployment.token),
            "symbol": session.symbol,
            "decimals": session.decimals,
        },
        "bounds": {
            "challenge_period": int(challenge),
            "payout_cap_bps": int(payout_cap),
            "burn_cap_bps": int(burn_cap),
        },
        "exit": _exit_limits(session),
        "cursor": {"last_closed": last_closed, "last_activated": last_activated},
        "limits": session.limits_out().model_dump(),
    }
    wanted = int(round) if round is not None else None
    if wanted is not None:
        state = session.round_state(wanted)
        document["round"] = {
            "round": wanted,
            "status": state.status.label,
            "closes_at": state.closes_at,
            "closed_at": state.closed_at,
            "activates_at": state.activates_at,
            "payout_cap_bps": state.payout_cap_bps,
            "burn_cap_bps": state.burn_cap_bps,
            "challenge_period": state.challenge_period,
            "lapses_at": state.lapses_at,
        }
    # The newest published round is at most a few rounds behind the last closed one (one may be pending, and
    # rounds after it wait or lapse).
    candidates = [wanted] if wanted is not None else range(last_closed, max(0, last_closed - 17), -1)
    document["scoring"] = None
    for candidate in candidates:
        proposal = session.client.current_proposal(candidate)
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
