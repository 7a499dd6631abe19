"""Contract ABIs and bytecode from brownie's build output (``build/contracts/*.json``)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils import function_signature_to_4byte_selector

REPO_ROOT = Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    """Where brownie wrote the compiled contracts; ``TOURNEY_BUILD_DIR`` overrides it."""
    return Path(os.environ.get("TOURNEY_BUILD_DIR", REPO_ROOT / "build" / "contracts"))


@cache
def artifact(name: str) -> dict[str, Any]:
    """The build artifact of contract ``name`` (abi, bytecode, ...)."""
    path = build_dir() / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no build artifact {path}: compile the contracts first (`make compile`)")
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def abi(name: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = artifact(name)["abi"]
    return entries


def bytecode(name: str) -> str:
    code: str = artifact(name)["bytecode"]
    return code if code.startswith("0x") else "0x" + code


def _abi_type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


@cache
def error_selectors(*names: str) -> dict[bytes, tuple[str, list[str], list[str]]]:
    """Custom-error selector -> (error name, argument names, argument ABI types), over the given contracts."""
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for name in names:
        for item in abi(name):
            if item.get("type") != "error":
                continue
            types = [_abi_type(i) for i in item["inputs"]]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            table[selector] = (item["name"], [i["name"] for i in item["inputs"]], types)
    return table
