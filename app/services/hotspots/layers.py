"""Spatial layers for the hotspot analysis: grid and street-segment geometry with their stored
contiguity weights, read from the database once per process and kept in memory per engine,
keyed by the fingerprint of the grids/segments they came from; refreshed incrementally
after edits."""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from app.db.hotspots import queries as repo
from app.settings import Settings
from gis.hotspots import Contiguity

log = logging.getLogger(__name__)


@dataclass
class GridLayer:
    """Current grids in id order with their queen weights, as of one fingerprint."""

    fingerprint: str
    ids: np.ndarray
    codes: np.ndarray
    community: np.ndarray
    weights: Contiguity
    position: pd.Index  # code -> row
    geometry: np.ndarray  # shapely polygons, EPSG:4326
    community_name: np.ndarray
    supervisor: np.ndarray
    geojson: dict[int, np.ndarray] = field(default_factory=dict)  # feature heads, see below


@dataclass
class SegmentLayer:
    fingerprint: str
    ids: np.ndarray
    street_id: np.ndarray
    length_m: np.ndarray
    weights: Contiguity
    position: pd.Index
    geometry: np.ndarray  # shapely LineStrings, EPSG:4326


_Layer = TypeVar("_Layer", GridLayer, SegmentLayer)
_CACHE: weakref.WeakKeyDictionary[Engine, dict[str, object]] = weakref.WeakKeyDictionary()


def _cached(engine: Engine) -> dict[str, object]:
    return _CACHE.setdefault(engine, {})


def _contiguity(position: pd.Index, a: np.ndarray, b: np.ndarray) -> Contiguity:
    """Stored id pairs as row-position weights (a pair with an unknown id is skipped)."""
    i, j = position.get_indexer(a), position.get_indexer(b)
    known = (i >= 0) & (j >= 0)
    return Contiguity.from_pairs(len(position), i[known], j[known])


def _stale(stored: dict | None, fingerprint: str, tolerance_m: float) -> bool:
    """Stored weights missing, or computed from other rows or with another tolerance."""
    return (
        stored is None
        or stored["fingerprint"] != fingerprint
        or stored["tolerance_m"] != tolerance_m
    )


def _cached_layer(
    engine: Engine, kind: str, layer_type: type[_Layer], force: bool
) -> tuple[str, _Layer | None]:
    """(current fingerprint of the ``kind`` weights' rows, the cached layer if still current)."""
    with engine.connect() as conn:
        current = repo.fingerprint(conn, kind)
    layer = _cached(engine).get(kind)
    if not force and isinstance(layer, layer_type) and layer.fingerprint == current:
        return current, layer
    return current, None


def grid_layer(engine: Engine, settings: Settings, *, force: bool = False) -> GridLayer:
    """Current grids and their stored queen weights; recomputed and stored when stale."""
    current, layer = _cached_layer(engine, "grid_queen", GridLayer, force)
    if layer is not None:
        return layer
    with engine.begin() as conn:
        stored = repo.stored_weights(conn, "grid_queen")
        if force or _stale(stored, current, settings.hotspot_grid_tolerance_m):
            _compute_grid_weights(conn, settings, force)
        grids = repo.current_grids(conn)
        a, b = repo.load_pairs(conn, "grid_queen")
    position = pd.Index(grids["id"])
    weights = _contiguity(position, a, b)
    layer = GridLayer(
        current,
        grids["id"],
        grids["code"],
        grids["community_code"],
        weights,
        pd.Index(grids["code"]),
        grids["geometry"],
        grids["community_name"],
        grids["supervisor"],
    )
    _cached(engine)["grid_queen"] = layer
    return layer


def _compute_grid_weights(conn, settings: Settings, force: bool) -> None:
    """Store queen weights of the current grids: incrementally after an edit, else in full.

    A grid change never edits a version in place: it closes rows (valid_to) and adds new ones
    with new ids. So pairs touching closed grids are dropped and only the grids added since
    the last computation are matched against the whole map: milliseconds for an edit,
    where a full recomputation of 100,000 grids takes seconds.
    """
    import geopandas as gpd

    from gis.hotspots import queen_contiguity

    repo.lock_weights(conn, "grid_queen")
    current = repo.fingerprint(conn, "grid_queen")
    stored = repo.stored_weights(conn, "grid_queen")
    if not force and not _stale(stored, current, settings.hotspot_grid_tolerance_m):
        return  # another process did it while we waited for the lock
    grids = repo.current_grids(conn)
    ids, tol = grids["id"], settings.hotspot_grid_tolerance_m
    series = gpd.GeoSeries(grids["geometry"], crs=4326)
    incremental = not force and stored is not None and stored["tolerance_m"] == tol
    if incremental and stored is not None:
        added = ids > int(stored["fingerprint"].split(":")[1])  # ids above the old maximum
        repo.drop_retired_pairs(conn)
        i, j = queen_contiguity(series, tol, among=added).pairs()
    else:
        i, j = queen_contiguity(series, tol).pairs()
    repo.save_weights(
        conn,
        "grid_queen",
        ids[i],
        ids[j],
        fingerprint=current,
        units=len(ids),
        tolerance_m=tol,
        replace=not incremental,
    )
    log.info(
        "grid queen weights (%s): %d grids, %d pairs written",
        "incremental" if incremental else "full",
        len(ids),
        len(i),
    )


def segment_layer(engine: Engine, settings: Settings, *, force: bool = False) -> SegmentLayer:
    """Street segments and their stored node contiguity; recomputed and stored when stale."""
    current, layer = _cached_layer(engine, "segment_node", SegmentLayer, force)
    if layer is not None:
        return layer
    with engine.begin() as conn:
        segments = repo.street_segments(conn)
        stored = repo.stored_weights(conn, "segment_node")
        if force or _stale(stored, current, settings.hotspot_node_tolerance_m):
            _compute_segment_weights(conn, settings, segments, force)
        a, b = repo.load_pairs(conn, "segment_node")
    position = pd.Index(segments["id"])
    weights = _contiguity(position, a, b)
    layer = SegmentLayer(
        current,
        segments["id"],
        segments["street_id"],
        segments["length_m"],
        weights,
        position,
        segments["geometry"],
    )
    _cached(engine)["segment_node"] = layer
    return layer


def _compute_segment_weights(conn, settings: Settings, segments, force: bool) -> None:
    """Store node contiguity of the street segments (in full: segments have no versions)."""
    import geopandas as gpd

    from gis.hotspots import segment_contiguity

    repo.lock_weights(conn, "segment_node")
    current = repo.fingerprint(conn, "segment_node")
    stored = repo.stored_weights(conn, "segment_node")
    tol = settings.hotspot_node_tolerance_m
    if not force and not _stale(stored, current, tol):
        return  # another process did it while we waited for the lock
    i, j = segment_contiguity(gpd.GeoSeries(segments["geometry"], crs=4326), tol).pairs()
    ids = segments["id"]
    repo.save_weights(
        conn, "segment_node", ids[i], ids[j], fingerprint=current, units=len(ids), tolerance_m=tol
    )


def match_event_segments(engine: Engine, settings: Settings, *, force: bool = False) -> int:
    """Store the nearest segment of its street for events not matched yet; returns how many.

    Incremental: only events above the stored high-water id, unless the segments changed
    (then every event is matched anew).
    """
    from gis.hotspots import nearest_segment_of_street

    layer = segment_layer(engine, settings)

    def todo(conn) -> tuple[bool, int, int]:
        stored = repo.stored_weights(conn, "event_segment")
        last = repo.last_event_id(conn)
        replace = force or stored is None or stored["fingerprint"] != layer.fingerprint
        after = 0 if replace or stored is None else int(stored["last_event_id"] or 0)
        return replace, after, last

    with engine.connect() as conn:
        replace, after, last = todo(conn)
    if not replace and after >= last:
        return 0
    with engine.begin() as conn:
        repo.lock_weights(conn, "event_segment")
        replace, after, last = todo(conn)  # again, under the lock
        if not replace and after >= last:
            return 0
        events = repo.unmatched_events(conn, after, last)
        pos, dist = nearest_segment_of_street(
            layer.geometry, layer.street_id, events["lon"], events["lat"], events["street_id"]
        )
        ok = pos >= 0
        repo.save_event_segments(
            conn,
            events["id"][ok],
            layer.ids[pos[ok]],
            dist[ok],
            replace=replace,
            fingerprint=layer.fingerprint,
            units=len(layer.ids),
            tolerance_m=settings.street_max_distance_m,
            last_event_id=last,
        )
    return int(ok.sum())


def refresh_weights(engine: Engine, settings: Settings, *, force: bool = False) -> dict[str, int]:
    """Bring every stored weight set up to date (call after importing grids, streets, events)."""
    grids = grid_layer(engine, settings, force=force)
    segments = segment_layer(engine, settings, force=force)
    matched = match_event_segments(engine, settings, force=force)
    return {
        "grids": grids.weights.n,
        "grid_pairs": len(grids.weights.heads) // 2,
        "segments": segments.weights.n,
        "segment_pairs": len(segments.weights.heads) // 2,
        "events_matched": matched,
    }
