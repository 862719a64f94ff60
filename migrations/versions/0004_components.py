"""Component inventory: history, identifier sequences, import keys (issue: street-component inventory).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

- ``component_sequence``: the highest identifier sequence ever issued per (scheme, admin code,
  class). Generated identifiers continue after it, so an identifier is never issued twice,
  even if its component was retired or its row purged. A statement-level trigger keeps it up
  to date from every insert into ``component`` (imports, the API, raw SQL alike), and
  another refuses to change an identifier once stored: identifiers are permanent.
- ``component_source``: which source feature (layer + the source's own id, or a geometry
  fingerprint) each imported component came from. It is the key of idempotent re-imports
  and lets a later census link its own ids to the same component.
- ``component_history``: every change of status, owner/maintainer, position or attributes,
  one row per field (who, when, old → new, the case that caused it), plus the creation.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ACTIONS = "'created', 'imported', 'updated', 'retired', 'case'"
FIELDS = (
    "'status', 'owner_unit', 'maintainer_unit', 'geometry', 'grid_code', 'street_id', 'attributes'"
)

UPGRADE = rf"""
CREATE TABLE component_sequence (
    scheme varchar(4) NOT NULL,
    admin_code varchar(6) NOT NULL,
    class_code varchar(5) NOT NULL,
    last_sequence integer NOT NULL,
    CONSTRAINT pk_component_sequence PRIMARY KEY (scheme, admin_code, class_code),
    CONSTRAINT ck_component_sequence_admin_code CHECK (admin_code ~ '^[0-9]{{6}}$'),
    CONSTRAINT ck_component_sequence_range CHECK (last_sequence BETWEEN 0 AND 999999)
);

CREATE TABLE component_source (
    source_layer text NOT NULL,
    source_id text NOT NULL,
    component_id bigint NOT NULL,
    imported_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_component_source PRIMARY KEY (source_layer, source_id),
    CONSTRAINT fk_component_source_component_id_component FOREIGN KEY (component_id)
        REFERENCES component (id) ON DELETE CASCADE
);
CREATE INDEX ix_component_source_component_id ON component_source (component_id);

CREATE TABLE component_history (
    id bigserial NOT NULL,
    component_id bigint NOT NULL,
    at timestamptz DEFAULT now() NOT NULL,
    actor text,
    action varchar(16) NOT NULL,
    field varchar(24),
    old_value text,
    new_value text,
    event_id bigint,
    note text,
    CONSTRAINT pk_component_history PRIMARY KEY (id),
    CONSTRAINT fk_component_history_component_id_component FOREIGN KEY (component_id)
        REFERENCES component (id) ON DELETE CASCADE,
    CONSTRAINT fk_component_history_event_id_event FOREIGN KEY (event_id)
        REFERENCES event (id) ON DELETE SET NULL,
    CONSTRAINT ck_component_history_action CHECK (action IN ({ACTIONS})),
    CONSTRAINT ck_component_history_field CHECK (field IS NULL OR field IN ({FIELDS}))
);
CREATE INDEX ix_component_history_component_id ON component_history (component_id);
CREATE INDEX ix_component_history_event_id ON component_history (event_id);

-- List filters and summaries by street and owner; a component's cases (event.component_id).
CREATE INDEX ix_component_street_id ON component (street_id);
CREATE INDEX ix_component_owner_unit_id ON component (owner_unit_id);
CREATE INDEX ix_event_component_id ON event (component_id);

-- Components stored before this revision already used their sequences.
INSERT INTO component_sequence (scheme, admin_code, class_code, last_sequence)
SELECT scheme, left(identifier, 6), class_code, max(right(identifier, 6)::integer)
FROM component GROUP BY 1, 2, 3;

-- One aggregate per INSERT statement (a transition table), not one upsert per row: a
-- million-row census costs one GROUP BY here.
CREATE FUNCTION citygrid_component_sequence_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO component_sequence AS s (scheme, admin_code, class_code, last_sequence)
    SELECT scheme, left(identifier, 6), class_code, max(right(identifier, 6)::integer)
    FROM new_components GROUP BY 1, 2, 3
    ON CONFLICT (scheme, admin_code, class_code) DO UPDATE
        SET last_sequence = EXCLUDED.last_sequence
        WHERE EXCLUDED.last_sequence > s.last_sequence;
    RETURN NULL;
END $$;
CREATE TRIGGER tr_component_sequence AFTER INSERT ON component
    REFERENCING NEW TABLE AS new_components
    FOR EACH STATEMENT EXECUTE FUNCTION citygrid_component_sequence_bump();

CREATE FUNCTION citygrid_component_identifier_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'component identifier % cannot change (identifiers are permanent)',
        OLD.identifier USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER tr_component_identifier_fixed BEFORE UPDATE OF identifier, scheme, class_code
    ON component FOR EACH ROW
    WHEN (OLD.identifier IS DISTINCT FROM NEW.identifier OR OLD.scheme IS DISTINCT FROM NEW.scheme
          OR OLD.class_code IS DISTINCT FROM NEW.class_code)
    EXECUTE FUNCTION citygrid_component_identifier_fixed();
"""

DOWNGRADE = """
DROP TRIGGER tr_component_identifier_fixed ON component;
DROP FUNCTION citygrid_component_identifier_fixed();
DROP TRIGGER tr_component_sequence ON component;
DROP FUNCTION citygrid_component_sequence_bump();
DROP INDEX ix_event_component_id;
DROP INDEX ix_component_owner_unit_id;
DROP INDEX ix_component_street_id;
DROP TABLE component_history;
DROP TABLE component_source;
DROP TABLE component_sequence;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
