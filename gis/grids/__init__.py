"""Unit grids (单元网格): locating points, topology rules, edits and generation."""

from gis.grids.edits import (
    SNAP_DEGREES,
    EditError,
    GridChange,
    check_drawn,
    create_grid,
    merge_grids,
    reading_order,
    renumber,
    reshape_grid,
    retire_grids,
    split_grid,
)
from gis.grids.generate import (
    generate_grids,
)
from gis.grids.locate import (
    GridIndex,
    locate_points,
)
from gis.grids.topology import (
    TopologyRules,
    Violation,
    area_distribution,
    check_topology,
    describe,
    violations_frame,
)

__all__ = [
    "SNAP_DEGREES",
    "check_drawn",
    "EditError",
    "GridChange",
    "GridIndex",
    "TopologyRules",
    "Violation",
    "area_distribution",
    "check_topology",
    "create_grid",
    "describe",
    "generate_grids",
    "locate_points",
    "merge_grids",
    "reading_order",
    "renumber",
    "reshape_grid",
    "retire_grids",
    "split_grid",
    "violations_frame",
]
