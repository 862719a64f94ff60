"""The API (SQL facts) and the importer (bulk facts) decide the same, field by field, on the
demo district (the Cambridge sample is in tests/test_assignment_realdata.py).

The sample (435 points, seeded; 3 groups, 5 s) is built where the two engines could part ways
rather than drawn from all 32,500 demo cases:

* grid corners and edge midpoints, exactly and 0.3 m off (shared boundaries: smallest code);
* street segment midpoints moved 45-55 m sideways (the 50 m street limit);
* component reports 0-40 m from a component (the 30 m radius), with the component's
  identifier up to 150 m away, with another class's identifier, an unknown identifier, and
  event reports naming a component (both paths must refuse with the same message);
* reports of an open case's class 0-60 m from it, 0-8 days after it (the 50 m / 7 day
  duplicate rule), and near closed cases (never duplicates);
* uniform points over the district and around it (outside), and before the grids existed;
* classes with dispatch rules at grid, community, sub-district and district level, and one
  sub-district without an office (the command centre's fallback).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import text

from app.db.session import make_engine
from app.services.intake.assignment import PointRequest
from app.settings import Settings
from tests import parity
from tests.conftest import DEMO_NOW

M_LAT = 110_574.0


def _offset(lon: float, lat: float, dx: float, dy: float) -> tuple[float, float]:
    return lon + dx / (111_320.0 * np.cos(np.radians(lat))), lat + dy / M_LAT


def _rows(conn, sql: str, **params) -> list:
    return conn.execute(text(sql), params).all()


def demo_sample(conn, rng: np.random.Generator) -> list[PointRequest]:
    """The sample described in the module docstring, from the demo database."""
    now = DEMO_NOW
    points: list[PointRequest] = []
    event_codes = [
        r[0]
        for r in _rows(
            conn, "SELECT DISTINCT class_code FROM event WHERE class_kind = 'event' ORDER BY 1"
        )
    ]

    def add(lon, lat, kind="event", code=None, at=None, ident=None):
        code = code or str(rng.choice(event_codes))
        points.append(PointRequest(float(lon), float(lat), kind, code, at or now, ident))

    for lon, lat in _rows(
        conn,
        "SELECT ST_X(p.geom), ST_Y(p.geom) FROM (SELECT geom FROM grid ORDER BY md5(code) "
        "LIMIT 40) g, LATERAL ST_DumpPoints(ST_Boundary(g.geom)) p WHERE p.path[3] <= 2",
    ):
        add(lon, lat)
        add(*_offset(lon, lat, *rng.uniform(-0.3, 0.3, 2)))
    for lon, lat, ex, ey in _rows(
        conn,
        "SELECT ST_X(m), ST_Y(m), ST_X(e) - ST_X(s), ST_Y(e) - ST_Y(s) FROM ("
        " SELECT ST_LineInterpolatePoint(geom, 0.5) m, ST_StartPoint(geom) s,"
        " ST_EndPoint(geom) e FROM street_segment ORDER BY md5(id::text) LIMIT 60) x",
    ):
        # perpendicular to the segment's chord, 45-55 m away, either side
        nx, ny = -ey * M_LAT, ex * 111_320.0 * np.cos(np.radians(lat))
        d = rng.uniform(45, 55) * rng.choice([-1, 1]) / max(np.hypot(nx, ny), 1e-9)
        add(*_offset(lon, lat, nx * d, ny * d))
    comps = _rows(
        conn,
        "SELECT identifier, class_code, ST_X(geom), ST_Y(geom) FROM component "
        "ORDER BY md5(identifier) LIMIT 120",
    )
    for n, (ident, code, lon, lat) in enumerate(comps):
        angle = rng.uniform(0, 2 * np.pi)
        r = rng.uniform(0, 40) if n < 60 else rng.uniform(0, 150)
        x, y = _offset(lon, lat, r * np.cos(angle), r * np.sin(angle))
        if n < 60:
            add(x, y, "component", code)
        elif n < 95:
            add(x, y, "component", code, ident=ident)
        elif n < 110:  # another class's identifier
            other = next(c for c in comps if c[1] != code)
            add(x, y, "component", code, ident=other[0])
        elif n < 115:
            add(x, y, "component", code, ident=ident[:-6] + "999999")
        else:
            add(x, y, "event", ident=ident)
    for kind, code, lon, lat, at in _rows(
        conn,
        "SELECT class_kind, class_code, ST_X(geom), ST_Y(geom), reported_at FROM event "
        "WHERE reported_at > :t ORDER BY md5(id::text) LIMIT 150",
        t=now - timedelta(days=20),
    ):
        angle, r = rng.uniform(0, 2 * np.pi), rng.uniform(0, 60)
        later = at + timedelta(days=float(rng.uniform(0, 8)))
        add(
            *_offset(lon, lat, r * np.cos(angle), r * np.sin(angle)),
            kind,
            code,
            min(later, now),
        )
    (x0, y0, x1, y1) = _rows(
        conn,
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
        "FROM (SELECT ST_Extent(geom) e FROM grid) x",
    )[0]
    pad_x, pad_y = 0.05 * (x1 - x0), 0.05 * (y1 - y0)
    for _ in range(100):
        add(rng.uniform(x0 - pad_x, x1 + pad_x), rng.uniform(y0 - pad_y, y1 + pad_y))
    for _ in range(5):  # before the grids were valid: outside for both
        add(rng.uniform(x0, x1), rng.uniform(y0, y1), at=now - timedelta(days=700))
    return points


@pytest.fixture()
def demo(demo_copy, tmp_path):
    engine = make_engine(demo_copy)
    with engine.begin() as conn:
        grids = _rows(conn, "SELECT code, community_code FROM grid ORDER BY md5(code) LIMIT 2")
        unit = conn.execute(text("SELECT min(id) FROM responsible_unit")).scalar_one()
        codes = [
            r[0]
            for r in _rows(
                conn,
                "SELECT DISTINCT class_code FROM event WHERE class_kind = 'event' ORDER BY 1 LIMIT 4",
            )
        ]
        for code, area in zip(
            codes, (grids[0][0], grids[0][1], grids[1][0][:9], grids[1][0][:6]), strict=True
        ):
            conn.execute(
                text(
                    "INSERT INTO dispatch_rule (scheme, class_kind, class_code, area_code, "
                    "unit_id) VALUES ('2013', 'event', :c, :a, :u)"
                ),
                {"c": code, "a": area, "u": unit},
            )
        # One sub-district loses its office: its cases fall to the command centre.
        conn.execute(
            text(
                "DELETE FROM responsible_unit WHERE id = (SELECT min(id) FROM responsible_unit "
                "WHERE kind = 'subdistrict_office' AND id NOT IN (SELECT unit_id FROM event "
                "WHERE unit_id IS NOT NULL) AND id NOT IN (SELECT unit_id FROM grid "
                "WHERE unit_id IS NOT NULL))"
            )
        )
    yield engine, Settings(database_url=demo_copy, home=tmp_path / "home")
    engine.dispose()


def test_api_and_importer_decide_alike_on_the_demo_district(demo):
    engine, settings = demo
    with engine.connect() as conn:
        points = demo_sample(conn, np.random.default_rng(14))
    result = parity.compare(engine, settings, points)
    assert not result["differences"], parity.explain(result["differences"])
    summary = {k: v for k, v in result.items() if k != "differences"}
    # The sample reaches every branch it was built for.
    assert result["points"] > 400 and result["outside"] > 5 and result["refused"] >= 25, summary
    assert result["with_street"] > 100 and result["points"] - result["with_street"] > 50, summary
    assert result["with_component"] > 60 and result["by_identifier"] >= 30, summary
    assert result["with_duplicates"] > 15, summary
    assert {"dispatch_rule", "component_maintainer", "fallback"} <= set(result["rules"]), summary
