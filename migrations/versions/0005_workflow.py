"""Case workflow: states, per-case clock, time limits per filing criterion, working calendars.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

The event table keeps the case's status, unit, deadline and closing time; ``case_workflow``
holds the rest of the clock (time limit in force, extensions, shelving, the current stage's
due time, a pending request). ``case_log`` already exists and is the source of evaluation.
Calendars and time limits are data: the bundled files are loaded by the application
(`app.services.workflow.calendar.load_workflow_defaults`), never by this migration.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_STATUSES = (
    "'reported', 'verifying', 'filed', 'voided', 'dispatched', "
    "'handling', 'handled', 'checking', 'closed', 'shelved'"
)
# verified / invalid: the supervisor's on-site verification (核实) of a public report;
# returned: a unit sent a wrong dispatch back to the dispatcher (退回).
NEW_STATUSES = (
    "'reported', 'verifying', 'verified', 'invalid', 'filed', 'voided', "
    "'dispatched', 'returned', 'handling', 'handled', 'checking', 'closed', 'shelved'"
)
UNITS = "'urgent_hours', 'working_hours', 'working_days', 'calendar_days'"

UPGRADE = rf"""
ALTER TABLE event DROP CONSTRAINT ck_event_status;
ALTER TABLE event ADD CONSTRAINT ck_event_status CHECK (status IN ({NEW_STATUSES}));

-- 处置时限 per class and filing criterion (立案条件); criterion '' is the class's default.
CREATE TABLE time_limit (
    id serial NOT NULL,
    scheme varchar(4) NOT NULL,
    class_kind varchar(10) NOT NULL,
    class_code varchar(5) NOT NULL,
    criterion text DEFAULT '' NOT NULL,
    limit_value numeric NOT NULL,
    limit_unit varchar(16) NOT NULL,
    note text,
    CONSTRAINT pk_time_limit PRIMARY KEY (id),
    CONSTRAINT fk_time_limit_class FOREIGN KEY (scheme, class_kind, class_code)
        REFERENCES classification (scheme, kind, code) ON DELETE CASCADE,
    CONSTRAINT uq_time_limit_class_criterion UNIQUE (scheme, class_kind, class_code, criterion),
    CONSTRAINT ck_time_limit_value CHECK (limit_value > 0),
    CONSTRAINT ck_time_limit_unit CHECK (limit_unit IN ({UNITS}))
);

-- A working calendar per year: the work periods of a working day (NULL = the deployment's
-- default) and the days that differ from "Monday to Friday work": public holidays and the
-- make-up working days (调休) the State Council announces each year.
CREATE TABLE work_calendar (
    year smallint NOT NULL,
    work_periods text,
    source text,
    updated_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_work_calendar PRIMARY KEY (year),
    CONSTRAINT ck_work_calendar_year CHECK (year BETWEEN 2000 AND 2100),
    CONSTRAINT ck_work_calendar_periods CHECK (
        work_periods IS NULL OR work_periods ~ '^([0-9]{{2}}:[0-9]{{2}}-[0-9]{{2}}:[0-9]{{2}},?)+$')
);

CREATE TABLE work_calendar_day (
    day date NOT NULL,
    year smallint NOT NULL,
    is_workday boolean NOT NULL,
    name text,
    CONSTRAINT pk_work_calendar_day PRIMARY KEY (day),
    CONSTRAINT fk_work_calendar_day_year_work_calendar FOREIGN KEY (year)
        REFERENCES work_calendar (year) ON DELETE CASCADE,
    CONSTRAINT ck_work_calendar_day_in_year CHECK (extract(year FROM day) = year)
);
CREATE INDEX ix_work_calendar_day_year ON work_calendar_day (year);

CREATE TABLE case_workflow (
    event_id bigint NOT NULL,
    criterion text,
    limit_value numeric,
    limit_unit varchar(16),
    clock_started_at timestamptz,
    -- approved extensions (延期), in hours of the limit's own clock (working or 24×7)
    extension_hours numeric DEFAULT 0 NOT NULL,
    -- when the current stage's task (verify, file, dispatch, handle, check…) is due
    stage_due_at timestamptz,
    shelved_at timestamptz,
    resume_status varchar(12),
    pending_request varchar(12),
    pending_hours numeric,
    dispatched_by text,
    rework_count integer DEFAULT 0 NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_case_workflow PRIMARY KEY (event_id),
    CONSTRAINT fk_case_workflow_event_id_event FOREIGN KEY (event_id)
        REFERENCES event (id) ON DELETE CASCADE,
    CONSTRAINT ck_case_workflow_limit_unit CHECK (limit_unit IS NULL OR limit_unit IN ({UNITS})),
    CONSTRAINT ck_case_workflow_pending_request CHECK (
        pending_request IS NULL OR pending_request IN ('extension', 'shelving')),
    CONSTRAINT ck_case_workflow_shelved CHECK ((shelved_at IS NULL) = (resume_status IS NULL))
);
CREATE INDEX ix_case_workflow_stage_due_at ON case_workflow (stage_due_at);
"""

DOWNGRADE = rf"""
DROP TABLE case_workflow;
DROP TABLE work_calendar_day;
DROP TABLE work_calendar;
DROP TABLE time_limit;
-- Cases in the new states fall back to the nearest old one so the old constraint holds.
UPDATE event SET status = CASE status WHEN 'verified' THEN 'verifying' WHEN 'invalid' THEN 'voided'
                                      WHEN 'returned' THEN 'filed' ELSE status END
WHERE status IN ('verified', 'invalid', 'returned');
ALTER TABLE event DROP CONSTRAINT ck_event_status;
ALTER TABLE event ADD CONSTRAINT ck_event_status CHECK (status IN ({OLD_STATUSES}));
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
