"""The one root of every error the project raises on purpose: catch :class:`TourneyError` to catch them all.

Each class keeps its module (it is raised there, next to the rule it states) and says what is wrong and where.
Classes that stand for bad input also subclass ``ValueError``, so callers that catch ``ValueError`` keep working::

    TourneyError
    ├── ParamsError (ValueError)        oracle.scoring.params       a round's parameter set is malformed
    ├── TableError (ValueError)         oracle.scoring.validation   a prediction/target table cannot be used
    ├── EncodingError (ValueError)      oracle.settlement.encoding  a leaf value does not fit its ABI type
    ├── ManifestError (ValueError)      oracle.bundle.manifest      a manifest is malformed
    ├── BundleError (ValueError)        oracle.bundle.store         a bundle is incomplete, corrupt or inconsistent
    │   └── FetchError                  oracle.bundle.fetch         a bounded read was refused or failed
    │       └── FetchNotFound           oracle.bundle.fetch         nothing at an allowed URI
    ├── SubmissionError (ValueError)    oracle.protocol.submission  a signed submission or inbox entry is malformed
    ├── ReceiptError (ValueError)       oracle.protocol.receipt     an operator receipt is malformed
    ├── KeystoreError (ValueError)      oracle.chain.keystore       a keystore account or file is unusable
    ├── ChainError                      oracle.chain.tx             talking to the chain went wrong
    │   ├── RpcUnavailable              oracle.chain.tx             the JSON-RPC endpoint does not answer
    │   ├── ContractReverted            oracle.chain.tx             a call or transaction reverted (custom error)
    │   ├── ConnectionRefused           oracle.chain.connection     wrong chain, no contract, missing settings
    │   ├── EventLogError               oracle.chain.event_log      an event log file of another deployment
    │   ├── ParticipantError            oracle.participant          a participant action cannot be done
    │   └── OperatorError               oracle.operator             the operator cannot go on with a round
    ├── ServiceError                    oracle.participant          the operator's service refused a request
    ├── ApiError                        oracle.service              a request the service refuses (HTTP status)
    ├── ToolFailure                     oracle.mcp.errors           an MCP tool refuses (code, message, what next)
    ├── ChainNotAllowed                 oracle.mcp.policy           tourney mcp was pointed at a chain not allowed
    └── AgentError (RuntimeError)       oracle.mcp.agent            the scripted agent met an answer it cannot handle

The command line catches :class:`TourneyError` in one place (``oracle.cli``) and prints its message on one line.
"""

from __future__ import annotations

__all__ = ["TourneyError"]


class TourneyError(Exception):
    """An error of this project: the message says what is wrong, where, and when it helps, what to do."""
