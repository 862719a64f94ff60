"""Shared pieces of the maps: options, display geometry, base map, legend (folium inside)."""

from __future__ import annotations

import functools
import html as _html
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.maps.text import PLAIN_BACKGROUND, TEXT

TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk={key}"
)


@dataclass(frozen=True)
class MapOptions:
    """How a map looks: language, basemap, where Leaflet comes from, display precision.

    ``assets`` maps ``leaflet_js``, ``leaflet_css`` and ``heat_js`` to URLs; None keeps
    folium's CDN links. Only Leaflet is loaded: no jQuery/Bootstrap, which these maps do
    not use.
    """

    lang: str = "zh"
    basemap: str = "none"  # "osm" | "tianditu" | "none"
    tianditu_key: str | None = None
    assets: dict[str, str] | None = None
    simplify_m: float = 2.0
    decimals: int = 5
    extra_css: str = field(default="")

    def text(self, key: str):
        return TEXT["en" if self.lang == "en" else "zh"][key]


def check_wgs84(frame: gpd.GeoDataFrame, name: str) -> None:
    if frame.crs is None or frame.crs.to_epsg() != 4326:
        raise ValueError(f"{name} must be in EPSG:4326, got {frame.crs}")


def display_frame(frame: gpd.GeoDataFrame, options: MapOptions = MapOptions()) -> gpd.GeoDataFrame:
    """``frame`` simplified by ``simplify_m`` metres and rounded to ``decimals`` for display."""
    check_wgs84(frame, "frame")
    geoms = frame.geometry.to_numpy()
    if options.simplify_m > 0:
        # Degrees at ~111 km: exact enough for a display tolerance of a few metres.
        geoms = shapely.simplify(geoms, options.simplify_m / 111_320.0, preserve_topology=True)
    factor = 10.0**options.decimals
    geoms = shapely.transform(geoms, lambda xy: np.round(xy * factor) / factor)
    return frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))


def feature_collection(frame: gpd.GeoDataFrame, columns: list[str]) -> dict:
    """A plain GeoJSON dict with ``columns`` as properties (numpy values made JSON-safe)."""
    geoms = shapely.to_geojson(frame.geometry.to_numpy())
    records = pd.DataFrame(frame[columns]).astype(object).where(frame[columns].notna(), None)
    feats = [
        {"type": "Feature", "geometry": json.loads(g), "properties": _plain(r)}
        for g, r in zip(geoms, records.to_dict("records"), strict=True)
    ]
    return {"type": "FeatureCollection", "features": feats}


def safe_text(value: object) -> str:
    """``value`` as text that stays text in HTML and inside a JavaScript template literal
    (folium writes tooltips into `…` literals: a backtick or ``${`` would end or run code).

    >>> safe_text("<img src=x onerror=alert(1)> `${x}`")
    '&lt;img src=x onerror=alert(1)&gt; &#96;&#36;{x}&#96;'
    """
    text = _html.escape(str(value))
    return text.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


# folium's GeoJsonTooltip writes feature properties into innerHTML unescaped; this one escapes
# each value (and label) in the browser first.
_ESCAPE_JS = (
    "let esc = s => String(s).replace(/[&<>\"'`$\\\\]/g, c => '&#' + c.charCodeAt(0) + ';');\n"
)


def geojson_tooltip(fields: list[str], **kwargs):
    """A folium GeoJsonTooltip that shows property values as text, never as HTML."""
    return _tooltip_class()(fields, **kwargs)


@functools.cache
def _tooltip_class():
    import folium
    from folium.template import Template  # folium's filters (tojavascript)

    base = folium.GeoJsonTooltip
    template_text = (
        "{% macro script(this, kwargs) %}{{ this._parent.get_name() }}.bindTooltip("
        + _escaping(folium.features.GeoJsonDetail.base_template)
        + ",{{ this.tooltip_options | tojavascript }});{% endmacro %}"
    )

    class EscapedTooltip(base):  # type: ignore[misc, valid-type]
        _template = Template(template_text)

    return EscapedTooltip


def _escaping(template: str) -> str:
    marks = ("let handleObject", "${aliases[i]", "${handleObject(")
    if not all(mark in template for mark in marks):  # folium changed: fail loudly, not open
        raise RuntimeError("folium's GeoJsonDetail template changed; update _escaping")
    return (
        template.replace("let handleObject", _ESCAPE_JS + "    let handleObject", 1)
        .replace("${aliases[i]", "${esc(aliases[i])", 1)
        .replace(
            "${handleObject(layer.feature.properties[v])",
            "${esc(handleObject(layer.feature.properties[v]))",
            1,
        )
    )


def _plain(row: dict) -> dict:
    out = {}
    for k, v in row.items():
        v = v.item() if hasattr(v, "item") else v
        out[k] = round(v, 3) if isinstance(v, float) else v
    return out


def base_map(bounds: Iterable[float], title: str, options: MapOptions):
    """An empty map fitted to ``bounds`` (minx, miny, maxx, maxy) with basemap and title."""
    import folium

    minx, miny, maxx, maxy = (float(b) for b in bounds)
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=14,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
    )
    if options.assets:
        m.default_js = [("leaflet", options.assets["leaflet_js"])]
        m.default_css = [("leaflet_css", options.assets["leaflet_css"])]
    else:
        m.default_js = [js for js in m.default_js if js[0] == "leaflet"]
        m.default_css = [css for css in m.default_css if css[0] == "leaflet_css"]
    _add_basemap(m, options)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    # "html body" outranks leaflet.css, which is linked after this block and sets its own grey.
    style = (
        f"<style>html body .leaflet-container{{background:{PLAIN_BACKGROUND}}}"
        ".cg-box{position:fixed;z-index:1000;background:rgba(255,255,255,.92);padding:6px 10px;"
        "border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);font:13px/1.4 system-ui,"
        "'Noto Sans CJK SC',sans-serif}.cg-title{top:10px;left:50%;transform:translateX(-50%);"
        "font-size:15px;font-weight:600;max-width:70%;text-align:center}"
        ".cg-legend{bottom:24px;right:10px}.cg-legend i{display:inline-block;width:14px;"
        f"height:14px;margin-right:6px;vertical-align:-2px;border:1px solid #999}}{options.extra_css}</style>"
    )
    root = cast(folium.Figure, m.get_root())  # a folium.Map puts itself in a Figure
    root.header.add_child(folium.Element(style))
    root.html.add_child(
        folium.Element(f'<div class="cg-box cg-title" id="cg-title">{_html.escape(title)}</div>')
    )
    return m


def _add_basemap(m, options: MapOptions) -> None:
    import folium

    if options.basemap == "osm":
        folium.TileLayer("OpenStreetMap", name=options.text("basemap_osm")).add_to(m)
    elif options.basemap == "tianditu" and options.tianditu_key:
        # Tianditu is CGCS2000 (≈ WGS84): no GCJ-02 shift, unlike AutoNavi/Tencent tiles.
        key = options.tianditu_key
        folium.TileLayer(
            TIANDITU.format(layer="vec", key=key, s="{s}", z="{z}", x="{x}", y="{y}"),
            attr="© 天地图 Tianditu",
            name=options.text("basemap_tianditu"),
            subdomains="01234567",
            max_zoom=18,
        ).add_to(m)
        labels = "eva" if options.lang == "en" else "cva"
        folium.TileLayer(
            TIANDITU.format(layer=labels, key=key, s="{s}", z="{z}", x="{x}", y="{y}"),
            attr="© 天地图",
            overlay=True,
            control=False,
            subdomains="01234567",
            max_zoom=18,
        ).add_to(m)


def add_legend(m, heading: str, items: list[tuple[str, str]]) -> None:
    """A fixed legend box: ``items`` are (colour, label)."""
    import folium

    rows = "".join(
        f'<div><i style="background:{c}"></i>{_html.escape(label)}</div>' for c, label in items
    )
    m.get_root().html.add_child(
        folium.Element(
            f'<div class="cg-box cg-legend" id="cg-legend"><b>{_html.escape(heading)}</b>{rows}</div>'
        )
    )
