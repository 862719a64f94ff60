"""Rate-limit counters in the database, shared by every server process.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

Limits kept in one process's memory let each worker count on its own (N workers, N times the
limit) and forgot everything at a restart. A row per counted call, per (bucket, key), pruned
as it falls out of its window.
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE TABLE rate_hit (
    bucket text NOT NULL,
    key text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_rate_hit_bucket_key_at ON rate_hit (bucket, key, at);
"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE rate_hit")
