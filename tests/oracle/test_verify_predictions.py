"""The auditor holds each published prediction column to its signed file, row against row in matrix form: the
same verdicts as comparing them id by id."""

from __future__ import annotations

import numpy as np

from oracle.auditor.submissions import _compare_published
from oracle.scoring.prediction_files import combine_prediction_files

IDS = [f"id{i:02d}" for i in range(12)]
rng = np.random.default_rng(4)


def csv(ids: list[str], values: list[object]) -> tuple[str, bytes]:
    return "p.csv", ("id,prediction\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, values))).encode()


def verdicts(published_files: dict, signed_files: dict) -> dict[str, bool]:
    published, errors = combine_prediction_files(published_files)
    assert not errors
    return {d.subject: d.field for d in _compare_published(published, signed_files)}


def test_same_files_verify_and_every_kind_of_change_is_named() -> None:
    values = {m: [round(v, 6) for v in rng.random(12)] for m in "abcdefg"}
    order = rng.permutation(12)
    honest = {
        "1": csv(IDS, values["a"]),
        "2": csv(IDS[:-2], values["b"][:-2]),  # fewer ids
        "3": csv([IDS[i] for i in order], [values["c"][i] for i in order]),  # another order
        "4": csv(IDS, values["d"][:3] + ["abc"] + values["d"][4:]),  # not all numbers
        "5": csv(IDS, values["e"][:2] + ["NA"] + values["e"][3:]),  # a missing cell
    }
    assert verdicts(honest, honest) == {}
    changed = dict(honest)
    changed["1"] = csv(IDS, values["a"][:5] + [0.123] + values["a"][6:])  # a value
    changed["2"] = csv(IDS[:-1], values["b"][:-2] + [0.5])  # an id the published lacks
    changed["3"] = csv(IDS[1:], values["c"][1:])  # an id dropped
    changed["4"] = csv(IDS, values["d"][:3] + ["abd"] + values["d"][4:])  # other text
    changed["5"] = csv(IDS, values["e"][:2] + [0.5] + values["e"][3:])  # a value where none was
    assert verdicts(honest, changed) == dict.fromkeys("12345", "predictions")
    unreadable = {**honest, "1": ("p.csv", b"")}
    assert verdicts(honest, unreadable) == {"1": "file"}
