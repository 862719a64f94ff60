"""Snap events to the nearest segment of the street they were assigned to."""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

from gis.nearest import utm_epsg


def nearest_segment_of_street(
    segments: np.ndarray,
    segment_street: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    street: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the nearest segment belonging to the point's own street.

    Parameters
    ----------
    segments : array of LineStrings in EPSG:4326.
    segment_street : street id of each segment.
    lon, lat : event points in EPSG:4326.
    street : street id of each event (its assignment).

    Returns
    -------
    (positions into ``segments``, or -1 when the street has no segment; distances in metres)
    Equal distances go to the segment listed first.

    Examples
    --------
    >>> a = shapely.LineString([(120.600, 31.3), (120.601, 31.3)])
    >>> b = shapely.LineString([(120.601, 31.3), (120.602, 31.3)])
    >>> pos, d = nearest_segment_of_street(np.array([a, b]), np.array([1, 1]),
    ...                                   np.array([120.6015]), np.array([31.3001]), np.array([1]))
    >>> pos.tolist(), round(float(d[0]), 1)
    ([1], 11.1)
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    street = np.asarray(street, dtype=np.int64)
    segment_street = np.asarray(segment_street, dtype=np.int64)
    best = np.full(len(lon), -1, dtype=np.int64)
    dist = np.full(len(lon), np.nan)
    if len(lon) == 0 or len(segments) == 0:
        return best, dist
    # One UTM zone for the whole city: the zone of its median point. A city straddling a
    # zone edge loses centimetres over 100 m, far below what "nearest segment" can notice.
    zone = int(utm_epsg(np.median(lon), np.median(lat)))
    to_m = Transformer.from_crs(4326, zone, always_xy=True)
    lines = shapely.transform(
        np.asarray(segments, dtype=object),
        lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])),
    )
    points = shapely.points(*to_m.transform(lon, lat))
    # One small tree per street: the nearest segment *of that street*, with no radius to
    # guess, and each tree holds a few dozen segments rather than the whole network.
    seg_order = np.argsort(segment_street, kind="stable")
    seg_keys, seg_starts = np.unique(segment_street[seg_order], return_index=True)
    seg_ends = np.r_[seg_starts[1:], len(seg_order)]
    ev_order = np.argsort(street, kind="stable")
    ev_keys, ev_starts = np.unique(street[ev_order], return_index=True)
    ev_ends = np.r_[ev_starts[1:], len(ev_order)]
    where = np.searchsorted(seg_keys, ev_keys)
    for key, at, e0, e1 in zip(ev_keys, where, ev_starts, ev_ends, strict=True):
        if at >= len(seg_keys) or seg_keys[at] != key:
            continue  # a street without segments
        members = seg_order[seg_starts[at] : seg_ends[at]]
        events = ev_order[e0:e1]
        (src, dst), d = shapely.STRtree(lines[members]).query_nearest(
            points[events], return_distance=True, all_matches=True
        )
        order = np.lexsort((members[dst], d, src))
        src, dst, d = src[order], dst[order], d[order]
        first = np.r_[True, src[1:] != src[:-1]]
        best[events[src[first]]] = members[dst[first]]
        dist[events[src[first]]] = d[first]
    return best, dist
