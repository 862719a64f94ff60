"""Hotspot service: filters, Gi* per grid and per street segment, street statistics.

The layers and their weights come from :mod:`app.services.hotspots.layers` (kept in memory
per engine): a query pays one cheap fingerprint look-up, one ``GROUP BY`` and a few
milliseconds of numpy.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from app.db.hotspots import queries as repo
from app.db.hotspots.queries import EventFilter
from app.db.models import EVENT_SOURCES, EVENT_STATUSES
from app.errors import InvalidInputError, UnknownClassError
from app.services.hotspots.layers import (
    GridLayer,
    SegmentLayer,
    grid_layer,
    match_event_segments,
    segment_layer,
)
from app.services.workflow.transitions import make_policy, waiting_light_bounds
from app.settings import Settings
from gis.hotspots import BIN_LEVELS, gi_star, per_100m, period_trend

log = logging.getLogger(__name__)
AREA = re.compile(r"^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{15})$")
MAJOR = re.compile(r"^[0-9]{2}$")
CLASS = {"2013": re.compile(r"^[0-9]{4}$"), "2026": re.compile(r"^[0-9]{5}$")}


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip())) if value else ()


def _when(value: str | None, name: str, tz: ZoneInfo, end: bool) -> datetime | None:
    """A date (a ``to`` date covers that whole day) or an ISO datetime; naive = local time."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), tz)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"{name} 应为日期（2026-03-31）或 ISO 8601 时间：{value!r}",
            f"{name} must be a date (2026-03-31) or an ISO 8601 time: {value!r}",
            parameter=name,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def parse_filter(
    engine: Engine,
    settings: Settings,
    *,
    classes: str | None = None,
    kind: str | None = None,
    major: str | None = None,
    start: str | None = None,
    end: str | None = None,
    source: str | None = None,
    status: str | None = None,
    area: str | None = None,
) -> EventFilter:
    """Validate the shared filter parameters (comma-separated lists allowed) or raise 422."""
    scheme = settings.class_scheme
    codes, majors = _split(classes), _split(major)
    bad = [c for c in codes if not CLASS[scheme].match(c)]
    if bad:
        digits = 4 if scheme == "2013" else 5
        raise InvalidInputError(
            f"{scheme} 方案的分类代码应为 {digits} 位数字：{bad}",
            f"class codes of the {scheme} scheme have {digits} digits: {bad}",
            parameter="class",
        )
    if codes:
        with engine.connect() as conn:
            missing = sorted(set(codes) - repo.known_classes(conn, scheme, list(codes), kind))
        if missing:
            raise UnknownClassError(
                f"未知的分类代码：{', '.join(missing)}",
                f"unknown class code(s): {', '.join(missing)}",
                parameter="class",
            )
    if any(not MAJOR.match(m) for m in majors):
        raise InvalidInputError(
            f"大类代码应为 2 位数字：{major!r}",
            f"a major class code has 2 digits: {major!r}",
            parameter="major",
        )
    sources, statuses = _split(source), _split(status)
    if set(sources) - set(EVENT_SOURCES):
        raise InvalidInputError(
            f"来源应为 {', '.join(EVENT_SOURCES)} 之一：{source!r}",
            f"source must be one of {', '.join(EVENT_SOURCES)}: {source!r}",
            parameter="source",
        )
    open_only = "open" in statuses
    statuses = tuple(s for s in statuses if s != "open")
    if set(statuses) - set(EVENT_STATUSES):
        raise InvalidInputError(
            f"状态应为 open 或 {', '.join(EVENT_STATUSES)} 之一：{status!r}",
            f"status must be open or one of {', '.join(EVENT_STATUSES)}: {status!r}",
            parameter="status",
        )
    if area and not AREA.match(area):
        raise InvalidInputError(
            f"区域编码应为 6、9、12 或 15 位数字：{area!r}",
            f"area is a 6, 9, 12 or 15-digit code: {area!r}",
            parameter="area",
        )
    tz = ZoneInfo(settings.timezone)
    t0, t1 = _when(start, "from", tz, end=False), _when(end, "to", tz, end=True)
    if t0 and t1 and t1 <= t0:
        raise InvalidInputError(
            "结束时间应晚于开始时间", "'to' must be after 'from'", parameter="to"
        )
    return EventFilter(
        scheme=scheme,
        kind=kind,
        classes=codes,
        majors=majors,
        start=t0,
        end=t1,
        sources=sources,
        statuses=statuses,
        open_only=open_only,
        area=area or None,
    )


def previous_filter(f: EventFilter) -> EventFilter:
    """The same filter over the period of equal length just before it (needs from and to)."""
    if f.start is None or f.end is None:
        raise InvalidInputError(
            "比较上一周期需要同时给出 from 和 to",
            "comparing with the previous period needs both 'from' and 'to'",
            parameter="trend",
        )
    return f.shifted(f.start - (f.end - f.start), f.start)


# -- Gi* per grid ---------------------------------------------------------------------------


@dataclass
class GridHotspots:
    """Per-grid counts and Gi* for one filter (``frame`` indexed by grid code)."""

    filter: EventFilter
    frame: pd.DataFrame
    layer: GridLayer
    rows: np.ndarray  # positions of the frame's grids in the layer
    fdr: bool

    def summary(self) -> dict:
        bins = self.frame["bin"].value_counts().to_dict()
        return {
            "grids": len(self.frame),
            "events": int(self.frame["events"].sum()),
            "fdr": self.fdr,
            "bins": {str(b): int(bins.get(b, 0)) for b in range(-3, 4)},
            "confidence": {str(v): 1 - a for v, a in BIN_LEVELS},
        }


def grid_hotspots(
    engine: Engine,
    settings: Settings,
    f: EventFilter,
    *,
    fdr: bool | None = None,
    trend: bool = False,
) -> GridHotspots:
    """Counts and Gi* per current grid (of ``f.area`` when set: the study region) for ``f``."""
    fdr = settings.hotspot_fdr if fdr is None else fdr
    layer = grid_layer(engine, settings)
    rows = np.arange(layer.weights.n)
    w = layer.weights
    if f.area:
        keep = np.char.startswith(layer.codes.astype(str), f.area)
        rows, w = np.flatnonzero(keep), w.subset(keep)
    with engine.connect() as conn:
        y = _counts(conn, repo.counts_by_grid, f, layer.position, layer.weights.n)[rows]
        previous = (
            _counts(conn, repo.counts_by_grid, previous_filter(f), layer.position, layer.weights.n)[
                rows
            ]
            if trend
            else None
        )
    result = gi_star(y.astype(float), w, fdr=fdr)
    frame = pd.DataFrame(
        {"events": y, "gi": result.g, "z": result.z, "p": result.p, "bin": result.bin},
        index=pd.Index(layer.codes[rows], name="code"),
    )
    frame.insert(0, "community_code", layer.community[rows])
    if previous is not None:
        _add_trend(frame, y, previous)
    return GridHotspots(f, frame, layer, rows, fdr)


def _counts(conn, query, f: EventFilter, position: pd.Index, n: int) -> np.ndarray:
    keys, counts = query(conn, f)
    y = np.zeros(n, dtype=np.int64)
    at = position.get_indexer(keys)
    # events of grids that are no longer current (or streets without segments) drop out
    y[at[at >= 0]] = counts[at >= 0]
    return y


def _add_trend(frame: pd.DataFrame, current: np.ndarray, previous: np.ndarray) -> None:
    frame["previous"] = previous
    frame["change"] = current - previous
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["change_pct"] = np.where(
            previous > 0, (current - previous) * 100.0 / previous, np.nan
        )
    frame["trend"] = period_trend(current, previous)


def grid_feature_heads(engine: Engine, hot: GridHotspots, geometry: bool = True) -> np.ndarray:
    """The fixed start of each result grid's GeoJSON Feature, up to its first computed
    property: id, geometry (6 decimals, ~0.1 m), code and community. Cached with the grid
    map, so a request only formats the numbers that change."""
    layer = hot.layer
    key = 6 if geometry else -1
    if key not in layer.geojson:
        texts = ["null"] * len(layer.ids)
        if geometry:
            with engine.connect() as conn:
                ids, shapes = repo.grid_geojson(conn, key)
            by_id = dict(zip(ids, shapes, strict=True))
            texts = [by_id[i] for i in layer.ids.tolist()]
        layer.geojson[key] = np.array(
            [
                f'{{"type":"Feature","id":"{c}","geometry":{g},"properties":{{"code":"{c}",'
                f'"community_code":"{m}",'
                for c, g, m in zip(layer.codes, texts, layer.community, strict=True)
            ],
            dtype=object,
        )
    return layer.geojson[key][hot.rows]


# -- streets --------------------------------------------------------------------------------

STREET_ORDER = {
    "events": ["events", "per_100m"],
    "rate": ["per_100m", "events"],
    "z": ["z", "events"],
    "change": ["change", "events"],
}


def street_hotspots(
    engine: Engine,
    settings: Settings,
    f: EventFilter,
    *,
    level: str = "street",
    order: str = "events",
    limit: int = 50,
    fdr: bool | None = None,
    trend: bool = False,
) -> pd.DataFrame:
    """Ranked streets (or segments, with Gi* over the segment network) for ``f``.

    Rows with no event in the period (nor, with ``trend``, in the previous one) are left
    out; ``rank`` is 1 for the top row.
    """
    fdr = settings.hotspot_fdr if fdr is None else fdr
    layer = segment_layer(engine, settings)
    if level == "segment":
        frame = _segment_frame(engine, settings, layer, f, fdr, trend)
    else:
        frame = _street_frame(engine, layer, f, trend)
    active = frame["events"] > 0
    if trend:
        active |= frame["previous"] > 0
    frame = frame[active]
    if order == "z" and "z" not in frame:
        order = "events"
    keys = STREET_ORDER[order] if order != "change" or trend else STREET_ORDER["events"]
    frame = frame.sort_values(
        keys + [frame.index.name],
        ascending=[False] * len(keys) + [True],
        kind="stable",
        na_position="last",
    )
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame.head(limit)


def _street_frame(engine: Engine, layer: SegmentLayer, f: EventFilter, trend: bool) -> pd.DataFrame:
    with engine.connect() as conn:
        streets = pd.DataFrame(repo.streets(conn)).set_index("id")
        position = pd.Index(streets.index)
        y = _counts(conn, repo.counts_by_street, f, position, len(position))
        previous = (
            _counts(conn, repo.counts_by_street, previous_filter(f), position, len(position))
            if trend
            else None
        )
    frame = streets[["name", "name_en", "grade", "length_m"]].copy()
    frame.index.name = "street_id"
    frame["events"] = y
    frame["per_100m"] = per_100m(y, frame["length_m"].to_numpy())
    if previous is not None:
        _add_trend(frame, y, previous)
    return frame


def _segment_frame(
    engine: Engine, settings: Settings, layer: SegmentLayer, f: EventFilter, fdr: bool, trend: bool
) -> pd.DataFrame:
    match_event_segments(engine, settings)
    w, rows = layer.weights, np.arange(layer.weights.n)
    with engine.connect() as conn:
        if f.area:
            keep = np.isin(layer.ids, repo.segments_in_area(conn, f.area))
            rows, w = np.flatnonzero(keep), w.subset(keep)
        y = _counts(conn, repo.counts_by_segment, f, layer.position, layer.weights.n)[rows]
        previous = (
            _counts(
                conn, repo.counts_by_segment, previous_filter(f), layer.position, layer.weights.n
            )[rows]
            if trend
            else None
        )
        names = {s["id"]: s for s in repo.streets(conn)}
    result = gi_star(y.astype(float), w, fdr=fdr)
    street = layer.street_id[rows]
    frame = pd.DataFrame(
        {
            "street_id": street,
            "name": [names[s]["name"] for s in street.tolist()],
            "name_en": [names[s]["name_en"] for s in street.tolist()],
            "length_m": layer.length_m[rows],
            "events": y,
            "per_100m": per_100m(y, layer.length_m[rows]),
            "z": result.z,
            "p": result.p,
            "bin": result.bin,
        },
        index=pd.Index(layer.ids[rows], name="segment_id"),
    )
    if previous is not None:
        _add_trend(frame, y, previous)
    return frame


def street_geometries(
    engine: Engine, level: str, ids: list[int], decimals: int = 6
) -> dict[int, str]:
    """GeoJSON geometry text of some streets (merged centreline) or segments."""
    with engine.connect() as conn:
        return repo.line_geojson(conn, level, ids, decimals)


def street_class_stats(engine: Engine, settings: Settings, f: EventFilter, *, limit: int) -> dict:
    """Events per street and class for ``f``: streets by total, classes by count inside."""
    with engine.connect() as conn:
        rows = repo.counts_by_street_class(conn, f)
    streets: dict[int, dict] = {}
    for r in rows:
        s = streets.setdefault(
            r["street_id"],
            {
                "street_id": r["street_id"],
                "name": r["street_name"],
                "name_en": r["street_name_en"],
                "grade": r["grade"],
                "events": 0,
                "classes": [],
            },
        )
        s["events"] += r["events"]
        s["classes"].append(
            {
                "kind": r["class_kind"],
                "code": r["class_code"],
                "name": r["class_name"],
                "name_en": r["class_name_en"],
                "events": r["events"],
            }
        )
    ranked = sorted(streets.values(), key=lambda s: (-s["events"], s["street_id"]))
    return {
        "streets": len(ranked),
        "events": sum(s["events"] for s in ranked),
        "items": ranked[:limit],
    }


def describe_filter(f: EventFilter) -> dict:
    """The filter as the API echoes it (``to`` is exclusive)."""
    status = list(f.statuses) + (["open"] if f.open_only else [])
    return {
        "class": list(f.classes),
        "kind": f.kind,
        "major": list(f.majors),
        "from": f.start.isoformat() if f.start else None,
        "to": f.end.isoformat() if f.end else None,
        "source": list(f.sources),
        "status": status,
        "area": f.area,
    }


def supervisor_workload(
    engine: Engine, settings: Settings, f: EventFilter, at: datetime | None = None
) -> pd.DataFrame:
    """Per supervisor (监督员): grids, events of ``f``, open cases, and how many are red
    (overdue), yellow (≥ ``workflow_yellow_share`` of the limit used) or green: the lights of
    the workflow's current stage on the working calendar, as the supervisor map shows them;
    ``no_limit``: no stage clock running (shelved)."""
    at = at or datetime.now(ZoneInfo(settings.timezone))
    with engine.connect() as conn:
        waiting = waiting_light_bounds(make_policy(conn, settings), at)
        rows = repo.supervisor_workload(conn, f, at, waiting)
    frame = pd.DataFrame(
        rows, columns=["supervisor", "grids", "events", "open", "red", "yellow", "no_limit"]
    )
    frame["green"] = frame["open"] - frame["red"] - frame["yellow"] - frame["no_limit"]
    return frame.set_index("supervisor")
