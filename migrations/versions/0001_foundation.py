"""Foundation schema: areas, units, versioned grids, streets, classes, components, events, case log.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Written by hand as plain DDL so a reviewer reads exactly what PostgreSQL gets. Areas and
lengths are generated from ``geom::geography`` (metres on the spheroid, never degrees).
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE EXTENSION IF NOT EXISTS postgis;
-- btree_gist lets one exclusion constraint say "a grid code has no overlapping versions".
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE admin_area (
    code varchar(12) NOT NULL,
    level varchar(12) NOT NULL,
    parent_code varchar(12),
    name text NOT NULL,
    name_en text,
    geom geometry(MULTIPOLYGON, 4326) NOT NULL,
    area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED,
    CONSTRAINT pk_admin_area PRIMARY KEY (code),
    CONSTRAINT fk_admin_area_parent_code_admin_area FOREIGN KEY (parent_code) REFERENCES admin_area (code),
    CONSTRAINT ck_admin_area_level CHECK (level IN ('district', 'subdistrict', 'community')),
    CONSTRAINT ck_admin_area_code_hierarchy CHECK (
        (level = 'district' AND code ~ '^[0-9]{6}$' AND parent_code IS NULL)
        OR (level = 'subdistrict' AND code ~ '^[0-9]{9}$' AND parent_code = left(code, 6))
        OR (level = 'community' AND code ~ '^[0-9]{12}$' AND parent_code = left(code, 9)))
);
CREATE INDEX idx_admin_area_geom ON admin_area USING gist (geom);
CREATE INDEX ix_admin_area_parent_code ON admin_area (parent_code);

CREATE TABLE responsible_unit (
    id serial NOT NULL,
    code varchar(32) NOT NULL,
    name text NOT NULL,
    name_en text,
    kind varchar(24) NOT NULL,
    contact text,
    phone text,
    area_code varchar(12),
    CONSTRAINT pk_responsible_unit PRIMARY KEY (id),
    CONSTRAINT uq_responsible_unit_code UNIQUE (code),
    CONSTRAINT fk_responsible_unit_area_code_admin_area FOREIGN KEY (area_code) REFERENCES admin_area (code),
    CONSTRAINT ck_responsible_unit_kind CHECK (kind IN ('department', 'subdistrict_office', 'contractor', 'command_centre'))
);
CREATE INDEX ix_responsible_unit_area_code ON responsible_unit (area_code);
-- One office per sub-district: the 属地兜底 fallback must be unambiguous.
CREATE UNIQUE INDEX uq_responsible_unit_office_area ON responsible_unit (area_code)
    WHERE kind = 'subdistrict_office';

CREATE TABLE grid (
    id bigserial NOT NULL,
    code varchar(15) NOT NULL,
    community_code varchar(12) NOT NULL,
    name text,
    geom geometry(MULTIPOLYGON, 4326) NOT NULL,
    area_m2 double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED,
    unit_id integer,
    supervisor text,
    version integer DEFAULT 1 NOT NULL,
    valid_from timestamptz DEFAULT now() NOT NULL,
    valid_to timestamptz,
    CONSTRAINT pk_grid PRIMARY KEY (id),
    CONSTRAINT fk_grid_community_code_admin_area FOREIGN KEY (community_code) REFERENCES admin_area (code),
    CONSTRAINT fk_grid_unit_id_responsible_unit FOREIGN KEY (unit_id) REFERENCES responsible_unit (id),
    CONSTRAINT ck_grid_code_format CHECK (code ~ '^[0-9]{15}$'),
    CONSTRAINT ck_grid_code_in_community CHECK (left(code, 12) = community_code),
    CONSTRAINT ck_grid_valid_range CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT ck_grid_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    CONSTRAINT ex_grid_code_versions EXCLUDE USING gist (code WITH =, tstzrange(valid_from, valid_to) WITH &&)
);
CREATE INDEX idx_grid_geom ON grid USING gist (geom);
CREATE INDEX ix_grid_code ON grid (code);
CREATE INDEX ix_grid_community_code ON grid (community_code);
CREATE UNIQUE INDEX uq_grid_current_code ON grid (code) WHERE valid_to IS NULL;

CREATE TABLE street (
    id serial NOT NULL,
    name text NOT NULL,
    name_en text,
    grade varchar(8),
    district_code varchar(12),
    CONSTRAINT pk_street PRIMARY KEY (id),
    CONSTRAINT fk_street_district_code_admin_area FOREIGN KEY (district_code) REFERENCES admin_area (code),
    CONSTRAINT ck_street_grade CHECK (grade IS NULL OR grade IN ('严管街', '控制街', '标准街')),
    CONSTRAINT uq_street_district_name UNIQUE NULLS NOT DISTINCT (district_code, name)
);

CREATE TABLE street_segment (
    id bigserial NOT NULL,
    street_id integer NOT NULL,
    source_id text,
    geom geometry(LINESTRING, 4326) NOT NULL,
    length_m double precision GENERATED ALWAYS AS (ST_Length(geom::geography)) STORED,
    CONSTRAINT pk_street_segment PRIMARY KEY (id),
    CONSTRAINT fk_street_segment_street_id_street FOREIGN KEY (street_id) REFERENCES street (id) ON DELETE CASCADE
);
CREATE INDEX idx_street_segment_geom ON street_segment USING gist (geom);
CREATE INDEX ix_street_segment_street_id ON street_segment (street_id);

CREATE TABLE classification (
    scheme varchar(4) NOT NULL,
    kind varchar(10) NOT NULL,
    code varchar(5) NOT NULL,
    major_code varchar(2) NOT NULL,
    major_name text NOT NULL,
    name text NOT NULL,
    name_en text,
    geometry_type varchar(16),
    -- the class's handling time limit (处置时限): a value and a unit
    time_limit_value numeric,
    time_limit_unit varchar(16),
    is_custom boolean DEFAULT false NOT NULL,
    source text,
    CONSTRAINT pk_classification PRIMARY KEY (scheme, kind, code),
    CONSTRAINT ck_classification_scheme CHECK (scheme IN ('2013', '2026')),
    CONSTRAINT ck_classification_kind CHECK (kind IN ('component', 'event')),
    CONSTRAINT ck_classification_code_format CHECK (
        (scheme = '2013' AND code ~ '^[0-9]{4}$') OR (scheme = '2026' AND code ~ '^[0-9]{5}$')),
    CONSTRAINT ck_classification_code_in_major CHECK (left(code, 2) = major_code),
    CONSTRAINT ck_classification_time_limit_unit CHECK (time_limit_unit IS NULL
        OR time_limit_unit IN ('urgent_hours', 'working_hours', 'working_days', 'calendar_days'))
);

CREATE TABLE component (
    id bigserial NOT NULL,
    identifier varchar(17) NOT NULL,
    scheme varchar(4) NOT NULL,
    kind varchar(10) DEFAULT 'component' NOT NULL,
    class_code varchar(5) NOT NULL,
    geom geometry(GEOMETRY, 4326) NOT NULL,
    grid_code varchar(15),
    street_id integer,
    owner_unit_id integer,
    maintainer_unit_id integer,
    status varchar(12) DEFAULT 'in_service' NOT NULL,
    attributes jsonb DEFAULT '{}' NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL,
    updated_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_component PRIMARY KEY (id),
    CONSTRAINT uq_component_identifier UNIQUE (identifier),
    CONSTRAINT fk_component_class FOREIGN KEY (scheme, kind, class_code)
        REFERENCES classification (scheme, kind, code),
    CONSTRAINT fk_component_street_id_street FOREIGN KEY (street_id) REFERENCES street (id),
    CONSTRAINT fk_component_owner_unit_id_responsible_unit FOREIGN KEY (owner_unit_id) REFERENCES responsible_unit (id),
    CONSTRAINT fk_component_maintainer_unit_id_responsible_unit FOREIGN KEY (maintainer_unit_id) REFERENCES responsible_unit (id),
    CONSTRAINT ck_component_kind CHECK (kind = 'component'),
    CONSTRAINT ck_component_status CHECK (status IN ('in_service', 'damaged', 'missing', 'occupied', 'retired')),
    -- admin 6 + class (4 or 5) + sequence 6 = 16 (2013 scheme) or 17 (2026 scheme) digits.
    CONSTRAINT ck_component_identifier_format CHECK (
        identifier ~ '^[0-9]+$' AND length(identifier) = length(class_code) + 12
        AND substr(identifier, 7, length(class_code)) = class_code)
);
CREATE INDEX idx_component_geom ON component USING gist (geom);
CREATE INDEX ix_component_grid_code ON component (grid_code);
CREATE INDEX ix_component_class ON component (scheme, class_code);

CREATE TABLE event (
    id bigserial NOT NULL,
    scheme varchar(4) NOT NULL,
    class_kind varchar(10) NOT NULL,
    class_code varchar(5) NOT NULL,
    geom geometry(POINT, 4326) NOT NULL,
    location_text varchar(256),
    description text,
    source varchar(16) NOT NULL,
    reporter text,
    photo_urls text[],
    idempotency_key varchar(128),
    observed_at timestamptz,
    reported_at timestamptz DEFAULT now() NOT NULL,
    grid_id bigint,
    grid_code varchar(15),
    community_code varchar(12),
    subdistrict_code varchar(9),
    district_code varchar(6),
    street_id integer,
    street_distance_m double precision,
    component_id bigint,
    component_distance_m double precision,
    unit_id integer,
    assignment jsonb,
    deadline_at timestamptz,
    status varchar(12) DEFAULT 'reported' NOT NULL,
    closed_at timestamptz,
    updated_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_event PRIMARY KEY (id),
    CONSTRAINT uq_event_idempotency_key UNIQUE (idempotency_key),
    CONSTRAINT fk_event_class FOREIGN KEY (scheme, class_kind, class_code)
        REFERENCES classification (scheme, kind, code),
    CONSTRAINT fk_event_grid_id_grid FOREIGN KEY (grid_id) REFERENCES grid (id),
    CONSTRAINT fk_event_street_id_street FOREIGN KEY (street_id) REFERENCES street (id),
    CONSTRAINT fk_event_component_id_component FOREIGN KEY (component_id) REFERENCES component (id),
    CONSTRAINT fk_event_unit_id_responsible_unit FOREIGN KEY (unit_id) REFERENCES responsible_unit (id),
    CONSTRAINT ck_event_source CHECK (source IN ('supervisor', 'hotline', 'public_app', 'video', 'higher_order')),
    CONSTRAINT ck_event_status CHECK (status IN ('reported', 'verifying', 'filed', 'voided', 'dispatched',
        'handling', 'handled', 'checking', 'closed', 'shelved'))
);
CREATE INDEX idx_event_geom ON event USING gist (geom);
CREATE INDEX ix_event_grid_code ON event (grid_code);
CREATE INDEX ix_event_reported_at ON event (reported_at);
CREATE INDEX ix_event_unit_id ON event (unit_id);

CREATE TABLE case_log (
    id bigserial NOT NULL,
    event_id bigint NOT NULL,
    at timestamptz DEFAULT now() NOT NULL,
    actor text,
    action varchar(32) NOT NULL,
    from_status varchar(12),
    to_status varchar(12),
    note text,
    data jsonb,
    CONSTRAINT pk_case_log PRIMARY KEY (id),
    CONSTRAINT fk_case_log_event_id_event FOREIGN KEY (event_id) REFERENCES event (id) ON DELETE CASCADE
);
CREATE INDEX ix_case_log_event_id ON case_log (event_id);
"""

DOWNGRADE = """
DROP TABLE case_log;
DROP TABLE event;
DROP TABLE component;
DROP TABLE classification;
DROP TABLE street_segment;
DROP TABLE street;
DROP TABLE grid;
DROP TABLE responsible_unit;
DROP TABLE admin_area;
DROP EXTENSION IF EXISTS btree_gist;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    # postgis stays: other schemas in the database may use it, and dropping it is not ours to do.
    op.execute(DOWNGRADE)
