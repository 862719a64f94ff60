"""Component inventory: history, identifier sequences (issue: street-component inventory).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Reserved in the chain so parallel work can land in any order; filled in by that work.
"""

from alembic import op  # noqa: F401

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
