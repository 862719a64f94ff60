"""SQL helper: the UTM zone of a point, for metric distances.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Nearest-street, nearest-component and duplicate distances are measured in the UTM zone of
the reported point. The bulk importer (Python) uses the same rule, so both paths measure the
same metres and agree on "within 50 m".
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION citygrid_utm_srid(lon double precision, lat double precision)
        RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT (CASE WHEN lat >= 0 THEN 32600 ELSE 32700 END)
                   + LEAST(60, GREATEST(1, floor((lon + 180) / 6)::integer + 1))
        $$;
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION citygrid_utm_srid(double precision, double precision)")
