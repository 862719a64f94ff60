"""Nearest features and neighbours in metres, for many points at once.

Distances are measured in the UTM zone of each point (`utm_epsg`), the same rule the
database applies (``citygrid_utm_srid``), so a bulk import and a single API call agree on
which street lies "within 50 m".
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

__all__ = ["utm_epsg", "nearest_within", "pairs_within"]


def utm_epsg(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """EPSG code of the WGS84 UTM zone of each point (326xx north, 327xx south).

    Examples
    --------
    >>> utm_epsg(np.array([120.6, -70.0]), np.array([31.3, -33.4])).tolist()
    [32651, 32719]
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    zone = np.clip(np.floor((lon + 180.0) / 6.0).astype(int) + 1, 1, 60)
    return np.where(lat >= 0, 32600, 32700) + zone


def _to_zone(geoms: np.ndarray, epsg: int) -> np.ndarray:
    transformer = Transformer.from_crs(4326, epsg, always_xy=True)
    return shapely.transform(
        geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def nearest_within(
    geoms: np.ndarray,
    ids: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    max_distance_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the position of the nearest geometry within ``max_distance_m``.

    Parameters
    ----------
    geoms : array of shapely geometries in EPSG:4326 (lon/lat).
    ids : int array, one per geometry; on equal distances the smallest id wins.
    lon, lat : point coordinates in EPSG:4326.
    max_distance_m : search radius in metres (inclusive).

    Returns
    -------
    (positions, distances): positions into ``geoms`` (-1 when none is within reach) and the
    distances in metres (NaN when none).

    Examples
    --------
    >>> line = shapely.LineString([(120.6, 31.3), (120.61, 31.3)])
    >>> pos, d = nearest_within(np.array([line]), np.array([7]), np.array([120.605]),
    ...                         np.array([31.3001]), 50)
    >>> pos.tolist(), round(float(d[0]), 1)
    ([0], 11.1)
    >>> nearest_within(np.array([line]), np.array([7]), np.array([120.7]), np.array([31.3]), 50)[0]
    array([-1])
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    positions = np.full(lon.shape, -1, dtype=np.int64)
    distances = np.full(lon.shape, np.nan)
    if len(geoms) == 0 or len(lon) == 0:
        return positions, distances
    geoms = np.asarray(geoms, dtype=object)
    ids = np.asarray(ids, dtype=np.int64)
    zones = utm_epsg(lon, lat)
    for zone in np.unique(zones):
        members = np.flatnonzero(zones == zone)
        tree = shapely.STRtree(_to_zone(geoms, int(zone)))
        transformer = Transformer.from_crs(4326, int(zone), always_xy=True)
        x, y = transformer.transform(lon[members], lat[members])
        points = shapely.points(x, y)
        (src, dst), dist = tree.query_nearest(
            points, max_distance=max_distance_m, return_distance=True, all_matches=True
        )
        keep = dist <= max_distance_m
        src, dst, dist = src[keep], dst[keep], dist[keep]
        if not len(src):  # nothing within reach of any of these points
            continue
        # Order by point, then distance, then id, and keep the first per point.
        order = np.lexsort((ids[dst], dist, src))
        src, dst, dist = src[order], dst[order], dist[order]
        first = np.r_[True, src[1:] != src[:-1]]
        positions[members[src[first]]] = dst[first]
        distances[members[src[first]]] = dist[first]
    return positions, distances


def pairs_within(
    lon: np.ndarray, lat: np.ndarray, radius_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs (i, j), i != j, of points within ``radius_m`` of each other, with distances.

    Both directions are returned. Distances use the UTM zone of point ``i``.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    out_i, out_j, out_d = [], [], []
    zones = utm_epsg(lon, lat)
    for zone in np.unique(zones):
        members = np.flatnonzero(zones == zone)
        transformer = Transformer.from_crs(4326, int(zone), always_xy=True)
        x, y = transformer.transform(lon, lat)
        all_points = shapely.points(x, y)
        tree = shapely.STRtree(all_points)
        src, dst = tree.query(all_points[members], predicate="dwithin", distance=radius_m)
        i, j = members[src], dst
        keep = i != j
        i, j = i[keep], j[keep]
        out_i.append(i)
        out_j.append(j)
        out_d.append(np.hypot(x[i] - x[j], y[i] - y[j]))
    if not out_i:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([])
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)
