"""Cambridge, MA as a CityGrid district: shared set-up of the real-data tests."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from sqlalchemy import Engine

from app.services.catalog.imports import import_frame
from app.settings import Settings

DISTRICT, SUBDISTRICT = "250001", "250001001"
METRIC = 26986  # NAD83 / Massachusetts Mainland (metres), independent of our UTM rule


def import_areas(engine: Engine, settings: Settings, root: Path) -> gpd.GeoDataFrame:
    """Import a made-up district and sub-district (both the whole city) and the 13
    neighbourhoods as its communities; returns the neighbourhoods with their codes."""
    hoods = gpd.read_file(root / "areas" / "BOUNDARY_CDDNeighborhoods.geojson")
    hoods["code"] = SUBDISTRICT + hoods["N_HOOD"].astype(int).map("{:03d}".format)
    city = shapely.union_all(hoods.geometry.values)
    upper = gpd.GeoDataFrame(
        {"code": [DISTRICT, SUBDISTRICT], "name": ["Cambridge MA", "Cambridge"]},
        geometry=[city, city],
        crs=4326,
    )
    import_frame(engine, settings, "areas", upper)
    import_frame(
        engine,
        settings,
        "areas",
        hoods[["code", "NAME", "geometry"]].rename(columns={"NAME": "name"}),
    )
    return hoods
