"""The round manifest: schema, canonical JSON, and hashing.

A manifest names every file of a round bundle by content (SHA-256 and keccak-256 and size) and records
everything needed to re-derive the round's result: the scoring parameters, the code versions, the totals
and the Merkle root. Its keccak-256 is what goes on-chain as ``manifestHash``, so its bytes must be
reproducible: we serialise it as *canonical JSON* (sorted keys, no insignificant whitespace, ASCII only,
no NaN/Infinity) and every token amount is a decimal string, because JSON readers in other languages
(JavaScript above all) silently lose precision on integers beyond 2**53.

Layout of a manifest (schema ``tourney-round-manifest/1``)::

    {
      "schema": "tourney-round-manifest/1",
      "round": 42,
      "chain": {"chain_id": 1337, "contract": "0x..."} | null,
      "files": {"predictions.parquet": {"sha256": "<64 hex>", "keccak256": "0x<64 hex>", "size": 123}, ...},
      "params": {... RoundParams.to_dict(), integers as decimal strings ...},
      "totals": {"round_payout": "..", "round_burn": "..", "cumulative_payout": "..",
                 "cumulative_burn": "..", "stake_at_risk": ".."},
      "root": "0x<64 hex>",
      "versions": {"oracle": "0.1.0", "numerai_tools": "0.7.2"},
      "previous": {"round": 41, "uri": "...", "keccak256": "0x..."} | null,
      "payout_limit": {"rule": "pro-rata-floor", "limit": "..", "block": 123}      (optional)
    }

``previous`` links the manifest of the round this one builds on: the last *active* round before it (a lapsed round
has a zero result and no leaves). ``payout_limit`` records the rule that keeps the round's payouts within the
tournament's free reserve (the reserve funded minus the payouts activated, from events up to ``block``: the later of
the round's close and the previous round's resolution): when the payouts sum to more than ``limit``, each is scaled
to ``floor(payout * limit / total)`` (``oracle.scoring.payouts.scale_payouts``). Auditors recompute the scaling
from the recorded limit and the limit and block from the chain's events.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from eth_utils import keccak

from oracle.errors import TourneyError

SCHEMA_VERSION = "tourney-round-manifest/1"

# Integers at or beyond this bound are not exactly representable as IEEE doubles (JavaScript numbers).
MAX_SAFE_JSON_INT = 2**53 - 1

TOTAL_FIELDS = ("round_payout", "round_burn", "cumulative_payout", "cumulative_burn", "stake_at_risk")

_HEX32 = re.compile(r"^0x[0-9a-f]{64}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]*)$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\.[A-Za-z0-9]+$")


class ManifestError(TourneyError, ValueError):
    """A manifest is malformed; the message names the manifest and the offending key."""


# ---------------------------------------------------------------------------------------------- hashing


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 lowercase hex digits (no prefix: the form used in object names)."""
    return hashlib.sha256(data).hexdigest()


def keccak_hex(data: bytes) -> str:
    """Keccak-256 of ``data`` as ``0x`` + 64 lowercase hex digits (the form a bytes32 takes on-chain)."""
    return "0x" + keccak(data).hex()


# ------------------------------------------------------------------------------------------ canonical JSON


def _check_json_safe(value: Any, path: str) -> None:
    """Refuse values whose JSON form would not be reproducible or would lose precision elsewhere."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_JSON_INT:
            raise ManifestError(f"{path}: integer {value} exceeds 2**53; store it as a decimal string")
        return
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ManifestError(f"{path}: {value} is not representable in JSON")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ManifestError(f"{path}: key {key!r} is not a string")
            _check_json_safe(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json_safe(item, f"{path}[{i}]")
        return
    raise ManifestError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` as canonical JSON bytes: sorted keys, compact separators, ASCII, no NaN.

    Python's float repr is the shortest round-tripping form, so floats are reproducible too.
    """
    _check_json_safe(value, "$")
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.encode("ascii")


# ------------------------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class FileEntry:
    """One file of a bundle, named by content."""

    name: str
    sha256: str
    keccak256: str
    size: int

    @classmethod
    def of(cls, name: str, data: bytes, keccak256: str | None = None) -> FileEntry:
        """Describe ``data`` stored under the logical ``name`` (e.g. ``predictions.parquet``). ``keccak256`` is the
        data's keccak when the caller has just computed it over these bytes (a signed prediction file's checked
        hash): a file of the round's thousands is not hashed twice."""
        _check_file_name(name, "files")
        return cls(name=name, sha256=sha256_hex(data), keccak256=keccak256 or keccak_hex(data), size=len(data))

    @property
    def extension(self) -> str:
        """The file's extension without the dot (``parquet``, ``json``)."""
        return self.name.rsplit(".", 1)[1]

    def mismatch(self, data: bytes) -> str | None:
        """Return a description of how ``data`` differs from this entry, or None if it matches."""
        problems = []
        if len(data) != self.size:
            problems.append(f"size {len(data)} != {self.size}")
        digest = sha256_hex(data)
        if digest != self.sha256:
            problems.append(f"sha256 {digest} != {self.sha256}")
        kdigest = keccak_hex(data)
        if kdigest != self.keccak256:
            problems.append(f"keccak256 {kdigest} != {self.keccak256}")
        return "; ".join(problems) or None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the name is the key in the manifest's ``files`` object)."""
        return {"sha256": self.sha256, "keccak256": self.keccak256, "size": self.size}


@dataclass(frozen=True)
class ChainRef:
    """Where an on-chain round lives."""

    chain_id: int
    contract: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form; the address is stored as given after validation (checksummed or lowercase)."""
        return {"chain_id": self.chain_id, "contract": self.contract}


@dataclass(frozen=True)
class PreviousLink:
    """The previous round's manifest: an auditor walks this chain of links back to round one."""

    round: int
    uri: str
    keccak256: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"round": self.round, "uri": self.uri, "keccak256": self.keccak256}


#: The one payout-scaling rule: ``floor(payout * limit / total)`` when the payouts sum to more than the limit.
PAYOUT_LIMIT_RULE = "pro-rata-floor"


@dataclass(frozen=True)
class PayoutLimit:
    """The round's payout limit (the chain's ``payoutLimit(round)`` at ``block``) and the rule applied to it."""

    limit: int
    block: int
    rule: str = PAYOUT_LIMIT_RULE

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the limit as a decimal string."""
        return {"rule": self.rule, "limit": str(self.limit), "block": self.block}


@dataclass(frozen=True)
class Totals:
    """Token amounts (smallest unit) that the oracle posts on-chain with the root."""

    round_payout: int
    round_burn: int
    cumulative_payout: int
    cumulative_burn: int
    stake_at_risk: int

    def to_dict(self) -> dict[str, str]:
        """JSON form: every amount as a decimal string."""
        return {name: str(getattr(self, name)) for name in TOTAL_FIELDS}


@dataclass(frozen=True)
class Manifest:
    """A round's manifest; ``to_bytes`` gives its canonical form, ``keccak256`` the on-chain hash."""

    round: int
    files: Mapping[str, FileEntry]
    params: Mapping[str, Any]
    totals: Totals
    root: str
    versions: Mapping[str, str]
    chain: ChainRef | None = None
    previous: PreviousLink | None = None
    payout_limit: PayoutLimit | None = None
    schema: str = SCHEMA_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate_manifest_dict(self.to_dict(), "manifest")

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form (``extra`` holds forward-compatible keys a newer writer added)."""
        d: dict[str, Any] = dict(self.extra)
        d.update(
            schema=self.schema,
            round=self.round,
            chain=self.chain.to_dict() if self.chain else None,
            files={name: entry.to_dict() for name, entry in self.files.items()},
            params=dict(self.params),
            totals=self.totals.to_dict(),
            root=self.root,
            versions=dict(self.versions),
            previous=self.previous.to_dict() if self.previous else None,
        )
        if self.payout_limit is not None:
            d["payout_limit"] = self.payout_limit.to_dict()
        return d

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes: what is stored and what is hashed."""
        return canonical_json(self.to_dict())

    @property
    def keccak256(self) -> str:
        """The manifest hash posted on-chain."""
        return keccak_hex(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "manifest") -> Manifest:
        """Parse and validate manifest bytes; ``where`` (e.g. the URI) is named in every error."""
        try:
            d = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{where}: not valid JSON: {exc}") from exc
        return cls.from_dict(d, where)

    @classmethod
    def from_dict(cls, d: Any, where: str = "manifest") -> Manifest:
        """Build from the JSON form, validating every key."""
        _validate_manifest_dict(d, where)
        known = {
            "schema",
            "round",
            "chain",
            "files",
            "params",
            "totals",
            "root",
            "versions",
            "previous",
            "payout_limit",
        }
        chain = d["chain"]
        previous = d["previous"]
        limit = d.get("payout_limit")
        return cls(
            schema=d["schema"],
            round=d["round"],
            chain=ChainRef(chain["chain_id"], chain["contract"]) if chain is not None else None,
            files={
                name: FileEntry(name, e["sha256"], e["keccak256"], e["size"]) for name, e in sorted(d["files"].items())
            },
            params=d["params"],
            totals=Totals(**{name: int(d["totals"][name]) for name in TOTAL_FIELDS}),
            root=d["root"],
            versions=d["versions"],
            previous=PreviousLink(previous["round"], previous["uri"], previous["keccak256"]) if previous else None,
            payout_limit=PayoutLimit(int(limit["limit"]), limit["block"], limit["rule"]) if limit else None,
            extra={k: v for k, v in d.items() if k not in known},
        )


# ------------------------------------------------------------------------------------------- validation


def _fail(where: str, key: str, problem: str) -> ManifestError:
    return ManifestError(f"{where}: {key} {problem}")


def _check_file_name(name: Any, where: str) -> None:
    # Names become parts of object paths: forbid separators and dot-dot so a manifest cannot point outside.
    if not isinstance(name, str) or not _FILE_NAME.match(name):
        raise _fail(where, f"file name {name!r}", "must look like 'name.ext' (letters, digits, '_', '-', '.')")


def _require_mapping(d: Any, where: str, key: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise _fail(where, key, f"must be an object, got {type(d).__name__}")
    return d


def _require_small_int(value: Any, where: str, key: str, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_SAFE_JSON_INT:
        raise _fail(where, key, f"must be an integer in [{minimum}, 2**53), got {value!r}")


def _require_pattern(value: Any, pattern: re.Pattern[str], where: str, key: str, what: str) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise _fail(where, key, f"must be {what}, got {value!r}")


def _validate_manifest_dict(d: Any, where: str) -> None:
    """Check the JSON form of a manifest; raise ManifestError naming the first bad key."""
    d = _require_mapping(d, where, "manifest")
    required = ("schema", "round", "chain", "files", "params", "totals", "root", "versions", "previous")
    for key in required:
        if key not in d:
            raise _fail(where, key, "is missing")
    if d["schema"] != SCHEMA_VERSION:
        raise _fail(where, "schema", f"must be {SCHEMA_VERSION!r}, got {d['schema']!r}")
    _require_small_int(d["round"], where, "round")
    if d["chain"] is not None:
        chain = _require_mapping(d["chain"], where, "chain")
        _require_small_int(chain.get("chain_id"), where, "chain.chain_id", minimum=1)
        _require_pattern(chain.get("contract"), _ADDRESS, where, "chain.contract", "a 20-byte 0x address")
    files = _require_mapping(d["files"], where, "files")
    for name, entry in files.items():
        _check_file_name(name, where)
        entry = _require_mapping(entry, where, f"files.{name}")
        _require_pattern(entry.get("sha256"), _SHA256, where, f"files.{name}.sha256", "64 lowercase hex digits")
        _require_pattern(entry.get("keccak256"), _HEX32, where, f"files.{name}.keccak256", "0x + 64 lowercase hex")
        _require_small_int(entry.get("size"), where, f"files.{name}.size")
    _require_mapping(d["params"], where, "params")
    totals = _require_mapping(d["totals"], where, "totals")
    for name in TOTAL_FIELDS:
        _require_pattern(totals.get(name), _DECIMAL, where, f"totals.{name}", "a non-negative decimal string")
    _require_pattern(d["root"], _HEX32, where, "root", "0x + 64 lowercase hex digits")
    versions = _require_mapping(d["versions"], where, "versions")
    for name, version in versions.items():
        if not isinstance(version, str):
            raise _fail(where, f"versions.{name}", f"must be a string, got {version!r}")
    if d["previous"] is not None:
        previous = _require_mapping(d["previous"], where, "previous")
        _require_small_int(previous.get("round"), where, "previous.round")
        if not isinstance(previous.get("uri"), str) or not previous["uri"]:
            raise _fail(where, "previous.uri", f"must be a non-empty string, got {previous.get('uri')!r}")
        _require_pattern(previous.get("keccak256"), _HEX32, where, "previous.keccak256", "0x + 64 lowercase hex")
        if previous["round"] >= d["round"]:
            raise _fail(where, "previous.round", f"{previous['round']} must be below round {d['round']}")
    if d.get("payout_limit") is not None:
        limit = _require_mapping(d["payout_limit"], where, "payout_limit")
        if limit.get("rule") != PAYOUT_LIMIT_RULE:
            raise _fail(where, "payout_limit.rule", f"must be {PAYOUT_LIMIT_RULE!r}, got {limit.get('rule')!r}")
        _require_pattern(limit.get("limit"), _DECIMAL, where, "payout_limit.limit", "a non-negative decimal string")
        _require_small_int(limit.get("block"), where, "payout_limit.block")
    _check_json_safe(d, where)
