"""What the service learnt from chain events, kept across restarts: model owners (``ModelRegistered``; an owner
never changes, the contract has no transfer) and the block the scan reached (the event cursor)."""

from __future__ import annotations

from typing import Mapping

from sqlalchemy import select

from oracle.service.db.engine import Database
from oracle.service.db.schema import cursors, models

__all__ = ["OWNERS_CURSOR", "load_owners", "save_owners"]

OWNERS_CURSOR = "model_registered"


def load_owners(db: Database) -> tuple[dict[int, str], int | None]:
    """(model id -> owner, last block scanned or None when never scanned)."""
    with db.transaction() as conn:
        owners = {int(r.model_id): str(r.owner) for r in conn.execute(select(models))}
        block = conn.execute(select(cursors.c.block).where(cursors.c.name == OWNERS_CURSOR)).scalar()
    return owners, None if block is None else int(block)


def save_owners(db: Database, owners: Mapping[int, str], block: int) -> None:
    """Add owners and move the cursor forward to ``block`` (never back: another worker may be ahead)."""
    with db.transaction() as conn:
        if owners:
            conn.execute(
                db.insert(models)
                .values([{"model_id": m, "owner": o} for m, o in owners.items()])
                .on_conflict_do_nothing()
            )
        current = conn.execute(select(cursors.c.block).where(cursors.c.name == OWNERS_CURSOR)).scalar()
        if current is None:
            conn.execute(db.insert(cursors).values(name=OWNERS_CURSOR, block=block).on_conflict_do_nothing())
        elif int(current) < block:
            conn.execute(cursors.update().where(cursors.c.name == OWNERS_CURSOR).values(block=block))
