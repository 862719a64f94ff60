"""Reported cases (事件, 部件 problems) of the demo district (helper of :mod:`gis.demo.district`).

Where: a per-grid background rate (heterogeneous, higher in the centre and along main
roads) plus Gaussian hotspots around invented places (a market, a night market, a building
site, a metro station, a school...), each with its own class mix and hours. Points sit a few
metres into the block from one of its streets, so most lie within 30 m of a centreline.
Component problems are reported at an existing component of their class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gis.demo import _time as tm
from gis.demo import catalog as cat
from gis.demo._layout import Layout, bilinear
from gis.demo._names import place_stems
from gis.demo._streets import Streets

# Per cell edge (N, S, W, E): is the cell on the left of the street's direction (odd house
# numbers)? At the edge's start / end corner: which edge crosses there, and in which corner
# of that intersection the cell lies.
_EDGE_LEFT = np.array([False, True, True, False])
_CROSSING = np.array([[2, 3], [2, 3], [0, 1], [0, 1]])
_QUADRANT = np.array(
    [["东南", "西南"], ["东北", "西北"], ["东南", "东北"], ["西南", "西北"]], dtype=object
)


@dataclass
class Hotspot:
    """A synthetic place that attracts reports."""

    name: str
    kind: str
    xy: np.ndarray
    sigma: float
    weight: float
    window: int  # row of the day-window matrix


def make_hotspots(layout: Layout, rng: np.random.Generator) -> tuple[list[Hotspot], np.ndarray]:
    """6-12 hotspots for a default district (one per ~250 grids beyond), with day windows."""
    n_cells = layout.cell_j.size
    count = max(6, round(n_cells / 250))
    kinds = list(cat.CORE_HOTSPOTS) + list(rng.choice(list(cat.HOTSPOT_KINDS), count))
    centres = layout.centres
    # Hotspots sit at least two blocks inside the district, so their clusters are whole.
    inner = np.pad(layout.cell_index >= 0, 2)
    j, i = layout.cell_j + 2, layout.cell_i + 2
    deep = np.all([inner[j + dj, i + di] for dj in range(-2, 3) for di in range(-2, 3)], axis=0)
    candidates = np.flatnonzero(deep) if deep.any() else np.arange(n_cells)
    windows = [np.ones(tm.N_DAYS, dtype=bool), tm.school_term()]
    spots: list[Hotspot] = []
    stems = place_stems(count, rng)
    min_gap = 600.0
    for k in range(count):
        for _ in range(50):  # keep hotspots apart; relax the gap if the district is crowded
            xy = centres[candidates[rng.integers(candidates.size)]]
            if all(np.hypot(*(xy - s.xy)) >= min_gap for s in spots):
                break
            min_gap *= 0.97
        kind = kinds[k]
        spec = cat.HOTSPOT_KINDS[kind]
        window = 0
        if kind == "school":
            window = 1
        elif kind == "construction":  # building sites are active for a few months only
            windows.append(tm.active_window(int(rng.integers(0, 240)), int(rng.integers(120, 300))))
            window = len(windows) - 1
        sigma, weight = float(rng.uniform(*spec["sigma"])), float(rng.uniform(0.5, 1.5))
        spots.append(Hotspot(stems[k][0] + spec["zh"], str(kind), xy, sigma, weight, window))
    return spots, np.array(windows)


def make_events(
    layout: Layout,
    streets: Streets,
    components: pd.DataFrame,
    supervisor: np.ndarray,
    n_events: int,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, list[Hotspot]]:
    """Generate ``n_events`` reports; returns a frame with metric ``x``/``y`` and the hotspots."""
    spots, windows = make_hotspots(layout, rng)
    n_comp = round(n_events * cat.COMPONENT_SHARE)
    n_spot = round((n_events - n_comp) * cat.HOTSPOT_SHARE)
    parts = [
        _background(layout, n_events - n_comp - n_spot, rng),
        _clustered(layout, spots, n_spot, rng),
        _component_problems(components, n_comp, rng),
    ]
    ev = pd.concat(parts, ignore_index=True)
    n = len(ev)
    source = rng.choice(len(cat.SOURCES), n, p=cat.SOURCE_P)
    night = (
        ev["class_code"].isin(sorted(cat.NIGHT_CLASSES)).to_numpy()
        & (ev["class_kind"] == "event").to_numpy()
    )
    night |= ev["hour_kind"].to_numpy() == tm.HOUR_KIND_NAMES.index("night")
    source[night] = rng.choice(len(cat.SOURCES), int(night.sum()), p=cat.NIGHT_SOURCE_P)
    ev.loc[night, "hour_kind"] = tm.HOUR_KIND_NAMES.index("night")
    season_of = {c: tm.SEASON_NAMES.index(g) for c, g in cat.SEASON_OF_CLASS.items()}
    season = ev["class_code"].map(season_of).fillna(0).to_numpy(dtype=np.int64)
    season = np.where(ev["class_kind"].to_numpy() == "event", season, 0)
    season = np.where(ev["season"].to_numpy() > 0, ev["season"].to_numpy(), season)
    when = tm.sample_times(
        source, season, ev["window"].to_numpy(), ev["hour_kind"].to_numpy(), windows, rng
    )
    ev["observed_at"] = pd.DatetimeIndex(when).tz_localize("Asia/Shanghai")
    ev["source"] = np.array(cat.SOURCES, dtype=object)[source]
    ev["description"] = _descriptions(ev, rng)
    ev["location_text"] = _location_text(layout, streets, ev, spots, rng)
    ev["reporter"] = _reporters(source, supervisor[ev["cell"].to_numpy()], rng)
    ev = ev.iloc[np.lexsort((np.arange(n), when))].reset_index(drop=True)
    return ev, spots


def _frame(kind: str, codes: np.ndarray, cell: np.ndarray, xy: np.ndarray, **extra) -> pd.DataFrame:
    n = cell.size
    base = {
        "class_kind": np.full(n, kind, dtype=object),
        "class_code": codes,
        "cell": cell,
        "x": xy[:, 0],
        "y": xy[:, 1],
        "hour_kind": np.zeros(n, dtype=np.int64),
        "season": np.zeros(n, dtype=np.int64),
        "window": np.zeros(n, dtype=np.int64),
        "spot": np.full(n, -1),
    }
    base.update(extra)
    return pd.DataFrame(base)


def _pick(weights: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    codes = np.array(list(weights), dtype=object)
    p = np.array(list(weights.values()), dtype=float)
    return codes[rng.choice(codes.size, n, p=p / p.sum())]


def _background(layout: Layout, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Background reports: a heterogeneous per-grid rate, busier centre and main roads."""
    j, i = layout.cell_j, layout.cell_i
    r = np.hypot(j - layout.centre_cell[0], i - layout.centre_cell[1])
    centrality = 1.6 - 0.9 * np.minimum(r / r.max(), 1.0)
    frontage = 1 + 0.25 * (
        layout.hgrade[j] + layout.hgrade[j + 1] + layout.vgrade[i] + layout.vgrade[i + 1]
    )
    rate = rng.gamma(2.0, 0.5, j.size) * centrality * frontage
    cell = rng.choice(j.size, n, p=rate / rate.sum())
    return _frame("event", _pick(cat.EVENT_WEIGHTS, n, rng), cell, _near_street(layout, cell, rng))


def _clustered(
    layout: Layout, spots: list[Hotspot], n: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Hotspot reports: Gaussian around the place, with its class mix, hours and season."""
    weight = np.array([s.weight for s in spots])
    count = np.bincount(rng.choice(len(spots), n, p=weight / weight.sum()), minlength=len(spots))
    cells, codes, hours, seasons, windows, spot_ids = [], [], [], [], [], []
    for k, spot in enumerate(spots):
        d2 = ((layout.centres - spot.xy) ** 2).sum(axis=1)
        near = np.flatnonzero(d2 < (4 * spot.sigma) ** 2)  # the Gaussian is ~0 beyond 4 sigma
        w = np.exp(-d2[near] / (2 * spot.sigma**2))
        cells.append(near[rng.choice(near.size, count[k], p=w / w.sum())])
        spec = cat.HOTSPOT_KINDS[spot.kind]
        codes.append(_pick(spec["classes"], count[k], rng))
        hours.append(np.full(count[k], tm.HOUR_KIND_NAMES.index(spec["hours"])))
        seasons.append(np.full(count[k], tm.SEASON_NAMES.index(spec["season"])))
        windows.append(np.full(count[k], spot.window))
        spot_ids.append(np.full(count[k], k))
    cell = np.concatenate(cells)
    return _frame(
        "event",
        np.concatenate(codes),
        cell,
        _near_street(layout, cell, rng),
        hour_kind=np.concatenate(hours),
        season=np.concatenate(seasons),
        window=np.concatenate(windows),
        spot=np.concatenate(spot_ids),
    )


def _component_problems(components: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Problems with components, reported within 2 m of a component of that class."""
    by_class = components.groupby("class_code").indices
    # Small districts may lack a class (no arterial, no bus shelter): only report what exists.
    codes = _pick({c: w for c, w in cat.COMPONENT_WEIGHTS.items() if c in by_class}, n, rng)
    target = np.empty(n, dtype=np.int64)
    for code in sorted(set(codes)):
        idx = np.flatnonzero(codes == code)
        pool = by_class[code]
        target[idx] = pool[rng.integers(0, pool.size, idx.size)]
    angle, radius = rng.uniform(0, 2 * np.pi, n), 2.0 * np.sqrt(rng.random(n))
    # Components stand >= 3 m from a street centreline, so 2 m never leaves their grid.
    xy = (
        components[["x", "y"]].to_numpy()[target]
        + radius[:, None] * np.c_[np.cos(angle), np.sin(angle)]
    )
    return _frame("component", codes, components["cell"].to_numpy()[target], xy)


def _near_street(layout: Layout, cell: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A point inside each given grid, a few metres in from one of its four streets.

    Main streets attract more reports, so edges are weighted by street grade; depth is
    mostly 2 m plus an exponential tail, capped short of the middle of the block.
    """
    j, i = layout.cell_j[cell], layout.cell_i[cell]
    grades = np.c_[layout.hgrade[j], layout.hgrade[j + 1], layout.vgrade[i], layout.vgrade[i + 1]]
    w = (1 + grades) * rng.random(grades.shape)
    edge = np.argmax(w, axis=1)
    corners = layout.corners[cell]
    width = np.hypot(*(corners[:, 1] - corners[:, 0]).T)
    height = np.hypot(*(corners[:, 2] - corners[:, 0]).T)
    along = rng.uniform(0.04, 0.96, cell.size)
    # Most reports are at the kerb; some come from inside blocks (courtyards, back lanes).
    inside = rng.random(cell.size) < 0.12
    depth = np.where(
        inside, rng.uniform(15.0, 50.0, cell.size), 2.0 + rng.exponential(8.0, cell.size)
    )
    du = np.minimum(depth / width, 0.45)
    dv = np.minimum(depth / height, 0.45)
    u = np.select([edge == 0, edge == 1, edge == 2], [along, along, du], 1 - du)
    v = np.select([edge == 0, edge == 1, edge == 2], [dv, 1 - dv, along], along)
    return bilinear(corners, u, v)


def _nearest_edge(layout: Layout, cell: np.ndarray, xy: np.ndarray) -> tuple[np.ndarray, ...]:
    """Nearest of the grid's four edges (N, S, W, E), position along it, and its length."""
    c = layout.corners[cell]
    ends = [(c[:, 0], c[:, 1]), (c[:, 2], c[:, 3]), (c[:, 0], c[:, 2]), (c[:, 1], c[:, 3])]
    dist, pos, length = [], [], []
    for a, b in ends:  # edges run W->E and N->S, like the streets
        ab = b - a
        ln = np.hypot(*ab.T)
        t = np.clip(((xy - a) * ab).sum(axis=1) / ln**2, 0, 1)
        dist.append(np.hypot(*(a + ab * t[:, None] - xy).T))
        pos.append(t * ln)
        length.append(ln)
    edge = np.argmin(np.stack(dist, 1), axis=1)
    rows = np.arange(cell.size)
    return edge, np.stack(pos, 1)[rows, edge], np.stack(length, 1)[rows, edge]


def _location_text(
    layout: Layout,
    streets: Streets,
    ev: pd.DataFrame,
    spots: list[Hotspot],
    rng: np.random.Generator,
) -> np.ndarray:
    """事发位置 in the usual forms: ``A与B交叉口东北角``, ``A128号附近``, ``某菜市场北侧``."""
    cell = ev["cell"].to_numpy()
    edge, pos, length = _nearest_edge(layout, cell, ev[["x", "y"]].to_numpy())
    seg = _edge_segments(layout, streets, cell)  # (n, 4) segment of each cell edge
    here = seg[np.arange(cell.size), edge]
    name = streets.name_zh[streets.street[here]]
    # House numbers: odd on the left of the street's direction, even on the right, ~15 m apart.
    along = streets.offset[here] + pos
    number = 2 * (along // 15).astype(np.int64) + np.where(_EDGE_LEFT[edge], 1, 2)
    form = np.array(["号附近", "号门前", "号旁"], dtype=object)[
        rng.choice(3, cell.size, p=[0.6, 0.25, 0.15])
    ]
    text = name + number.astype(str).astype(object) + form
    # Near an intersection, name it by the two streets and the corner instead.
    end = (pos > length / 2).astype(int)
    rows = np.arange(cell.size)
    cross = streets.name_zh[streets.street[seg[rows, _CROSSING[edge, end]]]]
    at_corner = (np.minimum(pos, length - pos) < 20) & (rng.random(cell.size) < 0.8)
    text = np.where(at_corner, name + "与" + cross + "交叉口" + _QUADRANT[edge, end] + "角", text)
    spot = ev["spot"].to_numpy()
    near_spot = (spot >= 0) & (rng.random(cell.size) < 0.3)
    if near_spot.any():
        spot_name = np.array([s.name for s in spots], dtype=object)[spot[near_spot]]
        side = np.array(["东侧", "西侧", "南侧", "北侧", "门口", "附近"], dtype=object)[
            rng.integers(0, 6, int(near_spot.sum()))
        ]
        text[near_spot] = spot_name + side
    return text


def _edge_segments(layout: Layout, streets: Streets, cell: np.ndarray) -> np.ndarray:
    """Segment index of the N, S, W, E edges of the given grids."""
    ny, nx = layout.cell_index.shape
    # Segments are keyed by their start node and direction: E-W ones start at (j, i) and go
    # east, N-S ones start at (j, i) and go south.
    key = streets.node0[:, 0] * (nx + 1) + streets.node0[:, 1]
    is_ns = streets.node1[:, 0] != streets.node0[:, 0]
    lookup = np.full((2, (ny + 1) * (nx + 1)), -1, dtype=np.int64)
    lookup[is_ns.astype(int), key] = np.arange(key.size)
    j, i = layout.cell_j[cell], layout.cell_i[cell]
    return np.stack(
        [
            lookup[0, j * (nx + 1) + i],
            lookup[0, (j + 1) * (nx + 1) + i],
            lookup[1, j * (nx + 1) + i],
            lookup[1, j * (nx + 1) + i + 1],
        ],
        axis=1,
    )


def _descriptions(ev: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Short Chinese descriptions drawn from per-class phrasings."""
    out = np.empty(len(ev), dtype=object)
    keys, key_of = np.unique(
        ev["class_kind"].str.cat(ev["class_code"], sep=":").to_numpy(dtype=object),
        return_inverse=True,
    )
    order = np.argsort(key_of, kind="stable")
    bounds = np.searchsorted(key_of[order], np.arange(keys.size + 1))
    for k, key in enumerate(keys):
        kind, code = key.split(":")
        options = np.array(
            (cat.EVENT_TEXT if kind == "event" else cat.COMPONENT_TEXT)[code], dtype=object
        )
        idx = order[bounds[k] : bounds[k + 1]]
        out[idx] = options[rng.integers(0, options.size, idx.size)]
    return out


def _reporters(source: np.ndarray, supervisor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Who reported: the grid's supervisor, a masked caller, an app user, a camera, an office."""
    out = supervisor.astype(object).copy()
    draws = rng.integers(0, 10**6, source.size)
    forms = {
        1: ("市民来电（尾号{:04d}）", 10**4),
        2: ("随手拍用户{:06d}", 10**6),
        3: ("视频智能分析 CAM-{:04d}", 2000),
    }
    for src, (fmt, modulus) in forms.items():
        idx = np.flatnonzero(source == src)
        out[idx] = [fmt.format(v) for v in (draws[idx] % modulus).tolist()]
    office = np.flatnonzero(source == 4)
    out[office] = np.array(cat.HIGHER_ORDER_REPORTERS, dtype=object)[
        rng.integers(0, 3, office.size)
    ]
    return out
