"""The participant's side of the operator service: deliver a signed submission over HTTP, keep the receipt.

``tourney submit --to URL`` uses :func:`submit_over_http`: it signs exactly as the inbox path does (deadline = the
round's ``closesAt``), posts the record and the file, checks that the receipt is genuine (signed by the
tournament's oracle, for this chain, contract, round, model and file) and saves it under the receipts directory
(``~/.tourney/receipts`` by default) before returning. A receipt that does not check out is an error: it would
prove nothing later.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3

from oracle.errors import TourneyError
from oracle.participant.receipts import default_receipts_dir, save_receipt
from oracle.protocol.receipt import Receipt, ReceiptError, verify_receipt
from oracle.protocol.submission import Submission, sign_submission

__all__ = ["ServiceError", "ServiceClient", "HttpSubmitResult", "submit_over_http"]


class ServiceError(TourneyError):
    """The service refused a request or could not be reached; ``code`` is its error code (or a local one)."""

    def __init__(self, status: int, code: str, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{message} [{code}]" if status == 0 else f"HTTP {status} {code}: {message}")
        self.status, self.code, self.message, self.body = status, code, message, body or {}


class ServiceClient:
    """A thin client of the service's JSON API (one ``requests`` session; not shared between threads)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The response of a request that succeeded; a refusal becomes a ServiceError with the service's code."""
        try:
            response = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ServiceError(0, "unreachable", f"the service at {self.url} does not answer ({exc})") from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
            raise ServiceError(
                response.status_code, error.get("code", "http_error"), error.get("message", response.text[:300]), error
            )
        return response

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            return None

    def info(self) -> dict[str, Any]:
        return self._call("GET", "/info")

    def rounds(self) -> dict[str, Any]:
        return self._call("GET", "/rounds")

    def round(self, round: int) -> dict[str, Any]:
        return self._call("GET", f"/rounds/{int(round)}")

    def live(self, round: int) -> bytes:
        """The round's live data as the operator published it (Parquet bytes: id, era, features)."""
        return self._request("GET", f"/rounds/{int(round)}/live").content

    def post_submission(self, sub: Submission, data: bytes) -> Receipt:
        """POST a signed submission; returns the receipt as the service sent it (not yet checked)."""
        record = {k: v for k, v in sub.to_json().items() if k != "received_at"}
        body = self._call(
            "POST",
            f"/rounds/{sub.round}/submissions",
            json={"submission": record, "file": base64.b64encode(data).decode()},
        )
        try:
            return Receipt.from_json(body, "service receipt")
        except ReceiptError as exc:
            raise ServiceError(
                0, "bad_receipt", f"the service answered with something that is not a receipt: {exc}"
            ) from None


def check_receipt_matches(receipt: Receipt, sub: Submission, oracle: str) -> list[str]:
    """Problems of ``receipt`` as the answer to ``sub`` (signed by ``oracle``, same chain/contract/round/model/file)."""
    problems = verify_receipt(receipt, oracle, chain_id=sub.chain_id, tournament=sub.tournament)
    for name in ("round", "model_id", "predictions_hash"):
        if getattr(receipt, name) != getattr(sub, name):
            problems.append(
                f"the receipt's {name} is {getattr(receipt, name)!r}, the submission's is {getattr(sub, name)!r}"
            )
    return problems


@dataclass(frozen=True)
class HttpSubmitResult:
    """A submission delivered over HTTP and its checked receipt (and where the receipt was saved)."""

    submission: Submission
    receipt: Receipt
    saved_to: Path | None
    #: The client's warning that the chain's clock stands still (oracle.participant.submit), not the service's.
    clock_warning: str | None = None


def submit_over_http(
    account: LocalAccount,
    url: str,
    chain_id: int,
    tournament: str,
    oracle: str,
    round: int,
    model_id: int,
    data: bytes,
    deadline: int,
    file_name: str = "predictions.csv",
    receipts_dir: str | Path | None = None,
    client: ServiceClient | None = None,
    save: bool = True,
) -> HttpSubmitResult:
    """Sign ``data`` for (round, model), deliver it to the service at ``url`` and keep the checked receipt.

    ``oracle`` is the address receipts must be signed by (the tournament's oracle; read it from the chain's
    ORACLE_ROLE or the deployment's roles, never from the service itself). A duplicate (the service already has
    exactly this request) is not an error: the receipt attached to the refusal is checked and kept."""
    sub = sign_submission(account, chain_id, tournament, round, model_id, data, deadline, file_name=file_name)
    client = client or ServiceClient(url)
    try:
        receipt = client.post_submission(sub, data)
    except ServiceError as exc:
        if exc.code != "duplicate" or not isinstance(exc.body.get("receipt"), dict):
            raise
        receipt = Receipt.from_json(exc.body["receipt"], "duplicate's receipt")
    problems = check_receipt_matches(receipt, sub, Web3.to_checksum_address(oracle))
    if problems:
        raise ServiceError(0, "bad_receipt", "the service's receipt does not check out: " + "; ".join(problems))
    saved = save_receipt(receipts_dir or default_receipts_dir(), receipt) if save else None
    return HttpSubmitResult(sub, receipt, saved)
