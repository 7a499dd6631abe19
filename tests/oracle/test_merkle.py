"""oracle.settlement.standard against the real @openzeppelin/merkle-tree (one node process for the whole module)."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import eth_abi
import pytest
from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.settlement.core import process_multi_proof
from oracle.settlement.standard import MultiProof, StandardMerkleTree

# ---------------------------------------------------------------------------------------------
# value generation (Python-side forms) and the JSON forms the JS library is given
# ---------------------------------------------------------------------------------------------

ENCODINGS: list[list[str]] = [
    ["uint256"],
    ["address"],
    ["bytes32"],
    ["bool"],
    ["string"],
    ["bytes"],
    ["address", "uint256"],
    ["uint256", "uint256", "uint256"],
    ["int256", "bytes4", "uint8"],
    ["(address,uint96)", "uint8[]", "bytes32[2]"],
    ["string", "bytes", "address"],
    ["uint", "int", "uint[]"],  # bare aliases of the 256-bit types, which abi-utils accepts
]
SIZES = [1, 2, 3, 7, 20]
# The JS library takes ~3 ms per proof, so 100-leaf trees are kept to a few encodings.
LARGE_ENCODINGS = [
    ["uint256", "uint256", "uint256"],
    ["address", "uint256"],
    ["(address,uint96)", "uint8[]", "bytes32[2]"],
    ["string"],
]
TEXT_ALPHABET = 'ab Z09_-éß漢字🙂\n"\\'


def random_value(abi_type: str, rng: random.Random) -> Any:
    """A random Python value of ``abi_type`` in one of the forms the tree accepts."""
    if abi_type == "(address,uint96)":
        return (random_value("address", rng), random_value("uint96", rng))
    if abi_type == "uint8[]":
        return [random_value("uint8", rng) for _ in range(rng.randrange(4))]
    if abi_type in ("uint", "int"):
        return random_value(abi_type + "256", rng)
    if abi_type == "uint[]":
        return [random_value("uint256", rng) for _ in range(rng.randrange(3))]
    if abi_type == "bytes32[2]":
        return [random_value("bytes32", rng) for _ in range(2)]
    if abi_type.startswith("uint"):
        bits = int(abi_type[4:])
        return rng.choice([0, 1, (1 << bits) - 1, rng.getrandbits(bits), rng.getrandbits(bits)])
    if abi_type.startswith("int"):
        bits = int(abi_type[3:])
        return rng.choice(
            [0, -1, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, rng.getrandbits(bits - 1) - (1 << (bits - 2))]
        )
    if abi_type == "address":
        raw = rng.randbytes(20)
        return to_checksum_address(raw) if rng.random() < 0.5 else "0x" + raw.hex()
    if abi_type.startswith("bytes") and abi_type != "bytes":
        raw = rng.randbytes(int(abi_type[5:]))
        return raw if rng.random() < 0.5 else "0x" + raw.hex()
    if abi_type == "bytes":
        raw = rng.randbytes(rng.choice([0, 1, 31, 32, 33, 70]))
        return raw if rng.random() < 0.5 else "0x" + raw.hex()
    if abi_type == "bool":
        return rng.random() < 0.5
    if abi_type == "string":
        return "".join(rng.choice(TEXT_ALPHABET) for _ in range(rng.choice([0, 1, 5, 40])))
    raise AssertionError(abi_type)


def js_value(value: Any) -> Any:
    """The JSON the JS library is given: ints as decimal strings, bytes as 0x-hex (written independently
    of oracle.settlement.standard so that dump formatting is checked against the JS library, not against itself)."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [js_value(v) for v in value]
    raise AssertionError(value)


@dataclass
class Case:
    name: str
    values: list[Any]
    encoding: list[str]
    sort_leaves: bool
    multiproofs: list[list[int]] = field(default_factory=list)


def _subsets(n: int, rng: random.Random) -> list[list[int]]:
    subsets = [[], [0], list(range(n)), list(range(n))[::-1]]
    for _ in range(4):
        k = rng.randrange(1, n + 1)
        subsets.append(rng.sample(range(n), k))  # random order: the proof must not depend on it
    if n > 4:
        start = rng.randrange(n - 3)
        subsets.append(list(range(start, start + 3)))
    return subsets


def build_cases() -> list[Case]:
    rng = random.Random(20260501)
    cases = []
    sized = [(e, n) for e in ENCODINGS for n in SIZES] + [(e, 100) for e in LARGE_ENCODINGS]
    for encoding, n in sized:
        for sort_leaves in (True, False):
            values = [tuple(random_value(t, rng) for t in encoding) for _ in range(n)]
            cases.append(
                Case(
                    f"{'+'.join(encoding)}-{n}-{'sorted' if sort_leaves else 'unsorted'}",
                    values,
                    encoding,
                    sort_leaves,
                    _subsets(n, rng),
                )
            )
    pair = ["address", "uint256"]
    a, b, c = (tuple(random_value(t, rng) for t in pair) for _ in range(3))
    for sort_leaves in (True, False):
        # duplicates: equal hashes keep input order in the (stable) sort; value lookups find the last copy
        cases.append(Case(f"duplicates-{sort_leaves}", [a, b, a, c, b, a], pair, sort_leaves, [[0, 1, 3], [5], [1, 2]]))
    # 255 is 2**8 - 1: the last level is almost full; 5 and 33 leave a ragged last level
    for n in (5, 33, 255):
        values = [(rng.getrandbits(64), rng.getrandbits(96), rng.getrandbits(96)) for _ in range(n)]
        cases.append(Case(f"uint256x3-{n}", values, ["uint256"] * 3, False, _subsets(n, rng)))
    return cases


CASES = build_cases()
CASE_IDS = [c.name for c in CASES]


# ---------------------------------------------------------------------------------------------
# rejections: both libraries must refuse
# ---------------------------------------------------------------------------------------------

ADDR = "0x" + "11" * 20


@dataclass
class Rejection:
    name: str
    js_job: dict[str, Any]
    python: Callable[[], Any]
    message: str  # regex the Python ValueError must match


def _tree(values: list[Any], encoding: list[str]) -> StandardMerkleTree:
    return StandardMerkleTree.of(values, encoding)


def _good_dump() -> dict[str, Any]:
    return StandardMerkleTree.of([(ADDR, i) for i in range(5)], ["address", "uint256"]).dump()


def _tampered(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    dump = copy.deepcopy(_good_dump())
    mutate(dump)
    return dump


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        target = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(key)


def _of_job(values: list[Any], encoding: list[str], **extra: Any) -> dict[str, Any]:
    return {"op": "of", "values": js_value(values), "encoding": encoding, **extra}


def build_rejections() -> list[Rejection]:
    three = [(ADDR, 1), (ADDR, 2), (ADDR, 3)]
    pair = ["address", "uint256"]
    bad_values: list[tuple[str, Any, list[str], str]] = [
        ("uint-negative", -1, ["uint256"], r"out of range"),
        ("uint8-overflow", 256, ["uint8"], r"out of range"),
        ("uint-too-big", 1 << 256, ["uint256"], r"out of range"),
        ("int8-underflow", -129, ["int8"], r"out of range"),
        ("uint-not-a-number", "twelve", ["uint256"], r"expects an integer"),
        ("address-21-bytes", "0x" + "ab" * 21, ["address"], r"at most 20 bytes"),
        ("address-not-hex", "0xzz", ["address"], r"hex"),
        ("bytes4-too-long", "0x0102030405", ["bytes4"], r"at most 4"),
        ("bool-string", "yes", ["bool"], r"bool expects"),
        ("bytes-not-hex", "hello", ["bytes"], r"hex"),
    ]
    rejections = [
        Rejection(
            f"value-{name}",
            _of_job([[bad]], enc),
            lambda bad=bad, enc=enc: _tree([[bad]], enc),
            r"values\[0\] does not match leaf encoding.*" + msg,
        )
        for name, bad, enc, msg in bad_values
    ]
    rejections += [
        Rejection(
            "value-string-given-number",
            {"op": "of", "values": [[5]], "encoding": ["string"]},
            lambda: _tree([[5]], ["string"]),
            r"string expects a str",
        ),
        Rejection("empty-tree", _of_job([], ["uint256"]), lambda: _tree([], ["uint256"]), r"non-zero number of leaves"),
        Rejection(
            "wrong-arity", _of_job([[1, 2]], ["uint256"]), lambda: _tree([[1, 2]], ["uint256"]), r"list of 1 values"
        ),
        Rejection(
            "bool-as-uint",
            {"op": "of", "values": [[True]], "encoding": ["uint256"]},
            lambda: _tree([[True]], ["uint256"]),
            r"got the bool True",
        ),
        Rejection(
            "proof-index-out-of-bounds",
            _of_job(three, pair, proveIndices=[3]),
            lambda: _tree(three, pair).get_proof(3),
            r"Index out of bounds",
        ),
        Rejection(
            "proof-value-not-in-tree",
            _of_job(three, pair, proveValues=[js_value((ADDR, 4))]),
            lambda: _tree(three, pair).get_proof((ADDR, 4)),
            r"Leaf is not in tree",
        ),
        Rejection(
            "multiproof-duplicate-index",
            _of_job(three, pair, multiproofs=[[0, 1, 0]]),
            lambda: _tree(three, pair).get_multi_proof([0, 1, 0]),
            r"duplicated index",
        ),
        Rejection(
            "multiproof-duplicate-via-value",
            _of_job(three, pair, multiproofValues=[[js_value((ADDR, 2)), js_value((ADDR, 2))]]),
            lambda: _tree(three, pair).get_multi_proof([(ADDR, 2), (ADDR, 2)]),
            r"duplicated index",
        ),
        Rejection(
            "multiproof-index-out-of-bounds",
            _of_job(three, pair, multiproofs=[[0, 7]]),
            lambda: _tree(three, pair).get_multi_proof([0, 7]),
            r"Index out of bounds",
        ),
    ]
    dumps: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
        ("dump-unknown-format", _set(["format"], "standard-v2"), r"Unknown format"),
        ("dump-no-encoding", _drop("leafEncoding"), r"Expected leaf encoding"),
        ("dump-tampered-leaf-node", _set(["tree", 8], "0x" + "00" * 32), r"does not contain the expected value"),
        ("dump-tampered-internal-node", _set(["tree", 1], "0x" + "00" * 32), r"Merkle tree is invalid"),
        ("dump-tampered-root", _set(["tree", 0], "0x" + "ab" * 32), r"Merkle tree is invalid"),
        ("dump-tampered-value", _set(["values", 2, "value", 1], "77"), r"does not contain the expected value"),
        ("dump-short-node", _set(["tree", 3], "0x1234"), r"32-byte"),
        ("dump-value-is-number", _set(["values", 0, "value"], 5), r"cannot be numbers"),
        ("dump-tree-index-out-of-range", _set(["values", 0, "treeIndex"], 99), r"treeIndex"),
        ("dump-uppercase-leaf-node", lambda d: d["tree"].__setitem__(8, "0x" + d["tree"][8][2:].upper()), r"lowercase"),
        ("dump-even-node-count", lambda d: d["tree"].append("0x" + "00" * 32), r"Merkle tree is invalid"),
        ("dump-empty", lambda d: (d.__setitem__("tree", []), d.__setitem__("values", [])), r"Merkle tree is invalid"),
        ("dump-bad-value-encoding", _set(["values", 0, "value", 1], "-5"), r"does not match leaf encoding"),
    ]
    for name, mutate, msg in dumps:
        dump = _tampered(mutate)
        rejections.append(
            Rejection(name, {"op": "load", "dump": dump}, lambda dump=dump: StandardMerkleTree.load(dump), msg)
        )
    return rejections


REJECTIONS = build_rejections()


# ---------------------------------------------------------------------------------------------
# one node run for everything
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def python_trees() -> list[StandardMerkleTree]:
    return [StandardMerkleTree.of(c.values, c.encoding, sort_leaves=c.sort_leaves) for c in CASES]


@pytest.fixture(scope="module")
def js(merkle_js: Any, python_trees: list[StandardMerkleTree]) -> dict[str, list[dict[str, Any]]]:
    of_jobs = [
        {
            "op": "of",
            "values": js_value(c.values),
            "encoding": c.encoding,
            "sortLeaves": c.sort_leaves,
            "proofs": True,
            "multiproofs": c.multiproofs,
            "proveValues": js_value(c.values[-1:]),
            "multiproofValues": [js_value(c.values[:2])] if _distinct_in_js(c.values[:2]) else [],
            "leafHashes": True,
            "dump": True,
        }
        for c in CASES
    ]
    # Python dumps go through a JSON round trip, as they would through a file.
    load_jobs = [
        {
            "op": "load",
            "dump": json.loads(json.dumps(t.dump())),
            "multiproofs": c.multiproofs,
            "proveIndices": _sample_indices(len(c.values)),
        }
        for c, t in zip(CASES, python_trees)
    ]
    rejection_jobs = [r.js_job for r in REJECTIONS]
    results = merkle_js(of_jobs + load_jobs + rejection_jobs)
    n = len(CASES)
    return {"of": results[:n], "load": results[n : 2 * n], "reject": results[2 * n :]}


def _sample_indices(n: int) -> list[int]:
    """Up to 8 indices spread over 0..n-1, first and last included."""
    return sorted({0, n - 1, *range(0, n, max(1, n // 6))})


def _distinct_in_js(values: list[Any]) -> bool:
    forms = [json.dumps(js_value(v)).lower() for v in values]
    return len(set(forms)) == len(forms)


def _multiproof_json(m: MultiProof) -> dict[str, Any]:
    return {"leaves": js_value(m.leaves), "proof": m.proof, "proofFlags": m.proof_flags}


# ---------------------------------------------------------------------------------------------
# byte-for-byte equality with the JS library
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("i", range(len(CASES)), ids=CASE_IDS)
def test_root_proofs_and_leaf_hashes_match_js(i: int, python_trees: list[StandardMerkleTree], js: dict) -> None:
    case, tree, expected = CASES[i], python_trees[i], js["of"][i]
    assert "error" not in expected, expected
    assert tree.root == expected["root"]
    assert [tree.get_proof(k) for k in range(len(case.values))] == expected["proofs"]
    assert tree.all_proofs() == expected["proofs"]
    assert [tree.leaf_hash(v) for v in case.values] == expected["leafHashes"]
    assert [tree.get_proof(case.values[-1])] == expected["valueProofs"]


@pytest.mark.parametrize("i", range(len(CASES)), ids=CASE_IDS)
def test_multiproofs_match_js(i: int, python_trees: list[StandardMerkleTree], js: dict) -> None:
    case, tree, expected = CASES[i], python_trees[i], js["of"][i]
    ours = [_multiproof_json(tree.get_multi_proof(subset)) for subset in case.multiproofs]
    assert ours == expected["multiproofs"]
    by_value = [_multiproof_json(tree.get_multi_proof(case.values[:2]))] if expected["valueMultiproofs"] else []
    assert by_value == expected["valueMultiproofs"]
    for m in expected["multiproofs"]:
        assert StandardMerkleTree.verify_multi_proof(expected["root"], case.encoding, m)


@pytest.mark.parametrize("i", range(len(CASES)), ids=CASE_IDS)
def test_dump_identical_to_js_and_loads_both_ways(i: int, python_trees: list[StandardMerkleTree], js: dict) -> None:
    case, tree, expected, loaded_in_js = CASES[i], python_trees[i], js["of"][i], js["load"][i]
    # JSON round trip first: the dump must survive serialisation unchanged.
    assert json.loads(json.dumps(tree.dump())) == expected["dump"]
    # Python dump -> JS load
    assert "error" not in loaded_in_js, loaded_in_js
    assert loaded_in_js["root"] == tree.root
    assert loaded_in_js["proofs"] == [expected["proofs"][k] for k in _sample_indices(len(case.values))]
    assert loaded_in_js["multiproofs"] == expected["multiproofs"]
    assert [v for _, v in loaded_in_js["entries"]] == js_value(case.values)
    # JS dump -> Python load
    from_js = StandardMerkleTree.load(expected["dump"])
    assert from_js.root == expected["root"]
    assert len(from_js) == len(case.values)
    assert from_js.all_proofs() == expected["proofs"]
    assert [_multiproof_json(from_js.get_multi_proof(s)) for s in case.multiproofs] == expected["multiproofs"]
    assert from_js.dump() == expected["dump"]
    assert StandardMerkleTree.load(json.dumps(expected["dump"])).root == expected["root"]


@pytest.mark.parametrize("r", REJECTIONS, ids=[r.name for r in REJECTIONS])
def test_rejections_match_js(r: Rejection, js: dict) -> None:
    js_result = js["reject"][REJECTIONS.index(r)]
    assert "error" in js_result, f"the JS library accepted {r.name}: {js_result}"
    with pytest.raises(ValueError, match=r.message):
        r.python()


# ---------------------------------------------------------------------------------------------
# known vector, verification, API details
# ---------------------------------------------------------------------------------------------

README_VALUES = [
    ["0x1111111111111111111111111111111111111111", "5000000000000000000"],
    ["0x2222222222222222222222222222222222222222", "2500000000000000000"],
]


def test_readme_example_root() -> None:
    # Root printed in the @openzeppelin/merkle-tree README for these two values.
    tree = StandardMerkleTree.of(README_VALUES, ["address", "uint256"])
    assert tree.root == "0xd4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77"


def test_leaf_is_double_keccak_of_abi_encode() -> None:
    value = (7, 10**18, 3)
    inner = keccak(eth_abi.encode(["uint256", "uint256", "uint256"], list(value)))
    tree = StandardMerkleTree.of([value], ["uint256"] * 3)
    assert tree.leaf_hash(value) == "0x" + keccak(inner).hex()
    assert tree.root == tree.leaf_hash(value)  # a one-leaf tree's root is its leaf
    assert tree.get_proof(0) == []


def test_verify_accepts_valid_and_rejects_tampered_proofs() -> None:
    values = [(ADDR, i) for i in range(9)]
    tree = StandardMerkleTree.of(values, ["address", "uint256"])
    for i, value in enumerate(values):
        proof = tree.get_proof(i)
        assert StandardMerkleTree.verify(tree.root, ["address", "uint256"], value, proof)
        assert tree.verify_proof(i, proof)
        assert not StandardMerkleTree.verify(tree.root, ["address", "uint256"], (ADDR, i + 100), proof)
        forged = proof[:-1] + ["0x" + "00" * 32]
        assert not StandardMerkleTree.verify(tree.root, ["address", "uint256"], value, forged)


def test_verify_multi_proof_rejects_malformed_shapes() -> None:
    tree = StandardMerkleTree.of([(i,) for i in range(6)], ["uint256"])
    m = tree.get_multi_proof([0, 3])
    assert StandardMerkleTree.verify_multi_proof(tree.root, ["uint256"], m)
    assert StandardMerkleTree.verify_multi_proof(tree.root, ["uint256"], m.to_json())
    with pytest.raises(ValueError, match="not compatible"):
        StandardMerkleTree.verify_multi_proof(
            tree.root, ["uint256"], MultiProof(m.leaves, m.proof, m.proof_flags + [True])
        )
    with pytest.raises(ValueError, match="Invalid multiproof format"):
        process_multi_proof([], [], [False])
    forged = MultiProof(m.leaves, m.proof[:-1] + ["0x" + "00" * 32], m.proof_flags)
    assert not StandardMerkleTree.verify_multi_proof(tree.root, ["uint256"], forged)
    flipped = MultiProof(m.leaves, m.proof, [not f for f in m.proof_flags])
    with pytest.raises(ValueError, match="Invalid multiproof"):
        StandardMerkleTree.verify_multi_proof(tree.root, ["uint256"], flipped)


def test_empty_multiproof_is_the_root() -> None:
    tree = StandardMerkleTree.of([(i,) for i in range(4)], ["uint256"])
    m = tree.get_multi_proof([])
    assert (m.leaves, m.proof, m.proof_flags) == ([], [tree.root], [])


def test_accessors() -> None:
    values = [(ADDR, 3), (ADDR, 1), (ADDR, 2)]
    tree = StandardMerkleTree.of(values, ["address", "uint256"])
    assert len(tree) == 3
    assert list(tree.entries()) == list(enumerate(values)) == list(tree)
    assert tree.at(1) == (ADDR, 1)
    assert sorted(tree.tree_index(i) for i in range(3)) == [2, 3, 4]
    with pytest.raises(ValueError, match="Index out of bounds"):
        tree.at(-1)
    with pytest.raises(ValueError, match="does not match leaf encoding"):
        tree.get_proof(True)  # a bool is not an index but a (malformed) value, as in JS


def test_bad_leaf_encodings_are_named() -> None:
    with pytest.raises(ValueError, match=r"leaf encoding\[1\] 'uint7'"):
        StandardMerkleTree.of([(1, 1)], ["uint256", "uint7"])
    with pytest.raises(ValueError, match="list of ABI types"):
        StandardMerkleTree.of([(1,)], "uint256")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not valid JSON"):
        StandardMerkleTree.load("{not json")


@settings(max_examples=40, deadline=None)
@given(
    leaves=st.lists(st.tuples(st.integers(0, 2**256 - 1), st.integers(0, 2**96 - 1)), min_size=1, max_size=40),
    data=st.data(),
)
def test_every_multiproof_verifies_and_a_wrong_leaf_does_not(leaves: list[tuple[int, int]], data: Any) -> None:
    tree = StandardMerkleTree.of(leaves, ["uint256", "uint96"], sort_leaves=data.draw(st.booleans()))
    distinct = sorted({tree.leaf_hash(v): i for i, v in enumerate(leaves)}.values())
    subset = data.draw(st.lists(st.sampled_from(distinct), min_size=1, unique=True))
    m = tree.get_multi_proof(subset)
    assert StandardMerkleTree.verify_multi_proof(tree.root, ["uint256", "uint96"], m)
    assert len(m.proof) + len(m.leaves) == len(m.proof_flags) + 1
    outsider = (leaves[0][0], (leaves[0][1] + 1) % 2**96)
    if outsider not in leaves:
        forged = MultiProof([outsider] + m.leaves[1:], m.proof, m.proof_flags)
        assert not StandardMerkleTree.verify_multi_proof(tree.root, ["uint256", "uint96"], forged)
