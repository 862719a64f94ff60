"""Maps in a real browser: each map served by uvicorn, rendered by headless Chromium.

Asserts no JavaScript error (nor failed resource) in the console and checks the screenshot's
pixels for the map's own colours. Skips when Chromium is absent (CI installs Debian's
``chromium``). Everything is offline: Leaflet comes from the local package, no basemap.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from app.db.session import make_engine
from gis._hotspots_maptext import BIN_COLOURS, COMMUNITY_COLOURS, LIGHT_COLOURS, PLAIN_BACKGROUND
from gis.demo import generate_district
from tests.conftest import create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
)
# Console lines that are Chromium talking about itself, not the page.
NOISE = re.compile(
    r"dbus|gpu|GPU|viz_main|sandbox|Fontconfig|crashpad|ALSA|va-api|vaapi|favicon", re.I
)


def _hex(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def _blend(fill: str, opacity: float) -> np.ndarray:
    return opacity * _hex(fill) + (1 - opacity) * _hex(PLAIN_BACKGROUND)


def _share(pixels: np.ndarray, colours: list[np.ndarray], tolerance: float = 12.0) -> float:
    """Share of pixels within ``tolerance`` (RGB distance) of any of ``colours``."""
    rgb = pixels[..., :3].astype(float)
    near = np.zeros(rgb.shape[:2], dtype=bool)
    for c in colours:
        near |= np.linalg.norm(rgb - c, axis=-1) <= tolerance
    return float(near.mean())


def render(url: str, tmp: Path) -> tuple[np.ndarray, list[str], float]:
    """Screenshot ``url`` in headless Chromium; returns pixels, console errors, seconds."""
    image = pytest.importorskip("PIL.Image")
    shot = tmp / f"shot-{time.monotonic_ns()}.png"
    started = time.perf_counter()
    run = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp / 'profile'}",
            "--window-size=1200,900",
            "--hide-scrollbars",
            "--virtual-time-budget=8000",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.perf_counter() - started
    console = [
        line for line in run.stderr.splitlines() if "CONSOLE" in line and not NOISE.search(line)
    ]
    errors = [line for line in console if re.search(r"error|failed|uncaught|refused", line, re.I)]
    assert shot.exists(), run.stderr[-2000:]
    return np.asarray(image.open(shot).convert("RGB")), errors, seconds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def district():
    return generate_district(n_grids=400, seed=11, events_per_grid=30.0)


@pytest.fixture(scope="module")
def server(server_url, template_db, district, tmp_path_factory):
    """A loaded database and uvicorn serving it on 127.0.0.1."""
    from bench.bench_hotspots import load_district

    name = f"citygrid_maps_{os.getpid()}"
    url = create_database(server_url, name, template=template_db)
    engine = make_engine(url)
    load_district(engine, district, open_share=0.05)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CITYGRID_MAP_BASEMAP": "none",
        "CITYGRID_MAP_ASSETS": "local",
        "CITYGRID_HOME": str(tmp_path_factory.mktemp("home")),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base, url, engine
    finally:
        proc.terminate()
        proc.wait(10)
        engine.dispose()
        drop_database(server_url, name)


def test_hotspot_map_renders_choropleth_without_js_errors(server, tmp_path) -> None:
    base, _, _ = server
    page = httpx.get(base + "/maps/hotspots?from=2026-01-01&to=2026-06-30&lang=zh", timeout=60)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "案件热点分析" in html and "2026-01-01 至 2026-06-30" in html and "热点 99%" in html
    assert "cdn.jsdelivr" not in html and "jquery" not in html.lower()
    pixels, errors, _ = render(str(page.url), tmp_path)
    assert errors == []
    hot = [_blend(BIN_COLOURS[b], 0.8) for b in (1, 2, 3)]
    neutral = [_blend(BIN_COLOURS[0], 0.35)]
    assert _share(pixels, hot) > 0.005, "no hot-spot colours on screen"
    assert _share(pixels, neutral) > 0.10, "the non-significant grids are not drawn"
    assert _share(pixels, [_hex("#6a3d9a")], 30) > 0.002, "top streets are not highlighted"
    # the legend is on screen: its swatches are drawn at full colour
    assert _share(pixels, [_hex(BIN_COLOURS[-3])], 3) > 0


def test_hotspot_map_in_english_with_the_filter_in_its_title(server) -> None:
    base, _, _ = server
    page = httpx.get(base + "/maps/hotspots?class=0102&major=01&lang=en&fdr=true&top=3", timeout=60)
    html = page.text
    assert "Case hot spot analysis · 0102 exposed garbage · class 01 · all cases" in html
    assert "(FDR corrected)" in html and "Streets with most cases" in html and "Heat map" in html
    assert html.count('class="cg-box cg-title"') == 1
    assert (
        "Streets with most cases"
        not in httpx.get(base + "/maps/hotspots?lang=en&top=0", timeout=60).text
    )
    bad = httpx.get(base + "/maps/hotspots?class=01x", timeout=30)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_planner_map_colours_grids_by_community(server, tmp_path) -> None:
    base, _, _ = server
    pixels, errors, _ = render(base + "/maps/planner?lang=en", tmp_path)
    assert errors == []
    fills = [_blend(c, 0.7) for c in COMMUNITY_COLOURS]
    assert _share(pixels, fills, 14) > 0.15
    assert httpx.get(base + "/maps/planner?area=32059900100", timeout=30).status_code == 422


def test_supervisor_map_lights_cases_and_links_them(server, tmp_path) -> None:
    base, _, engine = server
    with engine.connect() as conn:
        who = conn.execute(
            text(
                "SELECT g.supervisor FROM event e JOIN grid g ON g.code = e.grid_code "
                "WHERE e.status IN ('dispatched', 'handling') GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            )
        ).scalar_one()
    at = "2026-10-31T12:00:00"
    page = httpx.get(
        base + "/maps/supervisor", params={"supervisor": who, "at": at, "lang": "zh"}, timeout=60
    )
    assert page.status_code == 200
    assert "/api/v1/events/" in page.text and "监督员工作图" in page.text
    pixels, errors, _ = render(str(page.url), tmp_path)
    assert errors == []
    assert _share(pixels, [_blend("#c6dbef", 0.25)], 8) > 0.05, (
        "the supervisor's grids are not drawn"
    )
    lights = [_hex(LIGHT_COLOURS[k]) for k in ("green", "yellow", "red")]
    assert _share(pixels, lights, 20) > 0.0003, "no case markers"
    missing = httpx.get(base + "/maps/supervisor?supervisor=nobody", timeout=30)
    assert (
        missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    )
    assert httpx.get(base + "/maps/supervisor", timeout=30).status_code == 422


def test_cli_export_is_standalone_and_renders_offline(server, tmp_path) -> None:
    from typer.testing import CliRunner

    from app.cli import app as cli

    _, url, _ = server
    out = tmp_path / "hotspots.html"
    env = {"DATABASE_URL": url, "CITYGRID_MAP_BASEMAP": "none"}
    result = CliRunner().invoke(
        cli,
        [
            "maps",
            "export",
            "hotspots",
            "--out",
            str(out),
            "--from",
            "2026-01-01",
            "--to",
            "2026-03-31",
            "--lang",
            "en",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert not re.search(r'<script src="(https?:)?/', html), "scripts must be inlined"
    pixels, errors, _ = render(out.as_uri(), tmp_path)
    assert errors == []
    assert _share(pixels, [_blend(BIN_COLOURS[b], 0.8) for b in (1, 2, 3)]) > 0.003
    for kind, extra in (("planner", []), ("supervisor", ["--grid", "000000000000000"])):
        result = CliRunner().invoke(
            cli, ["maps", "export", kind, "--out", str(tmp_path / f"{kind}.html"), *extra], env=env
        )
        assert result.exit_code == (0 if kind == "planner" else 1), result.output
