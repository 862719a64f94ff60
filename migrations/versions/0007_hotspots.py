"""Stored grid contiguity weights for hotspots (issue: hotspots and maps).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21

Reserved in the chain so parallel work can land in any order; filled in by that work.
"""

from alembic import op  # noqa: F401

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
