"""Unit grids generated from communities and street centerlines.

Each community is partitioned on its own, so no grid ever crosses a community boundary:

1. **blocks**: the street centerlines and the community boundary, polygonized (streets
   running within ``snap_m`` of the boundary are taken as the boundary itself);
2. **split**: a block larger than ``max_share`` × target is cut across its long axis into
   ``round(area / target)`` pieces of equal area (recursive bisection);
3. **merge**: pieces smaller than ``min_share`` × target, and thin strips, join the
   neighbour they share most boundary with, never beyond the community;
4. **codes**: community code + 3-digit sequence in reading order (rows north → south,
   west → east inside a row), per GB/T 30428.1.

Work is done in a metric CRS (the communities' own when projected, else their UTM zone or
``metric_crs``) and the grids come back in the communities' CRS.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import LineString, box
>>> comm = gpd.GeoDataFrame({"code": ["320599001001"]}, geometry=[box(0, 0, 400, 200)],
...                         crs="EPSG:32651")
>>> streets = gpd.GeoSeries([LineString([(200, -10), (200, 210)])], crs="EPSG:32651")
>>> grids = generate_grids(comm, streets, target_area_m2=10_000)
>>> grids["code"].tolist()[:3], len(grids)
(['320599001001001', '320599001001002', '320599001001003'], 8)
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.grids._blocks import street_blocks
from gis.grids._merge import merge_small
from gis.grids._split import split_block
from gis.grids.edits import reading_order

__all__ = ["generate_grids"]

# Precision of the final noding (metres): far below survey accuracy, far above float noise.
NODE_GRID_M = 1e-6


def generate_grids(
    communities: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    target_area_m2: float = 10_000.0,
    min_share: float = 0.5,
    max_share: float = 1.6,
    snap_m: float = 8.0,
    min_width_m: float = 6.0,
    metric_crs=None,
    progress: Callable | bool = False,
) -> gpd.GeoDataFrame:
    """Grids partitioning every community, with boundaries along its streets.

    Parameters
    ----------
    communities : GeoDataFrame
        ``code`` (12 digits: county 6 + sub-district 3 + community 3) and polygons.
    streets : GeoDataFrame or GeoSeries
        Street centerlines (any line geometry), in the communities' CRS.
    target_area_m2 : float
        The grid size aimed at (the standard's 万米: 10,000 m²).
    min_share, max_share : float
        Pieces under ``min_share`` × target are merged into a neighbour; blocks over
        ``max_share`` × target are split.
    snap_m : float
        Street pieces closer than this to a community boundary count as the boundary.
    min_width_m : float
        Pieces thinner than this on average (2·area / perimeter) are merged whatever their area.
    metric_crs : optional
        CRS to measure in; default the communities' CRS if projected, else their UTM zone.
    progress : bool or callable
        True for a tqdm bar over communities, or a callable ``(done, total)``.

    Returns
    -------
    GeoDataFrame
        ``code``, ``community_code``, ``area_m2`` and polygons, in the communities' CRS,
        ordered by code.
    """
    if communities.crs is None or streets.crs != communities.crs:
        raise ValueError(
            f"CRS mismatch or missing: communities {communities.crs}, streets {streets.crs}"
        )
    bad = ~communities["code"].astype(str).str.fullmatch(r"\d{12}")
    if bad.any():
        raise ValueError(
            f"community codes must be 12 digits: {communities['code'][bad].tolist()[:5]}"
        )
    metric = metric_crs or (
        communities.estimate_utm_crs() if communities.crs.is_geographic else communities.crs
    )
    comms = communities.to_crs(metric)
    lines = np.asarray(
        streets.to_crs(metric).geometry.values
        if isinstance(streets, gpd.GeoDataFrame)
        else streets.to_crs(metric).values,
        dtype=object,
    )
    lines = shapely.get_parts(lines[~shapely.is_empty(lines)])
    tree = shapely.STRtree(lines)
    frames = []
    step = _Progress(progress, len(comms))
    for code, shape in zip(comms["code"].astype(str), comms.geometry, strict=True):
        shape = shapely.make_valid(shape) if not shape.is_valid else shape
        near = lines[tree.query(shape, predicate="intersects")]
        polygons = _partition(
            shape, near, target_area_m2, min_share, max_share, snap_m, min_width_m
        )
        order = reading_order(gpd.GeoSeries(polygons, crs=metric), target_area_m2**0.5)
        if len(order) > 999:
            raise ValueError(
                f"community {code} needs {len(order)} grids: more than the 999 "
                "a 3-digit sequence allows; raise the target area"
            )
        frames.append(
            gpd.GeoDataFrame(
                {
                    "code": [f"{code}{n:03d}" for n in range(1, len(order) + 1)],
                    "community_code": code,
                    "area_m2": shapely.area(polygons[order]),
                },
                geometry=polygons[order],
                crs=metric,
            )
        )
        step()
    step.close()
    out = (
        pd.concat(frames, ignore_index=True)
        if frames
        else gpd.GeoDataFrame(
            {"code": [], "community_code": [], "area_m2": []}, geometry=[], crs=metric
        )
    )
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=metric).to_crs(communities.crs)
    return out.sort_values("code", ignore_index=True)


def _partition(
    shape,
    streets: np.ndarray,
    target: float,
    min_share: float,
    max_share: float,
    snap_m: float,
    min_width_m: float,
) -> np.ndarray:
    """The grids of one community (metric polygons, unordered)."""
    parts = []
    for block in street_blocks(shape, streets, snap_m):
        k = round(block.area / target) if block.area > max_share * target else 1
        parts += split_block(block, max(k, 1))
    pieces = _node(np.asarray(parts, dtype=object))
    groups = merge_small(pieces, min_share * target, max_share * target, min_width_m)
    out = np.empty(len(groups), dtype=object)
    for n, members in enumerate(groups):
        out[n] = pieces[members[0]] if len(members) == 1 else _dissolve(pieces[members])
    return out


def _node(pieces: np.ndarray) -> np.ndarray:
    """The pieces re-cut from their noded boundaries, so neighbours share every vertex.

    A cut ends on a neighbour's edge where the neighbour has no vertex (a T-junction), and
    only within floating-point error of that edge. Unions and reprojection then leave
    zero-width spikes (invalid rings) and micro-slivers. Snap-rounding the boundaries to a
    micrometre merges the near-coincident edges and puts the cut vertex into both pieces.
    """
    lines = shapely.union_all(shapely.boundary(pieces), grid_size=NODE_GRID_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    faces = faces[shapely.area(faces) > 0]
    # each face lies inside one piece (the one holding its point on surface); a face whose
    # point falls on a boundary after rounding goes to the nearest piece
    tree = shapely.STRtree(pieces)
    points = shapely.point_on_surface(faces)
    face, owner = tree.query(points, predicate="within")
    first = dict(zip(face.tolist()[::-1], owner.tolist()[::-1], strict=True))
    lost = np.setdiff1d(np.arange(len(faces)), face)
    if len(lost):
        near_face, near_piece = tree.query_nearest(points[lost])
        first.update(zip(lost[near_face].tolist(), near_piece.tolist(), strict=True))
    by_piece: dict[int, list] = {}
    for f, p in sorted(first.items()):
        by_piece.setdefault(p, []).append(faces[f])
    out = []
    for found in by_piece.values():
        # a piece pinched to a point falls apart into faces that stay separate pieces
        merged = found[0] if len(found) == 1 else shapely.coverage_union_all(found)
        out += list(shapely.get_parts(merged))
    return np.asarray(out, dtype=object)


def _dissolve(parts: np.ndarray):
    """Union of pieces sharing edges; crumbs of floating-point noise are dropped."""
    merged = shapely.coverage_union_all(parts)
    polys = [p for p in shapely.get_parts(merged) if p.geom_type == "Polygon"]
    if len(polys) == 1:
        return polys[0]
    biggest = max(p.area for p in polys)
    polys = [p for p in polys if p.area > 1e-6 * biggest]
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


class _Progress:
    """A tqdm bar (imported only when asked for), a callback, or nothing."""

    def __init__(self, progress, total: int) -> None:
        self.bar, self.callback, self.done, self.total = None, None, 0, total
        if progress is True:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="grids", unit="community")
        elif callable(progress):
            self.callback = progress

    def __call__(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update()
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
