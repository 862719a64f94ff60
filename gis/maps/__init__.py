"""Folium maps for supervisors, analysts and planners, with their words and colours."""

from gis.maps._planner import drawing_tools, page_script
from gis.maps.render import (
    MapOptions,
    add_legend,
    community_colours,
    display_frame,
    hotspot_map,
    planner_map,
    render_html,
    supervisor_map,
)
from gis.maps.text import (
    BIN_COLOURS,
    COMMUNITY_COLOURS,
    LIGHT_COLOURS,
    PLAIN_BACKGROUND,
    TEXT,
    WORKLOAD_COLOURS,
)

__all__ = [
    "BIN_COLOURS",
    "COMMUNITY_COLOURS",
    "LIGHT_COLOURS",
    "MapOptions",
    "PLAIN_BACKGROUND",
    "TEXT",
    "WORKLOAD_COLOURS",
    "add_legend",
    "community_colours",
    "display_frame",
    "drawing_tools",
    "hotspot_map",
    "page_script",
    "planner_map",
    "render_html",
    "supervisor_map",
]
