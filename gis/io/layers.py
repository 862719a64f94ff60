"""What each import layer holds and the checks that need only the file plus looked-up facts.

The caller (the adapter) looks stored facts up, such as existing codes, units and community
polygons, and passes them in as plain sets, mappings and GeoDataFrames; nothing here touches
a database. Each ``check_*`` returns the frame completed with inferred values, and issues.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.io.validate import (
    ROW,
    Issue,
    as_text,
    choice_issues,
    duplicate_issues,
    existing_issues,
    outside_issues,
    pattern_issues,
    unknown_issues,
    usable_geometry,
)

POLYGONS = ("Polygon", "MultiPolygon")
LINES = ("LineString", "MultiLineString")
ANY_SHAPE = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
AREA_LEVELS = {6: "district", 9: "subdistrict", 12: "community"}
UNIT_KINDS = ("department", "subdistrict_office", "contractor", "command_centre")
STREET_GRADES = ("严管街", "控制街", "标准街")
GRADE_ALIASES = {
    "strict": "严管街",
    "control": "控制街",
    "controlled": "控制街",
    "standard": "标准街",
}
COMPONENT_STATUSES = ("in_service", "damaged", "missing", "occupied", "retired")
# A census's own condition words (case, spaces and underscores ignored) -> status.
STATUS_ALIASES = {
    **{s.replace("_", " "): s for s in COMPONENT_STATUSES},
    **dict.fromkeys(
        ("existing", "active", "in use", "normal", "good", "to be removed", "正常", "完好", "在用"),
        "in_service",
    ),
    **dict.fromkeys(
        (
            "out of service",
            "temp out of service",
            "temporarily out of service",
            "破损",
            "损坏",
            "故障",
        ),
        "damaged",
    ),
    **dict.fromkeys(("lost", "stolen", "丢失", "缺失"), "missing"),
    **dict.fromkeys(("blocked", "占用", "被占"), "occupied"),
    **dict.fromkeys(
        ("removed", "permanently removed", "abandoned", "decommissioned", "注销", "拆除", "报废"),
        "retired",
    ),
}
PLANNING_STATES = ("proposed", "planned", "approved", "pending", "rejected", "规划", "拟建")
CLASS_DIGITS = {"2013": 4, "2026": 5}


@dataclass(frozen=True)
class LayerSpec:
    """The target fields of one layer, which are required, and the geometry types allowed."""

    fields: tuple[str, ...]
    required: tuple[str, ...]
    geometry: tuple[str, ...] = ()
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    keep_extra: bool = False  # other columns become the row's attributes


SPECS: Mapping[str, LayerSpec] = {
    "areas": LayerSpec(
        ("code", "level", "parent_code", "name", "name_en"), ("code", "name"), POLYGONS
    ),
    "units": LayerSpec(
        ("code", "name", "name_en", "kind", "contact", "phone", "area_code"),
        ("code", "name", "kind"),
    ),
    "grids": LayerSpec(
        ("code", "community_code", "name", "unit_code", "supervisor", "valid_from"),
        ("code",),
        POLYGONS,
    ),
    "streets": LayerSpec(
        ("street_name", "street_name_en", "grade", "district_code", "source_id"),
        ("street_name",),
        LINES,
        aliases={"street_name": ("name",), "street_name_en": ("name_en",)},
    ),
    # source_id: the source's own id of a feature, the key of idempotent re-imports
    "components": LayerSpec(
        (
            "identifier",
            "class_code",
            "owner_unit_code",
            "maintainer_unit_code",
            "status",
            "district_code",
            "source_id",
        ),
        (),
        ANY_SHAPE,
        defaults={"status": "in_service"},
        keep_extra=True,
    ),
}


def map_columns(
    frame: gpd.GeoDataFrame,
    spec: LayerSpec,
    mapping: Mapping[str, str],
    defaults: Mapping[str, str],
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, list[Issue]]:
    """Rename source columns to ``spec``'s fields: (fields frame, other columns, issues).

    ``mapping`` is target field -> source column; a field not mapped is taken from a column
    of the same name (case-insensitive) or an alias; ``defaults`` fill absent fields and
    empty cells. A missing required field is one file-level issue naming what is there.
    """
    issues = [
        Issue(
            None,
            f"column {source!r} (given for {target}) not found; available "
            f"columns: {available_columns(frame)}",
            source,
        )
        for target, source in mapping.items()
        if source not in frame.columns
    ]
    lower = {str(c).lower(): c for c in frame.columns if c not in ("geometry", ROW)}
    sources = {t: s for t, s in mapping.items() if s in frame.columns}
    for target in spec.fields:
        for name in (target, *spec.aliases.get(target, ())):
            if target not in sources and target not in mapping and name.lower() in lower:
                sources[target] = lower[name.lower()]
    out = gpd.GeoDataFrame({ROW: frame[ROW]}, geometry=frame.geometry, crs=frame.crs)
    fill = {**spec.defaults, **defaults}
    for target in spec.fields:
        values = (
            as_text(frame[sources[target]])
            if target in sources
            else pd.Series([None] * len(frame), index=frame.index, dtype=object)
        )
        if target in fill and fill[target] is not None:
            values = values.where(values.notna(), str(fill[target]))
        out[target] = values
    missing = [f for f in spec.required if f not in sources and f not in fill and f not in mapping]
    if missing:
        issues.append(
            Issue(
                None,
                f"missing required column(s) {', '.join(missing)}; "
                f"available columns: {available_columns(frame)}",
            )
        )
    used = set(sources.values()) | {ROW, frame.geometry.name}
    extra = frame[[c for c in frame.columns if c not in used]] if spec.keep_extra else None
    return out, pd.DataFrame(extra), issues


def required_values(frame: pd.DataFrame, spec: LayerSpec) -> list[Issue]:
    """Row issues for empty cells in required fields."""
    issues = []
    for column in spec.required:
        empty = frame[column].isna().to_numpy()
        issues += [
            Issue(int(r), f"{column} is empty (required)", column) for r in frame[ROW][empty]
        ]
    return issues


def check_areas(
    frame: gpd.GeoDataFrame, stored: Mapping[str, str]
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Codes, levels and parents of areas; ``stored`` maps existing area codes to levels."""
    issues = pattern_issues(
        frame,
        "code",
        r"\d{6}|\d{9}|\d{12}",
        "6 (district), 9 (sub-district) or 12 (community) digits",
    )
    code = frame["code"]
    ok = code.notna() & code.fillna("").str.fullmatch(r"\d{6}|\d{9}|\d{12}")
    length = code.fillna("").str.len()
    inferred = length.map(AREA_LEVELS).where(ok, None)
    issues += choice_issues(frame, "level", AREA_LEVELS.values())
    level = frame["level"]
    clash = ok & level.notna() & level.isin(list(AREA_LEVELS.values())) & (level != inferred)
    issues += [
        Issue(
            int(r),
            f"level {lv!r} does not match the {len(c)}-digit code {c} (expected {inf})",
            "level",
        )
        for r, lv, c, inf in zip(
            frame[ROW][clash], level[clash], code[clash], inferred[clash], strict=True
        )
    ]
    parent = pd.Series(None, index=frame.index, dtype=object)
    parent[ok & (length == 9)] = code[ok & (length == 9)].str[:6]
    parent[ok & (length == 12)] = code[ok & (length == 12)].str[:9]
    given = frame["parent_code"]
    wrong = ok & given.notna() & (given != parent.fillna(""))
    issues += [
        Issue(
            int(r),
            f"parent_code {g!r} does not fit code {c} (expected {p or 'none for a district'})",
            "parent_code",
        )
        for r, g, c, p in zip(
            frame[ROW][wrong], given[wrong], code[wrong], parent[wrong], strict=True
        )
    ]
    frame = frame.assign(level=inferred.where(ok, level), parent_code=parent)
    known = set(stored) | set(code[ok])
    issues += unknown_issues(
        frame,
        "parent_code",
        known,
        "parent area",
        "not in admin_area nor in this file",
        mask=ok & ~wrong,
    )
    issues += duplicate_issues(frame, "code")
    issues += existing_issues(frame, "code", set(stored), "admin_area")
    return frame, issues


def check_units(
    frame: pd.DataFrame,
    areas: Mapping[str, str],
    stored: Collection[str],
    offices: Collection[str],
) -> tuple[pd.DataFrame, list[Issue]]:
    """Units: kinds, area references and one office per sub-district (属地兜底 needs one)."""
    issues = pattern_issues(frame, "code", r".{1,32}", "at most 32 characters")
    issues += choice_issues(frame, "kind", UNIT_KINDS)
    issues += unknown_issues(frame, "area_code", set(areas), "area", "not in admin_area")
    office = (frame["kind"] == "subdistrict_office").to_numpy()
    area = frame["area_code"]
    not_sub = (
        office
        & area.notna().to_numpy()
        & area.isin(list(areas)).to_numpy()
        & (area.map(areas) != "subdistrict").to_numpy()
    )
    no_area = office & area.isna().to_numpy()
    issues += [
        Issue(
            int(r), "a subdistrict_office needs area_code = its 9-digit sub-district", "area_code"
        )
        for r in frame[ROW][no_area | not_sub]
    ]
    offices_in_file = frame[office]
    issues += [
        Issue(i.row, f"a second subdistrict_office for area {v} in the file", "area_code")
        for i, v in _dups(offices_in_file, "area_code")
    ]
    taken = office & area.isin(list(offices)).to_numpy()
    issues += [
        Issue(int(r), f"sub-district {a} already has a subdistrict_office", "area_code")
        for r, a in zip(frame[ROW][taken], area[taken], strict=True)
    ]
    issues += duplicate_issues(frame, "code")
    issues += existing_issues(frame, "code", stored, "responsible_unit")
    return frame, issues


def check_grids(
    frame: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    stored: Collection[str],
    units: Collection[str],
    *,
    max_outside_m2: float = 1.0,
    max_outside_ratio: float = 0.005,
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Grid codes, their community (stored, and containing the grid) and unit references.

    ``communities`` holds the stored communities (``code``, polygons) the file refers to;
    ``stored`` the codes of current grids; ``units`` the known unit codes. The tolerances
    go to :func:`gis.io.validate.outside_issues`.
    """
    issues = pattern_issues(frame, "code", r"\d{15}", "15 digits (community 12 + sequence 3)")
    code = frame["code"]
    ok = (code.notna() & code.fillna("").str.fullmatch(r"\d{15}")).to_numpy()
    inferred = code.str[:12].where(ok, None)
    given = frame["community_code"]
    clash = ok & given.notna().to_numpy() & (given != inferred).to_numpy()
    issues += [
        Issue(
            int(r),
            f"community_code {g!r} must equal the first 12 digits of code {c}",
            "community_code",
        )
        for r, g, c in zip(frame[ROW][clash], given[clash], code[clash], strict=True)
    ]
    frame = frame.assign(community_code=given.where(given.notna(), inferred))
    known = set(communities["code"])
    issues += unknown_issues(
        frame,
        "community_code",
        known,
        "community",
        "not stored in admin_area at level community",
        mask=~clash,
    )
    issues += unknown_issues(frame, "unit_code", units, "unit", "not in responsible_unit")
    issues += duplicate_issues(frame, "code")
    issues += existing_issues(frame, "code", stored, "grid (a current grid has this code)")
    issues += _timestamp_issues(frame, "valid_from")
    inside = (
        usable_geometry(frame.geometry, POLYGONS)
        & frame["community_code"].isin(list(known)).to_numpy()
        & ~clash
    )
    issues += outside_issues(
        frame[inside],
        communities.to_crs(frame.crs),
        max_outside_m2=max_outside_m2,
        max_outside_ratio=max_outside_ratio,
    )
    return frame, issues


def _timestamp_issues(frame: pd.DataFrame, column: str) -> list[Issue]:
    """Row issues for cells that are not ISO 8601 date-times with a UTC offset."""
    issues = []
    for r, value in zip(frame[ROW], frame[column], strict=True):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        try:
            ok = pd.Timestamp(value).tzinfo is not None
        except (ValueError, TypeError):
            ok = False
        if not ok:
            issues.append(
                Issue(
                    int(r),
                    f"{column} {value!r} is not a date-time with a UTC offset "
                    "(e.g. 2025-01-01T00:00:00+08:00)",
                    column,
                )
            )
    return issues


def check_streets(
    frame: gpd.GeoDataFrame, districts: Collection[str], stored_sources: Collection[str]
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Street grades (English aliases accepted), district references and segment ids."""
    grade = frame["grade"].map(lambda g: None if g is None else GRADE_ALIASES.get(g.lower(), g))
    frame = frame.assign(grade=grade)
    issues = choice_issues(frame, "grade", STREET_GRADES)
    issues += unknown_issues(
        frame, "district_code", districts, "district", "not in admin_area at level district"
    )
    issues += duplicate_issues(frame, "source_id")
    issues += existing_issues(frame, "source_id", stored_sources, "street_segment")
    return frame, issues


def check_component_classes(
    frame: gpd.GeoDataFrame, scheme: str, classes: Collection[str]
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Identifier structure and class for ``scheme``; class_code filled from the identifier.

    An identifier is admin code 6 + class (4 digits in 2013, 5 in 2026) + sequence 6.
    """
    digits = CLASS_DIGITS[scheme]
    size = digits + 12
    if frame["identifier"].isna().all() and frame["class_code"].isna().all():
        return frame, [
            Issue(
                None,
                "neither identifier nor class_code given: map one of them "
                "or set a class_code default",
            )
        ]
    issues = pattern_issues(
        frame,
        "identifier",
        rf"\d{{{size}}}",
        f"{size} digits (admin 6 + class {digits} + sequence 6) for the {scheme} scheme",
    )
    ident = frame["identifier"]
    ok = (ident.notna() & ident.fillna("").str.fullmatch(rf"\d{{{size}}}")).to_numpy()
    derived = ident.str[6 : 6 + digits].where(ok, None)
    given = frame["class_code"]
    clash = ok & given.notna().to_numpy() & (given != derived).to_numpy()
    issues += [
        Issue(
            int(r),
            f"class_code {g!r} differs from the class {d} inside identifier {i}",
            "class_code",
        )
        for r, g, d, i in zip(
            frame[ROW][clash], given[clash], derived[clash], ident[clash], strict=True
        )
    ]
    frame = frame.assign(class_code=given.where(given.notna(), derived))
    need = frame["class_code"].isna().to_numpy() & ident.isna().to_numpy()
    issues += [
        Issue(int(r), "no identifier and no class_code: one is required", "class_code")
        for r in frame[ROW][need]
    ]
    issues += pattern_issues(
        frame, "class_code", rf"\d{{{digits}}}", f"{digits} digits for the {scheme} scheme"
    )
    issues += unknown_issues(
        frame,
        "class_code",
        classes,
        "component class",
        f"not in the {scheme} classification",
        mask=~clash,
    )
    status, more = component_statuses(frame)
    return frame.assign(status=status), issues + more


def component_statuses(frame: pd.DataFrame) -> tuple[pd.Series, list[Issue]]:
    """The ``status`` column in CityGrid's words, and issues for the values that have none.

    Census files describe condition in their own words ("In Service", "Permanently Removed",
    破损…): :data:`STATUS_ALIASES` translates the common ones. Planning states (proposed,
    approved…) describe no facility in public space yet and are refused.

    Examples
    --------
    >>> component_statuses(pd.DataFrame({"_row": [1, 2], "status": ["Out of Service", None]}))
    (0    damaged
    1       None
    Name: status, dtype: object, [])
    """
    raw = frame["status"]
    key = raw.str.casefold().str.replace(r"[\s_-]+", " ", regex=True).str.strip()
    status = key.map(STATUS_ALIASES).astype(object)
    status = status.where(raw.notna(), None)
    bad = raw.notna().to_numpy() & status.isna().to_numpy()
    issues = []
    for r, v, k in zip(frame[ROW][bad], raw[bad], key[bad], strict=True):
        why = (
            " (a planning state: a census holds only features that exist; filter the planned "
            "ones out)"
            if k in PLANNING_STATES
            else ""
        )
        issues.append(
            Issue(
                int(r), f"status {v!r} is not one of {', '.join(COMPONENT_STATUSES)}{why}", "status"
            )
        )
    return status, issues


def assign_identifiers(
    frame: gpd.GeoDataFrame,
    district: pd.Series,
    scheme: str,
    last_sequence: Mapping[tuple[str, str], int],
    located=None,
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Fill empty identifiers: district + class + next sequence per (district, class).

    Sequences continue after ``last_sequence`` (stored maxima) and after identifiers given
    in the file, in row order. A row without a district is an issue unless ``located`` is
    False for it (its geometry is already reported as unusable).
    """
    digits = CLASS_DIGITS[scheme]
    ident = frame["identifier"]
    todo = (
        ident.isna().to_numpy()
        & frame["class_code"].fillna("").str.fullmatch(rf"\d{{{digits}}}").to_numpy()
    )
    lost = todo & district.isna().to_numpy()
    if located is not None:
        lost &= np.asarray(located, bool)
    issues = [
        Issue(
            int(r),
            "no district in admin_area contains this component; give district_code",
            "district_code",
        )
        for r in frame[ROW][lost]
    ]
    todo &= district.notna().to_numpy()
    if not todo.any():
        return frame, issues
    given = ident.dropna()
    given = given[given.str.fullmatch(rf"\d{{{digits + 12}}}")]
    start = dict(last_sequence)
    for key, seq in zip(
        zip(given.str[:6], given.str[6 : 6 + digits], strict=True),
        given.str[-6:].astype(int),
        strict=True,
    ):
        start[key] = max(start.get(key, 0), seq)
    keys = pd.DataFrame({"d": district[todo].to_numpy(), "c": frame["class_code"][todo].to_numpy()})
    base = np.array([start.get((d, c), 0) for d, c in zip(keys["d"], keys["c"], strict=True)])
    seq = base + keys.groupby(["d", "c"]).cumcount().to_numpy() + 1
    new = keys["d"] + keys["c"] + pd.Series(seq).map("{:06d}".format)
    ident = ident.copy()
    ident[todo] = new.to_numpy()
    over = seq > 999_999
    issues += [
        Issue(int(r), f"sequence exhausted for district {d} class {c} (max 999999)", "identifier")
        for r, d, c in zip(frame[ROW][todo][over], keys["d"][over], keys["c"][over], strict=True)
    ]
    return frame.assign(identifier=ident), issues


def check_component_refs(
    frame: gpd.GeoDataFrame, units: Collection[str], stored: Collection[str]
) -> list[Issue]:
    """Unit references, identifiers repeated in the file and identifiers already stored."""
    issues = unknown_issues(frame, "owner_unit_code", units, "unit", "not in responsible_unit")
    issues += unknown_issues(
        frame, "maintainer_unit_code", units, "unit", "not in responsible_unit"
    )
    issues += duplicate_issues(frame, "identifier")
    issues += existing_issues(frame, "identifier", stored, "component")
    return issues


def _dups(frame: pd.DataFrame, column: str):
    for issue in duplicate_issues(frame, column):
        yield issue, frame.loc[frame[ROW] == issue.row, column].iloc[0]


def available_columns(frame: pd.DataFrame) -> str:
    cols = [str(c) for c in frame.columns if c not in ("geometry", ROW)]
    return ", ".join(cols) or "(none)"
