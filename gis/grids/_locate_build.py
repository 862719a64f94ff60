"""Classification of lattice cells for :class:`gis.grids.locate.GridIndex` (private helper).

Every cell ends up as one of:

* an answer ``>= 0`` (grid position) or ``-1`` (no grid): no boundary segment meets the
  closed cell, so every point in it has the same answer;
* a *side entry* ``-3 - e``: exactly one distinct segment meets the cell, so the cell is cut
  into two open halves of constant answer; entry ``e`` stores the segment and both answers
  and a point is decided by the certified orientation test (exact test only on the line);
* ``-2`` (COMPLEX): several segments meet it (vertices), decided by the exact test.

Coarse COMPLEX cells are refined into ``k x k`` fine cells classified the same way.

Answers are never guessed. The regions of constant answer (runs of zero-segment cells, the
two halves of chains of single-segment cells, on both levels) are nodes of a graph; two
regions are linked when a cell corner lies, certifiably, strictly inside both, because then
both have the answer of that point. Each connected component then needs one exact GEOS query
at a representative point: about one per grid instead of one per region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gis.grids._locate_geom import Lattice, orient_sign, rasterize

NONE, COMPLEX = -1, -2
ZERO, SINGLE, MULTI = 0, 1, 2  # cell kinds: segments that may meet the cell
OUTSIDE = 0  # graph node of the region beyond the raster, which no grid reaches
_OUT, _SKIP = -1, -2  # neighbour "levels" beyond the raster / left to the other level
# Corners of cell (c, r) are numbered 0 = (c, r), 1 = (c+1, r), 2 = (c, r+1), 3 = (c+1, r+1).
# (dc, dr, corners of the shared edge, the same corners numbered in the neighbour).
_DIRECTIONS = (
    (1, 0, (1, 3), (0, 2)),
    (0, 1, (2, 3), (0, 1)),
    (-1, 0, (0, 2), (1, 3)),
    (0, -1, (0, 1), (2, 3)),
)
_CHUNK = 1 << 20  # cells per pass in _links: bounds the build's temporaries

Exact = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Tables:
    """What :meth:`gis.grids.locate.GridIndex.locate` reads (values as in the module docstring)."""

    coarse: np.ndarray  # (rows, cols) int32; blocks are -3 - n_entries - block
    blocks: np.ndarray  # (n_blocks, k, k) int32 values of refined cells
    entry_seg: np.ndarray  # (n_entries,) segment of each side entry
    entry_answer: np.ndarray  # (n_entries, 2) int32 answers left and right of the segment
    queries: int  # exact GEOS queries the build needed


def _empty() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


@dataclass
class Level:
    """One level of cells: ``n`` slots stored as rows of ``width`` consecutive slots.

    ``col``/``row`` map slots to global cell coordinates on the edges ``xe``/``ye``;
    ``where`` maps global positions to ``(level, slot)`` (``_OUT``/``_SKIP`` as level).
    The remaining fields are filled by :func:`classify`.
    """

    n: int
    width: int
    col: Callable[[np.ndarray], np.ndarray]
    row: Callable[[np.ndarray], np.ndarray]
    xe: np.ndarray
    ye: np.ndarray
    where: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    kind: np.ndarray = field(default_factory=_empty)  # ZERO / SINGLE / MULTI per slot
    seg: np.ndarray = field(default_factory=_empty)  # segment of SINGLE cells
    signs: np.ndarray = field(default_factory=_empty)  # (n, 4) corner sides, SINGLE cells
    chain: np.ndarray = field(default_factory=_empty)  # chain of SINGLE cells
    chain_first: np.ndarray = field(default_factory=_empty)  # first slot of each chain
    run: np.ndarray = field(default_factory=_empty)  # run of ZERO cells
    run_first: np.ndarray = field(default_factory=_empty)
    run_last: np.ndarray = field(default_factory=_empty)
    node0: int = 0  # graph node of run 0; chain c's halves follow the runs
    base: np.ndarray = field(default_factory=_empty)  # node of a ZERO cell / left half

    def set_nodes(self, node0: int) -> None:
        """Number this level's graph nodes from ``node0``: runs, then chain halves."""
        self.node0 = node0
        self.base = np.full(self.n, -1, dtype=np.int32)  # int32: halves the build's memory
        zero = self.kind == ZERO
        self.base[zero] = node0 + self.run[zero]
        one = self.kind == SINGLE
        self.base[one] = node0 + self.run_first.size + 2 * self.chain[one]

    @property
    def n_nodes(self) -> int:
        """Graph nodes of this level: one per run, two per chain."""
        return self.run_first.size + 2 * self.chain_first.size


def build_tables(seg: np.ndarray, lat: Lattice, exact: Exact) -> Tables:
    """Coarse cells, refined blocks and side entries for segments ``seg`` on ``lat``."""
    coarse, item, slot = _coarse_level(seg, lat)
    classify(coarse, slot, item, seg)
    fine, blocks, fitem, fslot = _fine_level(seg, lat, coarse, item, slot)
    classify(fine, fslot, fitem, seg)
    levels = (coarse, fine)
    coarse.set_nodes(OUTSIDE + 1)
    fine.set_nodes(coarse.node0 + coarse.n_nodes)
    n_nodes = fine.node0 + fine.n_nodes
    u, v = zip(*(_links(levels, i, seg) for i in range(2)), strict=True)
    label = _components(n_nodes, np.concatenate(u), np.concatenate(v))
    answer, queries = _answers(levels, label, exact)
    written = [_write(level, answer) for level in levels]
    return _finalise(written, blocks, coarse.width, lat.k, queries)


def _coarse_level(seg: np.ndarray, lat: Lattice) -> tuple[Level, np.ndarray, np.ndarray]:
    k = lat.k
    ncx, ncy = lat.nx // k, lat.ny // k
    xe, ye = lat.xedges()[::k], lat.yedges()[::k]  # every k-th fine edge, same doubles

    def where(gx, gy):
        inside = (gx >= 0) & (gx < ncx) & (gy >= 0) & (gy < ncy)
        slot = np.where(inside, gy * ncx + gx, 0)
        # Refined neighbours are linked from their fine cells' side instead.
        lid = np.where(inside, np.where(level.kind[slot] == MULTI, _SKIP, 0), _OUT)
        return lid, slot

    level = Level(ncx * ncy, ncx, lambda s: s % ncx, lambda s: s // ncx, xe, ye, where)
    zero = np.zeros(len(seg), dtype=np.int64)
    tol = _tolerance(lat)
    item, col, row = rasterize(seg, zero, zero + ncx - 1, zero, zero + ncy - 1, xe, ye, tol)
    return level, item, row * ncx + col


def _fine_level(seg: np.ndarray, lat: Lattice, coarse: Level, item, slot):
    """Refine every MULTI coarse cell into a block of ``k x k`` fine cells."""
    k, shift = lat.k, lat.shift
    k2, mask, ncx = k * k, k - 1, coarse.width
    blocks = np.flatnonzero(coarse.kind == MULTI)
    bcol, brow = blocks % ncx, blocks // ncx
    block_of = np.full(coarse.n, -1, dtype=np.int64)
    block_of[blocks] = np.arange(blocks.size)

    def where(gx, gy):
        flat = (gy >> shift) * ncx + (gx >> shift)
        b = block_of[flat]
        sub = np.where(b >= 0, b, 0) * k2 + (gy & mask) * k + (gx & mask)
        return np.where(b >= 0, 1, 0), np.where(b >= 0, sub, flat)

    level = Level(
        blocks.size * k2,
        k,
        lambda s: bcol[s // k2] * k + (s & mask),
        lambda s: brow[s // k2] * k + ((s // k) & mask),
        lat.xedges(),
        lat.yedges(),
        where,
    )
    pick = np.flatnonzero(block_of[slot] >= 0)
    pb = block_of[slot[pick]]
    lo_c, lo_r = bcol[pb] * k, brow[pb] * k
    fitem, fcol, frow = rasterize(
        seg[item[pick]], lo_c, lo_c + mask, lo_r, lo_r + mask, level.xe, level.ye, _tolerance(lat)
    )
    fslot = pb[fitem] * k2 + (frow & mask) * k + (fcol & mask)
    return level, blocks, item[pick][fitem], fslot


def _tolerance(lat: Lattice) -> float:
    # Widens rasterised y-intervals far beyond interpolation rounding (~1e-14 degrees).
    return 1e-6 * lat.dy + 1e-13


def classify(level: Level, slot: np.ndarray, segid: np.ndarray, seg: np.ndarray) -> None:
    """Kinds, chains and runs of a level from the (slot, segment) pairs that may meet."""
    count = np.bincount(slot, minlength=level.n)
    kind = np.where(count >= 2, MULTI, ZERO).astype(np.int8)
    one = count[slot] == 1
    s_slot, s_seg = slot[one], segid[one]
    c, r = level.col(s_slot), level.row(s_slot)
    signs = _corner_signs(seg[s_seg], c, r, level.xe, level.ye)
    # A cell the line only grazes has no certified point on one side: leave it to GEOS.
    two = (signs == 1).any(axis=1) & (signs == -1).any(axis=1)
    kind[s_slot[~two]] = MULTI
    s_slot, s_seg, c, r, signs = s_slot[two], s_seg[two], c[two], r[two], signs[two]
    order, chain, first = _chains(s_seg, c, r, signs, seg)
    s_slot = s_slot[order]
    kind[s_slot] = SINGLE
    level.kind = kind
    level.seg = np.full(level.n, -1, dtype=np.int32)
    level.seg[s_slot] = s_seg[order]
    level.signs = np.zeros((level.n, 4), dtype=np.int8)
    level.signs[s_slot] = signs[order]
    level.chain = np.full(level.n, -1, dtype=np.int32)
    level.chain[s_slot] = chain
    level.chain_first = s_slot[first]
    level.run, level.run_first, level.run_last = _runs(kind == ZERO, level.width)


def _corner_signs(s: np.ndarray, c, r, xe, ye) -> np.ndarray:
    """Certified sides ``(m, 4)`` of the four corners of cells ``(c, r)`` w.r.t. their segment."""
    out = np.empty((len(c), 4), dtype=np.int8)
    for k in range(4):
        px, py = xe[c + (k & 1)], ye[r + (k >> 1)]
        out[:, k] = orient_sign(s[:, 0], s[:, 1], s[:, 2], s[:, 3], px, py)
    return out


def _chains(s_seg, c, r, signs, seg):
    """Group single-segment cells into chains along their segment.

    Consecutive cells of one segment whose shared edge has a certified corner on each side
    share a point strictly left and one strictly right of the line, so each half has one
    answer along the whole chain: chains are what keeps the graph small.
    Returns the sort order, the chain of every (sorted) cell and the first cell of each chain.
    """
    s = seg[s_seg]
    rising = (s[:, 3] - s[:, 1]) * (s[:, 2] - s[:, 0]) >= 0
    order = np.lexsort((np.where(rising, r, -r), c, s_seg))
    s_seg, c, r, signs = s_seg[order], c[order], r[order], signs[order]
    dc, dr = np.diff(c), np.diff(r)
    a = np.select([dc == 1, dc == -1, dr == 1], [1, 0, 2], 0)
    b = np.select([dc == 1, dc == -1, dr == 1], [3, 2, 3], 1)
    idx = np.arange(dc.size)
    link = (
        (s_seg[1:] == s_seg[:-1])
        & (np.abs(dc) + np.abs(dr) == 1)
        & (signs[idx, a].astype(np.int16) * signs[idx, b] == -1)
    )
    brk = np.ones(s_seg.size, dtype=bool)
    brk[1:] = ~link
    return order, np.cumsum(brk) - 1, np.flatnonzero(brk)


def _runs(zero: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run id of every ZERO slot (rows of ``width``), first and last slot of each run."""
    pad = np.zeros((zero.size // width, width + 2), dtype=np.int8)
    pad[:, 1:-1] = zero.reshape(-1, width)
    d = np.diff(pad, axis=1)
    q, start = np.nonzero(d == 1)
    length = np.nonzero(d == -1)[1] - start  # ends come in the same row-major order
    first = q * width + start
    run = np.full(zero.size, -1, dtype=np.int32)
    owner = np.repeat(np.arange(first.size), length)
    run[first[owner] + np.arange(owner.size) - (np.cumsum(length) - length)[owner]] = owner
    return run, first, first + length - 1


def _links(levels: tuple[Level, ...], i: int, seg: np.ndarray):
    """Pairs of graph nodes proven to share an answer, from level ``i``'s cells.

    Each unordered pair of neighbours is visited once (right and up); fine cells also look
    left and down when the neighbour is an unrefined coarse cell, which never looks back.
    Cells go in chunks so temporaries stay small on large rasters.
    """
    level = levels[i]
    # A run's inner cells add nothing: its ends meet the neighbouring halves, and rows of
    # runs connect through those halves. A missing link only costs one more query.
    pick = level.kind == SINGLE
    pick[level.run_first] = True
    pick[level.run_last] = True
    cells = np.flatnonzero(pick)
    us, vs = [], []
    for lo in range(0, cells.size, _CHUNK):
        x = cells[lo : lo + _CHUNK]
        for direction in _DIRECTIONS:
            if i == 0 and direction[0] + direction[1] < 0:
                continue
            u, v = _direction_links(levels, i, x, direction, seg)
            us.append(u)
            vs.append(v)
    return np.concatenate(us), np.concatenate(vs)


def _direction_links(levels, i, x, direction, seg):
    """Links between cells ``x`` of level ``i`` and their neighbours in one direction."""
    dc, dr, corners, their = direction
    level = levels[i]
    gx, gy = level.col(x), level.row(x)
    lid, y = level.where(gx + dc, gy + dr)
    keep = lid != _SKIP if dc + dr > 0 else lid == 0
    x, gx, gy, lid, y = x[keep], gx[keep], gy[keep], lid[keep], y[keep]
    us, vs = [], []
    for corner, theirs in zip(corners, their, strict=True):
        us.append(_node(level, x, level.signs[x, corner]))
        v = np.where(lid == _OUT, OUTSIDE, -1).astype(np.int32)
        same = np.flatnonzero(lid == i)
        v[same] = _node(level, y[same], level.signs[y[same], theirs])
        if i == 1:  # a fine cell's unrefined coarse neighbour: p is not one of its corners
            up = np.flatnonzero(lid == 0)
            coarse, cy = levels[0], y[up]
            g = seg[np.maximum(coarse.seg[cy], 0)]
            px = level.xe[gx[up] + (corner & 1)]
            py = level.ye[gy[up] + (corner >> 1)]
            v[up] = _node(coarse, cy, orient_sign(g[:, 0], g[:, 1], g[:, 2], g[:, 3], px, py))
        vs.append(v)
    u = np.stack(us, axis=1).ravel()
    v = np.stack(vs, axis=1).ravel()
    ok = (u >= 0) & (v >= 0) & (u != v)
    ok[1:] &= (u[1:] != u[:-1]) | (v[1:] != v[:-1])  # runs repeat their neighbour pairs
    return u[ok], v[ok]


def _node(level: Level, slot: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Graph node of the region of ``slot`` holding a point on side ``sign``, else -1.

    A ZERO cell is one region; a SINGLE cell's half follows the certified side of the
    point; MULTI cells and uncertain sides give -1.
    """
    kind = level.kind[slot]
    node = level.base[slot] + ((kind == SINGLE) & (sign < 0))
    return np.where((kind == ZERO) | ((kind == SINGLE) & (sign != 0)), node, -1)


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smallest node id of the connected component of every node (hook and compress)."""
    label = np.arange(n, dtype=np.int32)
    while True:
        lu, lv = label[u], label[v]
        differ = lu != lv
        if not differ.any():
            return label
        low = np.minimum(lu[differ], lv[differ])
        np.minimum.at(label, lu[differ], low)
        np.minimum.at(label, lv[differ], low)
        while True:  # pointer jumping: every node points straight at its root
            up = label[label]
            if np.array_equal(up, label):
                break
            label = up


def _answers(levels: tuple[Level, ...], label: np.ndarray, exact: Exact):
    """Answer of every node: one exact query per component (none for the outside one)."""
    px = np.zeros(label.size)
    py = np.zeros(label.size)
    for level in levels:
        first = level.run_first
        nodes = level.node0 + np.arange(first.size)
        px[nodes], py[nodes] = level.xe[level.col(first)], level.ye[level.row(first)]
        cell = np.repeat(level.chain_first, 2)
        sign = np.tile([1, -1], level.chain_first.size)
        corner = np.argmax(level.signs[cell] == sign[:, None], axis=1)
        nodes = level.node0 + first.size + np.arange(cell.size)
        px[nodes] = level.xe[level.col(cell) + (corner & 1)]
        py[nodes] = level.ye[level.row(cell) + (corner >> 1)]
    roots = np.flatnonzero(label == np.arange(label.size))
    roots = roots[roots != label[OUTSIDE]]
    answer = np.full(label.size, NONE, dtype=np.int64)
    answer[roots] = exact(px[roots], py[roots])
    return answer[label], roots.size


def _write(level: Level, answer: np.ndarray):
    """Values of a level's cells (entry ids local to the level) and its side entries."""
    values = np.full(level.n, COMPLEX, dtype=np.int64)
    zero = np.flatnonzero(level.kind == ZERO)
    values[zero] = answer[level.node0 + level.run[zero]]
    one = np.flatnonzero(level.kind == SINGLE)
    values[one] = -3 - level.chain[one]
    halves = level.node0 + level.run_first.size + np.arange(2 * level.chain_first.size)
    return values, (level.seg[level.chain_first], answer[halves[0::2]], answer[halves[1::2]])


def _finalise(written, blocks: np.ndarray, width: int, k: int, queries: int) -> Tables:
    """Deduplicate side entries and encode blocks: the compact int32 tables locate() reads."""
    (cval, (c_seg, c_left, c_right)), (fval, (f_seg, f_left, f_right)) = written
    fval = np.where(fval <= -3, fval - c_seg.size, fval)  # fine entries follow the coarse
    e_seg, e_left, e_right = (
        np.concatenate(p) for p in ((c_seg, f_seg), (c_left, f_left), (c_right, f_right))
    )
    # np.unique(axis=0) sorts a void view, ~10x slower than a lexsort of the columns.
    order = np.lexsort((e_right, e_left, e_seg))
    keys = np.stack([e_seg, e_left, e_right], axis=1).astype(np.int64)[order]
    new = np.ones(len(keys), dtype=bool)
    new[1:] = np.any(keys[1:] != keys[:-1], axis=1)
    uniq = keys[new]
    lut = np.empty(len(keys), dtype=np.int64)
    lut[order] = np.cumsum(new) - 1
    for v in (cval, fval):
        side = v <= -3
        v[side] = -3 - lut[-3 - v[side]]
    cval[blocks] = -3 - len(uniq) - np.arange(blocks.size)
    return Tables(
        coarse=cval.astype(np.int32).reshape(-1, width),
        blocks=fval.astype(np.int32).reshape(-1, k, k),
        entry_seg=uniq[:, 0],
        entry_answer=uniq[:, 1:].astype(np.int32),
        queries=queries,
    )
