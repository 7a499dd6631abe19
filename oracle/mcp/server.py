"""The MCP server of ``tourney mcp``: the session's tools and resources on the SDK's ``MCPServer``, behind a guard.

Every tool returns a ``CallToolResult`` whose ``structuredContent`` follows the tool's ``outputSchema`` (success) or
is ``{"error": {code, message, next, details}}`` with ``isError`` (failure; oracle.mcp.errors). Tool calls run one
at a time (one lock): they share one account, hence one nonce sequence, and one spending limit.

The :class:`Guard` middleware sees every message, before and after its handler:

* before a tool runs it refuses, with a structured error, an unknown tool (naming ``value_tools_off`` when it is a
  value-moving tool the server was started without), an argument the tool does not take, and any argument that
  looks like key material (a 32-byte hex string, or the server's own key or password);
* after any handler it looks for the private key and the keystore password in every string of the result, and
  withholds a result that contains one (``output_withheld``); it also gives the SDK's own unstructured tool errors
  (arguments failing the schema) the structured form.

Resources: ``tourney://skills`` (docs/skills.md), ``tourney://params`` and ``tourney://rounds/{round}/params``.
"""

from __future__ import annotations

import inspect
import json
import re
import threading
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, CallToolResult, TextContent, ToolAnnotations

import oracle
from oracle.mcp.errors import ToolFailure, as_failure, error_document
from oracle.mcp.reading import parameters
from oracle.mcp.session import ParticipantSession
from oracle.mcp.tools import ToolSpec, specs

__all__ = ["SKILLS_PATH", "VALUE_TOOLS", "Guard", "build_server", "skills_text"]

SKILLS_PATH = Path(__file__).resolve().parents[2] / "docs" / "skills.md"
#: The tools that exist only when the server was started with a spending limit.
VALUE_TOOLS = frozenset({"stake", "request_withdrawal", "withdraw"})
_HEX32 = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")

INSTRUCTIONS = (
    "A staked prediction tournament. Read the resource tourney://skills before anything else: it gives the rules, "
    "the data and file formats, every tool with an example, every error code and the safety rules. The server signs "
    "with its own keystore account: never pass keys or passwords to a tool. Tool errors are structured: follow "
    "error.next."
)


def skills_text() -> str:
    """docs/skills.md, the document an agent reads first."""
    try:
        return SKILLS_PATH.read_text()
    except FileNotFoundError:
        raise ResourceError(
            f"the skills document is missing at {SKILLS_PATH} (tourney is not installed from a checkout)"
        ) from None


def _result(document: dict[str, Any], error: bool) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(text=json.dumps(document, sort_keys=True))], structured_content=document, is_error=error
    )


def _wire(result: CallToolResult) -> dict[str, Any]:
    return result.model_dump(by_alias=True, mode="json", exclude_none=True)


def _strings(value: Any) -> Iterable[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


class Guard:
    """The middleware described in the module docstring."""

    def __init__(self, secrets: list[str], arguments: dict[str, set[str]]) -> None:
        self.secrets = [s.lower() for s in secrets if s]
        # A secret inside JSON text (a tool's text content) appears with its quotes and backslashes escaped.
        self.secrets += [json.dumps(s)[1:-1] for s in self.secrets if json.dumps(s)[1:-1] != s]
        self.arguments = arguments

    def leaks(self, value: Any) -> bool:
        return any(secret in text.lower() for text in _strings(value) for secret in self.secrets)

    def refusal(self, name: Any, arguments: Any) -> dict[str, Any] | None:
        """The error document for a tool call that must not run, or None."""
        if name in VALUE_TOOLS and name not in self.arguments:
            return ToolFailure(
                "value_tools_off",
                f"{name} is off: the server was started without --max-stake",
            ).document()
        if name not in self.arguments:
            return ToolFailure(
                "unknown_tool", f"there is no tool {name!r}; tools: {', '.join(sorted(self.arguments))}"
            ).document()
        if not isinstance(arguments, dict):
            return None  # the SDK refuses it against the schema
        unknown = sorted(set(arguments) - self.arguments[name])
        if unknown:
            allowed = ", ".join(sorted(self.arguments[name])) or "none"
            return ToolFailure(
                "invalid_arguments",
                f"{name} takes no argument {', '.join(unknown)} (it takes: {allowed})",
                unknown=unknown,
            ).document()
        if any(_HEX32.match(text.strip()) for text in _strings(arguments)) or self.leaks(arguments):
            return ToolFailure(
                "key_material_refused",
                f"an argument of {name} looks like key material (a 32-byte "
                "hex string or this server's secret); it was not used",
            ).document()
        return None

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Any]) -> Any:
        params = ctx.params if isinstance(ctx.params, dict) else {}
        if ctx.method == "tools/call":
            refused = self.refusal(params.get("name"), params.get("arguments") or {})
            if refused is not None:
                return _wire(_result(refused, error=True))
        result = await call_next(ctx)
        if (
            ctx.method == "tools/call"
            and isinstance(result, dict)
            and result.get("isError")
            and result.get("structuredContent") is None
        ):
            text = " ".join(c.get("text", "") for c in result.get("content", []) if isinstance(c, dict))
            code = "invalid_arguments" if "validation error" in text else "internal"
            document = error_document(code, text or "the tool failed")
            result = {
                **result,
                "content": [{"type": "text", "text": json.dumps(document, sort_keys=True)}],
                "structuredContent": document,
            }
        if self.leaks(result):
            if ctx.method == "tools/call":
                return _wire(
                    _result(
                        ToolFailure("output_withheld", "the result contained key material and was withheld").document(),
                        error=True,
                    )
                )
            raise MCPError(code=INTERNAL_ERROR, message="output_withheld: the result contained key material")
        return result


def _arguments(spec: ToolSpec) -> inspect.Signature:
    """The tool's signature without its ``session``: the agent's arguments."""
    signature = inspect.signature(spec.function, eval_str=True)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def _tool_function(spec: ToolSpec, session: ParticipantSession, lock: threading.Lock) -> Callable[..., CallToolResult]:
    """The function the SDK registers for ``spec``: the tool's arguments (so its inputSchema), an outputSchema
    from the spec's model, and every outcome as a CallToolResult (errors structured, never raised)."""
    function = spec.function

    def run(**arguments: Any) -> CallToolResult:
        with lock:
            try:
                out = function(session, **arguments)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a structured tool error
                return _result(as_failure(exc).document(), error=True)
        return _result(out.model_dump(mode="json"), error=False)

    run.__name__ = spec.name
    notes = []
    if spec.signs:
        notes.append("Signs with the server's account.")
    if spec.moves_value:
        notes.append("Moves tokens: refused above the server's spending limit.")
    run.__doc__ = " ".join([inspect.getdoc(function) or "", *notes]).strip()
    run.__signature__ = _arguments(spec).replace(  # type: ignore[attr-defined]
        return_annotation=Annotated[CallToolResult, spec.output]
    )
    return run


def build_server(session: ParticipantSession) -> MCPServer:
    """The MCP server for one session: tools, resources, and the guard."""
    offered = specs(session)
    lock = threading.Lock()
    arguments = {s.name: set(_arguments(s).parameters) for s in offered}
    server = MCPServer(
        "tourney",
        title="Staked prediction tournament (participant)",
        version=oracle.__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        middleware=[Guard(session.secrets(), arguments)],
    )
    for spec in offered:
        server.add_tool(
            _tool_function(spec, session, lock),
            name=spec.name,
            annotations=ToolAnnotations(
                title=spec.name.replace("_", " "),
                read_only_hint=spec.read_only,
                destructive_hint=spec.moves_value,
                idempotent_hint=spec.idempotent,
                open_world_hint=True,
            ),
        )

    def locked(read: Callable[[], Any]) -> str:
        with lock:
            try:
                return json.dumps(read(), indent=1, sort_keys=True)
            except Exception as exc:  # noqa: BLE001 - a resource error carries the structured document as text
                raise ResourceError(json.dumps(as_failure(exc).document(), sort_keys=True)) from None

    @server.resource(
        "tourney://skills",
        name="skills",
        title="How to take part (read first)",
        mime_type="text/markdown",
        description="Rules, data, file format, every tool with an example, error codes and safety rules.",
    )
    def skills() -> str:
        return skills_text()

    @server.resource(
        "tourney://params",
        name="params",
        title="Tournament parameters",
        mime_type="application/json",
        description="Chain bounds (challenge period, payout and burn caps), root ring sizes, the "
        "round cursor, this server's limits and the newest published scoring parameters.",
    )
    def params() -> str:
        return locked(lambda: parameters(session))

    @server.resource(
        "tourney://rounds/{round}/params",
        name="round-params",
        title="One round's parameters",
        mime_type="application/json",
        description="The round's schedule and caps (fixed when it opened) and its scoring parameters once published.",
    )
    def round_params(round: str) -> str:
        if not round.isdigit() or int(round) < 1:
            raise ResourceError(json.dumps(error_document("unknown_round", f"{round!r} is not a round number")))
        return locked(lambda: parameters(session, int(round)))

    return server
