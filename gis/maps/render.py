"""Folium maps for supervisors, analysts and planners (folium is imported inside each function).

Every map takes GeoDataFrames in EPSG:4326 and returns a ``folium.Map`` so callers (and
later features, such as grid-drawing tools) can add layers before rendering with
:func:`render_html`. City-wide layers are simplified and rounded for display only
(:func:`display_frame`): 2 m and 5 decimals (~1 m) are invisible at city zoom and cut the
HTML several-fold.

Examples
--------
>>> from shapely import box
>>> grids = gpd.GeoDataFrame({"code": ["320599001001001"], "events": [5], "z": [2.7], "bin": [3]},
...                          geometry=[box(120.60, 31.30, 120.601, 31.301)], crs=4326)
>>> html = render_html(hotspot_map(grids, title="Demo", options=MapOptions(lang="en")))
>>> "hot spot 99%" in html and "Demo" in html
True
"""

from __future__ import annotations

import html as _html
from collections.abc import Callable, Iterable

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.hotspots.weights import Contiguity
from gis.maps._base import (
    MapOptions,
    add_legend,
    base_map,
    check_wgs84,
    display_frame,
    feature_collection,
    geojson_tooltip,
    safe_text,
)
from gis.maps.text import (
    BIN_COLOURS,
    COMMUNITY_COLOURS,
    LIGHT_COLOURS,
    WORKLOAD_COLOURS,
)

__all__ = [
    "MapOptions",
    "hotspot_map",
    "supervisor_map",
    "planner_map",
    "community_colours",
    "display_frame",
    "render_html",
    "add_legend",
]


def hotspot_map(
    grids: gpd.GeoDataFrame,
    *,
    title: str,
    heat: pd.DataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    fdr: bool = False,
    background: gpd.GeoDataFrame | None = None,
    options: MapOptions = MapOptions(),
):
    """Analyst map: Gi* bins as a diverging choropleth, heat layer, top streets, legend.

    ``grids``: code, events, z, bin; ``heat``: lon, lat, weight; ``streets``: rank, name,
    events, per_100m, geometry (lines). ``background`` (areas, e.g. communities) is drawn
    in the "not significant" colour under the grids: a city-wide map can then pass only
    its significant grids and stay a few megabytes.
    """
    import folium
    from folium.plugins import HeatMap

    check_wgs84(grids, "grids")
    bounds = (background if background is not None and len(background) else grids).total_bounds
    m = base_map(bounds, title, options)
    shown = display_frame(grids, options)
    t = options.text
    group = folium.FeatureGroup(name=t("gi_layer"), show=True).add_to(m)
    if background is not None and len(background):
        folium.GeoJson(
            feature_collection(display_frame(background, options), ["name"]),
            control=False,
            style_function=lambda _: {
                "fillColor": BIN_COLOURS[0],
                "color": "#bdbdbd",
                "weight": 0.5,
                "fillOpacity": 0.35,
            },
            tooltip=geojson_tooltip(["name"], labels=False),
        ).add_to(group)
    for b in sorted(BIN_COLOURS):
        part = shown[shown["bin"] == b]
        if part.empty:
            continue
        # One layer per bin: a constant style, so folium embeds no per-feature style table.
        style = {
            "fillColor": BIN_COLOURS[b],
            "color": "#bdbdbd" if b == 0 else "#737373",
            "weight": 0.3 if b == 0 else 0.6,
            "fillOpacity": 0.35 if b == 0 else 0.8,
        }
        folium.GeoJson(
            feature_collection(part, ["code", "events", "z"]),
            name=t("bins")[b],
            control=False,
            style_function=lambda _, s=style: s,
            zoom_on_click=False,
            tooltip=geojson_tooltip(
                ["code", "events", "z"], aliases=[t("code"), t("events"), t("z")]
            ),
        ).add_to(group)
    if heat is not None and len(heat):
        layer = HeatMap(
            heat[["lat", "lon", "weight"]].to_numpy().round(5).tolist(),
            name=t("heat_layer"),
            show=False,
            radius=18,
            blur=15,
            min_opacity=0.3,
        )
        if options.assets:
            layer.default_js = [("leaflet-heat.js", options.assets["heat_js"])]
        layer.add_to(m)
    if streets is not None and len(streets):
        _top_streets(m, display_frame(streets, options), options)
    add_legend(
        m,
        t("legend_gi") + (t("fdr") if fdr else ""),
        [(BIN_COLOURS[b], t("bins")[b]) for b in sorted(BIN_COLOURS, reverse=True)],
    )
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _top_streets(m, streets: gpd.GeoDataFrame, options: MapOptions) -> None:
    import folium

    t = options.text
    group = folium.FeatureGroup(name=t("streets_layer"), show=True).add_to(m)
    for row in streets.itertuples():
        label = safe_text(
            f"{row.rank}. {row.name}: {row.events} {t('events')} ({row.per_100m:.1f} {t('per_100m')})"
        )
        coords = [
            [[y, x] for x, y in part.coords]
            for part in getattr(row.geometry, "geoms", [row.geometry])
        ]
        folium.PolyLine(coords, color="#6a3d9a", weight=5, opacity=0.85, tooltip=label).add_to(
            group
        )
        point = row.geometry.interpolate(0.5, normalized=True)
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(
                html=f'<div style="background:#6a3d9a;color:#fff;border-radius:9px;width:18px;height:18px;'
                f'text-align:center;font:bold 11px/18px sans-serif">{row.rank}</div>',
                icon_size=(18, 18),
                icon_anchor=(9, 9),
            ),
            tooltip=label,
        ).add_to(group)


def supervisor_map(
    grids: gpd.GeoDataFrame,
    cases: gpd.GeoDataFrame,
    *,
    title: str,
    components: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    case_url: Callable[[int], str] = "/api/v1/events/{}".format,
    options: MapOptions = MapOptions(),
):
    """Supervisor map: own grids, open cases by deadline light with popups, components, streets.

    ``cases``: id, light (``green``/``yellow``/``red``/``none``, decided by the caller's
    workflow), class_name, status, reported_at, due_at (the current stage's due time),
    deadline_at (the handling deadline, None before dispatch), used_pct, location_text.
    """
    import folium

    check_wgs84(grids, "grids")
    t = options.text
    m = base_map(grids.total_bounds, title, options)
    if streets is not None and len(streets):
        lines = folium.FeatureGroup(name=t("streets_near")).add_to(m)
        folium.GeoJson(
            feature_collection(streets, ["name"]),
            style_function=lambda _: {"color": "#8c8c8c", "weight": 2},
            tooltip=geojson_tooltip(["name"], labels=False),
        ).add_to(lines)
    folium.GeoJson(
        feature_collection(grids, ["code", "community_name"]),
        name=t("grids_layer"),
        style_function=lambda _: {
            "color": "#08519c",
            "weight": 2.5,
            "fillColor": "#c6dbef",
            "fillOpacity": 0.25,
        },
        tooltip=geojson_tooltip(["code", "community_name"], aliases=[t("code"), t("community")]),
    ).add_to(m)
    if components is not None and len(components):
        parts = folium.FeatureGroup(name=t("components_layer"), show=True).add_to(m)
        for row in components.itertuples():
            broken = row.status != "in_service"
            folium.CircleMarker(
                [row.geometry.y, row.geometry.x],
                radius=3 if not broken else 5,
                color="#525252" if not broken else "#984ea3",
                fill=True,
                weight=1,
                tooltip=safe_text(
                    f"{t('component')} {row.identifier} {row.class_name} · {row.status}"
                ),
            ).add_to(parts)
    layer = folium.FeatureGroup(name=t("cases_layer"), show=True).add_to(m)
    for row in cases.itertuples():
        marker = folium.CircleMarker(
            [row.geometry.y, row.geometry.x],
            radius=7,
            color="#333",
            weight=1,
            fill=True,
            fill_color=LIGHT_COLOURS[row.light],
            fill_opacity=0.95,
            tooltip=safe_text(f"{t('case')} {row.id}: {row.class_name}"),
        ).add_to(layer)
        _bind_popup(marker, _case_popup(row, case_url, options))
    add_legend(m, t("legend_light"), [(LIGHT_COLOURS[k], v) for k, v in t("lights").items()])
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _bind_popup(marker, content: str) -> None:
    """Attach an HTML popup with plain Leaflet (folium.Popup builds it with jQuery)."""
    from branca.element import MacroElement
    from jinja2 import Template

    popup = MacroElement()
    popup._template = Template(
        "{% macro script(this, kwargs) %}{{ this._parent.get_name() }}.bindPopup("
        "{{ this.content|tojson }}, {maxWidth: 320});{% endmacro %}"
    )
    popup.content = content  # type: ignore[attr-defined]  # branca template value
    marker.add_child(popup)


def _case_popup(row, case_url: Callable[[int], str], options: MapOptions) -> str:
    t = options.text
    esc = _html.escape
    used = "" if pd.isna(row.used_pct) else f"{row.used_pct:.0f}%"
    fields = [
        (t("class_name"), row.class_name),
        (t("status_name"), row.status),
        (t("reported"), row.reported_at),
        (t("stage_due"), "" if pd.isna(row.due_at) else row.due_at),
        (t("deadline"), t("after_dispatch") if pd.isna(row.deadline_at) else row.deadline_at),
        (t("used"), used),
        (t("location"), row.location_text or ""),
    ]
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:8px'>{esc(k)}</th><td>{esc(str(v))}</td></tr>"
        for k, v in fields
    )
    return (
        f"<b>{esc(t('case'))} {row.id}</b> <span style='color:{LIGHT_COLOURS[row.light]}'>●</span>"
        f"<table>{rows}</table><a href='{esc(case_url(row.id))}' target='_blank'>{esc(t('details'))} →</a>"
    )


def community_colours(community: np.ndarray, w: Contiguity) -> dict[str, int]:
    """A palette index per community such that touching communities differ where possible.

    Greedy colouring of the community adjacency graph (derived from the grid weights ``w``;
    ``community[i]`` is grid i's community), largest degree first.
    """
    codes, grid_comm = np.unique(np.asarray(community, dtype=str), return_inverse=True)
    a, b = grid_comm[w.heads], grid_comm[w.tails]
    touching = a != b
    edges = set(zip(a[touching].tolist(), b[touching].tolist(), strict=True))
    adjacent: dict[int, set[int]] = {k: set() for k in range(len(codes))}
    for x, y in edges:
        adjacent[x].add(y)
    colour: dict[int, int] = {}
    for node in sorted(adjacent, key=lambda k: (-len(adjacent[k]), k)):
        used = {colour[n] for n in adjacent[node] if n in colour}
        colour[node] = next(
            (c for c in range(len(COMMUNITY_COLOURS)) if c not in used),
            node % len(COMMUNITY_COLOURS),
        )
    return {str(codes[k]): v for k, v in colour.items()}


def planner_map(
    grids: gpd.GeoDataFrame,
    *,
    title: str,
    colours: dict[str, int],
    communities: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    options: MapOptions = MapOptions(),
    extend: Iterable[Callable] = (),
    workload_layer: bool = True,
):
    """Planner map: grid boundaries filled by community; ``extend`` callbacks get the map.

    ``grids``: code, community_code, community_name, supervisor, and optionally the workload
    columns ``components`` and ``cases`` (last 90 days), which then appear in the tooltips and,
    with ``workload_layer``, as a switchable layer (it repeats every grid: city-wide pages
    leave it out). ``colours``: community → palette index (see
    :func:`community_colours`). Tools (drawing, editing) plug in through ``extend``.
    """
    import folium

    check_wgs84(grids, "grids")
    t = options.text
    m = base_map(grids.total_bounds, title, options)
    shown = display_frame(grids, options)
    fields = ["code", "community_name", "supervisor"]
    aliases = [t("code"), t("community"), t("supervisor")]
    if {"components", "cases"} <= set(grids.columns):
        fields += ["components", "cases"]
        aliases += [t("components_count"), t("cases_90d")]
    index = shown["community_code"].map(colours).fillna(0).astype(int).to_numpy()
    group = folium.FeatureGroup(name=t("grids_layer"), show=True).add_to(m)
    _grids_by_class(group, shown, index, COMMUNITY_COLOURS, fields, aliases, 0.7)
    if "cases" in fields and workload_layer:
        _workload_layer(m, shown, fields, aliases, options)
    if communities is not None and len(communities):
        folium.GeoJson(
            feature_collection(display_frame(communities, options), ["name"]),
            name=t("communities_layer"),
            style_function=lambda _: {"color": "#252525", "weight": 2, "fill": False},
            interactive=False,
        ).add_to(m)
    if streets is not None and len(streets):
        folium.GeoJson(
            feature_collection(display_frame(streets, options), ["name"]),
            name=t("streets_layer_all"),
            style_function=lambda _: {"color": "#ffffff", "weight": 2.5, "opacity": 0.9},
            tooltip=geojson_tooltip(["name"], labels=False),
        ).add_to(m)
    for hook in extend:
        hook(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _workload_layer(m, shown: gpd.GeoDataFrame, fields, aliases, options: MapOptions) -> None:
    """Grids shaded by cases in the last 90 days (quintiles), hidden until switched on."""
    import folium

    t = options.text
    cases = shown["cases"].to_numpy(dtype=float)
    edges: np.ndarray | list[float] = (
        np.unique(np.quantile(cases, [0.2, 0.4, 0.6, 0.8])) if len(cases) else []
    )
    level = np.searchsorted(edges, cases, side="right")
    group = folium.FeatureGroup(name=t("workload_layer"), show=False).add_to(m)
    _grids_by_class(group, shown, level, WORKLOAD_COLOURS, fields, aliases, 0.8)
    # counts are whole numbers: class k holds ceil(edge[k-1]) … ceil(edge[k]) - 1
    lows = [0, *np.ceil(edges).astype(int)]
    highs = [*(np.ceil(edges).astype(int) - 1), int(cases.max(initial=0))]
    add_legend(
        m,
        t("workload_layer"),
        [
            (WORKLOAD_COLOURS[k], f"{lo}–{hi}" if hi > lo else f"{lo}")
            for k, (lo, hi) in enumerate(zip(lows, highs, strict=True))
            if hi >= lo
        ],
    )


def _grids_by_class(group, shown, classes, palette, fields, aliases, opacity: float) -> None:
    """One GeoJSON layer per class (palette index): a constant style, no per-feature table."""
    import folium

    for k, colour in enumerate(palette):
        part = shown[classes == k]
        if part.empty:
            continue
        folium.GeoJson(
            feature_collection(part, fields),
            control=False,
            style_function=lambda _, c=colour: {
                "fillColor": c,
                "color": "#636363",
                "weight": 0.5,
                "fillOpacity": opacity,
            },
            zoom_on_click=False,
            tooltip=geojson_tooltip(fields, aliases=aliases),
        ).add_to(group)


def render_html(m, inline: dict[str, str] | None = None) -> str:
    """The map as one HTML document; ``inline`` {url: text} embeds those scripts/styles."""
    page = m.get_root().render()
    for url, body in (inline or {}).items():
        if url.endswith(".css"):
            page = page.replace(f'<link rel="stylesheet" href="{url}"/>', f"<style>{body}</style>")
        else:
            page = page.replace(f'<script src="{url}"></script>', f"<script>{body}</script>")
    return page
