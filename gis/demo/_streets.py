"""Named street segments of the synthetic demo district (private helper of :mod:`gis.demo.district`).

Every lattice edge that borders at least one grid is a street segment; a whole lattice line
is one named street. East-west streets run west -> east and north-south streets run
north -> south, which fixes "left" and "right" (and odd/even house numbers) below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gis.demo._layout import CONTROL, STRICT, Layout
from gis.demo._names import DISTRICT_WORD, place_stems

_SUFFIX = {STRICT: ("大道", "Avenue"), CONTROL: ("路", "Road")}
_MINOR_SUFFIXES = (("街", "Street"), ("巷", "Lane"))


@dataclass
class Streets:
    """Street segments (sorted by street, then along it) and per-street attributes."""

    node0: np.ndarray  # (m, 2) lattice node (j, i) where the segment starts
    node1: np.ndarray  # (m, 2) lattice node where it ends
    street: np.ndarray  # (m,) street number
    left: np.ndarray  # (m,) grid on the left (north of an E-W street, east of a N-S one), -1 none
    right: np.ndarray  # (m,) grid on the right, -1 none
    p0: np.ndarray  # (m, 2) metric start point
    p1: np.ndarray  # (m, 2) metric end point
    length: np.ndarray  # (m,) metres
    offset: np.ndarray  # (m,) metres from the start of the street to the segment start
    name_zh: np.ndarray  # (s,) street names
    name_en: np.ndarray  # (s,)
    grade: np.ndarray  # (s,) STANDARD / CONTROL / STRICT

    @property
    def seg_grade(self) -> np.ndarray:
        """Grade of every segment."""
        return self.grade[self.street]


def build_streets(layout: Layout, rng: np.random.Generator) -> Streets:
    """Cut the lattice lines bordering the district into named, graded street segments."""
    ny, nx = layout.cell_index.shape
    pad = np.pad(layout.cell_index, 1, constant_values=-1)
    # East-west edge (j, i) joins nodes (j, i)-(j, i+1); the cell north of it is row j-1.
    hj, hi = np.mgrid[0 : ny + 1, 0:nx]
    # North-south edge (j, i) joins nodes (j, i)-(j+1, i); east is on the left heading south.
    vi, vj = np.mgrid[0 : nx + 1, 0:ny]
    start = np.concatenate([np.c_[hj.ravel(), hi.ravel()], np.c_[vj.ravel(), vi.ravel()]])
    step = np.repeat([[0, 1], [1, 0]], [hj.size, vj.size], axis=0)
    edges = {
        "left": np.concatenate([pad[: ny + 1, 1:-1].ravel(), pad[1:-1, 1:].T.ravel()]),
        "right": np.concatenate([pad[1:, 1:-1].ravel(), pad[1:-1, :-1].T.ravel()]),
        "node0": start,
        "node1": start + step,
        "line": np.concatenate([hj.ravel(), ny + 1 + vi.ravel()]),  # E-W lines, then N-S
    }
    keep = (edges["left"] >= 0) | (edges["right"] >= 0)
    edges = {name: values[keep] for name, values in edges.items()}

    lines, street = np.unique(edges.pop("line"), return_inverse=True)
    orient = (lines > ny).astype(np.int64)
    number = np.where(orient == 0, lines, lines - ny - 1)
    grade = np.where(orient == 0, layout.hgrade[np.minimum(number, ny)],
                     layout.vgrade[np.minimum(number, nx)])  # fmt: skip
    p0 = layout.node_xy[edges["node0"][:, 0], edges["node0"][:, 1]]
    p1 = layout.node_xy[edges["node1"][:, 0], edges["node1"][:, 1]]
    length = np.hypot(*(p1 - p0).T)
    before = np.cumsum(length) - length  # segments are sorted by street, then along it
    offset = before - before[np.searchsorted(street, np.arange(lines.size))][street]
    name_zh, name_en = _street_names(grade, orient, number, layout.centre_cell, rng)
    return Streets(street=street, p0=p0, p1=p1, length=length, offset=offset, name_zh=name_zh,
                   name_en=name_en, grade=grade, **edges)  # fmt: skip


def _street_names(
    grade: np.ndarray,
    orient: np.ndarray,
    number: np.ndarray,
    centre: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Unique Chinese names and pinyin-style English names, one per street.

    The arterial closest to the centre takes the district's own name (云溪大道), the way a
    Chinese district's main avenue usually shares its name.
    """
    offcentre = np.abs(number + 0.0 - np.where(orient == 0, centre[0], centre[1]))
    main = int(np.lexsort((orient, offcentre, -grade))[0])
    stems = iter(place_stems(grade.size - 1, rng))
    minor = rng.integers(0, len(_MINOR_SUFFIXES), grade.size)
    zh, en = [], []
    for k, g in enumerate(grade.tolist()):
        stem_zh, stem_en = DISTRICT_WORD if k == main else next(stems)
        suf_zh, suf_en = _SUFFIX.get(g, _MINOR_SUFFIXES[minor[k]])
        zh.append(stem_zh + suf_zh)
        en.append(f"{stem_en} {suf_en}")
    return np.array(zh, dtype=object), np.array(en, dtype=object)
