"""Dispatch rules, Open311 tokens and reporter contact on events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

A dispatch rule says: cases of this class in this area go to this unit. The area is a grid
(15 digits), community (12), sub-district (9) or district (6); the most specific rule wins,
so the area level is stored to order candidates without parsing codes at query time.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE dispatch_rule (
    id serial NOT NULL,
    scheme varchar(4) NOT NULL,
    class_kind varchar(10) NOT NULL,
    class_code varchar(5) NOT NULL,
    area_code varchar(15) NOT NULL,
    area_level smallint GENERATED ALWAYS AS (length(area_code)) STORED,
    unit_id integer NOT NULL,
    note text,
    created_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_dispatch_rule PRIMARY KEY (id),
    CONSTRAINT fk_dispatch_rule_class FOREIGN KEY (scheme, class_kind, class_code)
        REFERENCES classification (scheme, kind, code),
    CONSTRAINT fk_dispatch_rule_unit_id_responsible_unit FOREIGN KEY (unit_id)
        REFERENCES responsible_unit (id),
    CONSTRAINT ck_dispatch_rule_area_code CHECK (area_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{15})$'),
    CONSTRAINT uq_dispatch_rule_class_area UNIQUE (scheme, class_kind, class_code, area_code)
);
CREATE INDEX ix_dispatch_rule_area_code ON dispatch_rule (area_code);

ALTER TABLE event ADD COLUMN public_token varchar(36);
ALTER TABLE event ADD CONSTRAINT uq_event_public_token UNIQUE (public_token);
ALTER TABLE event ADD COLUMN reporter_contact jsonb;
ALTER TABLE event ADD COLUMN service_notice text;
CREATE INDEX ix_event_class_open ON event (scheme, class_kind, class_code, reported_at)
    WHERE status NOT IN ('closed', 'voided');
"""

DOWNGRADE = """
DROP INDEX ix_event_class_open;
ALTER TABLE event DROP COLUMN service_notice;
ALTER TABLE event DROP COLUMN reporter_contact;
ALTER TABLE event DROP CONSTRAINT uq_event_public_token;
ALTER TABLE event DROP COLUMN public_token;
DROP TABLE dispatch_rule;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
