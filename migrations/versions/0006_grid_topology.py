"""Grid topology rules enforced in the database (issue: planners).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

Reserved in the chain so parallel work can land in any order; filled in by that work.
"""

from alembic import op  # noqa: F401

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
