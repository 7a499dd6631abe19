"""The manifest schema: canonical JSON, hashing, validation."""

from __future__ import annotations

import hashlib
import json

import pytest
from eth_utils import keccak

from oracle.bundle.manifest import (
    SCHEMA_VERSION,
    ChainRef,
    FileEntry,
    Manifest,
    ManifestError,
    PayoutLimit,
    PreviousLink,
    Totals,
    canonical_json,
    keccak_hex,
    sha256_hex,
)

ROOT = "0x" + "ab" * 32
BIG = 10**30  # far beyond 2**53 and int64


def make_manifest(**overrides) -> Manifest:
    fields = dict(
        round=7,
        files={
            "scores.parquet": FileEntry.of("scores.parquet", b"scores"),
            "tree.json": FileEntry.of("tree.json", b"{}"),
        },
        params={"corr_weight": 0.5, "mmc_weight": 2.0, "clip": 0.05, "payout_threshold": str(BIG)},
        totals=Totals(
            round_payout=BIG, round_burn=3, cumulative_payout=BIG + 1, cumulative_burn=4, stake_at_risk=2 * BIG
        ),
        root=ROOT,
        versions={"oracle": "0.1.0", "numerai_tools": "0.7.2"},
        chain=ChainRef(1337, "0x" + "12" * 20),
        previous=PreviousLink(6, "rounds/6/manifest-000001-" + "cd" * 32 + ".json", "0x" + "cd" * 32),
    )
    fields.update(overrides)
    return Manifest(**fields)


def test_known_hashes_of_empty_input():
    assert sha256_hex(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert keccak_hex(b"") == "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_canonical_json_sorts_keys_and_has_no_whitespace():
    assert canonical_json({"b": 1, "a": [1.5, "x", None, True], "c": {"z": 0, "y": "é"}}) == (
        b'{"a":[1.5,"x",null,true],"b":1,"c":{"y":"\\u00e9","z":0}}'
    )


@pytest.mark.parametrize(
    "value, fragment",
    [
        ({"amount": 2**53}, "$.amount"),
        ({"x": [float("nan")]}, "$.x[0]"),
        ({"x": float("inf")}, "$.x"),
        ({1: "a"}, "key 1"),
        ({"x": b"bytes"}, "$.x"),
    ],
)
def test_canonical_json_refuses_unreproducible_values(value, fragment):
    with pytest.raises(ManifestError, match=fragment.replace("$", r"\$").replace("[", r"\[").replace("]", r"\]")):
        canonical_json(value)


def test_file_entry_hashes_and_mismatch():
    entry = FileEntry.of("predictions.parquet", b"hello")
    assert entry.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert entry.keccak256 == "0x" + keccak(b"hello").hex()
    assert entry.size == 5 and entry.extension == "parquet"
    assert entry.mismatch(b"hello") is None
    problem = entry.mismatch(b"hellO")
    assert "sha256" in problem and "keccak256" in problem and "size" not in problem
    assert "size 4 != 5" in entry.mismatch(b"hell")


@pytest.mark.parametrize("name", ["../evil.json", "a/b.json", "noext", ".hidden.json", ""])
def test_file_names_cannot_escape_the_object_store(name):
    with pytest.raises(ManifestError, match="file name"):
        FileEntry.of(name, b"x")


def test_manifest_round_trips_and_hash_is_keccak_of_canonical_bytes():
    manifest = make_manifest()
    data = manifest.to_bytes()
    # Independent serialisation of the same document: the canonical form is plain sorted compact JSON.
    reference = json.dumps(json.loads(data), sort_keys=True, separators=(",", ":")).encode()
    assert data == reference
    assert manifest.keccak256 == "0x" + keccak(data).hex()
    again = Manifest.from_bytes(data, "somewhere")
    assert again == manifest
    assert again.to_bytes() == data


def test_amounts_are_decimal_strings_and_survive_exactly():
    d = json.loads(make_manifest().to_bytes())
    assert d["schema"] == SCHEMA_VERSION
    assert d["totals"]["round_payout"] == "1" + "0" * 30
    assert d["totals"]["stake_at_risk"] == "2" + "0" * 30
    assert d["params"]["payout_threshold"] == str(BIG)
    assert Manifest.from_bytes(make_manifest().to_bytes()).totals.cumulative_payout == BIG + 1


def test_on_chain_fields_are_optional():
    manifest = make_manifest(chain=None, previous=None)
    d = json.loads(manifest.to_bytes())
    assert d["chain"] is None and d["previous"] is None
    assert Manifest.from_bytes(manifest.to_bytes()) == manifest


def test_any_change_changes_the_hash():
    base = make_manifest().keccak256
    assert make_manifest(root="0x" + "ac" * 32).keccak256 != base
    assert make_manifest(params={"clip": 0.06}).keccak256 != base
    assert make_manifest(round=8).keccak256 != base


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: d.pop("root"), "root is missing"),
        (lambda d: d.update(root="0xAB"), "root must be"),
        (lambda d: d.update(schema="other/9"), "schema must be"),
        (lambda d: d.update(round=-1), "round must be"),
        (lambda d: d["totals"].update(round_burn=5), "totals.round_burn must be a non-negative decimal string"),
        (lambda d: d["totals"].update(round_burn="-5"), "totals.round_burn"),
        (lambda d: d["files"]["tree.json"].update(sha256="xyz"), "files.tree.json.sha256"),
        (lambda d: d["files"]["tree.json"].update(size="2"), "files.tree.json.size"),
        (lambda d: d["chain"].update(contract="0x12"), "chain.contract"),
        (lambda d: d["previous"].update(round=7), "previous.round 7 must be below round 7"),
        (lambda d: d["params"].update(big=2**60), r"params.big: integer"),
        (lambda d: d.update(payout_limit={"rule": "pro-rata-ceil", "limit": "1", "block": 3}), "payout_limit.rule"),
        (lambda d: d.update(payout_limit={"rule": "pro-rata-floor", "limit": 1, "block": 3}), "payout_limit.limit"),
        (lambda d: d.update(payout_limit={"rule": "pro-rata-floor", "limit": "1", "block": -3}), "payout_limit.block"),
    ],
)
def test_malformed_manifests_are_named(mutate, fragment):
    d = json.loads(make_manifest().to_bytes())
    mutate(d)
    with pytest.raises(ManifestError, match=fragment) as info:
        Manifest.from_bytes(json.dumps(d).encode(), "s3://bucket/rounds/7/m.json")
    assert "s3://bucket/rounds/7/m.json" in str(info.value)


def test_not_json_is_a_clear_error():
    with pytest.raises(ManifestError, match=r"where.json: not valid JSON"):
        Manifest.from_bytes(b"{not json", "where.json")


def test_the_payout_limit_is_recorded_exactly_and_optional():
    with_limit = make_manifest(payout_limit=PayoutLimit(limit=BIG + 7, block=123))
    data = json.loads(with_limit.to_bytes())
    assert data["payout_limit"] == {"rule": "pro-rata-floor", "limit": str(BIG + 7), "block": 123}
    again = Manifest.from_bytes(with_limit.to_bytes())
    assert again.payout_limit == PayoutLimit(BIG + 7, 123) and again.to_bytes() == with_limit.to_bytes()
    assert with_limit.keccak256 != make_manifest().keccak256
    # Without a limit the key is absent (and the manifest reads back without one).
    assert "payout_limit" not in json.loads(make_manifest().to_bytes())
    assert Manifest.from_bytes(make_manifest().to_bytes()).payout_limit is None
