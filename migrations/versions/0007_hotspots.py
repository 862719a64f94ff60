"""Stored contiguity weights for hotspots (issue: hotspots and maps).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21

Gi* needs "which grids touch" and "which street segments meet". Deriving that from the
geometry takes seconds at city scale, so it is computed once (``citygrid maps weights``,
or on first use) and kept here; a hotspot query only reads it.

- ``grid_neighbour``: queen contiguity between *current* grid versions, each pair once
  (``grid_id < neighbour_id``).
- ``street_segment_neighbour``: segments sharing an intersection node, each pair once.
- ``event_segment``: the nearest segment of its own street for each street-assigned event
  (per-segment counts without a nearest-neighbour search per query).
- ``spatial_weights``: one row per stored set: a fingerprint of the source rows at
  computation time, so a query can tell stale weights from fresh ones.

Foreign keys cascade: a deleted grid or segment takes its pairs with it, and the
fingerprint then no longer matches, which triggers a recomputation.

``ix_event_hotspot`` covers every column a hotspot count filters or groups on, so the
counts are index-only scans instead of reads of the wide event rows (1 M cases: ~0.8 s →
~0.2 s per count).
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE spatial_weights (
    kind varchar(32) NOT NULL,
    fingerprint text NOT NULL,
    units integer NOT NULL,
    pairs integer NOT NULL,
    tolerance_m double precision NOT NULL,
    -- event_segment only: events up to this id have been matched to a segment
    last_event_id bigint,
    computed_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_spatial_weights PRIMARY KEY (kind),
    CONSTRAINT ck_spatial_weights_kind CHECK (kind IN ('grid_queen', 'segment_node', 'event_segment'))
);

CREATE TABLE grid_neighbour (
    grid_id bigint NOT NULL,
    neighbour_id bigint NOT NULL,
    CONSTRAINT pk_grid_neighbour PRIMARY KEY (grid_id, neighbour_id),
    CONSTRAINT fk_grid_neighbour_grid_id_grid FOREIGN KEY (grid_id)
        REFERENCES grid (id) ON DELETE CASCADE,
    CONSTRAINT fk_grid_neighbour_neighbour_id_grid FOREIGN KEY (neighbour_id)
        REFERENCES grid (id) ON DELETE CASCADE,
    CONSTRAINT ck_grid_neighbour_ordered CHECK (grid_id < neighbour_id)
);
-- "neighbours of grid X" must find the pairs where X is the larger id too
CREATE INDEX ix_grid_neighbour_neighbour_id ON grid_neighbour (neighbour_id);

CREATE TABLE street_segment_neighbour (
    segment_id bigint NOT NULL,
    neighbour_id bigint NOT NULL,
    CONSTRAINT pk_street_segment_neighbour PRIMARY KEY (segment_id, neighbour_id),
    CONSTRAINT fk_street_segment_neighbour_segment_id_street_segment FOREIGN KEY (segment_id)
        REFERENCES street_segment (id) ON DELETE CASCADE,
    CONSTRAINT fk_street_segment_neighbour_neighbour_id_street_segment FOREIGN KEY (neighbour_id)
        REFERENCES street_segment (id) ON DELETE CASCADE,
    CONSTRAINT ck_street_segment_neighbour_ordered CHECK (segment_id < neighbour_id)
);
CREATE INDEX ix_street_segment_neighbour_neighbour_id ON street_segment_neighbour (neighbour_id);

CREATE TABLE event_segment (
    event_id bigint NOT NULL,
    segment_id bigint NOT NULL,
    distance_m double precision NOT NULL,
    -- No foreign keys on purpose: this is a derived cache. Checking them row by row
    -- doubles the first match of a million events; an orphan row (a deleted case) is
    -- harmless because every count joins event, and any change of the segments changes
    -- their fingerprint, which rematches everything.
    CONSTRAINT pk_event_segment PRIMARY KEY (event_id)
);
CREATE INDEX ix_event_segment_segment_id ON event_segment (segment_id);

CREATE INDEX ix_event_hotspot ON event (reported_at)
    INCLUDE (grid_code, street_id, scheme, class_kind, class_code, source, status, id);
"""

DOWNGRADE = r"""
DROP INDEX IF EXISTS ix_event_hotspot;
DROP TABLE IF EXISTS event_segment;
DROP TABLE IF EXISTS street_segment_neighbour;
DROP TABLE IF EXISTS grid_neighbour;
DROP TABLE IF EXISTS spatial_weights;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
