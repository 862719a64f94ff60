"""Hotspot statistics: contiguity weights, Getis-Ord Gi*, bins, trends, snapping to streets."""

from gis.hotspots.snap import (
    nearest_segment_of_street,
)
from gis.hotspots.statistics import (
    BIN_LEVELS,
    TREND_LABELS,
    GiStar,
    confidence_bins,
    fdr_threshold,
    gi_star,
    grid_gi_star,
    normal_sf,
    per_100m,
    period_trend,
    previous_period,
    quarter_bounds,
)
from gis.hotspots.weights import (
    Contiguity,
    endpoint_nodes,
    queen_contiguity,
    segment_contiguity,
)

__all__ = [
    "BIN_LEVELS",
    "Contiguity",
    "GiStar",
    "TREND_LABELS",
    "confidence_bins",
    "endpoint_nodes",
    "fdr_threshold",
    "gi_star",
    "grid_gi_star",
    "nearest_segment_of_street",
    "normal_sf",
    "per_100m",
    "period_trend",
    "previous_period",
    "quarter_bounds",
    "queen_contiguity",
    "segment_contiguity",
]
