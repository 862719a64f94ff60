"""Street furniture (部件) of the synthetic demo district (private helper of :mod:`gis.demo.district`).

Components are laid out the way a census finds them: at roughly regular intervals along
each street, a few metres off the centreline on the side of an existing grid, plus signals
and name signs at the corners of intersections.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.demo._layout import CONTROL, STANDARD, STRICT, Layout, bilinear
from gis.demo._streets import Streets
from gis.demo._units import CLEANING_CONTRACTORS, GREENING_CONTRACTOR

_ALL, _MAJOR = (STANDARD, CONTROL, STRICT), (CONTROL, STRICT)
# (class, street grades, spacing m, sides, offset range m). sides=2 lines both kerbs.
LINEAR_RULES: tuple[tuple[str, tuple[int, ...], float, int, tuple[float, float]], ...] = (
    ("0118", (STANDARD, CONTROL), 34.0, 1, (5.5, 8.0)),  # street lights
    ("0118", (STRICT,), 38.0, 2, (6.0, 8.0)),
    ("0305", _ALL, 72.0, 1, (4.5, 7.0)),  # litter bins
    ("0101", _ALL, 200.0, 1, (3.0, 5.0)),  # fresh-water manhole covers
    ("0102", _ALL, 160.0, 1, (3.0, 5.0)),  # sewage
    ("0103", _ALL, 130.0, 1, (3.0, 5.0)),  # storm water
    ("0104", _ALL, 150.0, 1, (3.0, 4.0)),  # storm-drain grates sit at the kerb
    ("0105", _MAJOR, 150.0, 1, (3.0, 5.0)),  # power cables follow the main roads
    ("0107", _ALL, 260.0, 1, (3.0, 5.0)),  # telecom
    ("0111", _ALL, 320.0, 1, (3.0, 5.0)),  # gas
    ("0402", (CONTROL,), 25.0, 1, (6.0, 8.0)),  # street trees
    ("0402", (STRICT,), 25.0, 2, (6.0, 8.0)),
    ("0203", (STRICT,), 420.0, 2, (5.0, 7.0)),  # bus shelters, one per direction
    ("0212", _MAJOR, 200.0, 1, (5.0, 7.5)),  # bicycle racks
    ("0212", (STANDARD,), 450.0, 1, (5.0, 7.5)),
    ("0407", _MAJOR, 240.0, 1, (6.0, 8.0)),  # benches
)
SIGNAL, NAME_SIGN = "0210", "0213"
# class -> (owner, maintainer); grid contractors may take over maintenance (see below).
OWNERS: dict[str, tuple[str, str]] = {
    "0118": ("U-SZ", "U-GD"),
    "0305": ("U-HW", "U-HW"),
    "0101": ("U-GS", "U-GS"),
    "0102": ("U-PS", "U-PS"),
    "0103": ("U-PS", "U-PS"),
    "0104": ("U-PS", "U-PS"),
    "0105": ("U-GD", "U-GD"),
    "0107": ("U-TX", "U-TX"),
    "0111": ("U-RQ", "U-RQ"),
    "0402": ("U-YL", "U-YL"),
    "0203": ("U-GJ", "U-GJ"),
    "0212": ("U-SZ", "U-SZ"),
    "0407": ("U-YL", "U-YL"),
    SIGNAL: ("U-JJ", "U-JJ"),
    NAME_SIGN: ("U-SZ", "U-SZ"),
}
_STATUS = np.array(["in_service", "damaged", "missing"], dtype=object)
_STATUS_P = (0.968, 0.025, 0.007)
_MARGIN = 9.0  # metres kept clear of intersections so offsets never cross a corner


def place_components(
    layout: Layout, streets: Streets, grid_unit: np.ndarray, rng: np.random.Generator
) -> pd.DataFrame:
    """Place all components; columns class_code, status, owner/maintainer, cell, x, y (metres).

    ``grid_unit`` is the contractor code of every grid (``""`` for none), so that bins in
    grids cleaned by a contractor are maintained by that contractor.
    """
    parts = []
    for code, grades, spacing, sides, offsets in LINEAR_RULES:
        for side in [0] if sides == 1 else [1, -1]:
            seg, t = _along_streets(streets, grades, spacing, rng)
            side_arr = rng.choice([1, -1], seg.size) if side == 0 else np.full(seg.size, side)
            cell, xy = _beside(streets, seg, t, side_arr, offsets, rng)
            part = _part(code, cell, xy)
            if code == "0402":  # arterial trees are maintained under a greening contract
                part.loc[streets.seg_grade[seg] == STRICT, "maintainer_unit_code"] = (
                    GREENING_CONTRACTOR
                )
            parts.append(part)
    parts += [_part(code, cell, xy) for code, cell, xy in _corner_items(layout, streets, rng)]
    comps = pd.concat(parts, ignore_index=True)
    cleaner = grid_unit[comps["cell"].to_numpy()]
    by_cleaner = (comps["class_code"] == "0305").to_numpy() & np.isin(cleaner, CLEANING_CONTRACTORS)
    comps.loc[by_cleaner, "maintainer_unit_code"] = cleaner[by_cleaner]
    comps.insert(1, "status", rng.choice(_STATUS, size=len(comps), p=_STATUS_P))
    return comps


def _part(code: str, cell: np.ndarray, xy: np.ndarray) -> pd.DataFrame:
    owner, maintainer = OWNERS[code]
    return pd.DataFrame({"class_code": code, "owner_unit_code": owner,
                         "maintainer_unit_code": maintainer, "cell": cell,
                         "x": xy[:, 0], "y": xy[:, 1]})  # fmt: skip


def _along_streets(
    streets: Streets, grades: tuple[int, ...], spacing: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Segments and distances from their start of items every ``spacing`` m along streets.

    The spacing runs along the whole named street (random phase per street, +-10 %
    jitter), not per segment, so long intervals such as bus stops stay regular across
    intersections; items falling inside an intersection are dropped.
    """
    n = streets.grade.size
    total = np.bincount(streets.street, weights=streets.length, minlength=n)
    phase = rng.uniform(0, spacing, n)
    fits = np.isin(streets.grade, grades) & (total > phase)
    count = np.where(fits, np.floor((total - phase) / spacing).astype(np.int64) + 1, 0)
    sid = np.repeat(np.arange(n), count)
    k = np.arange(sid.size) - np.repeat(np.cumsum(count) - count, count)
    s = phase[sid] + spacing * (k + rng.uniform(-0.1, 0.1, sid.size))
    base = np.concatenate([[0.0], np.cumsum(total)[:-1]])
    seg_start = base[streets.street] + streets.offset
    seg = np.clip(np.searchsorted(seg_start, base[sid] + s, "right") - 1, 0, None)
    t = base[sid] + s - seg_start[seg]
    ok = (streets.street[seg] == sid) & (t > _MARGIN) & (t < streets.length[seg] - _MARGIN)
    return seg[ok], t[ok]


def _beside(
    streets: Streets,
    seg: np.ndarray,
    t: np.ndarray,
    side: np.ndarray,
    offsets: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Offset points sideways from the centreline into a grid; returns (cell, xy)."""
    # On the district boundary only one side is a grid: never place anything outside.
    side = np.where(streets.left[seg] < 0, -1, np.where(streets.right[seg] < 0, 1, side))
    p0 = streets.p0[seg]
    along = (streets.p1[seg] - p0) / streets.length[seg, None]
    normal = np.c_[-along[:, 1], along[:, 0]]  # points to the left
    dist = side * rng.uniform(*offsets, seg.size)
    xy = p0 + along * t[:, None] + normal * dist[:, None]
    return np.where(side > 0, streets.left[seg], streets.right[seg]), xy


def _corner_items(layout: Layout, streets: Streets, rng: np.random.Generator) -> list[tuple]:
    """Signals (0210) and street-name signs (0213) at the corners of intersections."""
    ny, nx = layout.cell_index.shape
    nodes = np.concatenate([streets.node0, streets.node1])
    degree = np.bincount(nodes[:, 0] * (nx + 1) + nodes[:, 1], minlength=(ny + 1) * (nx + 1))
    jj, ii = np.divmod(np.flatnonzero(degree >= 3), nx + 1)
    pad = np.pad(layout.cell_index, 1, constant_values=-1)
    # Quadrant cells NW, NE, SW, SE of the node, and which corner of that cell the node is.
    quads = np.stack([pad[jj, ii], pad[jj, ii + 1], pad[jj + 1, ii], pad[jj + 1, ii + 1]], 1)
    corner_u, corner_v = np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0])
    low = np.minimum(layout.hgrade[jj], layout.vgrade[ii])
    high = np.maximum(layout.hgrade[jj], layout.vgrade[ii])
    signals = np.where(
        low >= CONTROL, 4, np.where((high == STRICT) & (rng.random(jj.size) < 0.3), 2, 0)
    )
    signs = np.where(high >= CONTROL, 2, 1)
    out = []
    for code, wanted in ((SIGNAL, signals), (NAME_SIGN, signs)):
        keys = np.where(quads >= 0, rng.random(quads.shape), 2.0)  # missing quadrants last
        rank = np.argsort(np.argsort(keys, axis=1), axis=1)
        node, quad = np.nonzero((rank < wanted[:, None]) & (quads >= 0))
        cell = quads[node, quad]
        corners = layout.corners[cell]
        width = np.hypot(*(corners[:, 1] - corners[:, 0]).T)
        height = np.hypot(*(corners[:, 2] - corners[:, 0]).T)
        du, dv = rng.uniform(4.0, 7.0, (2, cell.size))
        u = np.abs(corner_u[quad] - du / width)
        v = np.abs(corner_v[quad] - dv / height)
        out.append((code, cell, bilinear(corners, u, v)))
    return out
