"""Grid edits as pure geometry: reshape, split, merge, create, retire, and sequence order.

Each edit takes the current grids of one community (a GeoDataFrame with ``code``,
``community_code`` and polygons, usually EPSG:4326) and returns a :class:`GridChange`:
the codes that stop, the grids that keep their code with a new shape, and the new grids
(their codes are the caller's business: next free sequence, never reused). Edits work in the
grids' own coordinates so untouched neighbours keep their vertices bit for bit; whether the
result obeys the topology rules is checked afterwards (:mod:`gis.grids.topology`, or the database).

Examples
--------
>>> import geopandas as gpd
>>> from shapely import LineString, box
>>> grids = gpd.GeoDataFrame({"code": ["320599001001001"], "community_code": ["320599001001"]},
...                          geometry=[box(0, 0, 2, 1)], crs="EPSG:32651")
>>> change = split_grid(grids, "320599001001001", LineString([(1, -1), (1, 2)]))
>>> change.retired, [g.bounds for g in change.created]
(['320599001001001'], [(0.0, 0.0, 1.0, 1.0), (1.0, 0.0, 2.0, 1.0)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

__all__ = [
    "EditError",
    "SNAP_DEGREES",
    "check_drawn",
    "GridChange",
    "create_grid",
    "merge_grids",
    "reading_order",
    "renumber",
    "reshape_grid",
    "retire_grids",
    "split_grid",
]

# Pieces of a drawn grid below this share of its largest piece are clipping crumbs, dropped.
CRUMB_SHARE = 0.01


class EditError(ValueError):
    """An edit that cannot be made as asked; carries an English and a Chinese message."""

    def __init__(self, message_en: str, message_zh: str):
        super().__init__(message_en)
        self.message_en, self.message_zh = message_en, message_zh


@dataclass
class GridChange:
    """The effect of one edit on the current grids of a community."""

    kind: str
    community_code: str
    retired: list[str] = field(default_factory=list)
    reshaped: dict[str, BaseGeometry] = field(default_factory=dict)
    created: list[BaseGeometry] = field(default_factory=list)
    parents: list[str | None] = field(default_factory=list)  # one per created grid
    clipped: BaseGeometry | None = None  # what was cut off a drawn shape (outside / taken)


def reshape_grid(
    grids: gpd.GeoDataFrame,
    code: str,
    geometry: BaseGeometry,
    community: BaseGeometry,
    *,
    adjust_neighbours: bool = True,
) -> GridChange:
    """Give grid ``code`` a new shape (clipped to its community).

    With ``adjust_neighbours`` the shared boundary moves: neighbours lose what the grid now
    covers, and each piece the grid gives up goes to the neighbour it shares most boundary
    with. Without it only the grid changes (the rules then refuse overlaps and gaps).
    """
    geoms = _geoms_by_code(grids)
    old = _get(geoms, code)
    new = _polygonal(shapely.intersection(_polygon(geometry), community))
    if new is None:
        raise EditError(
            "the new shape lies outside the grid's community", "新形状不在网格所属社区内"
        )
    change = GridChange(
        "reshape",
        _community(grids),
        reshaped={code: new},
        clipped=_polygonal(shapely.difference(_polygon(geometry), community)),
    )
    if not adjust_neighbours:
        return change
    others = {c: g for c, g in geoms.items() if c != code}
    for other, shape in others.items():
        if shapely.relate_pattern(shape, new, "2********"):
            rest = _polygonal(shapely.difference(shape, new))
            if rest is None:
                raise EditError(
                    f"the new shape swallows grid {other}; merge the grids instead",
                    f"新形状完全覆盖网格 {other}，请改用合并",
                )
            others[other] = change.reshaped[other] = rest
    freed = _polygonal(shapely.difference(old, new))
    for piece in shapely.get_parts(freed) if freed is not None else []:
        taker = _longest_border(piece, others)
        if taker is not None:
            others[taker] = change.reshaped[taker] = _union([others[taker], piece])
    return change


def check_drawn(geometry: BaseGeometry, kind: str) -> None:
    """Refuse a drawn ``kind`` ("polygon" or "line") that no edit may use: coordinates that
    are not finite WGS84 longitudes and latitudes, the wrong type, or a shape that crosses
    itself (a self-intersecting outline would leave a grid in two pieces).

    Examples
    --------
    >>> from shapely.geometry import Polygon
    >>> check_drawn(Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), "polygon")
    Traceback (most recent call last):
    ...
    gis.grids.edits.EditError: the drawn polygon is not valid: Self-intersection[0.5 0.5]
    """
    xy = shapely.get_coordinates(geometry)
    if not np.isfinite(xy).all() or (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
        raise EditError(
            "coordinates must be finite WGS84 longitudes (-180..180) and latitudes (-90..90)",
            "坐标应为有限的 WGS84 经度（-180～180）和纬度（-90～90）",
        )
    wanted = {"polygon": ("Polygon",), "line": ("LineString", "MultiLineString")}
    if geometry.geom_type not in wanted[kind]:
        raise EditError(
            f"a {kind} is needed here, not a {geometry.geom_type}",
            f"此处需要{'面' if kind == 'polygon' else '线'}，而不是 {geometry.geom_type}",
        )
    if kind == "polygon" and not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        raise EditError(f"the drawn polygon is not valid: {reason}", f"所画的面无效：{reason}")
    if kind == "line" and not geometry.is_simple:
        raise EditError("the drawn line crosses itself", "所画的线自相交")


# Drawn lines are extended by this much (degrees, ~1 cm) at both ends: a line drawn to a
# grid's edge ends on it only up to floating point, often a hair short, and would not cut.
SNAP_DEGREES = 1e-7


def _extended(line: BaseGeometry, by: float) -> BaseGeometry:
    """``line`` (each of its parts) longer by ``by`` at both ends, along its end segments."""
    parts = []
    for part in shapely.get_parts(line):
        xy = shapely.get_coordinates(part)
        for end, inner in ((0, 1), (-1, -2)):
            step = xy[end] - xy[inner]
            norm = float(np.hypot(*step))
            if norm > 0:
                xy[end] = xy[end] + step / norm * by
        parts.append(shapely.linestrings(xy))
    return shapely.multilinestrings(parts) if len(parts) > 1 else parts[0]


def split_grid(grids: gpd.GeoDataFrame, code: str, line: BaseGeometry) -> GridChange:
    """Cut grid ``code`` along a drawn line into new grids (the old code is retired)."""
    shape = _get(_geoms_by_code(grids), code)
    check_drawn(line, "line")
    if not shapely.intersects(line, shapely.buffer(shape, -SNAP_DEGREES)):
        raise _not_cut(code)  # it does not even enter the grid
    boundary = shapely.boundary(shape)
    # The whole drawn line, a hair longer, noded with the boundary: clipped to the grid, its
    # ends fell a hair off the edge (floating point) and polygonize found no closed piece.
    drawn = _extended(line, SNAP_DEGREES)
    pieces = shapely.get_parts(
        shapely.polygonize(shapely.get_parts(shapely.union_all([boundary, drawn])))
    )
    pieces = (
        pieces[shapely.covers(shape, shapely.point_on_surface(pieces))] if len(pieces) else pieces
    )
    pieces = pieces[shapely.area(pieces) > 0] if len(pieces) else pieces
    if len(pieces) < 2:
        raise _not_cut(code)
    ordered = [pieces[i] for i in reading_order(gpd.GeoSeries(pieces, crs=grids.crs))]
    return GridChange(
        "split", _community(grids), retired=[code], created=ordered, parents=[code] * len(ordered)
    )


def _not_cut(code: str) -> EditError:
    return EditError(
        f"the line does not cut grid {code} in two: draw it across the grid, from edge to edge",
        f"该线未将网格 {code} 一分为二：请从一边画到另一边",
    )


def merge_grids(grids: gpd.GeoDataFrame, codes: Sequence[str]) -> GridChange:
    """Merge adjacent grids of one community into one new grid (their codes are retired)."""
    codes = list(dict.fromkeys(codes))
    if len(codes) < 2:
        raise EditError("a merge needs at least two grids", "合并至少需要两个网格")
    geoms = _geoms_by_code(grids)
    shapes = [_get(geoms, c) for c in codes]
    merged = _union(shapes)
    if merged.geom_type != "Polygon":
        raise EditError(
            f"grids {', '.join(codes)} are not adjacent (they share no edge)",
            f"网格 {'、'.join(codes)} 不相邻（没有公共边）",
        )
    largest = codes[int(np.argmax(shapely.area(np.asarray(shapes, dtype=object))))]
    return GridChange(
        "merge", _community(grids), retired=codes, created=[merged], parents=[largest]
    )


def create_grid(
    grids: gpd.GeoDataFrame, community_code: str, community: BaseGeometry, drawn: BaseGeometry
) -> GridChange:
    """A new grid from a drawn polygon, clipped to the community's area no grid covers.

    Clipping (rather than refusing any overlap) lets a planner draw roughly: the new grid
    takes exactly the free area it was drawn over, so it meets its neighbours edge to edge.
    """
    drawn = _polygon(drawn)
    taken = shapely.union_all(np.asarray(grids.geometry.values, dtype=object))
    free = shapely.difference(shapely.intersection(drawn, community), taken)
    parts = [p for p in shapely.get_parts(free) if p.geom_type == "Polygon" and p.area > 0]
    if parts:
        biggest = max(p.area for p in parts)
        parts = [p for p in parts if p.area >= CRUMB_SHARE * biggest]
    if not parts:
        raise EditError(
            "the drawn polygon covers no free area of the community",
            "所画范围内没有尚未划分网格的社区区域",
        )
    if len(parts) > 1:
        raise EditError(
            f"the drawn polygon covers {len(parts)} separate free areas; draw one grid at a time",
            f"所画范围覆盖 {len(parts)} 块不相连的空白区域，请逐个绘制",
        )
    return GridChange(
        "create",
        community_code,
        created=parts,
        parents=[None],
        clipped=_polygonal(shapely.difference(drawn, parts[0])),
    )


def retire_grids(grids: gpd.GeoDataFrame, codes: Sequence[str]) -> GridChange:
    """End grids without successor (their codes are retired, their area left ungridded)."""
    geoms = _geoms_by_code(grids)
    codes = list(dict.fromkeys(codes))
    for code in codes:
        _get(geoms, code)
    return GridChange("retire", _community(grids), retired=codes)


def reading_order(geoms: gpd.GeoSeries, row_height_m: float = 100.0) -> np.ndarray:
    """Positions of ``geoms`` in sequence order: rows north → south, west → east in a row.

    The standard numbers grids "west to east, then north to south"; irregular grids have no
    rows of their own, so rows are bands of ``row_height_m`` (about one grid high) counted
    down from the northernmost centroid.
    """
    if not len(geoms):
        return np.array([], dtype=int)
    metric = (
        geoms.to_crs(geoms.estimate_utm_crs()) if geoms.crs and geoms.crs.is_geographic else geoms
    )
    c = shapely.centroid(np.asarray(metric.values, dtype=object))
    x, y = shapely.get_x(c), shapely.get_y(c)
    row = np.floor((y.max() - y) / row_height_m)
    return np.lexsort((x, row))


def renumber(grids: gpd.GeoDataFrame, row_height_m: float = 100.0) -> dict[str, str]:
    """Old code → new code re-sequencing a community 001, 002, … in reading order."""
    community = _community(grids)
    order = reading_order(grids.geometry, row_height_m)
    if len(order) > 999:
        raise EditError(
            f"community {community} has more than 999 grids", f"社区 {community} 的网格超过 999 个"
        )
    codes = grids["code"].to_numpy()
    return {codes[i]: f"{community}{n:03d}" for n, i in enumerate(order, start=1)}


# -- helpers ----------------------------------------------------------------------------------


def _geoms_by_code(grids: gpd.GeoDataFrame) -> dict[str, BaseGeometry]:
    return dict(zip(grids["code"], grids.geometry, strict=True))


def _community(grids: gpd.GeoDataFrame) -> str:
    found = set(grids["community_code"])
    if len(found) != 1:
        raise EditError("an edit works inside one community", "一次编辑只能在一个社区内进行")
    return found.pop()


def _get(geoms: dict[str, BaseGeometry], code: str) -> BaseGeometry:
    if code not in geoms:
        raise EditError(
            f"grid {code} is not a current grid of this community",
            f"网格 {code} 不是该社区的现行网格",
        )
    return geoms[code]


def _polygon(geometry: BaseGeometry) -> BaseGeometry:
    if (
        geometry is None
        or geometry.is_empty
        or geometry.geom_type not in ("Polygon", "MultiPolygon")
    ):
        raise EditError("expected a polygon", "需要一个面（多边形）")
    return geometry if geometry.is_valid else shapely.make_valid(geometry)


def _polygonal(geometry: BaseGeometry) -> BaseGeometry | None:
    """The polygons of an overlay result (dropping stray lines/points), or None if none."""
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type == "Polygon" and p.area > 0]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _union(shapes: Sequence[BaseGeometry]) -> BaseGeometry:
    merged = shapely.union_all(np.asarray(shapes, dtype=object))
    return _polygonal(merged) or merged


def _longest_border(piece: BaseGeometry, others: dict[str, BaseGeometry]) -> str | None:
    """The code of the grid sharing most boundary with ``piece`` (None if none touches)."""
    best, best_len = None, 0.0
    ring = shapely.boundary(piece)
    for code, shape in others.items():
        if not shapely.intersects(piece, shape):
            continue
        length = shapely.length(shapely.intersection(ring, shapely.boundary(shape)))
        if length > best_len:
            best, best_len = code, length
    return best
