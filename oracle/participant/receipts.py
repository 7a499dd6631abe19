"""The participant's receipts on disk: every operator receipt kept, the evidence that a file was taken in time."""

from __future__ import annotations

import json
import os
from pathlib import Path

from oracle.protocol.receipt import Receipt, ReceiptError

__all__ = ["RECEIPTS_DIR_ENV", "default_receipts_dir", "load_receipts", "save_receipt"]

RECEIPTS_DIR_ENV = "TOURNEY_RECEIPTS_DIR"


def default_receipts_dir() -> Path:
    """``$TOURNEY_RECEIPTS_DIR`` or ``~/.tourney/receipts`` (next to the keystores)."""
    configured = os.environ.get(RECEIPTS_DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".tourney" / "receipts"


def save_receipt(directory: str | os.PathLike[str], receipt: Receipt) -> Path:
    """Keep a receipt under ``<dir>/<chain>-<tournament>/round-<r>/model-<m>-<receivedAt>.json``.

    Every receipt is kept (a later one does not delete an earlier): the history is the participant's evidence.
    Written to a temporary name and renamed, so a crash never leaves half a receipt."""
    folder = (
        Path(directory).expanduser() / f"{receipt.chain_id}-{receipt.tournament.lower()}" / f"round-{receipt.round}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"model-{receipt.model_id}-{receipt.received_at}-{receipt.predictions_hash[2:10]}.json"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(receipt.to_bytes())
    os.replace(tmp, path)
    return path


def load_receipts(directory: str | os.PathLike[str]) -> tuple[list[Receipt], list[str]]:
    """Every receipt under ``directory`` (recursively), and a problem line per file that is not one."""
    receipts: list[Receipt] = []
    problems: list[str] = []
    root = Path(directory).expanduser()
    if not root.exists():
        return receipts, problems
    for path in sorted(root.rglob("*.json")):
        try:
            receipts.append(Receipt.from_json(json.loads(path.read_text()), str(path)))
        except (ReceiptError, ValueError, OSError) as exc:
            problems.append(f"{path}: not a receipt ({exc})")
    return receipts, problems
