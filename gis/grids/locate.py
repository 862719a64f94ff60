"""Assign points to the unit grid (单元网格) that covers them, in bulk.

:class:`GridIndex` precomputes a *cell index*: a raster over the grids' extent in lon/lat
whose cells each hold either the answer for every point in them, or -- where exactly one
grid boundary segment crosses the cell -- that segment with the answer on each side of it.
Looking up a point is then numpy arithmetic plus, for boundary cells, one orientation test
whose sign is certified exact. Only points in cells around vertices, and points within
rounding distance of a boundary, go to an exact GEOS test. Results are exactly those of the
database rule:

* grids are closed sets (a point on a boundary is covered: ``ST_Covers``);
* when several grids cover a point (shared edge, vertex), the smallest code wins;
* a point covered by no grid gets -1 (``None`` as a code).

The raster lives in EPSG:4326 itself, with steps derived from metres at the data's latitude:
a cell is declared inside a grid only if that holds in lon/lat, where the database tests, so
no reprojection can move a point across a boundary.
"""

from __future__ import annotations

import math
import time
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import CRS, Transformer

from gis.grids._locate_build import Tables, build_tables
from gis.grids._locate_geom import (
    Lattice,
    boundary_segments,
    entry_lines,
    fine_index,
    line_side,
    make_lattice,
)

__all__ = ["GridIndex", "locate_points"]

_REFINE_SHIFT = 2  # coarse cells near vertices are split 4 x 4
_CELLS_PER_SIDE = 5  # default coarse cell = median grid side / 5 (about 20 m for 万米 grids)
_MAX_COARSE_CELLS = 1 << 23  # 32 MiB of int32: beyond this the cells grow instead
_MIN_CELL_M = 0.5
_CHUNK = 1 << 20  # points per pass: keeps temporaries in cache-friendly sizes


class _ExactLocator:
    """Exact answers with GEOS: smallest-code grid whose closed polygon holds the point."""

    def __init__(self, geoms: np.ndarray, rank: np.ndarray, order: np.ndarray) -> None:
        self.tree = shapely.STRtree(geoms)
        self.rank = rank  # rank[position] = position of the grid in code order
        self.order = order  # order[rank] = position

    def __call__(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Grid positions (-1 uncovered) for points given as coordinate arrays."""
        out = np.full(len(lon), -1, dtype=np.int64)
        if not len(lon):
            return out
        # For a point, "intersects" a polygon is "covered by" it: boundary included.
        pt, grid = self.tree.query(shapely.points(lon, lat), predicate="intersects")
        best = np.full(len(lon), len(self.rank), dtype=np.int64)
        np.minimum.at(best, pt, self.rank[grid])
        hit = best < len(self.rank)
        out[hit] = self.order[best[hit]]
        return out


class GridIndex:
    """Cell index answering "which grid covers this point" for millions of points.

    Build it with :meth:`build`; see the module docstring for the exact semantics.

    Examples
    --------
    >>> from shapely import box
    >>> grids = gpd.GeoDataFrame(
    ...     {"code": ["320500001001001", "320500001001002"]},
    ...     geometry=[box(120.600, 31.300, 120.601, 31.301), box(120.601, 31.300, 120.602, 31.301)],
    ...     crs="EPSG:4326",
    ... )
    >>> index = GridIndex.build(grids)
    >>> index.locate(np.array([120.6005, 120.601, 120.7]), np.array([31.3005, 31.3005, 31.3]))
    array([ 0,  0, -1])
    >>> index.locate_codes([120.6015], [31.3005]).tolist()
    ['320500001001002']
    """

    def __init__(
        self,
        codes: np.ndarray,
        exact: _ExactLocator,
        lattice: Lattice | None = None,
        tables: Tables | None = None,
        entry_line: np.ndarray | None = None,
    ) -> None:
        # Use GridIndex.build(); the constructor just stores the pieces.
        self._codes = codes
        self._exact = exact
        self._lattice = lattice
        self._exact_floor = lattice.exact_floor() if lattice is not None else True
        self._tables = tables
        if tables is not None and entry_line is not None:
            self._coarse = tables.coarse.ravel()
            self._ncx = tables.coarse.shape[1]
            self._blocks = tables.blocks.ravel()
            self._n_entries = len(tables.entry_seg)
            # (E, 5) rows: one row gathered per point, one cache line instead of five.
            self._entry_line = entry_line
            # Answers left/right of each entry, flattened so 2 * e + (det < 0) picks one.
            self._entry_answer = tables.entry_answer.ravel()
        self._stats: dict[str, Any] = {}

    @classmethod
    def build(
        cls, grids: gpd.GeoDataFrame, code_column: str = "code", cell_size_m: float | None = None
    ) -> GridIndex:
        """Build the index for ``grids``.

        Parameters
        ----------
        grids : GeoDataFrame
            Unit grids in EPSG:4326, Polygon or MultiPolygon; missing or empty geometries
            never match. Grids are expected to be valid polygons (see :mod:`gis.io.validate`).
        code_column : str
            Column with the grid codes. Where several grids cover a point the smallest
            code wins (strings compare lexicographically, as 15-digit codes should).
        cell_size_m : float, optional
            Target edge of a coarse cell in metres; fine cells are a quarter of it. Steps
            are powers of two in degrees, so each side is within a factor sqrt(2) of the
            target (see :attr:`stats`). Default: a fifth of the median grid side, or the
            median boundary segment length if shorter, with the cell count capped.

        Returns
        -------
        GridIndex

        Raises
        ------
        ValueError
            If the CRS is not EPSG:4326, the code column is missing or has empty codes, or a
            geometry is not polygonal.
        """
        started = time.perf_counter()
        geoms, codes = _check_input(grids, code_column)
        order = np.argsort(codes, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        exact = _ExactLocator(geoms, rank, order)
        present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if not present.any():
            index = cls(codes, exact)
            index._stats = _stats(index, time.perf_counter() - started, None)
            return index
        seg = boundary_segments(geoms[present])
        lattice, crs = _choose_lattice(grids.loc[present], geoms[present], seg, cell_size_m)
        tables = build_tables(seg, lattice, exact)
        k = lattice.k
        lines = entry_lines(seg[tables.entry_seg], lattice.dx * k, lattice.dy * k)
        index = cls(codes, exact, lattice, tables, lines)
        index._stats = _stats(index, time.perf_counter() - started, crs)
        return index

    def locate(self, lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
        """Row position in the grids frame of the grid covering each point.

        Parameters
        ----------
        lon, lat : array_like
            Coordinates in EPSG:4326 degrees; broadcast together. NaN never matches.

        Returns
        -------
        numpy.ndarray
            int64 positions (``grids.iloc`` order) with the shape of the inputs, -1 where
            no grid covers the point.
        """
        lon, lat = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        shape = lon.shape
        lon, lat = lon.ravel(), lat.ravel()
        out = np.empty(lon.size, dtype=np.int64)
        for i in range(0, lon.size, _CHUNK):
            out[i : i + _CHUNK] = self._locate(lon[i : i + _CHUNK], lat[i : i + _CHUNK])
        return out.reshape(shape)

    def locate_codes(self, lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
        """Code of the grid covering each point (object array), ``None`` if none."""
        pos = self.locate(lon, lat)
        out = np.full(pos.shape, None, dtype=object)
        hit = pos >= 0
        out[hit] = self._codes[pos[hit]]
        return out

    @property
    def stats(self) -> dict[str, Any]:
        """Size and shape of the index.

        Keys: ``cells`` (coarse cells) and ``coarse_shape``; ``refined_blocks`` and
        ``fine_cells`` (coarse cells with vertices, split 4 x 4); ``boundary_fraction``
        (coarse cells a boundary crosses); ``exact_fraction`` (share of the raster's area
        whose points go to GEOS); ``memory_bytes`` (the lookup tables; the grids'
        geometries, kept for exact tests, are not counted); ``build_seconds``;
        ``cell_size_m`` and ``fine_cell_size_m`` (x, y in metres); ``side_entries``;
        ``build_queries`` (exact tests the build needed); ``metric_crs`` (used for sizes).
        """
        return dict(self._stats)

    def _locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        lt = self._lattice
        if lt is None:  # no grid at all
            return np.full(lon.size, -1, dtype=np.int64)
        # int32 throughout: half the memory traffic of int64 on these gathers.
        jx, jy = fine_index(lt, lon, lat, self._exact_floor)
        shift, mask = lt.shift, lt.k - 1
        out = self._coarse[(jy >> shift) * self._ncx + (jx >> shift)]
        block_base = -3 - self._n_entries  # coarse values at or below it name refined blocks
        ref = np.flatnonzero(out <= block_base)
        if ref.size:
            sub = ((block_base - out[ref]) << (2 * shift)) + ((jy[ref] & mask) << shift)
            out[ref] = self._blocks[sub + (jx[ref] & mask)]
        side = np.flatnonzero(out <= -3)
        if side.size:
            e = -3 - out[side]
            rows = np.take(self._entry_line, e, axis=0)  # much faster than rows[e]
            det, bound = line_side(rows, lon[side], lat[side])
            ans = self._entry_answer[2 * e + (det < 0)]
            ans[np.abs(det) <= bound] = -2  # within rounding distance of the line: exact test
            out[side] = ans
        hard = np.flatnonzero(out == -2)
        if hard.size:
            out[hard] = self._exact(lon[hard], lat[hard])
        return out.astype(np.int64)

    def _memory(self) -> int:
        if self._lattice is None:
            return 0
        arrays = (self._coarse, self._blocks, self._entry_line, self._entry_answer)
        return int(sum(a.nbytes for a in arrays))


def locate_points(
    grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray, code_column: str = "code"
) -> np.ndarray:
    """Build a :class:`GridIndex` for ``grids`` and locate the points in one call.

    Examples
    --------
    >>> from shapely import box
    >>> grids = gpd.GeoDataFrame({"code": ["320500001001001"]},
    ...                          geometry=[box(120.6, 31.3, 120.601, 31.301)], crs="EPSG:4326")
    >>> locate_points(grids, [120.6005, 121.0], [31.3005, 31.3]).tolist()
    [0, -1]
    """
    return GridIndex.build(grids, code_column=code_column).locate(lon, lat)


def _check_input(grids: gpd.GeoDataFrame, code_column: str) -> tuple[np.ndarray, np.ndarray]:
    """Geometries and codes of ``grids`` after checking CRS, column and geometry types."""
    if grids.crs is None or not CRS.from_user_input(grids.crs).equals("EPSG:4326"):
        raise ValueError(f"grids must be in EPSG:4326 (lon/lat), got {grids.crs}")
    if code_column not in grids.columns:
        raise ValueError(f"grids has no code column {code_column!r}")
    codes = grids[code_column].to_numpy(dtype=object)
    if grids[code_column].isna().any():
        raise ValueError(f"column {code_column!r} has missing codes")
    geoms = np.asarray(grids.geometry.array, dtype=object)
    kind = shapely.get_type_id(geoms)
    polygonal = (kind == shapely.GeometryType.POLYGON) | (kind == shapely.GeometryType.MULTIPOLYGON)
    if not np.all(polygonal | shapely.is_missing(geoms)):
        raise ValueError("grid geometries must be Polygon or MultiPolygon")
    return geoms, codes


def _choose_lattice(
    grids: gpd.GeoDataFrame, geoms: np.ndarray, seg: np.ndarray, cell_size_m: float | None
) -> tuple[Lattice, CRS]:
    """Lattice with steps converted from metres at the grids' centre (via their UTM zone).

    The default coarse cell is a fifth of the median grid side, or the median segment
    length if shorter: densely digitised boundaries put a vertex in most cells otherwise,
    and every cell around a vertex costs exact tests. The cell count is capped.
    """
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    crs = grids.estimate_utm_crs()
    mx, my = _metres_per_degree(crs, (minx + maxx) / 2, (miny + maxy) / 2)
    if cell_size_m is None:
        side = math.sqrt(np.median(shapely.area(geoms)) * mx * my)
        seg_m = np.hypot((seg[:, 2] - seg[:, 0]) * mx, (seg[:, 3] - seg[:, 1]) * my)
        cell_size_m = min(side / _CELLS_PER_SIDE, float(np.median(seg_m)))
    extent_m2 = max(maxx - minx, 1e-9) * mx * max(maxy - miny, 1e-9) * my
    cell_size_m = max(cell_size_m, _MIN_CELL_M, math.sqrt(extent_m2 / _MAX_COARSE_CELLS))
    fine_m = cell_size_m / (1 << _REFINE_SHIFT)
    bounds = (minx, miny, maxx, maxy)
    return make_lattice(bounds, fine_m / mx, fine_m / my, _REFINE_SHIFT), crs


def _metres_per_degree(crs: CRS, lon: float, lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude at ``(lon, lat)``, measured in ``crs``."""
    to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    h = 1e-3
    x, y = to_metric.transform([lon, lon + h, lon], [lat, lat, lat + h])
    return math.hypot(x[1] - x[0], y[1] - y[0]) / h, math.hypot(x[2] - x[0], y[2] - y[0]) / h


def _stats(index: GridIndex, seconds: float, crs: CRS | None) -> dict[str, Any]:
    """The :attr:`GridIndex.stats` dictionary."""
    lattice, tables = index._lattice, index._tables
    if lattice is None or tables is None or crs is None:
        return {"cells": 0, "refined_blocks": 0, "fine_cells": 0, "boundary_fraction": 0.0,
                "exact_fraction": 0.0, "memory_bytes": 0, "build_seconds": seconds,
                "cell_size_m": None, "fine_cell_size_m": None, "side_entries": 0,
                "build_queries": 0, "metric_crs": None}  # fmt: skip
    coarse, blocks, k = tables.coarse, tables.blocks, lattice.k
    mx, my = _metres_per_degree(
        crs, lattice.x0 + lattice.dx * lattice.nx / 2, lattice.y0 + lattice.dy * lattice.ny / 2
    )
    fine = (lattice.dx * mx, lattice.dy * my)
    return {
        "cells": int(coarse.size),
        "coarse_shape": coarse.shape,
        "refined_blocks": int(blocks.shape[0]),
        "fine_cells": int(blocks.size),
        # Coarse cells a boundary crosses (one segment: orientation test; more: refined).
        "boundary_fraction": float(np.mean(coarse <= -3)),
        # Share of the raster's area whose points go to the exact GEOS test.
        "exact_fraction": float(np.sum(blocks == -2) / (coarse.size * k * k)),
        "memory_bytes": index._memory(),
        "build_seconds": seconds,
        "cell_size_m": (fine[0] * k, fine[1] * k),
        "fine_cell_size_m": fine,
        "side_entries": len(tables.entry_seg),
        "build_queries": int(tables.queries),
        "metric_crs": crs.to_string(),
    }
