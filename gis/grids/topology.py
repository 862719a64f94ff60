"""Topology rules of unit grids (单元网格), checked on GeoDataFrames.

The rules (GB/T 30428.1: grids cover the managed area, never overlap, never cross a
community) as applied by CityGrid:

* ``invalid`` (error): a grid is a valid, non-empty polygon;
* ``overlap`` (error): two grids of one community share more than ``overlap_max_m2``;
* ``gap`` (error): a piece of the community left uncovered, larger than ``gap_max_m2`` and
  wider on average than ``gap_min_width_m`` (thinner pieces are digitising noise);
* ``outside`` (error): a grid reaches outside its community by more than ``outside_max_m2``
  or ``outside_max_ratio`` of its area (the import tolerance);
* ``sliver`` (error): a polygon part with a mean width (2·area / perimeter) under
  ``sliver_min_width_m``: an overlay or digitising artifact, never a drawn area (a small but
  real piece is an ``area`` warning);
* ``area`` (warning): a grid outside ``area_min_m2`` … ``area_max_m2``;
* ``multipart`` (warning): a grid made of several polygons;
* ``partial`` (warning): a community only partly gridded (its gaps are then not errors).

Everything is measured in metres in a projected CRS, never in degrees. The database
enforces the same rules with the same names (migration 0006, ``citygrid_grid_topology``).

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> comm = gpd.GeoDataFrame({"code": ["320599001001"]}, geometry=[box(0, 0, 200, 100)],
...                         crs="EPSG:32651")
>>> grids = gpd.GeoDataFrame({"code": ["320599001001001", "320599001001002"],
...                           "community_code": ["320599001001"] * 2},
...                          geometry=[box(0, 0, 110, 100), box(100, 0, 200, 100)],
...                          crs="EPSG:32651")
>>> [(v.rule, v.codes, round(v.area_m2)) for v in check_topology(grids, comm)]
[('overlap', ('320599001001001', '320599001001002'), 1000)]
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = [
    "TopologyRules",
    "Violation",
    "area_distribution",
    "check_topology",
    "describe",
    "violations_frame",
]

ERROR, WARNING = "error", "warning"
_POLYGONAL = (3, 6)  # shapely type ids of Polygon, MultiPolygon


@dataclass(frozen=True)
class TopologyRules:
    """Tolerances and the area band; defaults match ``app.settings`` and migration 0006."""

    overlap_max_m2: float = 0.0005
    gap_max_m2: float = 1.0
    gap_min_width_m: float = 0.05
    outside_max_m2: float = 1.0
    outside_max_ratio: float = 0.005
    sliver_min_width_m: float = 0.1
    area_min_m2: float = 2_000.0
    area_max_m2: float = 50_000.0


@dataclass(frozen=True)
class Violation:
    """One broken rule: the grids involved and the offending geometry (in the input CRS)."""

    rule: str
    severity: str
    community_code: str | None
    codes: tuple[str, ...]
    area_m2: float | None
    geometry: BaseGeometry | None
    width_m: float | None = None


def check_topology(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    rules: TopologyRules | None = None,
    *,
    partial: bool | Collection[str] = False,
    metric_crs=None,
) -> list[Violation]:
    """Every violation of the grid rules, errors and warnings, community by community.

    Parameters
    ----------
    grids : GeoDataFrame
        ``code``, ``community_code`` and polygons.
    communities : GeoDataFrame
        ``code`` and polygons, in the same CRS as ``grids``.
    rules : TopologyRules, optional
    partial : bool or collection of community codes
        Communities allowed to be partly gridded (all when True): their uncovered area is one
        ``partial`` warning instead of ``gap`` errors.
    metric_crs : optional
        Where areas are measured; default the grids' own CRS when projected, else their UTM zone.

    Returns
    -------
    list of Violation
        Invalid grids first, then community by community; a violation's ``geometry`` is the
        offending shape (the overlap, the gap, the part outside, the sliver, or the grid).
    """
    if grids.crs is None or grids.crs != communities.crs:
        raise ValueError(
            f"CRS mismatch or missing: grids {grids.crs}, communities {communities.crs}"
        )
    rules = rules or TopologyRules()
    metric = metric_crs or (grids.estimate_utm_crs() if grids.crs.is_geographic else grids.crs)
    g = grids.to_crs(metric)
    geoms = np.asarray(g.geometry.values, dtype=object)
    codes = g["code"].astype(str).to_numpy()
    comm_of = g["community_code"].astype(str).to_numpy()
    usable = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    usable &= np.isin(shapely.get_type_id(geoms), _POLYGONAL)
    usable[usable] = shapely.is_valid(geoms[usable])
    out = [
        Violation("invalid", ERROR, comm_of[i], (codes[i],), None, None)
        for i in np.flatnonzero(~usable)
    ]
    shapes = communities.drop_duplicates("code").set_index("code").to_crs(metric).geometry
    for community in sorted(set(comm_of[usable])):
        idx = np.flatnonzero(usable & (comm_of == community))
        allowed = partial if isinstance(partial, bool) else community in partial
        shape = shapes.get(community)
        if shape is None:
            out += [Violation("outside", ERROR, community, (codes[i],), None, None) for i in idx]
            continue
        out += _community(community, shape, geoms[idx], codes[idx], rules, allowed)
    # offending shapes were measured in metres; hand them back in the caller's CRS at once
    shown = gpd.GeoSeries([v.geometry for v in out], crs=metric).to_crs(grids.crs)
    invalid = dict(zip(codes[~usable], grids.geometry.values[~usable], strict=True))
    return [
        replace(v, geometry=invalid.get(v.codes[0]) if v.rule == "invalid" else g)
        for v, g in zip(out, shown, strict=True)
    ]


def _community(
    community: str,
    shape,
    geoms: np.ndarray,
    codes: np.ndarray,
    rules: TopologyRules,
    partial: bool,
) -> list[Violation]:
    out = _overlaps(community, geoms, codes, rules)
    areas = shapely.area(geoms)
    # outside: only grids not covered outright need the (costly) difference
    shapely.prepare(shape)
    todo = np.flatnonzero(~shapely.covers(shape, geoms))
    outside = shapely.difference(geoms[todo], shape)
    out_m2 = shapely.area(outside)
    bad = (out_m2 > rules.outside_max_m2) | (out_m2 > rules.outside_max_ratio * areas[todo])
    out += [
        Violation("outside", ERROR, community, (codes[i],), float(a), o)
        for i, a, o in zip(todo[bad], out_m2[bad], outside[bad], strict=True)
    ]
    out += _gaps(community, shape, geoms, rules, partial)
    # slivers are judged part by part: a thin tail on a healthy grid is still a sliver
    parts, owner = shapely.get_parts(geoms, return_index=True)
    part_m2 = shapely.area(parts)
    width = 2 * part_m2 / shapely.length(parts)
    thin = width < rules.sliver_min_width_m
    out += [
        Violation("sliver", ERROR, community, (codes[o],), float(a), p, float(w))
        for o, a, p, w in zip(owner[thin], part_m2[thin], parts[thin], width[thin], strict=True)
    ]
    band = (areas < rules.area_min_m2) | (areas > rules.area_max_m2)
    out += [
        Violation("area", WARNING, community, (codes[i],), float(areas[i]), geoms[i])
        for i in np.flatnonzero(band)
    ]
    n_parts = shapely.get_num_geometries(geoms)
    out += [
        Violation("multipart", WARNING, community, (codes[i],), float(areas[i]), geoms[i])
        for i in np.flatnonzero(n_parts > 1)
    ]
    return out


def _overlaps(
    community: str, geoms: np.ndarray, codes: np.ndarray, rules: TopologyRules
) -> list[Violation]:
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    # neighbours touch along their shared edge: only interiors meeting in 2D can overlap
    inner = shapely.relate_pattern(geoms[i], geoms[j], "2********")
    i, j = i[inner], j[inner]
    shared = shapely.intersection(geoms[i], geoms[j])
    shared_m2 = shapely.area(shared)
    bad = shared_m2 > rules.overlap_max_m2
    pairs = [tuple(sorted((codes[a], codes[b]))) for a, b in zip(i[bad], j[bad], strict=True)]
    return [
        Violation("overlap", ERROR, community, pair, float(a), s)
        for pair, a, s in zip(pairs, shared_m2[bad], shared[bad], strict=True)
    ]


def _gaps(
    community: str, shape, geoms: np.ndarray, rules: TopologyRules, partial: bool
) -> list[Violation]:
    uncovered = shapely.difference(shape, shapely.union_all(geoms))
    pieces = shapely.get_parts(uncovered)
    if not len(pieces):
        return []
    area = shapely.area(pieces)
    width = 2 * area / np.maximum(shapely.length(pieces), 1e-12)
    real = (area > rules.gap_max_m2) & (width >= rules.gap_min_width_m)
    if not real.any():
        return []
    if partial:
        total = shapely.union_all(pieces[real])
        return [Violation("partial", WARNING, community, (), float(area[real].sum()), total)]
    return [
        Violation("gap", ERROR, community, (), float(a), p, float(w))
        for a, p, w in zip(area[real], pieces[real], width[real], strict=True)
    ]


def violations_frame(violations: Sequence[Violation], crs) -> gpd.GeoDataFrame:
    """Violations as a GeoDataFrame (one row each; ``codes`` joined with commas)."""
    return gpd.GeoDataFrame(
        {
            "rule": [v.rule for v in violations],
            "severity": [v.severity for v in violations],
            "community_code": [v.community_code for v in violations],
            "codes": [",".join(v.codes) for v in violations],
            "area_m2": [v.area_m2 for v in violations],
            "width_m": [v.width_m for v in violations],
            "message": [
                describe(v.rule, v.codes, v.area_m2, v.community_code, "en") for v in violations
            ],
        },
        geometry=[v.geometry for v in violations],
        crs=crs,
    )


_TEXT = {
    "invalid": ("网格 {codes} 不是有效的面", "grid {codes} is not a valid polygon"),
    "overlap": ("网格 {codes} 相互重叠 {m2} m²", "grids {codes} overlap by {m2} m²"),
    "gap": (
        "社区 {community} 内有 {m2} m² 未被网格覆盖",
        "community {community} has a gap of {m2} m² covered by no grid",
    ),
    "outside": (
        "网格 {codes} 超出所属社区 {community} {m2} m²",
        "grid {codes} reaches {m2} m² outside its community {community}",
    ),
    "sliver": ("网格 {codes} 含细碎多边形（{m2} m²）", "grid {codes} has a sliver part ({m2} m²)"),
    "area": (
        "网格 {codes} 面积 {m2} m² 超出建议范围",
        "grid {codes} has {m2} m², outside the recommended band",
    ),
    "multipart": ("网格 {codes} 由多个不相连的面组成", "grid {codes} is made of several polygons"),
    "partial": (
        "社区 {community} 尚未完全划分网格，{m2} m² 未覆盖",
        "community {community} is only partly gridded: {m2} m² uncovered",
    ),
}


def describe(
    rule: str, codes: Iterable[str], area_m2: float | None, community: str | None, lang: str = "en"
) -> str:
    """A one-line message for a violation, in Chinese (``zh``) or English."""
    zh, en = _TEXT.get(rule, (rule + " {codes}", rule + " {codes}"))
    m2 = "?" if area_m2 is None else f"{area_m2:,.4g}" if area_m2 < 1 else f"{area_m2:,.1f}"
    return (zh if lang == "zh" else en).format(
        codes=" × ".join(codes) or "-", m2=m2, community=community or "?"
    )


def area_distribution(
    areas_m2: Sequence[float] | np.ndarray, rules: TopologyRules | None = None
) -> dict[str, float]:
    """min / p5 / median / p95 / max of grid areas (m²) and the share inside the area band.

    Examples
    --------
    >>> area_distribution([1000, 10000, 20000])["share_in_band"]
    0.6666666666666666
    """
    rules = rules or TopologyRules()
    a = np.asarray(areas_m2, dtype=float)
    if not a.size:
        return {"count": 0}
    p = np.percentile(a, [0, 5, 50, 95, 100])
    inside = (a >= rules.area_min_m2) & (a <= rules.area_max_m2)
    return {
        "count": int(a.size),
        "min": float(p[0]),
        "p5": float(p[1]),
        "median": float(p[2]),
        "p95": float(p[3]),
        "max": float(p[4]),
        "share_in_band": float(inside.mean()),
    }
