"""Street blocks of one community (private helper of :mod:`gis.grids.generate`).

Blocks are the faces of the street centerlines plus the community boundary, polygonized.
Real boundaries are often drawn along a street but a few metres off its centerline, which
would leave long slivers between the two lines. So street pieces within ``snap_m`` of the
boundary are dropped, and the streets cut off by that band are joined back to the boundary
with a short connector: a cross street still ends on the boundary, a parallel one vanishes
into it. All coordinates are metres.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


def street_blocks(community: BaseGeometry, streets: np.ndarray, snap_m: float) -> np.ndarray:
    """Polygons tiling ``community`` whose edges are its boundary and its streets."""
    boundary = shapely.boundary(community)
    inside = shapely.intersection(shapely.union_all(streets), community) if len(streets) else None
    lines = [boundary]
    if inside is not None and not inside.is_empty:
        band = shapely.buffer(boundary, snap_m, quad_segs=4)
        kept = shapely.difference(inside, band)
        lines += [kept, *_connectors(kept, boundary, snap_m)]
    noded = shapely.union_all(lines)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if not len(faces):
        return np.array([community], dtype=object)
    # polygonize also returns the faces of holes and of street loops outside the community
    shapely.prepare(community)
    keep = shapely.covers(community, shapely.point_on_surface(faces))
    return faces[keep & (shapely.area(faces) > 0)]


def _connectors(kept: BaseGeometry, boundary: BaseGeometry, snap_m: float) -> list:
    """Short lines from street ends cut off by the band to the nearest boundary point."""
    parts = shapely.get_parts(kept)
    parts = parts[shapely.get_type_id(parts) == 1]  # LineStrings (points: crossings only)
    if not len(parts):
        return []
    ends = np.concatenate([shapely.get_point(parts, 0), shapely.get_point(parts, -1)])
    # ends on the band's edge lie ~snap_m from the boundary (the buffer is a polygon, so
    # slightly less); ends deeper inside are real dead ends and stay dangling
    near = shapely.distance(ends, boundary) <= snap_m * 1.05
    return list(shapely.shortest_line(ends[near], boundary))
