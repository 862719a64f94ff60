"""Contiguity weights for hotspot statistics: grids that touch, segments that meet.

Weights are binary and symmetric, held as an edge list (both directions, no self pairs)
so that a spatial lag is one ``np.bincount``: no scipy, no dense matrix, and a 100,000-grid
city costs a few milliseconds per lag. The pairs are computed once from the geometry and
stored by the application; statistics only read them.

Examples
--------
>>> from shapely import box
>>> grids = gpd.GeoSeries([box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 1, 3, 2)], crs=3857)
>>> w = queen_contiguity(grids)
>>> [a.tolist() for a in w.pairs()]
[[0, 1], [1, 2]]
>>> w.lag(np.array([1.0, 2.0, 4.0]), star=True).tolist()
[3.0, 7.0, 6.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["Contiguity", "queen_contiguity", "segment_contiguity", "endpoint_nodes"]


@dataclass(frozen=True)
class Contiguity:
    """Binary symmetric contiguity between ``n`` units as a directed edge list.

    ``heads[k]`` is a neighbour of ``tails[k]`` and the reverse edge is present too; there
    are no self pairs (Gi* adds the unit itself, see :meth:`lag`).
    """

    n: int
    heads: np.ndarray
    tails: np.ndarray

    @classmethod
    def from_pairs(cls, n: int, i: np.ndarray, j: np.ndarray) -> Contiguity:
        """Weights from unordered pairs in any order/direction; duplicates and self pairs drop."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        if len(i) and (min(i.min(), j.min()) < 0 or max(i.max(), j.max()) >= n):
            raise ValueError(f"pair index outside 0..{n - 1}")
        lo, hi = np.minimum(i, j), np.maximum(i, j)
        keep = lo != hi
        key = np.unique(lo[keep] * n + hi[keep])
        lo, hi = key // n, key % n
        return cls(n, np.concatenate([lo, hi]), np.concatenate([hi, lo]))

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Each unordered pair once, as (i, j) with i < j, sorted."""
        keep = self.heads < self.tails
        order = np.lexsort((self.tails[keep], self.heads[keep]))
        return self.heads[keep][order], self.tails[keep][order]

    def cardinalities(self) -> np.ndarray:
        """Number of neighbours of each unit (the unit itself not counted)."""
        return np.bincount(self.heads, minlength=self.n)

    def lag(self, y: np.ndarray, star: bool = False) -> np.ndarray:
        """Sum of ``y`` over each unit's neighbours, plus the unit itself when ``star``."""
        y = np.asarray(y, dtype=float)
        out = np.bincount(self.heads, weights=y[self.tails], minlength=self.n)
        return out + y if star else out

    def subset(self, keep: np.ndarray) -> Contiguity:
        """The weights among the units where ``keep`` (a boolean mask) is true, renumbered."""
        keep = np.asarray(keep, dtype=bool)
        new = np.full(self.n, -1, dtype=np.int64)
        new[keep] = np.arange(int(keep.sum()))
        both = keep[self.heads] & keep[self.tails]
        return Contiguity(int(keep.sum()), new[self.heads[both]], new[self.tails[both]])

    def neighbours(self) -> dict[int, list[int]]:
        """``{unit: [neighbours]}``, the form libpysal's ``W`` takes (for comparisons)."""
        out: dict[int, list[int]] = {k: [] for k in range(self.n)}
        for a, b in zip(*self.pairs(), strict=True):
            out[int(a)].append(int(b))
            out[int(b)].append(int(a))
        return {k: sorted(v) for k, v in out.items()}


def _metric(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """``geoms`` in metres: as they are when projected, else in their local UTM zone."""
    if geoms.crs is None:
        raise ValueError("geometries need a CRS (EPSG:4326 or a projected CRS in metres)")
    if geoms.crs.is_projected:
        return geoms
    return geoms.to_crs(geoms.estimate_utm_crs())


def _as_series(geoms) -> gpd.GeoSeries:
    if isinstance(geoms, gpd.GeoDataFrame):
        return geoms.geometry
    if isinstance(geoms, gpd.GeoSeries):
        return geoms
    raise TypeError("expected a GeoSeries or GeoDataFrame with a CRS")


def queen_contiguity(
    grids: gpd.GeoSeries | gpd.GeoDataFrame,
    tolerance_m: float = 0.0,
    among: np.ndarray | None = None,
) -> Contiguity:
    """Queen contiguity: polygons sharing at least one point (an edge or a corner).

    Parameters
    ----------
    grids : GeoSeries or GeoDataFrame
        Polygons with a CRS; units are numbered by row position.
    tolerance_m : float
        0 (default) asks for a shared point, as libpysal's strict queen does on a clean
        coverage. A positive value also joins polygons closer than this many metres,
        bridging digitising gaps in real data.
    among : boolean mask, optional
        Only the pairs that involve these units (say, grids just added to a map whose other
        pairs are already known).

    Returns
    -------
    Contiguity

    Examples
    --------
    >>> from shapely import box
    >>> g = gpd.GeoSeries([box(0, 0, 1, 1), box(1, 1, 2, 2), box(5, 5, 6, 6)], crs=3857)
    >>> queen_contiguity(g).cardinalities().tolist()
    [1, 1, 0]
    """
    series = _as_series(grids)
    geoms = (_metric(series) if tolerance_m > 0 else series).to_numpy()
    tree = shapely.STRtree(geoms)
    rows = np.arange(len(geoms)) if among is None else np.flatnonzero(among)
    if tolerance_m > 0:
        i, j = tree.query(geoms[rows], predicate="dwithin", distance=tolerance_m)
    else:
        # "intersects" rather than shared vertices: a T-junction, where one grid's corner
        # lies on its neighbour's edge without a vertex there, still makes neighbours.
        i, j = tree.query(geoms[rows], predicate="intersects")
    return Contiguity.from_pairs(len(geoms), rows[i], j)


def endpoint_nodes(lines: gpd.GeoSeries | gpd.GeoDataFrame, tolerance_m: float = 1.0) -> np.ndarray:
    """Node number of the start and end of each line: ends within ``tolerance_m`` share one.

    Returns an ``(n, 2)`` int array. Ends are clustered transitively (single linkage), so a
    slightly messy intersection whose ends lie within the tolerance of each other in a
    chain still becomes one node.
    """
    series = _metric(_as_series(lines))
    geoms = series.to_numpy()
    starts = shapely.get_point(geoms, 0)
    ends = shapely.get_point(geoms, -1)
    points = np.concatenate([starts, ends])
    tree = shapely.STRtree(points)
    a, b = tree.query(points, predicate="dwithin", distance=tolerance_m)
    labels = _components(len(points), a, b)
    n = len(geoms)
    return np.column_stack([labels[:n], labels[n:]])


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label (the smallest member) of each of ``n`` items linked by (a, b)."""
    labels = np.arange(n)
    while True:
        low = np.minimum(labels[a], labels[b])
        before = labels.copy()
        np.minimum.at(labels, a, low)
        np.minimum.at(labels, b, low)
        labels = labels[labels]  # pointer jumping: halves the chain length each round
        if np.array_equal(labels, before):
            return labels


def segment_contiguity(
    lines: gpd.GeoSeries | gpd.GeoDataFrame, tolerance_m: float = 1.0
) -> Contiguity:
    """Street segments are neighbours when they share an intersection node.

    Node = segment end; ends within ``tolerance_m`` metres are one node (see
    :func:`endpoint_nodes`). Segments meeting only mid-line (a bridge over a road) are not
    neighbours: that is the point of using nodes rather than intersections.

    Examples
    --------
    >>> from shapely import LineString
    >>> s = gpd.GeoSeries([LineString([(0, 0), (100, 0)]), LineString([(100.4, 0), (200, 0)]),
    ...                    LineString([(100, 0), (100, 100)]), LineString([(300, 0), (400, 0)])],
    ...                   crs=32651)
    >>> segment_contiguity(s).cardinalities().tolist()
    [2, 2, 2, 0]
    """
    nodes = endpoint_nodes(lines, tolerance_m)
    n = len(nodes)
    seg = np.concatenate([np.arange(n), np.arange(n)])
    node = nodes.T.ravel()
    order = np.lexsort((seg, node))
    seg, node = seg[order], node[order]
    # Pair every segment with the ones after it at the same node; nodes have few segments,
    # so a loop over the offset (not over nodes) stays vectorised.
    out_i, out_j = [], []
    offset = 1
    while offset < len(seg):
        same = node[offset:] == node[:-offset]
        if not same.any():
            break
        out_i.append(seg[:-offset][same])
        out_j.append(seg[offset:][same])
        offset += 1
    if not out_i:
        return Contiguity(n, np.empty(0, np.int64), np.empty(0, np.int64))
    return Contiguity.from_pairs(n, np.concatenate(out_i), np.concatenate(out_j))
