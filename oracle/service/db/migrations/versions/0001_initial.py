"""The first schema: rounds (close gate), submissions, rejections, model owners, event cursors, leases.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rounds",
        sa.Column("round", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("closed", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("round", sa.BigInteger, nullable=False),
        sa.Column("model_id", sa.BigInteger, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("replay_key", sa.String(80), nullable=False),
        sa.Column("predictions_hash", sa.String(66), nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("object_path", sa.Text, nullable=False),
        sa.Column("receipt_signature", sa.String(140), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.UniqueConstraint("round", "model_id", "seq", name="uq_submissions_slot_seq"),
        sa.UniqueConstraint("round", "model_id", "replay_key", name="uq_submissions_replay"),
    )
    op.create_table(
        "rejections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("round", sa.BigInteger, nullable=False),
        sa.Column("model_id", sa.BigInteger, nullable=True),
        sa.Column("signer", sa.String(42), nullable=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("record", sa.Text, nullable=True),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.create_index("ix_rejections_round", "rejections", ["round"])
    op.create_table(
        "models",
        sa.Column("model_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("owner", sa.String(42), nullable=False),
    )
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("block", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("holder", sa.String(120), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("leases", "cursors", "models", "rejections", "submissions", "rounds"):
        op.drop_table(table)
