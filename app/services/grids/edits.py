"""Grid edit service: reshape, split, merge, create, retire, renumber — versioned, checked.

One edit is one transaction: lock the community, compute the new shapes (``gis.grids.edits``),
end the old versions and start the new ones at the same instant, give new grids the next
free codes (never a retired one), move open cases and components to the grids now covering
them (closed cases keep the version they had), then ask the database for the topology
verdict. A broken rule rolls everything back (422 with the violations); ``dry_run`` always
rolls back and returns the verdict and what would have moved. The COMMIT is checked once
more by the trigger, which also guards edits made outside CityGrid.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
from shapely.geometry import shape as from_geojson
from shapely.geometry.base import BaseGeometry
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db.grids import edits as repo
from app.errors import InvalidInputError, NotFoundError
from app.services.grids import topology
from app.services.grids.lookup import check_area_code, check_grid_code
from app.settings import Settings
from gis.grids import EditError, GridChange, edits

Change = Callable[[gpd.GeoDataFrame, BaseGeometry], GridChange]


@dataclass(frozen=True)
class EditOptions:
    """Who edits, why, and whether only to preview (nothing stored)."""

    actor: str | None = None
    note: str | None = None
    dry_run: bool = False


PLAIN = EditOptions()


def parse_geometry(value: dict | None, what: str = "geometry") -> BaseGeometry:
    """A drawn GeoJSON geometry (or Feature) in WGS84 as a shapely geometry — a valid polygon,
    or for ``what="line"`` a simple line —, or 422."""
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    try:
        geometry = from_geojson(value)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise InvalidInputError(
            f"{what} 不是有效的 GeoJSON 几何", f"{what} is not a valid GeoJSON geometry: {exc}"
        ) from exc
    if geometry.is_empty:
        raise InvalidInputError(f"{what} 为空", f"{what} is empty")
    try:
        edits.check_drawn(geometry, "line" if what == "line" else "polygon")
    except EditError as exc:
        raise InvalidInputError(exc.message_zh, exc.message_en) from exc
    return geometry


def reshape(
    session: Session,
    settings: Settings,
    code: str,
    geometry: BaseGeometry,
    options: EditOptions = PLAIN,
    *,
    adjust_neighbours: bool = True,
) -> dict:
    """New shape for grid ``code`` (same code, next version); neighbours follow if asked."""
    return _run(
        session,
        settings,
        "reshape",
        _community_of(session, [code]),
        options,
        lambda grids, shape: edits.reshape_grid(
            grids, code, geometry, shape, adjust_neighbours=adjust_neighbours
        ),
    )


def split(
    session: Session,
    settings: Settings,
    code: str,
    line: BaseGeometry,
    options: EditOptions = PLAIN,
) -> dict:
    """Cut grid ``code`` along ``line`` into new grids with new codes."""
    return _run(
        session,
        settings,
        "split",
        _community_of(session, [code]),
        options,
        lambda grids, shape: edits.split_grid(grids, code, line),
    )


def merge(
    session: Session, settings: Settings, codes: list[str], options: EditOptions = PLAIN
) -> dict:
    """Merge adjacent grids of one community into one new grid."""
    return _run(
        session,
        settings,
        "merge",
        _community_of(session, codes),
        options,
        lambda grids, shape: edits.merge_grids(grids, codes),
    )


def create(
    session: Session,
    settings: Settings,
    geometry: BaseGeometry,
    options: EditOptions = PLAIN,
    *,
    community: str | None = None,
) -> dict:
    """A new grid from a drawn polygon, clipped to the free area of its community."""
    community = community or repo.community_under(session, geometry)
    if community is None:
        raise InvalidInputError("所画范围不在任何社区内", "the drawn polygon lies in no community")
    return _run(
        session,
        settings,
        "create",
        check_area_code(community),
        options,
        lambda grids, shape: edits.create_grid(grids, community, shape, geometry),
    )


def retire(
    session: Session, settings: Settings, codes: list[str], options: EditOptions = PLAIN
) -> dict:
    """End grids without successor (refused where that leaves a gap in a gridded community)."""
    return _run(
        session,
        settings,
        "retire",
        _community_of(session, codes),
        options,
        lambda grids, shape: edits.retire_grids(grids, codes),
    )


def renumber(
    session: Session, settings: Settings, community: str, options: EditOptions = PLAIN
) -> dict:
    """Re-sequence a community's grids 001, 002, … west→east, north→south; keeps the mapping."""
    check_area_code(community)
    try:
        repo.lock_community(session, community)
        grids = repo.current_grids(session, community)
        if grids.empty:
            raise NotFoundError(
                f"社区 {community} 没有现行网格", f"community {community} has no grids"
            )
        mapping = _edit(lambda: edits.renumber(grids, settings.grid_target_area_m2**0.5))
        writer = _Writer(session, settings, "renumber", community, options)
        result = writer.renumber(grids, {o: n for o, n in mapping.items() if o != n})
        return _finish(writer, result)
    except BaseException:
        session.rollback()
        raise


def history(session: Session, code: str) -> dict:
    """Every version of grid ``code`` with the edits that touched it, or 404."""
    found = repo.history(session, check_grid_code(code))
    if not found["versions"] and not found["renumbered"]:
        raise NotFoundError(
            f"没有编码为 {code} 的网格（任何时期）", f"no grid ever had code {code}"
        )
    return found


# -- the transaction --------------------------------------------------------------------------


def _run(
    session: Session,
    settings: Settings,
    kind: str,
    community: str,
    options: EditOptions,
    make: Change,
) -> dict:
    try:
        repo.lock_community(session, community)
        shape = repo.community_shape(session, community)
        if shape is None:
            raise NotFoundError(f"没有编码为 {community} 的社区", f"no community {community}")
        grids = repo.current_grids(session, community)
        change = _edit(lambda: make(grids, shape))
        writer = _Writer(session, settings, kind, community, options)
        return _finish(writer, writer.apply(grids, change))
    except BaseException:
        session.rollback()
        raise


def _edit(compute):
    try:
        return compute()
    except EditError as exc:
        raise InvalidInputError(exc.message_zh, exc.message_en) from exc


class _Writer:
    """Writes one edit: its log row, the versions it ends and starts, what it moves."""

    def __init__(
        self, session: Session, settings: Settings, kind: str, community: str, options: EditOptions
    ) -> None:
        self.session, self.settings, self.kind = session, settings, kind
        self.community, self.options = community, options
        self.edit_id = repo.insert_edit(session, kind, community, options.actor, options.note)

    def apply(self, grids: gpd.GeoDataFrame, change: GridChange) -> dict:
        """End versions, start versions (new codes last-used + 1), retire codes, move cases."""
        by_code = grids.set_index("code")
        ended = [*change.retired, *change.reshaped]
        repo.end_versions(self.session, [int(by_code.at[c, "id"]) for c in ended])
        started = [
            self._start(
                code, shape, int(by_code.at[code, "version"]) + 1, by_code.loc[code], keep_name=True
            )
            for code, shape in change.reshaped.items()
        ]
        first = repo.last_sequence(self.session, self.community) + 1
        if first + len(change.created) - 1 > 999:
            raise InvalidInputError(
                f"社区 {self.community} 的网格序号已用尽（最多 999）",
                f"community {self.community} has used all 999 grid sequence numbers",
            )
        for n, (shape, parent) in enumerate(zip(change.created, change.parents, strict=True)):
            # a split or merge grid keeps its parent's unit and supervisor, not its name
            parent_row = by_code.loc[parent] if parent else None
            started.append(self._start(f"{self.community}{first + n:03d}", shape, 1, parent_row))
        repo.retire_codes(self.session, change.retired, self.community, self.edit_id)
        new_codes = [s["code"] for s in started]
        events = repo.reassign_events(self.session, ended, new_codes)
        components = repo.reassign_components(self.session, ended, new_codes)
        result = self._result(change.retired, started, events, components, ended)
        result["clipped_m2"] = None if change.clipped is None else _area_m2(change.clipped)
        return result

    def renumber(self, grids: gpd.GeoDataFrame, mapping: dict[str, str]) -> dict:
        """New codes for unchanged shapes; cases and components follow their grid's code."""
        moving = grids[grids["code"].isin(list(mapping))].set_index("code")
        repo.end_versions(self.session, moving["id"].astype(int).tolist())
        versions = repo.last_versions(self.session, list(mapping.values()))
        started = [
            self._start(
                mapping[code], row.geometry, versions.get(mapping[code], 0) + 1, row, keep_name=True
            )
            for code, row in moving.iterrows()
        ]
        repo.record_renumbering(self.session, self.edit_id, mapping)
        # codes no longer in use after the renumbering join the retired ones
        gone = sorted(set(mapping) - set(mapping.values()))
        repo.retire_codes(self.session, gone, self.community, self.edit_id)
        events, components = repo.rename_in_place(self.session, mapping)
        result = self._result(gone, started, events, components, list(mapping))
        result["mapping"] = dict(sorted(mapping.items()))
        return result

    def _start(
        self, code: str, shape: BaseGeometry, version: int, attrs, keep_name: bool = False
    ) -> dict:
        return repo.insert_version(
            self.session,
            code=code,
            community=self.community,
            shape=shape,
            version=version,
            name=attrs["name"] if keep_name and attrs is not None else None,
            unit_id=None if attrs is None else _int(attrs["unit_id"]),
            supervisor=None if attrs is None else attrs["supervisor"],
        )

    def _result(
        self,
        retired: list[str],
        started: list[dict],
        events: list[dict],
        components: list[dict],
        ended: list[str],
    ) -> dict:
        repo.log_case_moves(self.session, events, self.edit_id, self.options.actor)
        result = {
            "edit_id": self.edit_id,
            "kind": self.kind,
            "community_code": self.community,
            "retired": list(retired),
            "started": [{k: s[k] for k in ("code", "version", "area_m2")} for s in started],
            "moved": {"events": events, "components": components},
            "closed_cases_kept": repo.closed_cases_in(self.session, ended),
            "grids": repo.grid_features(self.session, [s["id"] for s in started]),
        }
        summary = {k: result[k] for k in ("retired", "started", "moved", "closed_cases_kept")}
        repo.finish_edit(
            self.session,
            self.edit_id,
            retired,
            [s["code"] for s in started],
            json.dumps(summary, ensure_ascii=False, default=str),
        )
        return result


def _finish(writer: _Writer, result: dict) -> dict:
    """Verdict from the database; commit, or roll back (dry run or broken rules)."""
    session, dry_run = writer.session, writer.options.dry_run
    found = topology.check(session, writer.settings, [writer.community])
    errors = [v for v in found if v["severity"] == "error"]
    result.update(
        valid=not errors,
        dry_run=dry_run,
        violations=errors,
        warnings=[v for v in found if v["severity"] == "warning"],
    )
    if dry_run or errors:
        session.rollback()
        result["edit_id"] = None
        if errors and not dry_run:
            raise topology.refused(found, preview={k: result[k] for k in ("retired", "started")})
        return result
    try:
        session.commit()
    except DBAPIError as exc:
        session.rollback()
        translated = topology.from_database(exc)
        if translated is None:
            raise
        raise translated from exc
    return result


def _community_of(session: Session, codes: list[str]) -> str:
    for code in codes:
        check_grid_code(code)
    found = repo.current_community_of(session, codes)
    missing = sorted(set(codes) - set(found))
    if missing:
        raise NotFoundError(
            f"没有现行网格 {'、'.join(missing)}", f"no current grid {', '.join(missing)}"
        )
    communities = sorted(set(found.values()))
    if len(communities) > 1:
        raise InvalidInputError(
            f"这些网格属于不同社区（{'、'.join(communities)}）",
            f"the grids belong to different communities ({', '.join(communities)})",
        )
    return communities[0]


def _int(value) -> int | None:
    return None if value is None or value != value else int(value)  # NaN from pandas


def _area_m2(shape: BaseGeometry) -> float:
    series = gpd.GeoSeries([shape], crs=4326)
    return round(float(series.to_crs(series.estimate_utm_crs()).area.iloc[0]), 1)
