"""Splitting a large block into pieces of about the target area (private, :mod:`gis.grids.generate`).

Recursive bisection: a block meant to hold ``k`` grids is cut across its long axis (the long
side of its minimum rotated rectangle) where ``k1 = k // 2`` grids' worth of area lies on
one side, then each side is cut again. A strip between two streets thus becomes a row of
rectangles, which is how planners draw grids along a street.

The block is turned so its long axis runs along x; the area left of a vertical line x = c
is then exactly ∮ min(x, c) dy around the rings (projecting the outline onto the half-plane
keeps every winding number left of the line), a piecewise-quadratic function of c solved in
closed form. The cut is the fast rectangle clip on the turned block; the micrometre noding
in :mod:`gis.grids.generate` absorbs the rounding of turning back.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


def split_block(block: BaseGeometry, k: int) -> list[BaseGeometry]:
    """``block`` cut into ``k`` pieces of about equal area (fewer for awkward shapes)."""
    if k <= 1:
        return [block]
    angle = _long_axis(block)
    cos, sin = math.cos(angle), math.sin(angle)
    turn = np.array([[cos, -sin], [sin, cos]])  # row vectors: xy @ turn rotates by -angle
    rotated = shapely.transform(shapely.orient_polygons(block), lambda xy: xy @ turn)
    k1 = k // 2
    c = _cut_position(rotated, block.area * k1 / k)
    x0, y0, x1, y1 = rotated.bounds
    if c is None or not x0 < c < x1:
        return [block]
    out = []
    for rect, n in (((x0 - 1, y0 - 1, c, y1 + 1), k1), ((c, y0 - 1, x1 + 1, y1 + 1), k - k1)):
        side = shapely.clip_by_rect(rotated, *rect)
        parts = [p for p in shapely.get_parts(side) if p.geom_type == "Polygon" and p.area > 0]
        # a non-convex block may fall apart; each part gets its share of the grids
        total = sum(p.area for p in parts) or 1.0
        for part in parts:
            back = shapely.transform(part, lambda xy: xy @ turn.T)
            out += split_block(back, max(1, round(n * part.area / total)))
    return out


def _long_axis(block: BaseGeometry) -> float:
    """Angle (radians) of the long side of the minimum rotated rectangle."""
    ring = np.asarray(shapely.minimum_rotated_rectangle(block).exterior.coords)
    if len(ring) < 4:
        return 0.0
    a, b = ring[1] - ring[0], ring[2] - ring[1]
    side = a if np.hypot(*a) >= np.hypot(*b) else b
    return math.atan2(side[1], side[0])


def _cut_position(rotated: BaseGeometry, target: float) -> float | None:
    """The x where the part of ``rotated`` left of x has ``target`` area."""
    edges = _edges(rotated)
    xs = np.unique(edges[:, [0, 2]])
    areas = _area_left(edges, xs)
    i = int(np.searchsorted(areas, target))
    if i <= 0 or i >= len(xs):
        return None
    # between two vertex abscissae the area is exactly quadratic in c: fit it through three
    # points and solve
    lo, hi = xs[i - 1], xs[i]
    mid = (lo + hi) / 2
    a_lo, a_mid, a_hi = areas[i - 1], _area_left(edges, np.array([mid]))[0], areas[i]
    qa, qb = 2 * (a_hi - 2 * a_mid + a_lo), -(a_hi - 4 * a_mid + 3 * a_lo)
    qc = a_lo - target
    if abs(qa) < 1e-12 * max(abs(qb), 1.0):
        t = -qc / qb if qb else 0.5
    else:
        root = math.sqrt(max(qb * qb - 4 * qa * qc, 0.0))
        t1, t2 = (-qb + root) / (2 * qa), (-qb - root) / (2 * qa)
        t = t1 if -1e-9 <= t1 <= 1 + 1e-9 else t2
    return lo + (hi - lo) * min(max(t, 0.0), 1.0)


def _edges(polygon: BaseGeometry) -> np.ndarray:
    """Every ring edge as rows (x0, y0, x1, y1); shells counter-clockwise, holes clockwise."""
    rows = []
    for part in shapely.get_parts(polygon):
        for ring in (part.exterior, *part.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            rows.append(np.hstack([xy[:-1], xy[1:]]))
    return np.vstack(rows)


def _area_left(edges: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """Area of the polygon left of x = c, for every c: ∮ min(x, c) dy."""
    a = np.minimum(edges[:, 0], edges[:, 2])[None, :]
    b = np.maximum(edges[:, 0], edges[:, 2])[None, :]
    dy = (edges[:, 3] - edges[:, 1])[None, :]
    c = cs[:, None]
    span = np.where(b > a, b - a, 1.0)
    # mean of min(x, c) along the edge: x runs uniformly over [a, b]
    crossing = ((c - a) * (a + c) / 2 + (b - c) * c) / span
    mean = np.where(b <= c, (a + b) / 2, np.where(a >= c, c, crossing))
    return (mean * dy).sum(axis=1)
