"""One deadline rule: the stage's yellow moment is stored; intake's clock-hour deadlines go.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22

The workflow decides a case's light from its current stage (due time and the moment it turns
yellow, both on the working calendar). ``case_workflow.stage_yellow_at`` stores the second
beside ``stage_due_at``, written whenever the workflow writes the case, so the light counts
in SQL compare two stored moments instead of repeating the arithmetic. Existing rows are
filled by the application (`app.services.workflow.transitions.fill_stage_lights`, run by
``citygrid db migrate``): working time needs the stored calendar, which SQL cannot walk.

Intake used to store a placeholder deadline in clock hours; the handling deadline exists only
once a case is dispatched (派遣). Cases the workflow never touched lose that placeholder.
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE case_workflow ADD COLUMN stage_yellow_at timestamptz")
    op.execute(
        "UPDATE event e SET deadline_at = NULL WHERE e.deadline_at IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM case_workflow w WHERE w.event_id = e.id)"
    )


def downgrade() -> None:
    # The placeholder deadlines are not restored: they were never the workflow's.
    op.execute("ALTER TABLE case_workflow DROP COLUMN stage_yellow_at")
