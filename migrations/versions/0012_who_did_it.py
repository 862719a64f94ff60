"""Who did it: the signed-in account that reported a case, and the object each audit row changed.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05

``event.reporter`` stays what the reporter typed (a name, a hotline caller's words); the new
``event.reported_by`` is the account that filed the report through the API (NULL for an
anonymous Open311 request), or what an administrator's bulk import names. Evaluation credits
reports to ``reported_by``, so nobody can score as someone else by typing their name.
Existing cases are backfilled from ``reporter``: before this revision that was the only
record of who reported.

``audit_log.object`` names what a write changed (``{"event_id": 12}``, ``{"grid": "…"}``…).
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
ALTER TABLE event ADD COLUMN reported_by text;
UPDATE event SET reported_by = reporter WHERE reporter IS NOT NULL;
ALTER TABLE audit_log ADD COLUMN object jsonb;
"""
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE event DROP COLUMN reported_by; ALTER TABLE audit_log DROP COLUMN object;"
    )
