"""Bulk assignment: for a whole file at once, the same facts the API's query gathers per
point (grid version, street, component, dispatch rule, grid unit, office, duplicates),
computed in memory with the grid index, STRtrees and one read of each layer. The decision
itself is the API's :func:`app.services.intake.assignment.decide` (:func:`decide_row`), and a
row naming a component passes the API's :func:`~app.services.intake.assignment.component_refusal`.
tests/test_assignment_parity.py keeps both paths equal, field by field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Connection

from app.db.catalog import classes as class_repo
from app.db.intake import event_import as repo
from app.errors import RowProblem
from app.services.intake.assignment import PointRequest, component_refusal, decide
from app.settings import Settings
from gis.grids import GridIndex
from gis.nearest import nearest_within, pairs_within


def _bbox(rows: pd.DataFrame, margin_deg: float = 0.01) -> tuple[float, float, float, float]:
    return (
        float(rows["lon"].min()) - margin_deg,
        float(rows["lat"].min()) - margin_deg,
        float(rows["lon"].max()) + margin_deg,
        float(rows["lat"].max()) + margin_deg,
    )


def _locate_grids(versions: gpd.GeoDataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Position in ``versions`` of the grid version covering each row at its report time."""
    out = np.full(len(rows), -1, dtype=np.int64)
    if versions.empty or rows.empty:
        return out
    at = rows["reported_at"].to_numpy(dtype="datetime64[ns]")
    starts = versions["valid_from"].map(
        lambda t: pd.Timestamp(t).tz_convert("UTC").tz_localize(None)
    )
    ends = versions["valid_to"].map(
        lambda t: (
            pd.NaT
            if t is None or pd.isna(t)
            else pd.Timestamp(t).tz_convert("UTC").tz_localize(None)
        )
    )
    starts = starts.to_numpy(dtype="datetime64[ns]")
    ends = ends.to_numpy(dtype="datetime64[ns]")
    # Between two consecutive version changes the valid set is fixed: one index per span.
    breaks = np.unique(np.concatenate([starts, ends[~np.isnat(ends)]]))
    span = np.searchsorted(breaks, at, side="right")
    for s in np.unique(span):
        members = np.flatnonzero(span == s)
        moment = at[members[0]]
        valid = (starts <= moment) & (np.isnat(ends) | (ends > moment))
        if not valid.any():
            continue
        subset = versions[valid].reset_index()
        index = GridIndex.build(subset[["code", "geometry"]].set_crs(4326, allow_override=True))
        pos = index.locate(rows["lon"].to_numpy()[members], rows["lat"].to_numpy()[members])
        found = pos >= 0
        out[members[found]] = subset["index"].to_numpy()[pos[found]]
    return out


def gather_bulk_facts(
    conn: Connection, settings: Settings, rows: pd.DataFrame, classes: Mapping[tuple, dict]
) -> tuple[list[dict], list[RowProblem]]:
    """The same facts `app.db.intake.assignment.gather_facts` returns, for every row at once,
    and the rows refused (outside every grid; a component identifier the API would refuse).
    ``classes`` holds the class row of every (kind, code) in ``rows``."""
    if rows.empty:
        return [], []
    n = len(rows)
    start = rows["reported_at"].min().to_pydatetime()
    end = rows["reported_at"].max().to_pydatetime()
    bbox = _bbox(rows)
    versions = repo.grid_versions(conn, start, end)
    grid_pos = _locate_grids(versions, rows)
    problems = [
        RowProblem(
            int(r),
            "outside the managed area (no grid covers the point at the reported time)",
            "lon",
        )
        for r in rows["row"].to_numpy()[grid_pos < 0]
    ]

    lon, lat = rows["lon"].to_numpy(), rows["lat"].to_numpy()
    segments = repo.street_segments(conn, bbox)
    seg_pos, seg_dist = nearest_within(
        segments.geometry.to_numpy(),
        segments["segment_id"].to_numpy(),
        lon,
        lat,
        settings.street_max_distance_m,
    )
    comp = _components(conn, settings, rows, classes)
    rule_lookup = {
        (k, c, a): (i, u, a)
        for i, k, c, a, u in repo.rules(conn, settings.class_scheme).itertuples(index=False)
    }
    offices, names = repo.offices(conn), repo.area_names(conn)
    duplicates = _duplicates(conn, settings, rows, bbox)

    facts = []
    kinds, codes = rows["class_kind"].to_numpy(), rows["class_code"].to_numpy()
    # Plain lists per column: row-wise pandas access costs ~50 µs a call, a list index ~50 ns.
    grid = {c: versions[c].tolist() for c in ("id", "code", "version", "unit_id", "community_code")}
    seg = {c: segments[c].tolist() for c in ("segment_id", "street_id")}
    for c in ("street_name", "street_grade"):  # a missing grade is None, as the API has it
        seg[c] = segments[c].astype(object).where(segments[c].notna(), None).tolist()
    for i in range(n):
        p = int(grid_pos[i])
        if p < 0:
            facts.append({"grid_id": None})
            continue
        code = grid["code"][p]
        rule = next(
            (
                rule_lookup[(kinds[i], codes[i], a)]
                for a in (code, code[:12], code[:9], code[:6])
                if (kinds[i], codes[i], a) in rule_lookup
            ),
            (None, None, None),
        )
        unit_id = grid["unit_id"][p]
        f = {
            "grid_id": int(grid["id"][p]),
            "grid_code": code,
            "grid_version": int(grid["version"][p]),
            "grid_unit_id": None if pd.isna(unit_id) else int(unit_id),
            "community_code": grid["community_code"][p],
            "community_name": names.get(grid["community_code"][p]),
            "subdistrict_code": code[:9],
            "subdistrict_name": names.get(code[:9]),
            "district_code": code[:6],
            "district_name": names.get(code[:6]),
            "segment_id": None,
            "street_id": None,
            "street_name": None,
            "street_grade": None,
            "street_distance_m": None,
            "rule_id": rule[0],
            "rule_unit_id": rule[1],
            "rule_area_code": rule[2],
            "office_unit_id": offices.get(code[:9]),
            "duplicates": duplicates.get(i, []),
            "class": classes[(kinds[i], codes[i])],
            **comp[i],
        }
        q = int(seg_pos[i])
        if q >= 0:
            f.update(
                segment_id=int(seg["segment_id"][q]),
                street_id=int(seg["street_id"][q]),
                street_name=seg["street_name"][q],
                street_grade=seg["street_grade"][q],
                street_distance_m=float(seg_dist[i]),
            )
        facts.append(f)
    refused = []
    row_numbers = rows["row"].tolist()
    for i in np.flatnonzero(rows["component_identifier"].notna().to_numpy()).tolist():
        point = point_of_row(rows.iloc[i])
        f = {**comp[i], "class": classes[(kinds[i], codes[i])]}
        if (e := component_refusal(settings.class_scheme, point, f)) is not None:
            refused.append(
                RowProblem(row_numbers[i], e.message_en, "component_identifier", e.message_zh)
            )
    return facts, problems + refused


NO_COMPONENT = {
    "component_id": None,
    "component_identifier": None,
    "component_scheme": None,
    "component_class_code": None,
    "component_class_name": None,
    "component_class_name_en": None,
    "component_status": None,
    "maintainer_unit_id": None,
    "owner_unit_id": None,
    "component_distance_m": None,
    "component_matched_by": None,
}


def _components(
    conn: Connection, settings: Settings, rows: pd.DataFrame, classes: Mapping[tuple, dict]
) -> list[dict]:
    """Per row: the component named by identifier, else the nearest of its class in reach."""
    out = [NO_COMPONENT] * len(rows)
    is_comp = (rows["class_kind"] == "component").to_numpy()
    idents = rows["component_identifier"]
    if not is_comp.any() and idents.isna().all():
        return out
    candidates = repo.components(
        conn,
        settings.class_scheme,
        sorted(set(rows.loc[is_comp, "class_code"])),
        _bbox(rows),
        sorted(set(idents.dropna())),
    )
    if candidates.empty:
        return out
    lon, lat = rows["lon"].to_numpy(), rows["lat"].to_numpy()
    geoms, ids = candidates.geometry.to_numpy(), candidates["id"].to_numpy()

    columns = (
        "id",
        "identifier",
        "scheme",
        "class_code",
        "status",
        "maintainer_unit_id",
        "owner_unit_id",
    )
    c = {name: candidates[name].tolist() for name in columns}
    names = _class_names(conn, settings, candidates, classes)

    def unit(value) -> int | None:
        return None if pd.isna(value) else int(value)

    def record(pos: int, dist: float, how: str) -> dict:
        return {
            "component_id": int(c["id"][pos]),
            "component_identifier": c["identifier"][pos],
            "component_scheme": c["scheme"][pos],
            "component_class_code": c["class_code"][pos],
            "component_class_name": names[(c["scheme"][pos], c["class_code"][pos])][0],
            "component_class_name_en": names[(c["scheme"][pos], c["class_code"][pos])][1],
            "component_status": c["status"][pos],
            "maintainer_unit_id": unit(c["maintainer_unit_id"][pos]),
            "owner_unit_id": unit(c["owner_unit_id"][pos]),
            "component_distance_m": float(dist),
            "component_matched_by": how,
        }

    by_ident = {ident: pos for pos, ident in enumerate(candidates["identifier"])}
    ident_list = idents.tolist()
    for i in np.flatnonzero(idents.notna().to_numpy()):
        pos = by_ident.get(ident_list[i])
        if pos is not None:
            _, d = nearest_within(
                geoms[pos : pos + 1], ids[pos : pos + 1], lon[i : i + 1], lat[i : i + 1], 1e12
            )
            out[i] = record(pos, d[0], "identifier")
    nearest_rows = is_comp & idents.isna().to_numpy()
    live = (candidates["status"] != "retired").to_numpy()
    by_class = candidates.groupby("class_code", sort=False).indices
    for code, members in rows[nearest_rows].groupby("class_code", sort=False).indices.items():
        members = np.flatnonzero(nearest_rows)[members]
        of_class = by_class.get(code, np.array([], dtype=np.int64))
        of_class = of_class[live[of_class]]
        near, dist = nearest_within(
            geoms[of_class], ids[of_class], lon[members], lat[members], settings.component_radius_m
        )
        for m, p, d in zip(members, near, dist, strict=True):
            if p >= 0:
                out[m] = record(of_class[p], d, "nearest")
    return out


def _class_names(
    conn: Connection, settings: Settings, candidates: pd.DataFrame, classes: Mapping[tuple, dict]
) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(scheme, class code) → (name, English name) of every candidate component's class: the
    file's classes are known; a component named by identifier may be of any class or scheme."""
    out: dict[tuple[str, str], tuple[str, str | None]] = {
        (settings.class_scheme, code): (row["name"], row["name_en"])
        for (kind, code), row in classes.items()
        if kind == "component"
    }
    keys = set(zip(candidates["scheme"], candidates["class_code"], strict=True)) - out.keys()
    for scheme in {s for s, _ in keys}:
        wanted = {("component", code) for s, code in keys if s == scheme}
        for (_, code), row in class_repo.get_classes(conn, scheme, wanted).items():
            out[(scheme, code)] = (row["name"], row["name_en"])
    return out


def _json_times(times: np.ndarray) -> list[str]:
    """UTC times (naive datetime64) as PostgreSQL writes a timestamptz into JSON for the
    intake (session time zone UTC): ``2026-10-31T01:21:01.5+00:00``, trailing zeros of the
    fraction dropped, so a duplicate reads the same whichever path found it."""
    text = np.datetime_as_string(times, unit="us")
    return [t.rstrip("0").rstrip(".") + "+00:00" for t in text.tolist()]


def _duplicates(
    conn: Connection, settings: Settings, rows: pd.DataFrame, bbox
) -> dict[int, list[dict]]:
    """Row position → open cases of its class within the radius and window before it."""
    window = timedelta(days=settings.duplicate_window_days)
    start = rows["reported_at"].min().to_pydatetime() - window
    end = rows["reported_at"].max().to_pydatetime()
    keys = set(zip(rows["class_kind"], rows["class_code"], strict=True))
    existing = repo.open_cases(conn, settings.class_scheme, keys, start, end, bbox)

    out: dict[int, list[dict]] = {}
    # Group once: comparing string columns per class costs more than the spatial work.
    groups = rows.groupby(["class_kind", "class_code"], sort=False).indices
    old_groups = (
        existing.groupby(["class_kind", "class_code"], sort=False).indices if len(existing) else {}
    )
    row_lon, row_lat = rows["lon"].to_numpy(), rows["lat"].to_numpy()
    row_times = rows["reported_at"].to_numpy(dtype="datetime64[ns]")
    for key, mine in groups.items():
        old = existing.iloc[old_groups.get(key, [])]
        lon = np.concatenate([row_lon[mine], old["lon"].to_numpy(dtype=float)])
        lat = np.concatenate([row_lat[mine], old["lat"].to_numpy(dtype=float)])
        times = np.concatenate(
            [
                row_times[mine],
                pd.to_datetime(old["reported_at"], utc=True)
                .dt.tz_localize(None)
                .to_numpy(dtype="datetime64[ns]"),
            ]
        )
        # File rows are ordered after every stored case and among themselves by position.
        order = np.concatenate([np.arange(len(mine)), np.full(len(old), -1)])
        i, j, d = pairs_within(lon, lat, settings.duplicate_radius_m)
        new = i < len(mine)
        i, j, d = i[new], j[new], d[new]
        earlier = (times[j] < times[i]) | ((times[j] == times[i]) & (order[j] < order[i]))
        recent = times[j] >= times[i] - np.timedelta64(int(window.total_seconds()), "s")
        keep = earlier & recent
        i, j, d = i[keep], j[keep], d[keep]
        stamps = _json_times(times[j])
        old_ids, old_status = old["id"].tolist(), old["status"].tolist()
        n_mine = len(mine)
        for a, b, dist, stamp in zip(i.tolist(), j.tolist(), d.tolist(), stamps, strict=True):
            is_file = b < n_mine
            out.setdefault(int(mine[a]), []).append(
                {
                    "ref": ("row", int(mine[b])) if is_file else ("id", int(old_ids[b - n_mine])),
                    "status": "reported" if is_file else old_status[b - n_mine],
                    "reported_at": stamp,
                    "distance_m": round(dist, 1),
                    "_d": dist,
                }
            )
    return out


# -- deciding ---------------------------------------------------------------------------------


def point_of_row(row) -> PointRequest:
    """The point the API would assign for one checked row (a tuple or Series of `rows`)."""
    return PointRequest(
        row.lon,
        row.lat,
        row.class_kind,
        row.class_code,
        row.reported_at.to_pydatetime(),
        row.component_identifier,
    )


def unit_book(conn: Connection) -> tuple[dict[int, dict], dict | None]:
    """Every responsible unit by id, and the command centre the API falls back to (the one
    with the smallest id)."""
    units = repo.all_units(conn)
    centre = min(
        (u for u in units.values() if u["kind"] == "command_centre"),
        key=lambda u: u["id"],
        default=None,
    )
    return units, centre


def decide_row(
    settings: Settings,
    point: PointRequest,
    f: dict,
    units: dict[int, dict],
    centre: dict | None,
    row_ids: Mapping[int, int],
) -> dict:
    """The API's decision for one file row from its bulk facts. ``row_ids`` maps the row
    positions of this file that become cases to their event ids, so a duplicate can name
    an earlier row of the same file; a row not in it never became a case."""
    f = dict(f)
    duplicates = [
        {
            "id": row_ids[d["ref"][1]] if d["ref"][0] == "row" else d["ref"][1],
            "status": d["status"],
            "reported_at": d["reported_at"],
            "distance_m": d["distance_m"],
            "_d": d["_d"],
        }
        for d in f["duplicates"]
        if d["ref"][0] == "id" or d["ref"][1] in row_ids
    ]
    duplicates.sort(key=lambda d: (d["_d"], d["id"]))
    f["duplicates"] = [{k: v for k, v in d.items() if k != "_d"} for d in duplicates]
    return decide(settings, point, f, f["class"], units, centre)
