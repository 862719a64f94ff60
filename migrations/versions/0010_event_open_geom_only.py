"""Drop idx_event_geom: every spatial look-up of cases is of open cases (ix_event_open_geom).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21

Possible duplicates, the import's duplicate check and grid edits' re-assignment all filter
open cases by place, and the partial GiST index ``ix_event_open_geom`` serves them; maps and
hotspots select cases by grid, street and time. The full GiST index over every case ever
reported was used by no query, yet each new case paid to insert into it (~0.1 ms, a GiST
insert being the dearest of the table's index updates).
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX idx_event_geom")


def downgrade() -> None:
    op.execute("CREATE INDEX idx_event_geom ON event USING gist (geom)")
