"""Merging small and thin pieces into a neighbour (private helper of :mod:`gis.grids.generate`).

The pieces of one community form a graph: edges join pieces sharing a boundary, weighted by
the shared length. Area, perimeter and shared lengths add up when two pieces merge
(perimeter = p1 + p2 - 2 * shared), so the whole merging runs on numbers and the polygons
are unioned once at the end. The smallest piece (thin ones first) joins the neighbour it
shares most boundary with, preferring neighbours that keep the result under the maximum.
"""

from __future__ import annotations

import heapq

import numpy as np
import shapely


def merge_small(
    pieces: np.ndarray, min_area: float, max_area: float, min_width: float
) -> list[np.ndarray]:
    """Groups of piece indices: every group at least ``min_area`` unless it has no neighbour.

    A piece whose mean width (2·area / perimeter) is under ``min_width`` is merged whatever
    its area: such strips appear between a street and a boundary drawn beside it.
    """
    n = len(pieces)
    area = shapely.area(pieces).astype(float)
    perim = shapely.length(pieces).astype(float)
    adj: list[dict[int, float]] = [{} for _ in range(n)]
    for i, j, shared in _shared_edges(pieces):
        adj[i][j] = adj[i].get(j, 0.0) + shared
        adj[j][i] = adj[j].get(i, 0.0) + shared
    members = [[i] for i in range(n)]
    alive = np.ones(n, bool)

    def needs(i: int) -> float | None:
        thin = 2 * area[i] / max(perim[i], 1e-9) < min_width
        if thin:
            return -1.0  # thin pieces first, whatever their size
        return area[i] if area[i] < min_area else None

    heap = [(key, i) for i in range(n) if (key := needs(i)) is not None]
    heapq.heapify(heap)
    while heap:
        key, i = heapq.heappop(heap)
        if not alive[i] or needs(i) != key or not adj[i]:
            continue
        j = _partner(i, adj[i], area, max_area)
        # j absorbs i
        shared = adj[i].pop(j)
        adj[j].pop(i)
        for k, length in adj[i].items():
            adj[k].pop(i)
            adj[j][k] = adj[j].get(k, 0.0) + length
            adj[k][j] = adj[k].get(j, 0.0) + length
        adj[i] = {}
        area[j] += area[i]
        perim[j] += perim[i] - 2 * shared
        members[j] += members[i]
        alive[i] = False
        if (again := needs(j)) is not None:
            heapq.heappush(heap, (again, j))
    return [np.array(members[i]) for i in np.flatnonzero(alive)]


def _partner(i: int, neighbours: dict[int, float], area: np.ndarray, max_area: float) -> int:
    """The neighbour sharing most boundary, among those keeping the union under max_area."""
    fits = {j: s for j, s in neighbours.items() if area[i] + area[j] <= max_area}
    pool = fits or neighbours
    return max(pool, key=lambda j: (pool[j], -area[j], -j))


def _shared_edges(pieces: np.ndarray) -> list[tuple[int, int, float]]:
    """(i, j, shared boundary length) for every pair of pieces sharing more than a point."""
    if len(pieces) < 2:
        return []
    tree = shapely.STRtree(pieces)
    i, j = tree.query(pieces, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    rings = shapely.boundary(pieces)
    shared = shapely.length(shapely.intersection(rings[i], rings[j]))
    ok = shared > 1e-6
    return list(zip(i[ok].tolist(), j[ok].tolist(), shared[ok].tolist(), strict=True))
