"""Structured tool errors: every refusal an agent can meet has a stable code, a message that says what is wrong and
where, and the next thing to do.

A tool never raises into the MCP SDK: it returns ``isError: true`` with ``structuredContent`` =
``{"error": {"code", "message", "next", "details"}}`` (and the same JSON as text). :data:`CODES` is the one list of
codes and their default next step; docs/skills.md carries the same table (a test holds the two equal). Codes the
operator's service sends back (``late``, ``replayed``, ``rate_limited``...) pass through unchanged, so an agent
reads one vocabulary whichever side refused.
"""

from __future__ import annotations

from typing import Any

from oracle.errors import TourneyError

__all__ = ["CODES", "SERVICE_CODES", "REVERT_NEXT", "ToolFailure", "error_document", "as_failure"]

#: Code -> what the agent should do next (the default; a failure may give a more precise one).
CODES: dict[str, str] = {
    # -- the call itself
    "invalid_arguments": "call again with arguments that match the tool's inputSchema (tools/list shows it)",
    "unknown_tool": "call tools/list and use one of the tools it names",
    "key_material_refused": "never pass a private key, mnemonic or password to a tool: the server signs with its "
    "own keystore; remove it from the arguments (and from your notes)",
    "output_withheld": "a result would have contained key material and was withheld; report it to the human "
    "operator and do not retry",
    "internal": "an unexpected error; report the message to the human operator",
    # -- how the server was started
    "no_account": "this tool signs: the human must restart tourney mcp with --account NAME (password in "
    "TOURNEY_PASSWORD)",
    "no_service": "this tool needs the operator's service: the human must restart tourney mcp with --service URL",
    "value_tools_off": "stake, request_withdrawal and withdraw are off: the human must restart tourney mcp with "
    "--max-stake AMOUNT to allow them",
    "spending_limit": "stake at most details.max_allowed tokens, or ask the human to restart with a higher "
    "--max-stake / --max-stake-per-call",
    # -- arguments the chain or the files refuse
    "invalid_amount": 'give the amount in tokens as a decimal string, e.g. "12.5" (or "all" where allowed)',
    "unknown_model": "register_model first, or use a model id that account_info lists",
    "not_owner": "use one of your own model ids (account_info lists them)",
    "insufficient_balance": "stake less (account_info shows token_balance) or ask the human to fund the account",
    "path_outside_workdir": "write your files inside the server's workdir (account_info shows it) and pass that path",
    "file_not_found": "write the file first; a relative path is relative to the server's workdir (account_info)",
    "invalid_predictions": "fix every problem in details.problems, then validate_predictions again",
    # -- rounds and their timing
    "unknown_round": "call list_rounds and use a round it shows",
    "round_not_open": "call list_rounds and submit to the open round",
    "late": "the round closed for submissions; predict the next open round",
    "no_live_data": "the operator has not published this round's live data yet; call list_rounds and retry shortly",
    "not_published": "the round has no proposed results yet; wait until list_rounds shows it proposed or active",
    "not_active": "nothing can be settled against this round yet; wait until list_rounds shows it active",
    # -- stake and exit
    "nothing_pending": "call request_withdrawal first",
    "withdrawal_waits": "the amount is still at risk in details.after_round; call withdraw again once that round "
    "is active (list_rounds)",
    "request_id_reused": "this request_id was used for a different request; use a fresh request_id",
    "outcome_unknown": "an earlier call with this request_id may or may not have landed: check model_status; if it "
    "did not, retry with a new request_id",
    "reverted": "the contract refused the transaction; details.revert names its custom error",
    # -- the world outside
    "chain_unavailable": "the JSON-RPC node does not answer; retry in a while",
    "service_unavailable": "the operator's service does not answer; retry in a while",
    "bundle_unavailable": "the round's published bundle cannot be read or does not match the chain; retry later and "
    "report it if it persists (verify_round)",
    "bad_receipt": "the operator's answer does not check out as a receipt; do not rely on it, report it and retry",
    "refused": "the message says what is wrong and what would fix it",
    # -- passed through from the operator's service
    "duplicate": "this exact submission is already the current one; its receipt is in details.receipt",
    "replayed": "the operator refused an old signature back and signing anew did not help; write the predictions "
    "again (any change, e.g. rounding) and submit that file",
    "rate_limited": "wait details.retry_after seconds, then retry",
    "file_too_large": "the file is above the service's size limit; write fewer digits or use Parquet",
    "malformed_file": "the file is neither CSV nor Parquet with id + one prediction column; rewrite it",
    "expired": "the signature's deadline passed: the round closed; predict the next open round",
    "hash_mismatch": "the file changed while it was being sent; submit again",
    "bad_signature": "the signature does not check out; report it (the server signs, so this is a bug)",
    "wrong_chain": "the service serves another chain than this server: the human must fix --rpc or --service",
    "wrong_contract": "the service serves another tournament than this server: the human must fix --deployment "
    "or --service",
    "wrong_round": "the submission was sent for another round than it was signed for; submit again",
    "invalid_submission": "the signed record was refused; submit again, report it if it persists",
    "storage_unavailable": "the operator cannot store files right now; retry in a while",
    "database_unavailable": "the operator's database did not take the submission (nothing was receipted); retry in "
    "a while",
    "busy": "other submissions of the same model won a race at the operator; nothing was receipted, submit again",
    "no_proposal": "the round has no proposed results yet; wait until list_rounds shows it proposed or active",
    "not_in_tree": "the model has no leaf in this round (registered after it closed); use a later round",
    "no_rules": "the round's rules are published when it opens; call list_rounds and use the open round",
    "not_found": "the service has no such file or path; tell the human",
    "unknown_bundle": "no root of this tournament was proposed with that manifest hash; take hashes from list_rounds",
    "unknown_file": "the bundle has no file of that name; its manifest.json lists every file",
    "bad_address": "give an address as 0x and 40 hex digits",
}

#: The error codes of the operator's service (oracle.service.app) that may reach an agent through a tool.
SERVICE_CODES = frozenset(
    {
        "bad_signature",
        "bundle_unavailable",
        "chain_unavailable",
        "duplicate",
        "expired",
        "file_too_large",
        "hash_mismatch",
        "invalid_predictions",
        "invalid_submission",
        "late",
        "malformed_file",
        "no_live_data",
        "no_proposal",
        "not_in_tree",
        "not_owner",
        "rate_limited",
        "replayed",
        "round_not_open",
        "storage_unavailable",
        "database_unavailable",
        "busy",
        "unknown_model",
        "unknown_round",
        "wrong_chain",
        "wrong_contract",
        "wrong_round",
        "no_rules",
        "not_found",
        # the web app's routes (bundle downloads, the leaderboard by owner)
        "unknown_bundle",
        "unknown_file",
        "bad_address",
    }
)


class ToolFailure(TourneyError):
    """A tool refuses: ``code`` (one of :data:`CODES`), what is wrong, what to do next, and structured details."""

    def __init__(self, code: str, message: str, next: str | None = None, **details: Any) -> None:
        if code not in CODES:
            raise ValueError(
                f"unregistered tool error code {code!r}: add it to oracle.mcp.errors.CODES and docs/skills.md"
            )
        super().__init__(message)
        self.code, self.message, self.details = code, message, details
        self.next = next or CODES[code]

    def document(self) -> dict[str, Any]:
        return error_document(self.code, self.message, self.next, self.details)


def error_document(
    code: str, message: str, next: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``structuredContent`` of a failed tool call."""
    return {
        "error": {
            "code": code,
            "message": " ".join(str(message).split()),
            "next": next or CODES.get(code, ""),
            "details": details or {},
        }
    }


#: What to do after the contract's custom errors an agent can cause (others get the generic ``reverted`` advice).
REVERT_NEXT: dict[str, str] = {
    "WithdrawalExceedsStake": "request at most the model's settled stake minus what is already pending "
    "(model_status), settling first to include unsettled payouts",
    "NoPendingWithdrawal": "call request_withdrawal first",
    "UnsettledRounds": "the model must be settled through details.revert_args.requiredRound first: settle it once "
    "that round is active",
    "NotModelOwner": "use one of your own model ids (account_info lists them)",
    "UnknownModel": "register_model first, or use a model id that account_info lists",
    "RootNotActive": "wait until list_rounds shows the round active",
    "StaleRound": "settle against a newer active round (omit round to use the newest)",
    "EnforcedPause": "the tournament is paused by its pauser; wait and retry later",
}


def as_failure(exc: BaseException) -> ToolFailure:
    """The structured form of anything a tool raised: its own failures as they are, the project's errors by kind
    (a revert with its custom error, the service's own code, an unreachable node), anything else as ``internal``."""
    from oracle.chain.tx import ContractReverted, RpcUnavailable
    from oracle.participant.service_client import ServiceError

    if isinstance(exc, ToolFailure):
        return exc
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ContractReverted):
        return ToolFailure(
            "reverted",
            message,
            REVERT_NEXT.get(exc.error),
            revert=exc.error,
            revert_args={k: str(v) for k, v in exc.args_by_name.items()},
        )
    if isinstance(exc, RpcUnavailable):
        return ToolFailure("chain_unavailable", message)
    if isinstance(exc, ServiceError):
        details: dict[str, Any] = {"status": exc.status}
        for key in ("retry_after", "problems", "receipt"):
            if exc.body.get(key) is not None:
                details[key] = exc.body[key]
        if exc.code == "unreachable":
            return ToolFailure("service_unavailable", message, **details)
        if exc.code in CODES:
            return ToolFailure(exc.code, message, **details)
        return ToolFailure("refused", message, service_code=exc.code, **details)
    if isinstance(exc, FileNotFoundError):
        return ToolFailure("file_not_found", f"file not found: {exc.filename or exc}")
    if isinstance(exc, TourneyError):
        return ToolFailure("refused", message)
    return ToolFailure("internal", f"{type(exc).__name__}: {message}")
