"""Component inventory (部件): create, change, retire; placement and case outcomes (reads are
in ``component_reads``).

Identifiers are admin code 6 + class (4 or 5 digits) + a 6-digit sequence per (admin area,
class), issued from ``component_sequence`` so none is issued twice: a retired component
keeps its row, its identifier and its history. Status and owner/maintainer changes are
recorded one field per history row with the actor and, when a case caused it, the case.
"""

from __future__ import annotations

import json
from typing import Any, cast

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import Connection, Engine

from app.db.catalog import classes as class_repo
from app.db.components import inventory as repo
from app.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    OutsideCoverageError,
    UnknownClassError,
)
from app.services.components.reads import not_found
from app.settings import Settings
from gis.grids import GridIndex
from gis.io.layers import ANY_SHAPE, CLASS_DIGITS, COMPONENT_STATUSES
from gis.nearest import nearest_within

# Words of a filing criterion (立案条件) or case text that say what happened to the component.
CRITERION_STATUS = (
    ("missing", ("丢失", "缺失", "被盗", "遗失", "missing", "stolen")),
    ("damaged", ("破损", "损坏", "损毁", "倾斜", "不亮", "松动", "damaged", "broken")),
    ("occupied", ("占用", "占道", "遮挡", "occupied", "blocked")),
)


# -- placement ------------------------------------------------------------------------------


def place(conn: Connection, geoms: gpd.GeoSeries, street_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid in force and nearest street of many components at once: (grid codes, street ids).

    The rule of ``app.db.components.inventory.PLACE``, computed in Python for bulk imports: the grid
    covering the point on surface (smallest code on shared boundaries, gis.grids.locate), the
    nearest segment within ``street_m`` metres of it in its UTM zone (gis.nearest).
    """
    pts = shapely.point_on_surface(np.asarray(geoms.values, dtype=object))
    lon, lat = shapely.get_x(pts), shapely.get_y(pts)
    codes = np.full(len(pts), None, dtype=object)
    streets = np.full(len(pts), None, dtype=object)  # ints or None, as COPY wants them
    if not len(pts):
        return codes, streets
    x1, y1, x2, y2 = np.nanmin(lon), np.nanmin(lat), np.nanmax(lon), np.nanmax(lat)
    grids = repo.grids_in_force(conn, (x1, y1, x2, y2))
    if grids:
        frame = gpd.GeoDataFrame(
            {"code": [g[0] for g in grids]},
            geometry=shapely.from_wkb([bytes(g[1]) for g in grids]),
            crs=4326,
        )
        codes = GridIndex.build(frame).locate_codes(lon, lat)
    # the search box: the radius in degrees of longitude at the widest latitude, with margin
    dy = 1.5 * street_m / 110_574.0
    dx = dy / max(np.cos(np.radians(max(abs(y1), abs(y2)))), 0.01)
    segments = repo.segments_near(conn, (x1 - dx, y1 - dy, x2 + dx, y2 + dy))
    if segments:
        ids = np.array([s[0] for s in segments], dtype=np.int64)
        pos, _ = nearest_within(
            shapely.from_wkb([bytes(s[2]) for s in segments]), ids, lon, lat, street_m
        )
        found = pos >= 0
        street_of = np.array([s[1] for s in segments], dtype=object)
        streets[found] = street_of[pos[found]]
    return codes, streets


# -- writes ---------------------------------------------------------------------------------


def create_component(
    engine: Engine, settings: Settings, data: dict, actor: str | None
) -> tuple[dict, bool]:
    """Create one component; (component, created). The identifier is generated unless given.

    With ``source_layer`` + ``source_id`` the call is idempotent: the component created
    before under that key comes back with ``created`` False.
    """
    scheme = settings.class_scheme
    layer, source_id = data.get("source_layer"), data.get("source_id")
    if (layer is None) != (source_id is None):
        raise InvalidInputError(
            "source_layer 与 source_id 须同时给出", "give source_layer and source_id together"
        )
    geom = _geometry(data.get("geometry"))
    with engine.begin() as conn:
        # source_id is set whenever layer is (checked together above)
        if layer and (known := repo.source_component(conn, layer, cast(str, source_id))):
            return _row(conn, known), False
        class_code, identifier = _class_and_identifier(conn, scheme, data)
        units = _units(conn, data)
        wkb = shapely.to_wkb(geom)
        if identifier is None:
            admin = data.get("district_code") or repo.district_at(conn, wkb)
            if admin is None:
                raise OutsideCoverageError(
                    "部件不在任何区内；请给出 district_code",
                    "the component lies in no district; give district_code",
                )
            _check_admin(conn, admin)
            seq = repo.next_sequence(conn, scheme, admin, class_code)
            if seq > 999_999:
                raise ConflictError(
                    f"{admin} {class_code} 的顺序码已用尽",
                    f"sequence exhausted for {admin} class {class_code}",
                )
            identifier = f"{admin}{class_code}{seq:06d}"
        status = data.get("status") or "in_service"
        if status == "retired":
            raise InvalidInputError("不能新建已注销的部件", "a new component cannot be retired")
        cid = repo.insert_component(
            conn,
            {
                "identifier": identifier,
                "scheme": scheme,
                "class_code": class_code,
                "geom": wkb,
                "status": status,
                "attributes": json.dumps(data.get("attributes") or {}, ensure_ascii=False),
                "owner_unit_id": units.get("owner_unit_code"),
                "maintainer_unit_id": units.get("maintainer_unit_code"),
            },
            settings.street_max_distance_m,
        )
        if layer:
            repo.add_source(conn, cid, layer, cast(str, source_id))
        repo.add_history(
            conn,
            [_history(cid, actor, "created", note=data.get("note"), event_id=data.get("event_id"))],
        )
        return _row(conn, identifier), True


def update_component(
    engine: Engine, settings: Settings, identifier: str, changes: dict, actor: str | None
) -> dict:
    """Change status, owner/maintainer units, attributes or position; one history row per field.

    ``changes`` holds only the fields to change (None clears a unit); ``attributes`` are
    merged (a None value removes the key); ``event_id`` and ``note`` explain the change.
    """
    with engine.begin() as conn:
        old = _locked(conn, identifier)
        if old["status"] == "retired":
            raise _retired(identifier)
        retire = changes.get("status") == "retired"
        _apply(
            conn,
            settings,
            old,
            {k: v for k, v in changes.items() if not (retire and k == "status")},
            actor,
            "updated",
        )
        if retire:
            _retire(conn, old, actor, changes.get("note"), changes.get("event_id"))
        return _row(conn, identifier)


def retire_component(
    engine: Engine,
    identifier: str,
    actor: str | None,
    note: str | None = None,
    event_id: int | None = None,
) -> dict:
    """Retire (注销) a component: it keeps its row, identifier and history. Idempotent."""
    with engine.begin() as conn:
        old = _locked(conn, identifier)
        if old["status"] != "retired":
            _retire(conn, old, actor, note, event_id)
        return _row(conn, identifier)


def apply_case_outcome(
    conn: Connection, event_id: int, new_status: str, actor: str | None, note: str | None = None
) -> dict | None:
    """Set the status of the component a case is about (``event.component_id``).

    For the workflow: on closing (a replaced cover is ``in_service`` again) and on filing
    (a cover reported missing is ``missing``; :func:`status_for_criterion` reads the filing
    criterion). Runs in the caller's transaction and records the case in the history.
    Returns None when the case concerns no component, else ``{identifier, old_status,
    status, changed}``; a retired component stays retired (``changed`` False).
    """
    if new_status not in COMPONENT_STATUSES:
        raise InvalidInputError(
            f"部件状态 {new_status!r} 无效",
            f"status {new_status!r} is not one of {', '.join(COMPONENT_STATUSES)}",
        )
    exists, comp = repo.lock_component_of_event(conn, event_id)
    if not exists:
        raise NotFoundError(f"没有编号为 {event_id} 的案件", f"no case {event_id}")
    if comp is None:
        return None
    out = {
        "identifier": comp["identifier"],
        "old_status": comp["status"],
        "status": comp["status"],
        "changed": False,
    }
    if comp["status"] in ("retired", new_status):
        return out
    repo.update_component(conn, comp["id"], {"status": new_status}, 0.0)
    repo.add_history(
        conn,
        [_history(comp["id"], actor, "case", "status", comp["status"], new_status, event_id, note)],
    )
    return {**out, "status": new_status, "changed": True}


def regrid_components(
    conn: Connection,
    communities: list[str],
    actor: str | None = None,
    note: str | None = "grid edit",
) -> int:
    """After grids of ``communities`` were redrawn: each component there gets the grid now in
    force (history rows record old → new). For the grid-edit workflow; runs in the caller's
    transaction and returns how many components changed grid."""
    return repo.regrid(conn, communities, actor, note)


def status_for_criterion(text: str | None) -> str | None:
    """The component status a case's filing criterion or description implies, if any.

    >>> status_for_criterion("井盖丢失"), status_for_criterion("路灯不亮"), status_for_criterion("")
    ('missing', 'damaged', None)
    """
    lowered = (text or "").lower()
    for status, words in CRITERION_STATUS:
        if any(w in lowered for w in words):
            return status
    return None


# -- helpers --------------------------------------------------------------------------------


def _apply(
    conn: Connection, settings: Settings, old: dict, changes: dict, actor: str | None, action: str
) -> None:
    values: dict[str, Any] = {}
    events = []
    event_id, note = changes.get("event_id"), changes.get("note")
    if event_id is not None:
        _check_event(conn, event_id)
    if "status" in changes and changes["status"] != old["status"]:
        values["status"] = changes["status"]
        events.append(("status", old["status"], changes["status"]))
    units = _units(conn, changes)
    for key, field in (
        ("owner_unit_code", "owner_unit"),
        ("maintainer_unit_code", "maintainer_unit"),
    ):
        if key in changes and changes[key] != old[key]:
            values[key.replace("_code", "_id")] = units.get(key)
            events.append((field, old[key], changes[key]))
    if changes.get("attributes"):
        merged, before, after = _merge(old["attributes"] or {}, changes["attributes"])
        if before != after:
            values["attributes"] = json.dumps(merged, ensure_ascii=False)
            events.append(("attributes", _js(before), _js(after)))
    if changes.get("geometry") is not None:
        geom = _geometry(changes["geometry"])
        was = shapely.from_wkb(bytes(old["wkb"]))
        if not shapely.equals_exact(geom, was, tolerance=1e-9):
            values["geom"] = shapely.to_wkb(geom)
            events.append(
                (
                    "geometry",
                    shapely.to_wkt(was, rounding_precision=7),
                    shapely.to_wkt(geom, rounding_precision=7),
                )
            )
    if not values:
        return
    repo.update_component(conn, old["id"], values, settings.street_max_distance_m)
    if "geom" in values:
        now = _locked(conn, old["identifier"])
        for field in ("grid_code", "street_id"):
            if now[field] != old[field]:
                events.append((field, _str(old[field]), _str(now[field])))
    repo.add_history(
        conn,
        [
            _history(old["id"], actor, action, f, _str(a), _str(b), event_id, note)
            for f, a, b in events
        ],
    )


def _retire(
    conn: Connection, old: dict, actor: str | None, note: str | None, event_id: int | None
) -> None:
    if event_id is not None:
        _check_event(conn, event_id)
    repo.update_component(conn, old["id"], {"status": "retired"}, 0.0)
    repo.add_history(
        conn,
        [_history(old["id"], actor, "retired", "status", old["status"], "retired", event_id, note)],
    )


def _class_and_identifier(conn: Connection, scheme: str, data: dict) -> tuple[str, str | None]:
    """The class (given or from the identifier) and a given identifier, both validated."""
    digits = CLASS_DIGITS[scheme]
    identifier, class_code = data.get("identifier"), data.get("class_code")
    if identifier is not None:
        if not (identifier.isdigit() and len(identifier) == digits + 12):
            raise InvalidInputError(
                f"部件标识码应为 {digits + 12} 位数字",
                f"identifier must be {digits + 12} digits "
                f"(admin 6 + class {digits} + sequence 6) in the {scheme} scheme",
            )
        inside = identifier[6 : 6 + digits]
        if class_code is not None and class_code != inside:
            raise InvalidInputError(
                f"class_code {class_code} 与标识码中的分类 {inside} 不一致",
                f"class_code {class_code} differs from the class {inside} "
                f"inside identifier {identifier}",
            )
        class_code = inside
        _check_admin(conn, identifier[:6])
        if int(identifier[-6:]) == 0:
            raise InvalidInputError("顺序码不能为 000000", "the sequence cannot be 000000")
        if repo.identifier_exists(conn, identifier):
            raise ConflictError(
                f"部件标识码 {identifier} 已存在", f"identifier {identifier} already exists"
            )
    if class_code is None:
        raise InvalidInputError("需要 class_code 或 identifier", "give class_code or identifier")
    if class_code not in class_repo.component_geometry_types(conn, scheme):
        raise UnknownClassError(
            f"{scheme} 分类中没有部件分类 {class_code}",
            f"no component class {class_code} in the {scheme} scheme",
        )
    return class_code, identifier


def _check_admin(conn: Connection, admin: str) -> None:
    if not (len(admin) == 6 and admin.isdigit() and repo.area_exists(conn, admin)):
        raise InvalidInputError(
            f"行政区划代码 {admin} 不存在", f"no district {admin} in admin_area"
        )


def _check_event(conn: Connection, event_id: int) -> None:
    if not repo.event_exists(conn, event_id):
        raise InvalidInputError(f"没有编号为 {event_id} 的案件", f"no case {event_id}")


def _units(conn: Connection, data: dict) -> dict[str, int | None]:
    """Unit ids of the owner/maintainer codes in ``data`` (None stays None)."""
    wanted = {
        k: data[k] for k in ("owner_unit_code", "maintainer_unit_code") if data.get(k) is not None
    }
    ids = repo.unit_ids(conn, set(wanted.values()))
    missing = sorted(set(wanted.values()) - set(ids))
    if missing:
        raise InvalidInputError(
            f"责任单位 {', '.join(missing)} 不存在",
            f"unknown unit(s) {', '.join(missing)} (not in responsible_unit)",
        )
    return {k: ids[v] for k, v in wanted.items()}


def _geometry(value: Any) -> shapely.Geometry:
    """A GeoJSON geometry dict as a valid shapely geometry in lon/lat, or InvalidInputError."""
    try:
        geom = shape(value)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise InvalidInputError(
            "几何无效（应为 GeoJSON）", f"not a GeoJSON geometry: {exc}"
        ) from exc
    minx, miny, maxx, maxy = geom.bounds if not geom.is_empty else (0, 0, 999, 999)
    if geom.geom_type not in ANY_SHAPE or not (
        -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90
    ):
        raise InvalidInputError(
            "几何类型或经纬度范围无效",
            f"geometry must be a non-empty {'/'.join(ANY_SHAPE)} in lon/lat",
        )
    if not geom.is_valid:
        raise InvalidInputError(
            f"几何无效：{shapely.is_valid_reason(geom)}",
            f"invalid geometry: {shapely.is_valid_reason(geom)}",
        )
    return shapely.force_2d(geom)


def _merge(old: dict, patch: dict) -> tuple[dict, dict, dict]:
    merged = {**old, **{k: v for k, v in patch.items() if v is not None}}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
    changed = {k for k in patch if old.get(k) != merged.get(k)}
    return merged, {k: old.get(k) for k in changed}, {k: merged.get(k) for k in changed}


def _history(
    cid: int,
    actor: str | None,
    action: str,
    field: str | None = None,
    old: str | None = None,
    new: str | None = None,
    event_id: int | None = None,
    note: str | None = None,
) -> dict:
    return {
        "component_id": cid,
        "actor": actor,
        "action": action,
        "field": field,
        "old_value": old,
        "new_value": new,
        "event_id": event_id,
        "note": note,
    }


def _locked(conn: Connection, identifier: str) -> dict:
    row = repo.lock_component(conn, identifier)
    if row is None:
        raise not_found(identifier)
    return row


def _row(conn: Connection, identifier: str) -> dict:
    row = repo.get_component(conn, identifier)
    if row is None:
        raise not_found(identifier)
    row["sources"] = repo.sources(conn, row["id"])
    return row


def _retired(identifier: str) -> ConflictError:
    return ConflictError(
        f"部件 {identifier} 已注销，不能再修改",
        f"component {identifier} is retired and can no longer change",
    )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _js(value: dict) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
