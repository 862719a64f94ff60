r"""Drawing tools for the planner map, and the hook that attaches browser code kept as a file.

:func:`drawing_tools` adds Leaflet.draw (a line tool for split lines, a polygon tool for new
boundaries; Chinese labels unless ``lang="en"``) and returns the layer drawn shapes land in.
:func:`page_script` attaches a script file to the page together with its settings as JSON
data, so nothing is ever formatted into JavaScript source. What the script does (the grid
editor's panel, its API and CSRF header) is the application's business, not this package's.

Examples
--------
>>> import folium
>>> m = folium.Map(tiles=None)
>>> drawn = drawing_tools(m, MapOptions(lang="en"))
>>> page_script(m, "/static/editor.js", config={"map": m.get_name(), "note": "</script>"},
...             config_id="editor-config")
>>> page = m.get_root().render()
>>> '<script defer src="/static/editor.js"></script>' in page
True
>>> '"note": "\\u003c/script\\u003e"' in page
True
"""

from __future__ import annotations

import html
import json

from gis.maps._base import MapOptions

__all__ = ["drawing_tools", "page_script"]

# Leaflet.draw's own labels in Chinese (it reads L.drawLocal when its control is built).
DRAW_LOCAL_ZH = {
    "draw": {
        "toolbar": {
            "actions": {"title": "取消绘制", "text": "取消"},
            "finish": {"title": "完成绘制", "text": "完成"},
            "undo": {"title": "删除最后一点", "text": "删除最后一点"},
            "buttons": {"polyline": "画切分线", "polygon": "画新边界"},
        },
        "handlers": {
            "polyline": {
                "error": "<strong>错误：</strong>边线不能自相交！",
                "tooltip": {
                    "start": "点击开始画线",
                    "cont": "点击继续画线",
                    "end": "点击最后一点结束",
                },
            },
            "polygon": {
                "tooltip": {
                    "start": "点击开始画边界",
                    "cont": "点击继续画边界",
                    "end": "点击第一点闭合",
                }
            },
        },
    },
    "edit": {
        "toolbar": {
            "actions": {
                "save": {"title": "保存修改", "text": "保存"},
                "cancel": {"title": "取消修改", "text": "取消"},
                "clearAll": {"title": "清除全部图形", "text": "全部清除"},
            },
            "buttons": {
                "edit": "修改所画图形",
                "editDisabled": "没有可修改的图形",
                "remove": "删除所画图形",
                "removeDisabled": "没有可删除的图形",
            },
        },
        "handlers": {
            "edit": {"tooltip": {"text": "拖动顶点修改图形", "subtext": "点击取消撤销修改"}},
            "remove": {"tooltip": {"text": "点击图形删除"}},
        },
    },
}


def drawing_tools(m, options: MapOptions = MapOptions(), *, assets: dict[str, str] | None = None):
    """Add Leaflet.draw's line and polygon tools to map ``m``; returns the drawn-shapes layer.

    ``assets``: ``js``/``css`` URLs of Leaflet.draw (None keeps folium's CDN links).
    """
    import folium
    from branca.element import MacroElement
    from folium.plugins import Draw
    from jinja2 import Template

    drawn = folium.FeatureGroup(name="drawn", control=False).add_to(m)
    draw = Draw(
        feature_group=drawn,
        show_geometry_on_click=False,
        draw_options={
            "polyline": {"shapeOptions": {"color": "#e31a1c", "weight": 4}},
            # showArea off: Leaflet.draw 1.0.4 throws "type is not defined" with it on
            # under Leaflet 1.9 (its readableArea uses an undeclared variable).
            "polygon": {
                "allowIntersection": False,
                "showArea": False,
                "shapeOptions": {"color": "#e31a1c"},
            },
            "rectangle": False,
            "circle": False,
            "marker": False,
            "circlemarker": False,
        },
        edit_options={"edit": True, "remove": True},
    )
    if options.lang != "en":
        local = MacroElement()
        local._template = Template(
            "{% macro script(this, kwargs) %}(function merge(a, b) { for (var k in b) {"
            " if (typeof b[k] === 'object') merge(a[k] = a[k] || {}, b[k]); else a[k] = b[k];"
            " } })(L.drawLocal, {{ this.strings|tojson }});{% endmacro %}"
        )
        local.strings = DRAW_LOCAL_ZH  # type: ignore[attr-defined]  # branca template value
        m.add_child(local)
    if assets:
        draw.default_js = [("leaflet_draw_js", assets["js"])]
        draw.default_css = [("leaflet_draw_css", assets["css"])]
    draw.add_to(m)
    return drawn


def page_script(
    m,
    src: str,
    *,
    css: str | None = None,
    config: dict | None = None,
    config_id: str | None = None,
) -> None:
    """Load the script file ``src`` (and stylesheet ``css``) once the map is built.

    ``config`` is written as ``<script type="application/json" id=config_id>`` for the
    script to read with ``JSON.parse``; ``<``, ``>`` and ``&`` are escaped inside it, so a
    value holding ``</script>`` cannot end the block.
    """
    import folium

    header = m.get_root().header
    if css:
        header.add_child(folium.Element(f'<link rel="stylesheet" href="{html.escape(css)}"/>'))
    if config is not None:
        if not config_id:
            raise ValueError("config needs a config_id for the script to find it by")
        data = (
            json.dumps(config, ensure_ascii=False)
            .replace("<", "\\u003c")
            .replace(">", "\\u003e")
            .replace("&", "\\u0026")
        )
        header.add_child(
            folium.Element(
                f'<script type="application/json" id="{html.escape(config_id)}">{data}</script>'
            )
        )
    # defer: runs once the document is parsed, i.e. after the map's own inline script.
    header.add_child(folium.Element(f'<script defer src="{html.escape(src)}"></script>'))
