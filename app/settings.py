"""Settings from the environment (``CITYGRID_*`` and ``DATABASE_URL``), never module globals."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app import PROJECT_ROOT


class Settings(BaseSettings):
    """Runtime configuration of one CityGrid deployment."""

    model_config = SettingsConfigDict(
        env_prefix="CITYGRID_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # An external PostGIS; when unset the embedded cluster in `home` is used.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "CITYGRID_DATABASE_URL")
    )
    home: Path = PROJECT_ROOT / ".citygrid"
    host: str = "127.0.0.1"
    port: int = 8000
    # 2013 = CJ/T 214-2007 / GB/T 30428.2-2013 (4-digit classes, 16-digit component ids);
    # 2026 = GB/T 47678.5-2026 (5-digit classes, 17-digit ids).
    class_scheme: Literal["2013", "2026"] = "2013"
    language: Literal["zh", "en"] = "zh"
    # Local time of the deployment: naive timestamps in imported files are read in it.
    timezone: str = "Asia/Shanghai"
    demo_dir: Path = PROJECT_ROOT / "data" / "grids"
    page_size_max: int = 5000
    # Assignment of events (事件/案件) — distances in metres.
    street_max_distance_m: float = 50.0
    component_radius_m: float = 30.0
    duplicate_radius_m: float = 50.0
    duplicate_window_days: float = 7.0
    # Used when a class has no time limit of its own (placeholder until working calendars).
    default_time_limit_hours: float = 48.0
    preview_max_points: int = 10_000
