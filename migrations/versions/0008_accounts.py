"""Accounts, roles and the audit trail; an index over open cases for duplicate checks.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21

A user holds one or more roles. A handler belongs to a responsible unit (it sees and acts on
that unit's cases); a supervisor is bound to the grids whose ``supervisor`` names them. Every
write through the API lands in ``audit_log``.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE app_user (
    id serial NOT NULL,
    username varchar(64) NOT NULL,
    display_name text,
    password_hash text NOT NULL,
    roles varchar(16)[] DEFAULT '{}' NOT NULL,
    unit_id integer,
    is_active boolean DEFAULT true NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_app_user PRIMARY KEY (id),
    CONSTRAINT uq_app_user_username UNIQUE (username),
    CONSTRAINT fk_app_user_unit_id_responsible_unit FOREIGN KEY (unit_id) REFERENCES responsible_unit (id),
    CONSTRAINT ck_app_user_roles CHECK (roles <@ ARRAY['supervisor', 'acceptor', 'shift_leader',
        'dispatcher', 'handler', 'planner', 'analyst', 'admin']::varchar(16)[]),
    CONSTRAINT ck_app_user_handler_unit CHECK (NOT ('handler' = ANY (roles)) OR unit_id IS NOT NULL)
);

CREATE TABLE audit_log (
    id bigserial NOT NULL,
    at timestamptz DEFAULT now() NOT NULL,
    username varchar(64),
    method varchar(8) NOT NULL,
    path text NOT NULL,
    status integer NOT NULL,
    client text,
    CONSTRAINT pk_audit_log PRIMARY KEY (id)
);
CREATE INDEX ix_audit_log_at ON audit_log (at);

-- Possible duplicates are open cases near the point reported in the last days: one GiST
-- index over (place, time) of open cases (btree_gist supplies the time part) answers that
-- without wading through every open case ever reported at a busy corner.
CREATE INDEX ix_event_open_geom ON event USING gist (geom, reported_at)
    WHERE status NOT IN ('closed', 'voided');
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute("DROP INDEX ix_event_open_geom; DROP TABLE audit_log; DROP TABLE app_user;")
