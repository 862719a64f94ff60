"""Area and grid tables of the synthetic demo district (private helper of :mod:`gis.demo.district`)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.demo._layout import GEOGRAPHIC_CRS, Layout
from gis.demo._names import place_stems
from gis.demo._units import CLEANING_CONTRACTORS

DISTRICT_CODE = "320599"  # 3205xx is Suzhou; 99 is not a real county-level code
DISTRICT_NAME = ("云溪区（合成示范）", "Yunxi District (synthetic demo)")
_COMMUNITY_FORMS = (
    ("社区", "Community"),
    ("新村社区", "New Village Community"),
    ("花园社区", "Garden Community"),
    ("苑社区", "Court Community"),
    ("坊社区", "Fang Community"),
)
_COMMUNITY_FORM_P = (0.4, 0.2, 0.15, 0.15, 0.1)
_GROUP_SIZE_P = (0.05, 0.15, 0.3, 0.3, 0.2)  # 1..5 grids per supervisor
CONTRACTED_SHARE = 0.25


def area_codes(layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of subdistricts (9 digits), communities (12) and grids (15)."""
    n_sub = layout.n_subdistricts
    sub = np.array([f"{DISTRICT_CODE}{k + 1:03d}" for k in range(n_sub)], dtype=object)
    comm = sub[layout.comm_sub] + np.char.zfill(layout.comm_seq.astype(str), 3).astype(object)
    grid = comm[layout.cell_comm] + np.char.zfill(layout.cell_seq.astype(str), 3).astype(object)
    return sub, comm, grid


def grid_polygons(layout: Layout) -> np.ndarray:
    """Grid polygons in lon/lat from the shared, rounded lattice nodes (rings run CCW)."""
    j, i = layout.cell_j, layout.cell_i
    ll = layout.node_ll
    ring = np.stack([ll[j, i], ll[j + 1, i], ll[j + 1, i + 1], ll[j, i + 1], ll[j, i]], axis=1)
    return shapely.polygons(ring)


def build_areas(
    layout: Layout, codes: tuple[np.ndarray, ...], grids: np.ndarray, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """District, subdistrict and community polygons as exact unions of their grids.

    ``codes`` comes from :func:`area_codes`, ``grids`` from :func:`grid_polygons`. A
    coverage union of polygons that share bit-identical edges adds no vertex and moves none,
    so every level matches its children exactly, in degrees as in metres.
    """
    sub_codes, comm_codes, _ = codes
    cuts = np.searchsorted(layout.cell_comm, np.arange(1, comm_codes.size))
    comm_geom = [shapely.coverage_union_all(part) for part in np.split(grids, cuts)]
    sub_cuts = np.searchsorted(layout.comm_sub, np.arange(1, sub_codes.size))
    sub_geom = [
        shapely.coverage_union_all(part) for part in np.split(np.array(comm_geom), sub_cuts)
    ]
    district = shapely.coverage_union_all(np.array(sub_geom))

    sub_names = [(zh + "街道", en + " Subdistrict") for zh, en in place_stems(sub_codes.size, rng)]
    forms = rng.choice(len(_COMMUNITY_FORMS), comm_codes.size, p=_COMMUNITY_FORM_P)
    comm_names = [
        (zh + _COMMUNITY_FORMS[f][0], f"{en} {_COMMUNITY_FORMS[f][1]}")
        for (zh, en), f in zip(place_stems(comm_codes.size, rng), forms, strict=True)
    ]
    frame = pd.DataFrame(
        {
            "code": [DISTRICT_CODE, *sub_codes, *comm_codes],
            "level": ["district"]
            + ["subdistrict"] * sub_codes.size
            + ["community"] * comm_codes.size,
            "parent_code": [None, *[DISTRICT_CODE] * sub_codes.size, *sub_codes[layout.comm_sub]],
            "name": [DISTRICT_NAME[0], *(n for n, _ in sub_names), *(n for n, _ in comm_names)],
            "name_en": [DISTRICT_NAME[1], *(e for _, e in sub_names), *(e for _, e in comm_names)],
        }
    )
    geometry = shapely.orient_polygons([district, *sub_geom, *comm_geom])  # RFC 7946 winding
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=GEOGRAPHIC_CRS)


def build_grids(
    layout: Layout,
    codes: tuple[np.ndarray, ...],
    grids: np.ndarray,
    group: np.ndarray,
    supervisors: list[str],
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    """Grid table: codes, responsible contractor (mostly none) and supervisor.

    ``group`` is the management grid of every grid (see :func:`supervisor_groups`) and
    ``supervisors`` one name per management grid. A quarter of the management grids are
    cleaned by a contractor, split by subdistrict; the rest have no unit, so the
    territorial fallback (属地兜底) to the subdistrict office applies.
    """
    _, comm_codes, grid_codes = codes
    n_groups = int(group.max()) + 1
    sub_of_group = np.zeros(n_groups, dtype=np.int64)
    sub_of_group[group] = layout.comm_sub[layout.cell_comm]
    contracted = rng.random(n_groups) < CONTRACTED_SHARE
    contractor = np.array(CLEANING_CONTRACTORS, dtype=object)[
        sub_of_group % len(CLEANING_CONTRACTORS)
    ]
    unit = np.where(contracted, contractor, np.array(None))[group]
    frame = pd.DataFrame(
        {
            "code": grid_codes,
            "community_code": comm_codes[layout.cell_comm],
            "unit_code": pd.Series(unit, dtype=object),
            "supervisor": np.array(supervisors, dtype=object)[group],
        }
    )
    return gpd.GeoDataFrame(frame, geometry=shapely.orient_polygons(grids), crs=GEOGRAPHIC_CRS)


def supervisor_groups(layout: Layout, rng: np.random.Generator) -> np.ndarray:
    """Management grid (管理网格) of every grid: 1-5 edge-adjacent grids of one community.

    Supervisors walk a community in a snake (west->east along one row of blocks,
    east->west along the next) and take consecutive grids, so each group is connected.
    Numbers are 0-based in walking order.
    """
    j, i, comm = layout.cell_j.tolist(), layout.cell_i.tolist(), layout.cell_comm.tolist()
    order = np.lexsort(
        (
            np.where(layout.cell_j % 2 == 0, layout.cell_i, -layout.cell_i),
            layout.cell_j,
            layout.cell_comm,
        )
    )
    sizes = rng.choice(np.arange(1, 6), len(j), p=_GROUP_SIZE_P).tolist()
    group = [0] * len(j)
    current, filled, prev = -1, 0, -1
    for cell in order.tolist():  # sequential by nature, but only ~0.1 s per 100k grids
        adjacent = (
            prev >= 0
            and comm[cell] == comm[prev]
            and abs(j[cell] - j[prev]) + abs(i[cell] - i[prev]) == 1
        )
        if not adjacent or filled >= sizes[current]:
            current, filled = current + 1, 0
        group[cell] = current
        filled += 1
        prev = cell
    return np.array(group, dtype=np.int64)
