"""Map service: gathers rows for the supervisor, analyst and planner maps and renders HTML.

Leaflet comes from the ``django-js-lib-leaflet`` package (plain static files, no Django
needed) and the heat plugin from folium's own templates, so maps work on an intranet with
no CDN: the API serves them under ``/maps/assets/`` and CLI exports inline them.
"""

from __future__ import annotations

import html
import importlib.util
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine

from app.db.grids import versions as grid_repo
from app.db.hotspots import queries as repo
from app.db.hotspots.queries import EventFilter
from app.errors import ForbiddenError, InvalidInputError, NotFoundError
from app.services.accounts.users import User
from app.services.hotspots import analysis as hotspot_service
from app.services.hotspots import layers as spatial_layers
from app.services.workflow.machine import Policy
from app.services.workflow.transitions import case_light, make_policy
from app.settings import Settings

ASSET_URL = "/maps/assets/"
# app/static: Leaflet.draw lives there (it ships with no Python package).
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
CASES_MAX = 2000
# Roles that may look at any supervisor's map (the command centre's posts).
COMMAND_CENTRE = ("acceptor", "shift_leader", "dispatcher")
COMPONENTS_MAX = 5000
WORKLOAD_DAYS = 90
# Streets on the planner map only up to this many grids (a sub-district, not a megacity).
STREETS_MAX_GRIDS = 5000


def _package_dir(name: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def asset_files() -> dict[str, Path]:
    """Local files the maps can load, by the name they are served under (empty if missing)."""
    leaflet = _package_dir("js_lib_leaflet", "static", "js_lib_leaflet")
    folium = _package_dir("folium", "templates")
    files: dict[str, Path] = {}
    if leaflet is not None and (leaflet / "leaflet.js").exists():
        files.update({"leaflet.js": leaflet / "leaflet.js", "leaflet.css": leaflet / "leaflet.css"})
        for image in (leaflet / "images").glob("*.png"):
            files[f"images/{image.name}"] = image
    if folium is not None and (folium / "leaflet_heat.min.js").exists():
        files["leaflet-heat.js"] = folium / "leaflet_heat.min.js"
    draw = STATIC_DIR / "leaflet-draw"
    for path in draw.rglob("*"):
        if path.is_file() and path.suffix != ".md":
            files[f"leaflet-draw/{path.relative_to(draw).as_posix()}"] = path
    return files


def asset_file(name: str) -> Path:
    """One local asset by name, or 404."""
    path = asset_files().get(name)
    if path is None:
        raise NotFoundError(f"没有地图资源 {name}", f"no map asset {name}")
    return path


def _options(settings: Settings, lang: str, basemap: str | None, inline: bool):
    from gis.maps import MapOptions

    files = asset_files()
    local = settings.map_assets == "local" and {
        "leaflet.js",
        "leaflet.css",
        "leaflet-heat.js",
    } <= set(files)
    assets = (
        {
            "leaflet_js": ASSET_URL + "leaflet.js",
            "leaflet_css": ASSET_URL + "leaflet.css",
            "heat_js": ASSET_URL + "leaflet-heat.js",
        }
        if local
        else None
    )
    options = MapOptions(
        lang=lang,
        basemap=basemap or settings.map_basemap,
        tianditu_key=settings.map_tianditu_key,
        assets=assets,
        simplify_m=settings.map_simplify_m,
    )
    inline_map = {}
    if inline and local:
        inline_map = {
            ASSET_URL + n: files[n].read_text(encoding="utf-8")
            for n in ("leaflet.js", "leaflet.css", "leaflet-heat.js")
        }
    return options, inline_map


SESSION_BAR = (
    '<form method="post" action="/logout?lang={lang}" id="cg-session" class="cg-box" '
    'style="top:10px;left:56px;margin:0">{who} · <button type="submit">{out}</button>'
    "</form>"
)


def _render(m, inline: dict[str, str], viewer: User | None = None, lang: str = "zh") -> str:
    """The page; a signed-in ``viewer`` sees who they are and a sign-out button."""
    import folium

    from gis.maps import render_html

    if viewer is not None:
        who = html.escape(viewer.display_name or viewer.username)
        out = "退出登录" if lang == "zh" else "Sign out"
        m.get_root().html.add_child(folium.Element(SESSION_BAR.format(lang=lang, who=who, out=out)))
    return render_html(m, inline)


# -- analyst hotspot map --------------------------------------------------------------------


def hotspot_map_html(
    engine: Engine,
    settings: Settings,
    f: EventFilter,
    *,
    fdr: bool | None = None,
    lang: str = "zh",
    basemap: str | None = None,
    inline: bool = False,
    top: int | None = None,
) -> str:
    """Analyst map for filter ``f``: Gi* bins, heat layer, top streets, filter in the title."""
    from gis.maps import hotspot_map

    options, inline_map = _options(settings, lang, basemap, inline)
    hot = hotspot_service.grid_hotspots(engine, settings, f, fdr=fdr)
    layer = hot.layer
    geoms = layer.geometry[hot.rows]
    grids = gpd.GeoDataFrame(
        {
            "code": hot.frame.index.to_numpy(),
            "events": hot.frame["events"].to_numpy(),
            "z": hot.frame["z"].round(2).to_numpy(),
            "bin": hot.frame["bin"].to_numpy(),
        },
        geometry=geoms,
        crs=4326,
    )
    busy = grids["events"].to_numpy() > 0
    # Heat at grid centroids weighted by counts: bounded by the number of grids, whatever
    # the number of events, and the grid is the unit of the analysis anyway.
    centres = shapely.centroid(geoms[busy])
    heat = pd.DataFrame(
        {
            "lon": shapely.get_x(centres),
            "lat": shapely.get_y(centres),
            "weight": grids["events"].to_numpy()[busy] / max(1, grids["events"].max()),
        }
    )
    streets = _top_streets(
        engine, settings, f, settings.map_top_streets if top is None else top, lang
    )
    title = _title(engine, settings, f, lang, options.text("hotspot_title"))
    background = None
    if len(grids) > settings.map_grid_detail_max:
        # City-wide: non-significant grids melt into their communities' background.
        with engine.connect() as conn:
            background = _frame(repo.communities(conn, f.area), lang, "name")
        grids = grids[grids["bin"] != 0]
    m = hotspot_map(
        grids,
        title=title,
        heat=heat,
        streets=streets,
        fdr=hot.fdr,
        background=background,
        options=options,
    )
    return _render(m, inline_map)


def _top_streets(engine: Engine, settings: Settings, f: EventFilter, top: int, lang: str):
    if top <= 0:
        return None
    frame = hotspot_service.street_hotspots(
        engine, settings, f, level="street", limit=top
    ).reset_index()
    if frame.empty:
        return None
    shapes = hotspot_service.street_geometries(engine, "street", frame["street_id"].tolist())
    frame = frame[frame["street_id"].isin(list(shapes))]
    names = frame["name_en"].fillna(frame["name"]) if lang == "en" else frame["name"]
    return gpd.GeoDataFrame(
        {
            "rank": frame["rank"],
            "name": names,
            "events": frame["events"],
            "per_100m": frame["per_100m"].fillna(0),
        },
        geometry=shapely.from_geojson([shapes[i] for i in frame["street_id"]]),
        crs=4326,
    )


def _title(engine: Engine, settings: Settings, f: EventFilter, lang: str, heading: str) -> str:
    """Heading plus the filter in words, e.g. "案件热点分析 · 暴露垃圾 · 2026-01-01 至 2026-03-31"."""
    from gis.maps import TEXT

    t = TEXT[lang]
    parts = [heading]
    if f.classes:
        with engine.connect() as conn:
            names = repo.class_names(conn, f.scheme, list(f.classes))
        parts.append(
            "、".join(
                f"{c} {(names.get(c, (c, c))[1 if lang == 'en' else 0]) or c}" for c in f.classes
            )
        )
    if f.majors:
        parts.append(f"{t['class']} {','.join(f.majors)}")
    if f.start or f.end:
        tz = ZoneInfo(settings.timezone)
        start = f.start.astimezone(tz).date().isoformat() if f.start else "…"
        # 'to' is exclusive inside; people read the last day included
        end = (f.end.astimezone(tz) - pd.Timedelta(seconds=1)).date().isoformat() if f.end else "…"
        parts.append(f"{start} {t['to']} {end}")
    else:
        parts.append(t["all_events"])
    for key, values in (
        ("source", f.sources),
        ("status", f.statuses + (("open",) if f.open_only else ())),
    ):
        if values:
            parts.append(f"{t[key]} {','.join(values)}")
    if f.area:
        parts.append(f"{t['area']} {f.area}")
    return " · ".join(parts)


# -- supervisor map -------------------------------------------------------------------------


def supervisor_map_html(
    engine: Engine,
    settings: Settings,
    *,
    grid: str | None = None,
    supervisor: str | None = None,
    at: datetime | None = None,
    lang: str = "zh",
    basemap: str | None = None,
    inline: bool = False,
    viewer: User | None = None,
) -> str:
    """A supervisor's grids (or one grid) with open cases by deadline light.

    A ``viewer`` who is a supervisor and nothing more sees only the grids bound to them
    (grid.supervisor = their display name), and sees them without asking; the command
    centre's roles may look at anyone's. ``viewer=None`` is the local CLI.
    """
    from gis.maps import supervisor_map

    own = None
    if viewer is not None and not viewer.has(*COMMAND_CENTRE, "admin"):
        own = viewer.display_name or viewer.username
        if supervisor and supervisor != own:
            raise ForbiddenError(
                f"监督员只能查看自己的网格（{own}）",
                f"a supervisor sees only their own grids ({own})",
            )
        supervisor = supervisor or (None if grid else own)
    if not grid and not supervisor:
        raise InvalidInputError(
            "需要 grid（网格编码）或 supervisor（监督员姓名）",
            "give grid (a grid code) or supervisor (a name)",
            parameter="grid",
        )
    options, inline_map = _options(settings, lang, basemap, inline)
    tz = ZoneInfo(settings.timezone)
    now = pd.Timestamp(at or datetime.now(tz))
    now = now.tz_localize(tz) if now.tzinfo is None else now
    with engine.connect() as conn:
        rows = repo.supervisor_grids(conn, grid=grid, supervisor=supervisor)
        if not rows:
            raise NotFoundError(
                f"没有找到网格或监督员：{grid or supervisor}",
                f"no current grid or supervisor {grid or supervisor}",
            )
        if own is not None and rows[0]["supervisor"] != own:
            raise ForbiddenError(
                f"网格 {grid} 不归您（{own}）巡查", f"grid {grid} is not one of yours ({own})"
            )
        codes = [r["code"] for r in rows]
        policy = make_policy(conn, settings)
        open_rows = repo.open_cases(conn, codes, CASES_MAX)
        parts = pd.DataFrame(repo.grid_components(conn, codes, COMPONENTS_MAX))
        grids = _frame(rows, lang, "community_name")
        streets = _frame(repo.segments_near(conn, tuple(grids.total_bounds), 0.0005), lang, "name")
    cases = _case_frame(open_rows, now.to_pydatetime(), tz, policy, settings, lang)
    components = None
    if not parts.empty:
        parts["class_name"] = _localised(parts, "class_name", lang)
        components = gpd.GeoDataFrame(
            parts, geometry=gpd.points_from_xy(parts["lon"], parts["lat"]), crs=4326
        )
    t = options.text
    who = supervisor or rows[0]["supervisor"] or ""
    title = (
        f"{t('supervisor_title')} · {t('supervisor')} {who} · {len(rows)} {t('grid_count')} · "
        f"{len(cases)} {t('open_cases')} · {t('as_of')} {now.astimezone(tz):%Y-%m-%d %H:%M}"
    )
    m = supervisor_map(
        grids, cases, title=title, components=components, streets=streets, options=options
    )
    return _render(m, inline_map, viewer, lang)


def _localised(frame: pd.DataFrame, column: str, lang: str) -> pd.Series:
    if lang == "en" and f"{column}_en" in frame:
        return frame[f"{column}_en"].fillna(frame[column])
    return frame[column]


def _frame(rows: list[dict], lang: str, name: str) -> gpd.GeoDataFrame:
    frame = pd.DataFrame(rows, columns=list(rows[0]) if rows else [name, f"{name}_en", "wkb"])
    if not frame.empty:
        frame[name] = _localised(frame, name, lang)
    geoms = shapely.from_wkb([bytes(b) for b in frame.pop("wkb")]) if len(frame) else []
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=4326)


def _case_frame(
    rows: list[dict], now: datetime, tz: ZoneInfo, policy: Policy, settings: Settings, lang: str
) -> gpd.GeoDataFrame:
    columns = [
        "id",
        "light",
        "class_name",
        "status",
        "reported_at",
        "due_at",
        "deadline_at",
        "used_pct",
        "location_text",
    ]
    if not rows:
        return gpd.GeoDataFrame(columns=columns, geometry=[], crs=4326)
    cases = pd.DataFrame(rows)
    # The workflow decides each light (one rule with the task list and the light counts).
    lights = pd.DataFrame(
        [case_light(row, policy, now, settings.workflow_yellow_share) for row in rows],
        index=cases.index,
    )

    def local(column: pd.Series) -> pd.Series:
        moments = pd.to_datetime(column, utc=True)
        return moments.dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M").where(moments.notna(), None)

    out = pd.DataFrame(
        {
            "id": cases["id"],
            "light": lights["light"],
            "class_name": _localised(cases, "class_name", lang).fillna(cases["class_code"]),
            "status": cases["status"],
            "reported_at": local(cases["reported_at"]),
            "due_at": local(lights["due_at"]),
            "deadline_at": local(lights["deadline_at"]),
            "used_pct": np.round(lights["used_percent"].astype(float), 0),
            "location_text": cases["location_text"],
        }
    )
    return gpd.GeoDataFrame(out, geometry=gpd.points_from_xy(cases["lon"], cases["lat"]), crs=4326)


# -- planner map ----------------------------------------------------------------------------


def planner_map_html(
    engine: Engine,
    settings: Settings,
    *,
    area: str | None = None,
    lang: str = "zh",
    basemap: str | None = None,
    inline: bool = False,
    viewer: User | None = None,
    editor: dict | None = None,
) -> str:
    """Grids coloured by community with their workload (components, cases in the last 90
    days), communities and streets; a planner (``viewer`` with the planner role) also gets
    the drawing tools and the edit panel, whose script, stylesheet and settings the web
    layer gives as ``editor`` (keys ``script``, ``css``, ``config_id``, ``config``)."""
    from gis.maps import community_colours, planner_map

    if area and not hotspot_service.AREA.match(area):
        raise InvalidInputError(
            f"区域编码应为 6、9、12 或 15 位数字：{area!r}",
            f"area is a 6, 9, 12 or 15-digit code: {area!r}",
            parameter="area",
        )
    options, inline_map = _options(settings, lang, basemap, inline)
    layer = spatial_layers.grid_layer(engine, settings)
    keep = (
        np.char.startswith(layer.codes.astype(str), area)
        if area
        else np.ones(len(layer.codes), bool)
    )
    if not keep.any():
        raise NotFoundError(f"区域 {area} 内没有网格", f"no grids in area {area}")
    colours = community_colours(layer.community, layer.weights)
    codes = layer.codes[keep]
    since = datetime.now(ZoneInfo(settings.timezone)) - pd.Timedelta(days=WORKLOAD_DAYS)
    with engine.connect() as conn:
        workload = grid_repo.grid_workload(conn, area, since)
        communities = _frame(repo.communities(conn, area), lang, "name")
        streets = None
        if len(codes) <= STREETS_MAX_GRIDS:
            bounds = tuple(shapely.total_bounds(layer.geometry[keep]))
            streets = _frame(repo.segments_near(conn, bounds, 0.0), lang, "name")
    counts = np.array([workload.get(c, (0, 0)) for c in codes], dtype=int).reshape(-1, 2)
    grids = gpd.GeoDataFrame(
        {
            "code": codes,
            "community_code": layer.community[keep],
            "community_name": layer.community_name[keep],
            "supervisor": layer.supervisor[keep],
            "components": counts[:, 0],
            "cases": counts[:, 1],
        },
        geometry=layer.geometry[keep],
        crs=4326,
    )
    tools = []
    if editor is not None and viewer is not None and viewer.has("planner", "admin"):
        tools.append(_grid_editor(editor, options))
    t = options.text
    title = f"{t('planner_title')} · {len(codes)} {t('grid_count')}" + (
        f" · {area}" if area else ""
    )
    m = planner_map(
        grids,
        title=title,
        colours=colours,
        communities=communities,
        streets=streets,
        options=options,
        extend=tools,
        workload_layer=len(codes) <= settings.map_grid_detail_max,
    )
    return _render(m, inline_map, viewer, lang)


def _grid_editor(editor: dict, options):
    """A :func:`gis.maps.planner_map` hook: Leaflet.draw plus the editor panel's script."""
    from gis.maps import drawing_tools, page_script

    draw = None
    if options.assets:
        draw = {
            "js": ASSET_URL + "leaflet-draw/leaflet.draw.js",
            "css": ASSET_URL + "leaflet-draw/leaflet.draw.css",
        }

    def add(m) -> None:
        drawn = drawing_tools(m, options, assets=draw)
        # the script finds the map and the drawn-shapes layer by their global names
        config = {**editor["config"], "map": m.get_name(), "drawn": drawn.get_name()}
        page_script(
            m, editor["script"], css=editor["css"], config=config, config_id=editor["config_id"]
        )

    return add
