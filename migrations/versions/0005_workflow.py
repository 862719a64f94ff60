"""Case workflow, accounts and roles, calendars, evaluation (issue: case workflow).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

Reserved in the chain so parallel work can land in any order; filled in by that work.
"""

from alembic import op  # noqa: F401

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
