"""Open-case indexes exclude every terminal state, 核实不属实 (invalid) included.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

The partial indexes of open cases (0002 ``ix_event_class_open``, 0008 ``ix_event_open_geom``)
were built on ``status NOT IN ('closed', 'voided')`` while the workflow treats a report found
untrue on site as finished too. ``app.states`` now decides which states are terminal and
every query of open cases writes ``app.states.is_open(...)``; the planner uses a partial index
only when the query's predicate implies the index's, so the indexes follow. The literal below
is this revision's frozen copy; ``tests/test_states.py`` checks the live predicates against
``app.states.TERMINAL``.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OPEN = "status NOT IN ('invalid', 'voided', 'closed')"
OLD_OPEN = "status NOT IN ('closed', 'voided')"


def _indexes(predicate: str) -> str:
    return f"""
DROP INDEX IF EXISTS ix_event_class_open;
CREATE INDEX ix_event_class_open ON event (scheme, class_kind, class_code, reported_at)
    WHERE {predicate};
DROP INDEX IF EXISTS ix_event_open_geom;
CREATE INDEX ix_event_open_geom ON event USING gist (geom, reported_at)
    WHERE {predicate};
"""


def upgrade() -> None:
    op.execute(_indexes(OPEN))


def downgrade() -> None:
    op.execute(_indexes(OLD_OPEN))
