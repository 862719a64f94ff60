"""CityGrid service: the adapter between PostGIS, the HTTP API, the CLI and the pure `gis` package."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
