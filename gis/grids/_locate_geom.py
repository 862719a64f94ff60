"""Exact geometric primitives behind :mod:`gis.grids.locate` (private helper).

Three things live here: the lattice of cells (a regular raster in lon/lat whose steps are
powers of two in degrees, so cell edges are exact doubles), the distinct boundary segments
of a set of polygons, and a conservative rasterisation of those segments onto the lattice.
Plus the certified orientation test that lets most boundary points be decided without GEOS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

# Shewchuk's "ccwerrboundA" (Adaptive Precision Floating-Point Arithmetic, 1997), doubled for
# margin. When |det| exceeds it the floating-point sign of the orientation determinant is the
# exact sign. _TINY keeps the bound meaningful when products underflow to subnormals.
_EPS = 2.0**-53
_ORIENT_ERR = 2.0 * (3.0 + 16.0 * _EPS) * _EPS
_TINY = 1e-290


def orient_sign(ax, ay, bx, by, px, py) -> np.ndarray:
    """Certified side of ``p`` relative to the directed line ``a -> b``.

    Returns int8: ``+1`` strictly left, ``-1`` strictly right, ``0`` when floating point
    cannot tell (``p`` on or within rounding distance of the line) -- never a wrong sign.
    """
    detleft = (ax - px) * (by - py)
    detright = (ay - py) * (bx - px)
    det = detleft - detright
    bound = _ORIENT_ERR * (np.abs(detleft) + np.abs(detright)) + _TINY
    return (det > bound).astype(np.int8) - (det < -bound).astype(np.int8)


def entry_lines(seg: np.ndarray, cell_w: float, cell_h: float) -> np.ndarray:
    """Rows ``ax, ay, bx - ax, by - ay, bound`` for testing points against segments fast.

    ``cross(b - a, p - a)`` has the sign of the exact orientation whenever its magnitude
    exceeds ``bound``. Shewchuk's bound needs ``|dl| + |dr|`` of the very point; here it is
    replaced by its maximum over any point of a cell the segment crosses (such a point is
    within one cell of the segment), so locate() needs no per-point bound arithmetic.
    """
    dx, dy = seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]
    reach = np.abs(dx) * (np.abs(dy) + 2 * cell_h) + np.abs(dy) * (np.abs(dx) + 2 * cell_w)
    bound = _ORIENT_ERR * reach * (1 + 8 * _EPS) + _TINY
    return np.stack([seg[:, 0], seg[:, 1], dx, dy, bound], axis=1)


def line_side(rows: np.ndarray, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cross(b - a, p - a)`` and its certified bound for :func:`entry_lines` rows."""
    det = (py - rows[:, 1]) * rows[:, 2]
    det -= (px - rows[:, 0]) * rows[:, 3]
    return det, rows[:, 4]


@dataclass(frozen=True)
class Lattice:
    """A raster of fine cells in lon/lat; coarse cells are ``2**shift`` fine cells square.

    Steps are powers of two in degrees and the origin a multiple of the coarse step, so every
    edge ``x0 + j * dx`` is an exact double and (see :meth:`exact_floor`) the cell of a point
    is found by one subtraction and one exact scaling.
    """

    x0: float
    y0: float
    dx: float  # fine step in degrees of longitude
    dy: float  # fine step in degrees of latitude
    nx: int  # fine columns (a multiple of 2**shift)
    ny: int  # fine rows
    shift: int

    @property
    def k(self) -> int:
        """Fine cells per coarse cell along one axis."""
        return 1 << self.shift

    def xedges(self) -> np.ndarray:
        """The ``nx + 1`` fine column edges (coarse edges are every ``k``-th)."""
        return np.arange(self.nx + 1, dtype=np.float64) * self.dx + self.x0

    def yedges(self) -> np.ndarray:
        """The ``ny + 1`` fine row edges."""
        return np.arange(self.ny + 1, dtype=np.float64) * self.dy + self.y0

    def exact_floor(self) -> bool:
        """True when ``(lon - x0) / dx`` is computed exactly for every point inside.

        ``lon - x0`` is exact when both are multiples of ``ulp(lon)`` and the difference is
        no larger than ``|lon|``; the raster must therefore stay at least one width away from
        0 degrees. Near the equator or the prime meridian :func:`fine_index` corrects instead.
        """
        ok = True
        for origin, step, n in ((self.x0, self.dx, self.nx), (self.y0, self.dy, self.ny)):
            width = step * n
            ok &= min(abs(origin), abs(origin + width)) >= width and origin * (origin + width) > 0
        return bool(ok)


def make_lattice(bounds, fine_dx: float, fine_dy: float, shift: int) -> Lattice:
    """Lattice covering ``bounds`` with a margin of at least one coarse cell of no grid.

    ``fine_dx``/``fine_dy`` are rounded to the nearest power of two (in log scale). The margin
    makes the outermost ring of coarse cells provably uncovered, so points outside the raster
    are answered -1 without any test.
    """
    minx, miny, maxx, maxy = bounds
    k = 1 << shift
    dx = 2.0 ** round(math.log2(fine_dx))
    dy = 2.0 ** round(math.log2(fine_dy))
    cdx, cdy = dx * k, dy * k
    x0 = math.floor(minx / cdx) * cdx - 2 * cdx
    y0 = math.floor(miny / cdy) * cdy - 2 * cdy
    ncx = math.ceil((maxx - x0) / cdx) + 2
    ncy = math.ceil((maxy - y0) / cdy) + 2
    return Lattice(x0, y0, dx, dy, ncx * k, ncy * k, shift)


def fine_index(lat_: Lattice, lon: np.ndarray, lat: np.ndarray, exact: bool):
    """Fine column and row (int32) of every point.

    Points outside the raster (and NaN) are clamped onto its outermost cells: those lie in
    the margin no grid reaches, so they answer -1 without a separate validity mask. With
    ``exact`` False the floor is checked against the true edges and moved by one where
    rounding misplaced it.
    """
    out = []
    for v, origin, step, n in ((lon, lat_.x0, lat_.dx, lat_.nx), (lat, lat_.y0, lat_.dy, lat_.ny)):
        t = (v - origin) * (1.0 / step)
        np.fmax(t, 0.0, out=t)  # fmax/fmin, unlike clip, also send NaN to a border cell
        np.fmin(t, n - 0.5, out=t)
        j = t.astype(np.int32)  # truncation is the floor here: t >= 0
        if not exact:
            j -= v < j * step + origin
            j += v >= (j + 1) * step + origin
            np.clip(j, 0, n - 1, out=j)
        out.append(j)
    return out[0], out[1]


def boundary_segments(geoms: np.ndarray) -> np.ndarray:
    """Distinct boundary segments ``(n, 4)`` as ``ax, ay, bx, by`` of polygonal geometries.

    Shared edges of neighbouring grids appear once (endpoints put in canonical order), which
    is what lets a cell crossed by one shared edge be decided by a single orientation test.
    """
    parts = shapely.get_parts(geoms[~shapely.is_missing(geoms)])
    rings = shapely.get_rings(parts)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    if len(xy) < 2:
        return np.empty((0, 4))
    same = ring[1:] == ring[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    seg = np.where(swap[:, None], np.hstack([b, a]), np.hstack([a, b]))
    order = np.lexsort(seg.T[::-1])
    seg = seg[order]
    keep = np.ones(len(seg), dtype=bool)
    keep[1:] = np.any(seg[1:] != seg[:-1], axis=1)
    return seg[keep]


def rasterize(seg, col_lo, col_hi, row_lo, row_hi, xe, ye, tol):
    """Every cell whose closed rectangle may meet a segment (a superset, never fewer).

    ``seg`` is ``(m, 4)``; each item is limited to the inclusive column/row ranges given.
    ``xe``/``ye`` are the edges of the target raster and ``tol`` (degrees) widens each
    column's y-interval by far more than the rounding of the interpolation. Returns
    ``(item, col, row)`` arrays with no repeated (item, cell).
    """
    xmin, xmax = np.minimum(seg[:, 0], seg[:, 2]), np.maximum(seg[:, 0], seg[:, 2])
    ymin, ymax = np.minimum(seg[:, 1], seg[:, 3]), np.maximum(seg[:, 1], seg[:, 3])
    # Closed cell c = [xe[c], xe[c+1]] meets [xmin, xmax] iff xe[c] <= xmax and xe[c+1] >= xmin.
    c0 = np.maximum(col_lo, np.searchsorted(xe, xmin, "left") - 1)
    c1 = np.minimum(col_hi, np.searchsorted(xe, xmax, "right") - 1)
    item, col = _expand(c0, c1)
    s = seg[item]
    xl = np.maximum(xmin[item], xe[col])
    xr = np.minimum(xmax[item], xe[col + 1])
    run = s[:, 2] - s[:, 0]
    vertical = run == 0
    with np.errstate(over="ignore"):
        slope = np.divide(s[:, 3] - s[:, 1], run, out=np.zeros_like(run), where=~vertical)
    with np.errstate(over="ignore", invalid="ignore"):
        yl = s[:, 1] + (xl - s[:, 0]) * slope
        yr = s[:, 1] + (xr - s[:, 0]) * slope
    # The segment's whole y-range is always safe: used where the slope is unusable.
    full = vertical | ~np.isfinite(yl) | ~np.isfinite(yr)
    lo = np.where(full, ymin[item], np.maximum(np.minimum(yl, yr) - tol, ymin[item]))
    hi = np.where(full, ymax[item], np.minimum(np.maximum(yl, yr) + tol, ymax[item]))
    r0 = np.maximum(row_lo[item], np.searchsorted(ye, lo, "left") - 1)
    r1 = np.minimum(row_hi[item], np.searchsorted(ye, hi, "right") - 1)
    pick, row = _expand(r0, r1)
    return item[pick], col[pick], row


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For inclusive ranges ``[lo, hi]``, the owner index and value of every member."""
    count = np.maximum(hi - lo + 1, 0)
    owner = np.repeat(np.arange(len(lo)), count)
    start = np.cumsum(count) - count
    value = lo[owner] + (np.arange(owner.size) - start[owner])
    return owner, value
