"""One holder at a time for a named job across processes and hosts (the round scheduler): a row with the holder
and an expiry, taken or renewed in one transaction. A holder that dies stops renewing, and another takes over once
the lease expires."""

from __future__ import annotations

import time

from sqlalchemy import select

from oracle.service.db.engine import Database
from oracle.service.db.schema import leases

__all__ = ["Lease"]


class Lease:
    """``acquire()`` is True while this ``holder`` has the lease ``name`` (taking it when free or expired)."""

    def __init__(self, db: Database, name: str, holder: str, ttl: float) -> None:
        self.db, self.name, self.holder, self.ttl = db, name, holder, ttl

    def acquire(self) -> bool:
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute(select(leases).where(leases.c.name == self.name).with_for_update()).first()
            if row is None:
                conn.execute(
                    self.db.insert(leases)
                    .values(name=self.name, holder=self.holder, expires_at=now + self.ttl)
                    .on_conflict_do_nothing()
                )
                return conn.execute(select(leases.c.holder).where(leases.c.name == self.name)).scalar() == self.holder
            if row.holder != self.holder and row.expires_at > now:
                return False
            conn.execute(
                leases.update().where(leases.c.name == self.name).values(holder=self.holder, expires_at=now + self.ttl)
            )
            return True

    def release(self) -> None:
        with self.db.transaction() as conn:
            conn.execute(leases.delete().where((leases.c.name == self.name) & (leases.c.holder == self.holder)))
