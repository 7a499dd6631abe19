"""The service's tables (SQLAlchemy Core). The migrations in ``migrations/versions`` create exactly these; a change
here needs a new revision there.

* ``rounds``: one row per round the service has taken a submission for; ``closed`` is the close gate (see
  :mod:`oracle.service.db.ledger`).
* ``submissions``: every receipted submission, one row each, never updated. ``seq`` numbers a model's submissions
  in a round from 1; the current one is the highest. ``UNIQUE(round, model_id, seq)`` makes two workers that
  replace the same model at once collide instead of both succeeding; ``UNIQUE(round, model_id, replay_key)``
  makes one signed request receiptable once, ever (a duplicate or a replay).
* ``rejections``: authenticated submissions refused, with the reason code and detail.
* ``models``: model owners learnt from ``ModelRegistered`` events; ``cursors``: how far the event scan got.
* ``leases``: which process runs the round scheduler (one at a time across workers and hosts).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = ["cursors", "leases", "metadata", "models", "rejections", "rounds", "submissions"]

metadata = MetaData()

rounds = Table(
    "rounds",
    metadata,
    Column("round", BigInteger, primary_key=True, autoincrement=False),
    Column("closed", Boolean, nullable=False, default=False),
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("round", BigInteger, nullable=False),
    Column("model_id", BigInteger, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("replay_key", String(80), nullable=False),
    Column("predictions_hash", String(66), nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("record", Text, nullable=False),
    Column("object_path", Text, nullable=False),
    Column("receipt_signature", String(140), nullable=False),
    Column("created", Float, nullable=False),
    UniqueConstraint("round", "model_id", "seq", name="uq_submissions_slot_seq"),
    UniqueConstraint("round", "model_id", "replay_key", name="uq_submissions_replay"),
)

rejections = Table(
    "rejections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("round", BigInteger, nullable=False),
    Column("model_id", BigInteger, nullable=True),
    Column("signer", String(42), nullable=True),
    Column("reason", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("record", Text, nullable=True),
    Column("created", Float, nullable=False),
    Index("ix_rejections_round", "round"),
)

models = Table(
    "models",
    metadata,
    Column("model_id", BigInteger, primary_key=True, autoincrement=False),
    Column("owner", String(42), nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("block", BigInteger, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("holder", String(120), nullable=False),
    Column("expires_at", Float, nullable=False),
)
