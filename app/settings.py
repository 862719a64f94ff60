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
    # uvicorn's per-request access log (stderr). Off by default: the reverse proxy in front
    # logs requests, the audit trail records every write, and formatting the line cost a
    # twentieth of an intake's server time. CITYGRID_ACCESS_LOG=true turns it on.
    access_log: bool = False
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
    # Largest request body accepted (413 beyond): a report is ~1 KB, a drawn grid ~100 KB.
    request_body_max_bytes: int = 5 * 2**20
    preview_max_points: int = 10_000
    # Anonymous previews: fewer points, and at most this many requests a minute per client.
    preview_public_max_points: int = 100
    preview_public_rate_per_minute: int = 60
    # Accounts: tokens are signed with secret_key (set it in production; by default a random
    # key is kept in <home>/secret_key so development tokens survive restarts).
    secret_key: str | None = None
    token_minutes: int = 12 * 60
    open311_rate_per_minute: int = 30
    # The channels whose cases Open311 publishes (the public's own reports), without their
    # free text (description, address, photos); supervisors', hotline and video cases stay
    # behind the signed-in, role-scoped /api/v1/events.
    open311_public_sources: list[str] = ["public_app"]
    # Failed sign-ins within login_failure_window_s: per account (password guessing on one
    # name), and per client address, set higher — a whole command centre may sit behind one
    # address, and one colleague's mistyped password must not lock the others out.
    login_failures_per_account: int = 5
    login_failures_per_client: int = 50
    login_failure_window_s: float = 15 * 60
    # Evaluation levels anyone may read: area aggregates; units and named staff (post) need
    # an analyst's or shift leader's account unless listed here.
    public_evaluation_levels: list[str] = ["area"]
    # Proxies (e.g. the intranet's nginx) whose X-Forwarded-For is believed; nobody else's.
    trusted_proxies: list[str] = []

    # -- Case workflow, deadlines and evaluation (issue: case workflow) ---------------------
    # Work periods of a working day, local time (`timezone`); a year's calendar may override.
    calendar_work_periods: str = "09:00-12:00,13:30-17:30"
    # Reports from these sources go to the grid's supervisor to verify on site (核实) first.
    workflow_verify_sources: list[str] = ["hotline", "public_app"]
    # Stage time limits (阶段时限) per waiting status, "value unit" with the class-limit units.
    # dispatched / handling run on the case's own deadline (the clock starts at dispatch).
    workflow_stage_limits: dict[str, str] = {
        "reported": "2 urgent_hours",  # accept and file, or send to verify
        "verifying": "24 urgent_hours",  # supervisor's on-site verification
        "verified": "2 urgent_hours",  # file or void
        "filed": "2 urgent_hours",  # dispatch
        "returned": "2 urgent_hours",  # re-dispatch after a unit's 退回
        "handled": "2 urgent_hours",  # send the check task
        "checking": "2 working_hours",  # supervisor's on-site check (核查)
    }
    # Traffic light: green below this share of the limit used, yellow up to 100 %, red overdue.
    workflow_yellow_share: float = 0.8
    # Evaluation (GB/T 30428.4): composite weights per level / post (keys: app.services.workflow.evaluation
    # SCORES), count-score bands (count ≤ bound → score), and grade floors; defaults from the
    # standards summary, section 5.
    evaluation_weights: dict[str, dict[str, float]] = {
        "unit": {
            "dispatched_count": 0.10,
            "closing_rate": 0.30,
            "on_time_handling_rate": 0.30,
            "no_rework_rate": 0.30,
        },
        "area": {
            "few_public_reports": 0.10,
            "filed_count": 0.20,
            "closing_rate": 0.30,
            "on_time_closing_rate": 0.40,
        },
        "supervisor": {
            "valid_report_rate": 0.40,
            "no_missed_rate": 0.20,
            "on_time_verification_rate": 0.20,
            "on_time_check_rate": 0.20,
        },
        "acceptor": {"on_time_rate": 1.0},
        "shift_leader": {"on_time_rate": 1.0},
        "dispatcher": {"on_time_rate": 0.60, "no_wrong_dispatch_rate": 0.40},
    }
    evaluation_count_bands: list[tuple[int, float]] = [
        (50, 100.0),
        (100, 90.0),
        (200, 75.0),
        (500, 60.0),
        (1000, 40.0),
    ]
    evaluation_count_score_above: float = 0.0
    evaluation_grades: list[tuple[float, str]] = [
        (90.0, "A"),
        (75.0, "B"),
        (60.0, "C"),
        (40.0, "D"),
    ]
    evaluation_grade_below: str = "E"

    # -- Hotspots and maps (issue: hotspots and maps) ---------------------------------------
    # Grids closer than this are queen neighbours (0 = must share a point, as libpysal's queen).
    hotspot_grid_tolerance_m: float = 0.0
    # Street segment ends within this distance are one intersection node.
    hotspot_node_tolerance_m: float = 1.0
    # Benjamini-Hochberg false-discovery-rate bins unless a request says otherwise.
    hotspot_fdr: bool = False
    # Basemap of the maps: osm (OpenStreetMap), tianditu (needs the key) or none (plain, offline).
    map_basemap: Literal["osm", "tianditu", "none"] = "osm"
    map_tianditu_key: str | None = None
    # Leaflet from the local Python package (offline intranets) or from the public CDN.
    map_assets: Literal["local", "cdn"] = "local"
    # Display simplification of city-wide maps, metres; coordinates rounded to 5 decimals (~1 m).
    map_simplify_m: float = 2.0
    map_top_streets: int = 10
    # Above this many grids the analyst map draws only significant grids one by one, the
    # rest as their communities' background (keeps a city-wide map to a few MB).
    map_grid_detail_max: int = 20_000

    # -- Grid topology, edits and generation (issue: planners) ------------------------------
    # The topology rules of gis.grids.topology; the database trigger (migration 0006) has the same
    # defaults, and edits and reports pass these values to it for their transaction.
    grid_area_min_m2: float = 2_000.0  # outside the band: a warning, not an error
    grid_area_max_m2: float = 50_000.0
    grid_target_area_m2: float = 10_000.0  # generation, and the row height of code order
    grid_overlap_max_m2: float = 0.0005  # a few cm²
    grid_gap_max_m2: float = 1.0  # the import's 1 m² tolerance
    grid_gap_min_width_m: float = 0.05  # thinner gaps are digitising noise
    grid_outside_max_m2: float = 1.0
    grid_outside_max_ratio: float = 0.005
    # a part thinner than this on average (2·area / perimeter) is an artifact, not an area
    grid_sliver_min_width_m: float = 0.1
