"""A round's published rules: what a prediction file must satisfy to be scored, fixed when the round opens.

The operator writes them beside its bundles when it opens a round (``rules/round-<r>.json`` in its artifact store);
the service serves them (``GET /rounds/{r}/rules``); ``tourney data download`` saves them next to the live data,
and ``tourney submit`` checks a file against them before signing, so a participant learns of a problem before the
round closes, not from an unscored round afterwards. The service and the operator judge by the same rules.

The document (JSON)::

    {"schema": "tourney-round-rules/1", "round": 3,
     "params": {... the round's RoundParams ...},
     "live": {"file": "live_00003.parquet", "sha256": "<64 hex>", "ids": 2000},
     "file_format": {"extensions": [".csv", ".csv.gz", ".parquet", ".pq"], "id_column": "id",
                     "prediction_columns": 1, "range": [0, 1]}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from oracle.bundle.manifest import canonical_json
from oracle.errors import TourneyError
from oracle.scoring.params import ParamsError, RoundParams

__all__ = ["FILE_FORMAT", "RULES_SCHEMA", "RoundRules", "RulesError", "rules_record_name"]

RULES_SCHEMA = "tourney-round-rules/1"
#: What every round asks of a prediction file (the scoring code's rules: oracle.scoring.tables, .validation).
FILE_FORMAT: dict[str, Any] = {
    "extensions": [".csv", ".csv.gz", ".parquet", ".pq"],
    "id_column": "id",
    "prediction_columns": 1,
    "range": [0, 1],
}


class RulesError(TourneyError, ValueError):
    """A rules document is malformed; the message says where."""


def rules_record_name(round: int) -> str:
    """The artifact-store record holding a round's rules."""
    return f"rules/round-{int(round)}.json"


@dataclass(frozen=True)
class RoundRules:
    """A round's rules: its scoring parameters and the live data its files are checked against."""

    round: int
    params: RoundParams
    live_file: str
    live_sha256: str
    live_ids: int

    @property
    def min_live_share(self) -> float:
        return self.params.min_live_share

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": RULES_SCHEMA,
            "round": self.round,
            "params": self.params.to_dict(),
            "live": {"file": self.live_file, "sha256": self.live_sha256, "ids": self.live_ids},
            "file_format": FILE_FORMAT,
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, data: Any, where: str = "rules") -> "RoundRules":
        try:
            if data.get("schema") != RULES_SCHEMA:
                raise RulesError(f"{where}: schema is {data.get('schema')!r}, expected {RULES_SCHEMA!r}")
            live = data["live"]
            return cls(
                round=int(data["round"]),
                params=RoundParams.from_dict(data["params"]),
                live_file=str(live["file"]),
                live_sha256=str(live["sha256"]),
                live_ids=int(live["ids"]),
            )
        except (AttributeError, KeyError, TypeError, ValueError, ParamsError) as exc:
            if isinstance(exc, RulesError):
                raise
            raise RulesError(f"{where}: not a round rules document ({type(exc).__name__}: {exc})") from None

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "rules") -> "RoundRules":
        try:
            return cls.from_json(json.loads(data), where)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RulesError(f"{where}: not valid JSON ({exc})") from None
