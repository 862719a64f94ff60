"""Street lattice, outline and area hierarchy of the synthetic demo district.

Private helper of :mod:`gis.demo.district`. Everything is decided in *lattice index space* first
(cell ``(j, i)`` is row ``j`` counted from the north and column ``i`` counted from the
west), then given metric coordinates in UTM 51N, then reprojected once per lattice node.
Because every polygon and street segment is built from the same rounded node coordinates,
shared edges are bit-identical and nothing can open a gap or a sliver later.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pyproj import Transformer

METRIC_CRS = "EPSG:32651"  # UTM zone 51N: metres, low distortion around Suzhou
GEOGRAPHIC_CRS = "EPSG:4326"
CENTRE_LONLAT = (120.60, 31.30)
STANDARD, CONTROL, STRICT = 0, 1, 2
GRADE_ZH = ("标准街", "控制街", "严管街")

# Block spacing in metres: ~90 m in the centre, ~130 m at the edge gives blocks of about
# 10,000 m2 (the "万米" unit grid of GB/T 30428.1).
_SPACING_CENTRE, _SPACING_EDGE, _SPACING_POWER = 89.0, 124.0, 1.4
_COMMUNITY_MIN, _SUBDISTRICT_MIN = 24, 150  # edge fragments smaller than this are merged


@dataclass
class Layout:
    """Lattice, selected cells and their area hierarchy, all in code order."""

    node_xy: np.ndarray  # (ny+1, nx+1, 2) node coordinates in metres (METRIC_CRS)
    node_ll: np.ndarray  # (ny+1, nx+1, 2) lon/lat rounded to 7 decimals
    cell_index: np.ndarray  # (ny, nx) row of a cell in the arrays below, -1 outside
    cell_j: np.ndarray  # (n,) lattice row of each grid, code order
    cell_i: np.ndarray  # (n,) lattice column
    cell_comm: np.ndarray  # (n,) community number (0-based, code order)
    cell_seq: np.ndarray  # (n,) 1-based sequence inside the community
    comm_sub: np.ndarray  # (n_comm,) subdistrict number (0-based, code order)
    comm_seq: np.ndarray  # (n_comm,) 1-based community code inside its subdistrict
    hgrade: np.ndarray  # (ny+1,) grade of east-west lattice line j
    vgrade: np.ndarray  # (nx+1,) grade of north-south lattice line i
    centre_cell: tuple[float, float]  # (row, column) of the district centre

    @property
    def n_subdistricts(self) -> int:
        """Number of subdistricts."""
        return int(self.comm_sub.max()) + 1

    @cached_property
    def corners(self) -> np.ndarray:
        """Metric corners of every grid as ``(n, 4, 2)``: NW, NE, SW, SE."""
        j, i = self.cell_j, self.cell_i
        xy = self.node_xy
        return np.stack([xy[j, i], xy[j, i + 1], xy[j + 1, i], xy[j + 1, i + 1]], axis=1)

    @cached_property
    def centres(self) -> np.ndarray:
        """Metric centre of every grid (the bilinear midpoint), ``(n, 2)``."""
        return self.corners.mean(axis=1)


def build_layout(n_grids: int, rng: np.random.Generator) -> Layout:
    """Choose the district outline, street grades and area hierarchy for ``n_grids`` cells."""
    sel, centre, radius = _outline(n_grids, rng)
    ny, nx = sel.shape
    hgrade, hblock, hsuper = _axis_lines(ny, rng)
    vgrade, vblock, vsuper = _axis_lines(nx, rng)
    pairs = _adjacent_pairs(sel)
    superblock = np.where(sel, hsuper[:, None] * (vsuper.max() + 1) + vsuper[None, :], -1)
    sub = _merge_small(_components(superblock), pairs, min(_SUBDISTRICT_MIN, n_grids // 4))
    block = hblock[:, None] * (vblock.max() + 1) + vblock[None, :]
    comm_key = np.where(sel, sub * block.size + block, -1)  # blocks never straddle arterials
    comm = _merge_small(_components(comm_key), pairs, _COMMUNITY_MIN, parent=sub.ravel())
    codes = _code_order(sel, sub, comm)
    node_xy = _node_coordinates(ny, nx, centre, radius, rng)
    to_ll = Transformer.from_crs(METRIC_CRS, GEOGRAPHIC_CRS, always_xy=True)
    lon, lat = to_ll.transform(node_xy[..., 0], node_xy[..., 1])
    # Rounded once, here: every later geometry reuses these exact values (see module doc).
    node_ll = np.round(np.stack([lon, lat], axis=-1), 7)
    return Layout(
        node_xy=node_xy, node_ll=node_ll, hgrade=hgrade, vgrade=vgrade, centre_cell=centre, **codes
    )


def _code_order(sel: np.ndarray, sub: np.ndarray, comm: np.ndarray) -> dict[str, np.ndarray]:
    """Number subdistricts, communities and grids; cells come back sorted by grid code.

    Subdistricts and communities (inside their subdistrict) are numbered in reading order
    of their first cell (north-most, then west-most); grids inside a community by lattice
    row from north to south, then by column from west to east.
    """
    sub_rank = _reading_rank(sub)
    comm_rank = _reading_rank(comm, major=sub_rank)
    jj, ii = np.nonzero(sel)
    order = np.lexsort((ii, jj, comm_rank[jj, ii]))
    jj, ii = jj[order], ii[order]
    cell_comm = comm_rank[jj, ii]
    cell_index = np.full(sel.shape, -1, dtype=np.int64)
    cell_index[jj, ii] = np.arange(jj.size)
    first_cell = np.searchsorted(cell_comm, np.arange(cell_comm.max() + 1))
    comm_sub = sub_rank[jj[first_cell], ii[first_cell]]
    comm_seq = np.arange(comm_sub.size) - np.searchsorted(comm_sub, comm_sub) + 1
    cell_seq = np.arange(jj.size) - first_cell[cell_comm] + 1
    if cell_seq.max() > 999 or comm_seq.max() > 999 or comm_sub.max() >= 999:
        raise ValueError("a level of the hierarchy exceeds the 3-digit code space")
    return {
        "cell_index": cell_index,
        "cell_j": jj,
        "cell_i": ii,
        "cell_comm": cell_comm,
        "cell_seq": cell_seq,
        "comm_sub": comm_sub,
        "comm_seq": comm_seq,
    }


def _outline(n_grids: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple, float]:
    """Select exactly ``n_grids`` cells inside a smooth, irregular star-shaped outline.

    A few low harmonics of the radius make the district blob-like rather than round; the
    cells with the smallest normalised radius are kept so the count is exact. Draws whose
    selection is not one 4-connected piece without holes are rejected.
    """
    if n_grids < 1:
        raise ValueError("n_grids must be positive")
    harmonics = np.array([2, 3, 5])
    # Fine wiggles only make sense once the district spans dozens of cells.
    damp = np.array([1.0, min(1.0, n_grids / 1500), min(1.0, n_grids / 6000)])
    for _ in range(100):
        amps = rng.uniform([0.10, 0.05, 0.015], [0.20, 0.09, 0.035]) * damp
        phases = rng.uniform(0, 2 * np.pi, 3)
        r0 = np.sqrt(n_grids / (np.pi * (1 + (amps**2).sum() / 2)))
        half = int(np.ceil(r0 * (1 + amps.sum()))) + 2
        centre = (half + rng.uniform(-0.5, 0.5), half + rng.uniform(-0.5, 0.5))
        jj, ii = np.mgrid[0 : 2 * half, 0 : 2 * half] + 0.5
        dx, dy = ii - centre[1], centre[0] - jj
        theta = np.arctan2(dy, dx)[..., None]
        radius = r0 * (1 + (amps * np.cos(harmonics * theta + phases)).sum(axis=-1))
        keep = np.argsort((np.hypot(dx, dy) / radius).ravel(), kind="stable")[:n_grids]
        sel = np.zeros(jj.shape, dtype=bool)
        sel.flat[keep] = True
        if _is_simple(sel):
            return sel, centre, float(r0)
    raise RuntimeError("could not draw a simple district outline")  # pragma: no cover


def _is_simple(sel: np.ndarray) -> bool:
    """True when the selected cells form one 4-connected region without holes."""
    inside = _components(np.where(sel, 0, -1))
    outside = _components(np.pad(np.where(sel, -1, 0), 1, constant_values=0))
    return np.unique(inside[sel]).size == 1 and np.unique(outside[outside >= 0]).size == 1


def _axis_lines(n_cells: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Grade every lattice line along one axis and group the cells into blocks.

    Every 6th-8th line is a secondary street (控制街) and every 2nd-3rd secondary one an
    arterial (严管街), i.e. about one line in 17. Returns the grade of each of the ``n_cells + 1``
    lines, and for every cell the community block and the subdistrict superblock it is in.
    """
    secondary = [int(rng.integers(2, 8))]
    while secondary[-1] < n_cells:
        secondary.append(secondary[-1] + int(rng.integers(6, 9)))
    arterial = [secondary[int(rng.integers(0, 2))]]
    while True:
        k = secondary.index(arterial[-1]) + int(rng.integers(2, 4))
        if k >= len(secondary):
            break
        arterial.append(secondary[k])
    grade = np.full(n_cells + 1, STANDARD)
    cells = np.arange(n_cells)
    sec, art = np.array(secondary), np.array(arterial)
    grade[sec[sec <= n_cells]] = CONTROL
    grade[art[art <= n_cells]] = STRICT
    return grade, np.searchsorted(sec, cells, "right"), np.searchsorted(art, cells, "right")


def _adjacent_pairs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices ``(a, b)`` of 4-adjacent cell pairs, both inside ``mask``."""
    idx = np.arange(mask.size).reshape(mask.shape)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    m = mask.ravel()
    keep = m[a] & m[b]
    return a[keep], b[keep]


def _components(group: np.ndarray) -> np.ndarray:
    """Label 4-connected pieces of equal, non-negative ``group`` values (-1 = outside).

    Plain numpy label propagation with pointer jumping: every cell ends up carrying the
    smallest flat index of its piece, so labels are deterministic.
    """
    g = group.ravel()
    a, b = _adjacent_pairs(group >= 0)
    same = g[a] == g[b]
    a, b = a[same], b[same]
    label = np.arange(g.size)
    while True:
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    return np.where(g >= 0, label, -1).reshape(group.shape)


def _merge_small(
    label: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray],
    min_size: int,
    parent: np.ndarray | None = None,
) -> np.ndarray:
    """Merge pieces smaller than ``min_size`` cells into the neighbour they share most edges with.

    Outline clipping leaves slivers of blocks at the district edge; real communities there
    are simply larger. With ``parent`` given, merges stay inside the same parent area.
    """
    flat = label.ravel()
    size = np.bincount(flat[flat >= 0], minlength=flat.size)
    rep = np.arange(flat.size)
    a, b = pairs
    border = flat[a] != flat[b]
    if parent is not None:
        border &= parent[a] == parent[b]
    pa, pb = flat[a][border], flat[b][border]
    for g in np.argsort(size, kind="stable"):
        if size[g] == 0 or size[g] >= min_size:
            continue
        ra, rb = _resolve(rep, pa), _resolve(rep, pb)
        touch = (ra == g) != (rb == g)
        if not touch.any():
            continue
        other = np.where(ra[touch] == g, rb[touch], ra[touch])
        candidates, shared = np.unique(other, return_counts=True)
        target = candidates[np.argmax(shared)]
        rep[g] = target
        size[target] += size[g]
        size[g] = 0
    return np.where(flat >= 0, _resolve(rep, flat), -1).reshape(label.shape)


def _resolve(rep: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Follow merge pointers until every entry names its final group."""
    while True:
        y = rep[x]
        if np.array_equal(y, x):
            return x
        x = y


def _reading_rank(label: np.ndarray, major: np.ndarray | None = None) -> np.ndarray:
    """Renumber groups 0.. in reading order of their first (north-most, west-most) cell.

    With ``major`` (the parent's rank per cell), groups are ordered by parent first, so the
    children of one parent get consecutive numbers.
    """
    flat = label.ravel()
    inside = np.flatnonzero(flat >= 0)
    groups, first = np.unique(flat[inside], return_index=True)
    key = first if major is None else major.ravel()[inside][first] * flat.size + first
    rank = np.empty(groups.size, dtype=np.int64)
    rank[np.argsort(key, kind="stable")] = np.arange(groups.size)
    out = np.full(flat.size, -1, dtype=np.int64)
    out[inside] = rank[np.searchsorted(groups, flat[inside])]
    return out.reshape(label.shape)


def _node_coordinates(
    ny: int, nx: int, centre: tuple[float, float], radius: float, rng: np.random.Generator
) -> np.ndarray:
    """Metric coordinates of the ``(ny+1, nx+1)`` lattice nodes.

    Spacing grows from the centre to the edge; long-wavelength sine warps make the lattice
    lines curve gently, and a few metres of jitter keep intersections from lining up
    perfectly. Blocks stay convex quadrilaterals, which the point placement relies on.
    """

    def axis(n: int, c: float) -> np.ndarray:
        u = np.abs((np.arange(n) + 0.5 - c) / radius)
        step = (
            _SPACING_CENTRE
            + (_SPACING_EDGE - _SPACING_CENTRE) * np.minimum(u, 1.3) ** _SPACING_POWER
        )
        step *= np.clip(rng.lognormal(0.0, 0.08, n), 0.8, 1.25)
        pos = np.concatenate([[0.0], np.cumsum(step)])
        return pos - np.interp(c, np.arange(n + 1), pos)

    xs, ys = axis(nx, centre[1]), -axis(ny, centre[0])  # row j grows southwards
    x = np.broadcast_to(xs[None, :], (ny + 1, nx + 1)).copy()
    y = np.broadcast_to(ys[:, None], (ny + 1, nx + 1)).copy()
    amp, wave, phase = rng.uniform(20, 45, 2), rng.uniform(1800, 3500, 2), rng.uniform(0, 6.3, 2)
    x += amp[0] * np.sin(2 * np.pi * y / wave[0] + phase[0])
    y += amp[1] * np.sin(2 * np.pi * x / wave[1] + phase[1])
    jitter = np.clip(rng.normal(0.0, 4.0, (ny + 1, nx + 1, 2)), -9.0, 9.0)
    to_utm = Transformer.from_crs(GEOGRAPHIC_CRS, METRIC_CRS, always_xy=True)
    x0, y0 = to_utm.transform(*CENTRE_LONLAT)
    return np.stack([x + x0, y + y0], axis=-1) + jitter


def bilinear(corners: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points at parameters ``u`` (west->east) and ``v`` (north->south) inside quad cells.

    ``corners`` is ``(n, 4, 2)`` in NW, NE, SW, SE order. For the convex blocks built here,
    any ``(u, v)`` in the unit square maps inside the block, so points land in the right grid
    by construction, no point-in-polygon test needed.
    """
    u, v = u[:, None], v[:, None]
    nw, ne, sw, se = (corners[:, k] for k in range(4))
    return (1 - u) * (1 - v) * nw + u * (1 - v) * ne + (1 - u) * v * sw + u * v * se
