"""The deterministic generator of the SYNTHETIC demo district."""

from gis.demo.district import (
    DemoDistrict,
    generate_district,
    read_district,
    write_district,
)

__all__ = [
    "DemoDistrict",
    "generate_district",
    "read_district",
    "write_district",
]
