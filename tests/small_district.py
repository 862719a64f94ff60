"""A hand-made district small enough to check every assignment by hand.

Layout (metres east/north of an origin at lon 120.60, lat 31.30; 100 m cells):

    y=200 +-----------+-----------+
          | B1        | B2        |   community B = 320599001002
          | …002001   | …002002   |   (B2 has its own unit: 保洁公司)
    y=100 +====长宁路====+===========+   <- street 长宁路 (控制街) along y = 100
          | A1        | A2        |   community A = 320599001001
          | …001001   | …001002   |
    y=0   +-----------+-----------+
          x=0   桂花巷 x=100       x=200   <- street 桂花巷 (标准街) along x = 100

A street light (class 0118) stands at (50, 95), maintained by 供电公司.
"""

from __future__ import annotations

import math

from sqlalchemy import Engine, text

LON0, LAT0 = 120.60, 31.30
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))

DISTRICT, SUBDISTRICT = "320599", "320599001"
COMMUNITY_A, COMMUNITY_B = "320599001001", "320599001002"
A1, A2 = COMMUNITY_A + "001", COMMUNITY_A + "002"
B1, B2 = COMMUNITY_B + "001", COMMUNITY_B + "002"
LIGHT_ID = "3205990118000001"


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Local metres → WGS84 (a plain equirectangular approximation, fine for 200 m)."""
    return LON0 + x / M_PER_DEG_LON, LAT0 + y / M_PER_DEG_LAT


def _box(x0: float, y0: float, x1: float, y1: float) -> str:
    pts = [lonlat(x0, y0), lonlat(x1, y0), lonlat(x1, y1), lonlat(x0, y1), lonlat(x0, y0)]
    return "MULTIPOLYGON(((" + ", ".join(f"{x!r} {y!r}" for x, y in pts) + ")))"


def _line(*xy: tuple[float, float]) -> str:
    return "LINESTRING(" + ", ".join("{!r} {!r}".format(*lonlat(x, y)) for x, y in xy) + ")"


def build(engine: Engine) -> dict[str, int]:
    """Insert the district; returns unit ids by code."""
    areas = [
        (DISTRICT, "district", None, "云溪区", _box(0, 0, 200, 200)),
        (SUBDISTRICT, "subdistrict", DISTRICT, "长宁街道", _box(0, 0, 200, 200)),
        (COMMUNITY_A, "community", SUBDISTRICT, "桂花社区", _box(0, 0, 200, 100)),
        (COMMUNITY_B, "community", SUBDISTRICT, "翠竹社区", _box(0, 100, 200, 200)),
    ]
    units = [
        ("U-JD-001", "长宁街道办事处", "subdistrict_office", SUBDISTRICT),
        ("U-ZH", "区城市管理指挥中心", "command_centre", None),
        ("U-HW", "区环卫所", "department", None),
        ("U-GD", "供电公司", "department", None),
        ("U-BJ", "保洁公司", "contractor", None),
        ("U-SZ", "市政管理处", "department", None),
    ]
    grids = [
        (A1, COMMUNITY_A, _box(0, 0, 100, 100), None),
        (A2, COMMUNITY_A, _box(100, 0, 200, 100), None),
        (B1, COMMUNITY_B, _box(0, 100, 100, 200), None),
        (B2, COMMUNITY_B, _box(100, 100, 200, 200), "U-BJ"),
    ]
    with engine.begin() as conn:
        for code, level, parent, name, wkt in areas:
            conn.execute(
                text(
                    "INSERT INTO admin_area (code, level, parent_code, name, geom) "
                    "VALUES (:c, :l, :p, :n, ST_GeomFromText(:g, 4326))"
                ),
                {"c": code, "l": level, "p": parent, "n": name, "g": wkt},
            )
        ids = {}
        for code, name, kind, area in units:
            ids[code] = conn.execute(
                text(
                    "INSERT INTO responsible_unit (code, name, kind, area_code) VALUES (:c, :n, :k, :a) "
                    "RETURNING id"
                ),
                {"c": code, "n": name, "k": kind, "a": area},
            ).scalar_one()
        for code, community, wkt, unit in grids:
            conn.execute(
                text(
                    "INSERT INTO grid (code, community_code, geom, unit_id, valid_from) "
                    "VALUES (:c, :m, ST_GeomFromText(:g, 4326), :u, '2020-01-01')"
                ),
                {"c": code, "m": community, "g": wkt, "u": ids[unit] if unit else None},
            )
        for name, grade, wkt in (
            ("长宁路", "控制街", _line((-20, 100), (220, 100))),
            ("桂花巷", "标准街", _line((100, -20), (100, 220))),
        ):
            street_id = conn.execute(
                text(
                    "INSERT INTO street (name, grade, district_code) VALUES (:n, :g, :d) RETURNING id"
                ),
                {"n": name, "g": grade, "d": DISTRICT},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO street_segment (street_id, geom) "
                    "VALUES (:s, ST_GeomFromText(:g, 4326))"
                ),
                {"s": street_id, "g": wkt},
            )
        lon, lat = lonlat(50, 95)
        conn.execute(
            text(
                "INSERT INTO component (identifier, scheme, class_code, geom, grid_code, maintainer_unit_id) "
                "VALUES (:i, '2013', '0118', ST_SetSRID(ST_MakePoint(:x, :y), 4326), :g, :m)"
            ),
            {"i": LIGHT_ID, "x": lon, "y": lat, "g": A1, "m": ids["U-GD"]},
        )
    return ids
