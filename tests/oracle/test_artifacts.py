"""The content-addressed artifact store: layout, determinism, atomicity, verification, fsspec URLs."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow.parquet as pq
import pytest
from eth_utils import keccak

from oracle.bundle.manifest import ChainRef, Manifest
from oracle.bundle.parquet import parquet_bytes, read_parquet_bytes
from oracle.bundle.round_bundle import (
    PREDICTIONS,
    PREVIOUS_CUMULATIVE,
    SCORES,
    STAKES,
    TARGETS,
    TREE,
    latest_manifest,
    load_bundle,
    resolve_previous_uri,
)
from oracle.bundle.store import ArtifactStore, BundleError, list_manifests, list_rounds
from oracle.bundle.write import write_round_bundle
from oracle.scoring.params import RoundParams
from oracle.settlement.leaves import SettlementLeaf, settlement_tree

E18 = 10**18


def bundle_inputs(payout_a: int = 3 * E18) -> dict:
    """A small round whose amounts exceed int64 (stakes of 100 tokens)."""
    predictions = pd.DataFrame(
        {
            "id": ["n1", "n2", "n3", "n4"],
            "alpha": [0.1, 0.4, 0.7, 0.9],
            "beta": [0.9, 0.2, 0.5, 0.1],
            "gamma": [0.5, 0.5, 0.2, 0.8],
        }
    )
    targets = pd.DataFrame({"id": ["n1", "n2", "n3", "n4"], "target": [0.0, 0.25, 0.75, 1.0]})
    stakes = pd.DataFrame(
        {
            "model": ["gamma", "alpha", "beta"],
            "model_id": [30, 10, 20],
            "stake_at_risk": [100 * E18, 200 * E18, 50 * E18],
        }
    )
    scores = pd.DataFrame(
        {
            "model": ["alpha", "beta", "gamma"],
            "corr": [0.05, -0.02, 0.0],
            "mmc": [0.01, -0.01, 0.0],
            "stake_at_risk": [200 * E18, 50 * E18, 100 * E18],
            "payout": [payout_a, 0, 0],
            "burn": [0, E18 // 2, 0],
        }
    )
    return dict(
        predictions=predictions,
        targets=targets,
        stakes=stakes,
        scores=scores,
        params=RoundParams(corr_weight=0.5, mmc_weight=2.0, clip=0.05, payout_threshold=1000 * E18),
        previous_cumulative={10: (7 * E18, 1), 40: (5, 6)},
    )


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


@pytest.fixture
def memory_url() -> str:
    url = f"memory://store-{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    fs.rm(url.replace("memory://", "/"), recursive=True)


def test_bundle_layout_and_contents(store: ArtifactStore, tmp_path: Path):
    inputs = bundle_inputs()
    manifest, uri, digest = write_round_bundle(store, 5, chain=ChainRef(1337, "0x" + "aa" * 20), **inputs)

    assert uri == f"{store.url}/rounds/5/manifest-000001-{digest[2:]}.json"
    raw = Path(uri).read_bytes()
    assert digest == "0x" + keccak(raw).hex()
    assert set(manifest.files) == {PREDICTIONS, TARGETS, STAKES, SCORES, TREE, PREVIOUS_CUMULATIVE}
    for entry in manifest.files.values():
        path = tmp_path / "store" / "objects" / f"{entry.sha256}.{entry.extension}"
        assert path.stat().st_size == entry.size

    # Leaves by hand: previous cumulative plus this round, every staked or previously settled model.
    leaves = [
        SettlementLeaf(10, 7 * E18 + 3 * E18, 1),
        SettlementLeaf(20, 0, E18 // 2),
        SettlementLeaf(30, 0, 0),
        SettlementLeaf(40, 5, 6),
    ]
    assert manifest.root == settlement_tree(leaves).root
    assert manifest.totals.round_payout == 3 * E18
    assert manifest.totals.round_burn == E18 // 2
    assert manifest.totals.cumulative_payout == 10 * E18 + 5
    assert manifest.totals.cumulative_burn == E18 // 2 + 7
    assert manifest.totals.stake_at_risk == 350 * E18
    assert manifest.params["payout_threshold"] == str(1000 * E18)
    assert manifest.versions["numerai_tools"] == "0.7.2"
    assert manifest.chain == ChainRef(1337, "0x" + "aa" * 20)

    bundle = load_bundle(uri)
    assert bundle.problems == [] and bundle.keccak256 == digest and bundle.round == 5
    assert bundle.params() == inputs["params"]
    pd.testing.assert_frame_equal(bundle.predictions(), inputs["predictions"], check_dtype=False)
    assert bundle.stake_map() == {"alpha": 200 * E18, "beta": 50 * E18, "gamma": 100 * E18}
    assert bundle.model_ids() == {"alpha": 10, "beta": 20, "gamma": 30}
    assert list(bundle.stakes()["model_id"]) == [10, 20, 30]  # stored sorted by id
    scores = bundle.scores()
    assert list(scores["payout"]) == [3 * E18, 0, 0] and all(type(v) is int for v in scores["payout"])
    assert bundle.previous_cumulative() == {10: (7 * E18, 1), 40: (5, 6)}
    assert bundle.tree_dump()["tree"][0] == manifest.root


def test_parquet_is_deterministic_and_carries_no_varying_metadata(tmp_path: Path):
    df = bundle_inputs()["scores"]
    first, second = parquet_bytes(df), parquet_bytes(df.copy())
    assert first == second
    (tmp_path / "s.parquet").write_bytes(first)
    meta = pq.read_metadata(tmp_path / "s.parquet").metadata or {}
    assert b"pandas" not in meta and b"ARROW:schema" not in meta
    back = read_parquet_bytes(first)
    assert list(back["payout"]) == [3 * E18, 0, 0]
    assert list(back["corr"]) == [0.05, -0.02, 0.0]


def test_same_inputs_give_byte_identical_bundles_in_any_store(store: ArtifactStore, memory_url: str):
    m1, _uri1, k1 = write_round_bundle(store, 5, **bundle_inputs())
    m2, uri2, k2 = write_round_bundle(memory_url, 5, **bundle_inputs())
    assert k1 == k2 and m1 == m2
    assert uri2 == f"{memory_url}/rounds/5/manifest-000001-{k1[2:]}.json"
    for entry in m1.files.values():
        assert (
            fsspec.open(store.object_uri(entry), "rb").open().read()
            == fsspec.open(ArtifactStore(memory_url).object_uri(entry), "rb").open().read()
        )


def test_rewriting_a_round_is_idempotent(store: ArtifactStore, tmp_path: Path):
    _, uri, digest = write_round_bundle(store, 5, **bundle_inputs())
    files_before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "store").rglob("*"))
    _, uri_again, digest_again = write_round_bundle(store, 5, **bundle_inputs())
    assert (uri_again, digest_again) == (uri, digest)
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "store").rglob("*")) == files_before
    assert not list((tmp_path / "store").rglob(".tmp-*"))  # no temp files left behind
    assert list_manifests(store, 5) == [(1, digest, uri)]


def test_a_new_version_of_a_round_is_the_latest(store: ArtifactStore):
    _, uri1, _ = write_round_bundle(store, 5, **bundle_inputs())
    _, uri2, digest2 = write_round_bundle(store, 5, **bundle_inputs(payout_a=2 * E18))
    assert uri2 != uri1 and "/manifest-000002-" in uri2
    assert latest_manifest(store, 5) == uri2
    assert [seq for seq, _, _ in list_manifests(store, 5)] == [1, 2]
    assert list_rounds(store) == [5]
    assert load_bundle(uri2, expected_keccak=digest2).manifest.totals.round_payout == 2 * E18


def test_memory_filesystem_round_trip(memory_url: str):
    _, uri, digest = write_round_bundle(memory_url, 3, **bundle_inputs())
    assert uri.startswith("memory://")
    assert latest_manifest(memory_url, 3) == uri
    bundle = load_bundle(uri, expected_keccak=digest)
    assert bundle.stake_map()["alpha"] == 200 * E18


def test_objects_without_a_manifest_are_invisible(store: ArtifactStore, tmp_path: Path):
    # A writer that crashed after storing objects but before the manifest (the commit point).
    store.put_object(PREDICTIONS, parquet_bytes(bundle_inputs()["predictions"]))
    (tmp_path / "store" / "rounds" / "5").mkdir(parents=True)
    (tmp_path / "store" / "rounds" / "5" / ".tmp-123-manifest-000001-").write_bytes(b'{"half":')
    assert list_rounds(store) == []
    assert latest_manifest(store, 5) is None


def test_manifest_cannot_be_committed_before_its_objects(store: ArtifactStore, memory_url: str):
    manifest, _, _ = write_round_bundle(memory_url, 5, **bundle_inputs())
    with pytest.raises(BundleError, match="objects missing for"):
        store.commit_manifest(manifest)
    assert list_manifests(store, 5) == []


def test_tampered_object_is_named(store: ArtifactStore):
    manifest, uri, _ = write_round_bundle(store, 5, **bundle_inputs())
    path = Path(store.object_uri(manifest.files[SCORES]))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"scores.parquet: object .* does not match the manifest: sha256"):
        load_bundle(uri)
    lenient = load_bundle(uri, verify=False)
    assert [p.file for p in lenient.problems] == [SCORES]
    assert latest_manifest(store, 5) is None  # only complete, hash-checked manifests are found


def test_a_partial_load_reads_and_checks_only_the_named_files(store: ArtifactStore):
    manifest, uri, _ = write_round_bundle(store, 5, **bundle_inputs())
    path = Path(store.object_uri(manifest.files[SCORES]))
    path.write_bytes(path.read_bytes()[:-1])  # a broken file the partial load does not need
    tree_only = load_bundle(uri, only=[TREE])
    assert list(tree_only.files) == [TREE] and tree_only.tree_dump()["tree"][0] == manifest.root
    with pytest.raises(BundleError, match=r"scores\.parquet: object .* does not match the manifest"):
        load_bundle(uri, only=[TREE, SCORES])
    with pytest.raises(BundleError, match=r"manifest\.json"):
        load_bundle(uri, expected_keccak="0x" + "00" * 32, only=[TREE])  # the manifest is still held to its hash


def test_missing_object_is_named(store: ArtifactStore):
    manifest, uri, _ = write_round_bundle(store, 5, **bundle_inputs())
    Path(store.object_uri(manifest.files[TARGETS])).unlink()
    with pytest.raises(BundleError, match=r"targets.parquet: object .* is missing"):
        load_bundle(uri)


def test_tampered_manifest_is_caught(store: ArtifactStore):
    _, uri, digest = write_round_bundle(store, 5, **bundle_inputs())
    d = json.loads(Path(uri).read_bytes())
    d["totals"]["round_payout"] = "1"
    Path(uri).write_bytes(Manifest.from_dict(d).to_bytes())
    with pytest.raises(BundleError, match=r"manifest.json: content hashes to 0x[0-9a-f]{64} but its name claims"):
        load_bundle(uri)
    with pytest.raises(BundleError, match=f"expected {digest}"):
        load_bundle(uri, expected_keccak=digest)


def test_non_canonical_manifest_is_flagged(store: ArtifactStore, tmp_path: Path):
    _, uri, _ = write_round_bundle(store, 5, **bundle_inputs())
    pretty = json.dumps(json.loads(Path(uri).read_bytes()), indent=2).encode()
    other = tmp_path / "store" / "rounds" / "5" / "copy.json"
    other.write_bytes(pretty)
    with pytest.raises(BundleError, match="not in canonical JSON form"):
        load_bundle(str(other))


def test_previous_link_chains_bundles(store: ArtifactStore):
    _, uri1, digest1 = write_round_bundle(store, 5, **bundle_inputs())
    manifest2, uri2, _ = write_round_bundle(store, 6, previous=uri1, **bundle_inputs())
    assert manifest2.previous.round == 5 and manifest2.previous.keccak256 == digest1
    assert not manifest2.previous.uri.startswith("/")  # relative to the store: survives moving it
    assert resolve_previous_uri(load_bundle(uri2)) == uri1
    assert list_rounds(store) == [5, 6]


def test_extra_files_are_part_of_the_bundle(store: ArtifactStore):
    extra = {"submissions.json": b'[{"model":"alpha"}]'}
    manifest, uri, _ = write_round_bundle(store, 5, extra_files=extra, **bundle_inputs())
    assert "submissions.json" in manifest.files
    assert load_bundle(uri).json("submissions.json") == [{"model": "alpha"}]
    with pytest.raises(BundleError, match=r"'tree.json' clashes"):
        write_round_bundle(store, 5, extra_files={TREE: b"{}"}, **bundle_inputs())


def test_bad_inputs_are_named(store: ArtifactStore):
    inputs = bundle_inputs()
    with pytest.raises(BundleError, match="stakes: missing column 'model_id'"):
        write_round_bundle(store, 5, **{**inputs, "stakes": inputs["stakes"].drop(columns="model_id")})
    stakes = inputs["stakes"][inputs["stakes"]["model"] != "beta"]
    with pytest.raises(BundleError, match=r"models \[.beta.\] have a payout or burn but no row in stakes"):
        write_round_bundle(store, 5, **{**inputs, "stakes": stakes})
    scores = inputs["scores"].assign(payout=[1.5, 0, 0])
    with pytest.raises(BundleError, match=r"scores.parquet: column 'payout' row 0: 1.5 is not a whole number"):
        write_round_bundle(store, 5, **{**inputs, "scores": scores})
    stakes = inputs["stakes"].assign(stake_at_risk=[100 * E18, 200 * E18, 51 * E18])
    with pytest.raises(
        BundleError, match=r"stake_at_risk disagrees with the stakes table for beta \(scores 5\d+, stakes 51\d+\)"
    ):
        write_round_bundle(store, 5, **{**inputs, "stakes": stakes})
    with pytest.raises(BundleError, match="round_number 4 does not match round 5"):
        write_round_bundle(store, 5, **{**inputs, "params": RoundParams(0.5, 2.0, 0.05, 10, round_number=4)})
    with pytest.raises(BundleError, match="round must be a non-negative integer"):
        write_round_bundle(store, -1, **inputs)
    assert list_rounds(store) == []  # nothing was committed by the failed writes


def test_another_process_writes_the_same_bytes(store: ArtifactStore, tmp_path: Path):
    # A fresh interpreter (different hash seed, fresh library state) must reproduce the manifest hash.
    import subprocess
    import sys

    _, _, digest = write_round_bundle(store, 5, **bundle_inputs())
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from test_artifacts import bundle_inputs; from oracle.bundle.write import write_round_bundle;"
        "print(write_round_bundle(sys.argv[2], 5, **bundle_inputs())[2])"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent), str(tmp_path / "other")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == digest


def test_records_are_written_and_read_through_the_store(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    assert store.get_record("snapshots/round-1.json") is None
    store.put_record("snapshots/round-1.json", b"{}")
    store.put_record("snapshots/round-1.json", b'{"round": 1}')
    assert store.get_record("snapshots/round-1.json") == b'{"round": 1}'
    assert (tmp_path / "store" / "snapshots" / "round-1.json").read_bytes() == b'{"round": 1}'
    for bad in ("../outside.json", "/abs.json", "objects/x.json", "rounds/1/manifest.json", ""):
        with pytest.raises(BundleError, match="not a record name"):
            store.put_record(bad, b"x")
