"""Grid topology rules enforced in the database; grid edits, retired codes, renumbering.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

The rules of ``gis.grids.topology`` (no overlap inside a community, no gap, inside the community,
no sliver) are checked by a deferred constraint trigger at COMMIT, once per community a
transaction touched, so an edit made straight in PostGIS (QGIS) cannot break them and a
community may be filled grid by grid inside one transaction.

Gaps and partly gridded communities: a community counts as *complete* from the first commit
at which its current grids cover it (``grid_coverage``); from then on every commit must keep
it covered. Until then (a community being loaded over several files) gaps are only a
``partial`` warning in the report. A community whose last grid is retired starts over.
A bulk load may ``SET LOCAL citygrid.skip_topology = on`` and run ``citygrid grids
validate`` afterwards. Tolerances are settings ``citygrid.grid_*`` (a session, or
``ALTER DATABASE … SET``) with the defaults below, which match ``app.settings``.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = r"""
CREATE TABLE grid_edit (
    id bigserial NOT NULL,
    kind varchar(16) NOT NULL,
    at timestamptz DEFAULT now() NOT NULL,
    actor text,
    note text,
    community_code varchar(12) NOT NULL,
    retired_codes text[] DEFAULT '{}' NOT NULL,
    started_codes text[] DEFAULT '{}' NOT NULL,
    summary jsonb DEFAULT '{}' NOT NULL,
    CONSTRAINT pk_grid_edit PRIMARY KEY (id),
    CONSTRAINT fk_grid_edit_community_code_admin_area FOREIGN KEY (community_code)
        REFERENCES admin_area (code),
    CONSTRAINT ck_grid_edit_kind CHECK (kind IN ('reshape', 'split', 'merge', 'create', 'retire',
                                                 'renumber'))
);
CREATE INDEX ix_grid_edit_community_code ON grid_edit (community_code);

-- A code once retired is never given to a new grid (renumbering aside, see grid_renumbering).
CREATE TABLE grid_code_retired (
    code varchar(15) NOT NULL,
    community_code varchar(12) NOT NULL,
    retired_at timestamptz DEFAULT now() NOT NULL,
    edit_id bigint,
    CONSTRAINT pk_grid_code_retired PRIMARY KEY (code),
    CONSTRAINT fk_grid_code_retired_community_code_admin_area FOREIGN KEY (community_code)
        REFERENCES admin_area (code),
    CONSTRAINT fk_grid_code_retired_edit_id_grid_edit FOREIGN KEY (edit_id)
        REFERENCES grid_edit (id),
    CONSTRAINT ck_grid_code_retired_code_in_community CHECK (left(code, 12) = community_code)
);
CREATE INDEX ix_grid_code_retired_community_code ON grid_code_retired (community_code);

-- Old code -> new code of each renumbering, so old papers and exports stay readable.
CREATE TABLE grid_renumbering (
    edit_id bigint NOT NULL,
    old_code varchar(15) NOT NULL,
    new_code varchar(15) NOT NULL,
    CONSTRAINT pk_grid_renumbering PRIMARY KEY (edit_id, old_code),
    CONSTRAINT fk_grid_renumbering_edit_id_grid_edit FOREIGN KEY (edit_id)
        REFERENCES grid_edit (id),
    CONSTRAINT uq_grid_renumbering_edit_new_code UNIQUE (edit_id, new_code)
);
CREATE INDEX ix_grid_renumbering_old_code ON grid_renumbering (old_code);
CREATE INDEX ix_grid_renumbering_new_code ON grid_renumbering (new_code);

-- Coverage state per community, kept by the topology trigger.
CREATE TABLE grid_coverage (
    community_code varchar(12) NOT NULL,
    complete_since timestamptz,
    uncovered_m2 double precision NOT NULL,
    checked_at timestamptz DEFAULT now() NOT NULL,
    CONSTRAINT pk_grid_coverage PRIMARY KEY (community_code),
    CONSTRAINT fk_grid_coverage_community_code_admin_area FOREIGN KEY (community_code)
        REFERENCES admin_area (code) ON DELETE CASCADE
);
"""

FUNCTIONS = r"""
CREATE FUNCTION citygrid_topology_param(name text, fallback double precision)
RETURNS double precision LANGUAGE sql STABLE AS $$
    SELECT COALESCE(NULLIF(current_setting('citygrid.' || name, true), '')::double precision,
                    fallback)
$$;

-- One lock per community, shared by the trigger and the edit service: two transactions
-- changing one community are checked one after the other, the second seeing the first.
CREATE FUNCTION citygrid_lock_community(p_community varchar) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtext('citygrid.grid_topology'), hashtext(p_community))
$$;

CREATE FUNCTION citygrid_current_grids(p_community varchar)
RETURNS TABLE (code text, geom geometry, m2 double precision) LANGUAGE sql STABLE AS $$
    SELECT g.code::text, g.geom, g.area_m2 FROM grid g
    WHERE g.community_code = p_community AND g.valid_to IS NULL
$$;

-- Every violation in one community: rule, severity, grids, m², mean width, shape. Measures
-- are planar in the community's UTM zone (as gis.grids.topology measures): geography areas on the
-- spheroid cost ~1 ms a polygon, and on the sphere they go wrong for the degenerate crumbs an
-- overlay leaves (hundreds of thousands of m² for a zero-width sliver).
CREATE FUNCTION citygrid_grid_topology(p_community varchar)
RETURNS TABLE (rule text, severity text, community_code varchar, codes text[],
               area_m2 double precision, width_m double precision, geom geometry)
-- PostGIS functions carry high planner costs, so these small queries would be JIT-compiled:
-- half a second each, for queries that run in milliseconds.
LANGUAGE plpgsql STABLE SET jit = off AS $$
DECLARE
    shape geometry;
    srid integer;
    complete boolean;
    overlap_max double precision := citygrid_topology_param('grid_overlap_max_m2', 0.0005);
    gap_max double precision := citygrid_topology_param('grid_gap_max_m2', 1.0);
    gap_width double precision := citygrid_topology_param('grid_gap_min_width_m', 0.05);
    outside_max double precision := citygrid_topology_param('grid_outside_max_m2', 1.0);
    outside_ratio double precision := citygrid_topology_param('grid_outside_max_ratio', 0.005);
    sliver_width double precision := citygrid_topology_param('grid_sliver_min_width_m', 0.1);
    area_min double precision := citygrid_topology_param('grid_area_min_m2', 2000.0);
    area_max double precision := citygrid_topology_param('grid_area_max_m2', 50000.0);
BEGIN
    SELECT a.geom INTO shape FROM admin_area a WHERE a.code = p_community;
    IF shape IS NULL OR NOT EXISTS (SELECT 1 FROM grid g WHERE g.community_code = p_community
                                                         AND g.valid_to IS NULL) THEN
        RETURN;
    END IF;
    srid := citygrid_utm_srid(ST_X(ST_PointOnSurface(shape)), ST_Y(ST_PointOnSurface(shape)));
    complete := EXISTS (SELECT 1 FROM grid_coverage c
                        WHERE c.community_code = p_community AND c.complete_since IS NOT NULL);

    -- neighbours touch along shared edges: only interiors meeting in 2D can overlap
    RETURN QUERY
    SELECT 'overlap', 'error', p_community, ARRAY[a.code, b.code], x.m2, NULL::float8, x.g
    FROM citygrid_current_grids(p_community) a
    JOIN citygrid_current_grids(p_community) b ON a.code < b.code AND a.geom && b.geom
    CROSS JOIN LATERAL (
        SELECT i.g, ST_Area(ST_Transform(i.g, srid)) AS m2
        FROM (SELECT ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3) AS g) i) x
    WHERE ST_Relate(a.geom, b.geom, '2********') AND x.m2 > overlap_max;

    RETURN QUERY
    SELECT 'outside', 'error', p_community, ARRAY[c.code], x.m2, NULL::float8, x.g
    FROM citygrid_current_grids(p_community) c
    CROSS JOIN LATERAL (
        SELECT d.g, ST_Area(ST_Transform(d.g, srid)) AS m2
        FROM (SELECT ST_CollectionExtract(ST_Difference(c.geom, shape), 3) AS g) d) x
    WHERE NOT ST_CoveredBy(c.geom, shape)
      AND (x.m2 > outside_max OR x.m2 > outside_ratio * c.m2);

    -- gaps thinner than gap_width on average are digitising noise along shared boundaries
    RETURN QUERY
    WITH pieces AS (
        SELECT d.geom AS g
        FROM ST_Dump(ST_Difference(shape, (SELECT ST_Union(c.geom)
                                           FROM citygrid_current_grids(p_community) c))) d
        WHERE GeometryType(d.geom) = 'POLYGON'
    ), measured AS (
        SELECT p.g, ST_Area(ST_Transform(p.g, srid)) AS m2,
               ST_Perimeter(ST_Transform(p.g, srid)) AS perimeter
        FROM pieces p
    ), real AS (
        SELECT m.g, m.m2, 2 * m.m2 / NULLIF(m.perimeter, 0) AS width FROM measured m
        WHERE m.m2 > gap_max AND 2 * m.m2 / NULLIF(m.perimeter, 0) >= gap_width
    )
    SELECT 'gap', 'error', p_community, ARRAY[]::text[], r.m2, r.width, r.g
    FROM real r WHERE complete
    UNION ALL
    SELECT 'partial', 'warning', p_community, ARRAY[]::text[], sum(r.m2), NULL::float8,
           ST_Collect(r.g)
    FROM real r WHERE NOT complete HAVING count(*) > 0;

    RETURN QUERY
    SELECT 'sliver', 'error', p_community, ARRAY[c.code], p.m2, p.width, p.g
    FROM citygrid_current_grids(p_community) c
    CROSS JOIN LATERAL (
        SELECT d.g, d.m2, 2 * d.m2 / NULLIF(ST_Perimeter(ST_Transform(d.g, srid)), 0) AS width
        FROM (SELECT x.geom AS g, ST_Area(ST_Transform(x.geom, srid)) AS m2
              FROM ST_Dump(c.geom) x) d
    ) p
    WHERE p.width < sliver_width;

    RETURN QUERY
    SELECT 'area', 'warning', p_community, ARRAY[c.code], c.m2, NULL::float8, c.geom
    FROM citygrid_current_grids(p_community) c WHERE c.m2 < area_min OR c.m2 > area_max;

    RETURN QUERY
    SELECT 'multipart', 'warning', p_community, ARRAY[c.code], c.m2, NULL::float8, c.geom
    FROM citygrid_current_grids(p_community) c WHERE ST_NumGeometries(c.geom) > 1;
END $$;

-- Check one community: raise on any error, else record whether it is now fully covered.
CREATE FUNCTION citygrid_grid_topology_assert(p_community varchar) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v record;
    n integer := 0;
    lines text[] := '{}';
    uncovered double precision := 0;
BEGIN
    PERFORM citygrid_lock_community(p_community);
    IF NOT EXISTS (SELECT 1 FROM grid g
                   WHERE g.community_code = p_community AND g.valid_to IS NULL) THEN
        DELETE FROM grid_coverage WHERE community_code = p_community;
        RETURN;
    END IF;
    FOR v IN SELECT * FROM citygrid_grid_topology(p_community) t
             ORDER BY t.rule, t.codes LOOP
        IF v.severity = 'error' THEN
            n := n + 1;
            IF n <= 10 THEN
                lines := lines || format('%s %s %s m2', v.rule,
                    COALESCE(NULLIF(array_to_string(v.codes, ' x '), ''), '-'),
                    round(v.area_m2::numeric, 4));
            END IF;
        ELSIF v.rule = 'partial' THEN
            uncovered := v.area_m2;
        END IF;
    END LOOP;
    IF n > 0 THEN
        -- ASCII only: psycopg2 decodes errors raised at COMMIT as ASCII, mangling the rest
        RAISE EXCEPTION 'grid topology violated in community %: %',
                        p_community, array_to_string(lines, '; ')
            USING ERRCODE = 'check_violation', CONSTRAINT = 'grid_topology',
                  DETAIL = format('%s violation(s) in community %s; the transaction is rolled back',
                                  n, p_community),
                  HINT = 'citygrid grids validate lists every violation with its geometry';
    END IF;
    INSERT INTO grid_coverage AS c (community_code, complete_since, uncovered_m2, checked_at)
    VALUES (p_community, CASE WHEN uncovered = 0 THEN now() END, uncovered, now())
    ON CONFLICT (community_code) DO UPDATE
        SET complete_since = CASE WHEN EXCLUDED.uncovered_m2 = 0
                                  THEN COALESCE(c.complete_since, now()) END,
            uncovered_m2 = EXCLUDED.uncovered_m2, checked_at = now();
END $$;

-- The set of communities touched in this transaction and not yet checked: a transaction-
-- local setting, so a rollback forgets it and nothing is left behind for other sessions.
CREATE FUNCTION citygrid_topology_touch(found text) RETURNS void LANGUAGE sql AS $$
    SELECT set_config('citygrid.topology_dirty', array_to_string(ARRAY(
        SELECT DISTINCT x FROM unnest(string_to_array(
            COALESCE(current_setting('citygrid.topology_dirty', true), '') || ',' ||
            COALESCE(found, ''), ',')) x
        WHERE x <> '' ORDER BY x), ','), true)
$$;

CREATE FUNCTION citygrid_grid_touched() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT string_agg(DISTINCT n.community_code, ',') INTO found FROM new_rows n;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT string_agg(DISTINCT o.community_code, ',') INTO found FROM old_rows o;
    ELSE
        -- only changes that can move a boundary count (not a new supervisor, say)
        SELECT string_agg(DISTINCT x.c, ',') INTO found
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.community_code), (n.community_code)) x(c)
        WHERE o.geom IS DISTINCT FROM n.geom OR o.valid_to IS DISTINCT FROM n.valid_to
           OR o.valid_from IS DISTINCT FROM n.valid_from OR o.code <> n.code
           OR o.community_code <> n.community_code;
    END IF;
    IF found IS NOT NULL THEN
        PERFORM citygrid_topology_touch(found);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION citygrid_area_touched() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found text;
BEGIN
    SELECT string_agg(DISTINCT n.code, ',') INTO found
    FROM old_rows o JOIN new_rows n ON n.code = o.code
    WHERE n.level = 'community' AND o.geom IS DISTINCT FROM n.geom;
    IF found IS NOT NULL THEN
        PERFORM citygrid_topology_touch(found);
    END IF;
    RETURN NULL;
END $$;

-- Fires once per changed row at COMMIT; the first call checks every touched community and
-- empties the set, so the others return at once (a 100,000-row import pays one check per
-- community, not per row).
CREATE FUNCTION citygrid_grid_topology_enforce() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched text := current_setting('citygrid.topology_dirty', true);
    c text;
BEGIN
    IF touched IS NULL OR touched = '' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('citygrid.topology_dirty', '', true);
    IF current_setting('citygrid.skip_topology', true) = 'on' THEN
        RETURN NULL;
    END IF;
    FOREACH c IN ARRAY string_to_array(touched, ',') LOOP
        PERFORM citygrid_grid_topology_assert(c);
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER grid_touched_insert AFTER INSERT ON grid
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION citygrid_grid_touched();
CREATE TRIGGER grid_touched_update AFTER UPDATE ON grid
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION citygrid_grid_touched();
CREATE TRIGGER grid_touched_delete AFTER DELETE ON grid
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION citygrid_grid_touched();
CREATE CONSTRAINT TRIGGER grid_topology
    AFTER INSERT OR DELETE OR UPDATE OF geom, community_code, code, valid_from, valid_to ON grid
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION citygrid_grid_topology_enforce();

CREATE TRIGGER admin_area_touched_update AFTER UPDATE ON admin_area
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION citygrid_area_touched();
CREATE CONSTRAINT TRIGGER admin_area_topology AFTER UPDATE OF geom ON admin_area
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION citygrid_grid_topology_enforce();
"""

# Grids loaded before this revision: record which communities are already fully covered, so
# the rules hold for them from the first commit on. Other violations in old data are not
# fixed here; `citygrid grids validate` lists them.
EXISTING = r"""
INSERT INTO grid_coverage (community_code, complete_since, uncovered_m2)
SELECT c.code, CASE WHEN p.m2 IS NULL THEN now() END, COALESCE(p.m2, 0)
FROM (SELECT DISTINCT community_code AS code FROM grid WHERE valid_to IS NULL) c
LEFT JOIN LATERAL (
    SELECT t.area_m2 AS m2 FROM citygrid_grid_topology(c.code) t WHERE t.rule = 'partial'
) p ON true;
"""

DOWNGRADE = r"""
DROP TRIGGER admin_area_topology ON admin_area;
DROP TRIGGER admin_area_touched_update ON admin_area;
DROP TRIGGER grid_topology ON grid;
DROP TRIGGER grid_touched_delete ON grid;
DROP TRIGGER grid_touched_update ON grid;
DROP TRIGGER grid_touched_insert ON grid;
DROP FUNCTION citygrid_grid_topology_enforce();
DROP FUNCTION citygrid_area_touched();
DROP FUNCTION citygrid_grid_touched();
DROP FUNCTION citygrid_topology_touch(text);
DROP FUNCTION citygrid_grid_topology_assert(varchar);
DROP FUNCTION citygrid_grid_topology(varchar);
DROP FUNCTION citygrid_current_grids(varchar);
DROP FUNCTION citygrid_lock_community(varchar);
DROP FUNCTION citygrid_topology_param(text, double precision);
DROP TABLE grid_coverage;
DROP TABLE grid_renumbering;
DROP TABLE grid_code_retired;
DROP TABLE grid_edit;
"""


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(FUNCTIONS)
    op.execute(EXISTING)


def downgrade() -> None:
    op.execute(DOWNGRADE)
