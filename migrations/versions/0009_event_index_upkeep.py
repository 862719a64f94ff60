"""Drop ix_event_reported_at: ix_event_hotspot leads with reported_at and answers the same.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21

Every new case updates each of the event table's indexes; this one only duplicated the leading
column of ``ix_event_hotspot`` (reported_at, with covered columns), which serves every
time-range filter and ``ORDER BY reported_at`` the other one did.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX ix_event_reported_at")


def downgrade() -> None:
    op.execute("CREATE INDEX ix_event_reported_at ON event (reported_at)")
