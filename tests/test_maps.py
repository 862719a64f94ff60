"""Maps in a real browser: each map served by uvicorn, rendered by headless Chromium.

Asserts no JavaScript error (nor failed resource) in the console and checks the screenshot's
pixels for the map's own colours. Skips when Chromium is absent (CI installs Debian's
``chromium``). Everything is offline: Leaflet comes from the local package, no basemap.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import text

from app.api.auth import SESSION_COOKIE
from app.db.grids.versions import busiest_supervisor
from app.db.session import make_engine
from app.errors import ConflictError
from app.services.accounts.users import create_user
from gis.demo import generate_district
from gis.maps import BIN_COLOURS, COMMUNITY_COLOURS, LIGHT_COLOURS, PLAIN_BACKGROUND
from tests.auth import PASSWORD
from tests.conftest import create_database, drop_database
from tests.served import uvicorn_server

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


def render(
    url: str, tmp: Path, cookie: str | None = None, act=None
) -> tuple[np.ndarray, list[str], float]:
    """Load ``url`` in headless Chromium (driven by Playwright), optionally signed in with a
    session ``cookie`` and after ``act(page)``; returns pixels, console errors, seconds."""
    image = pytest.importorskip("PIL.Image")
    shot = tmp / f"shot-{time.monotonic_ns()}.png"
    started = time.perf_counter()
    errors: list[str] = []
    with browser_page(url, cookie) as page:
        page.on(
            "console",
            lambda m: (
                errors.append(f"{m.text} {m.location.get('url', '')}")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: errors.append(f"failed: {r.url}"))
        page.goto(url, wait_until="load", timeout=120_000)
        page.wait_for_timeout(800)  # the canvas renderer draws after load
        if act is not None:
            act(page)
        page.screenshot(path=str(shot))
    seconds = time.perf_counter() - started
    errors = [e for e in errors if not NOISE.search(e)]
    return np.asarray(image.open(shot).convert("RGB")), errors, seconds


@contextlib.contextmanager
def browser_page(url: str, cookie: str | None = None):
    """A fresh Chromium page (1200×900), with the session cookie for ``url``'s site."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-quic"]
        )
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
            if cookie:
                host = httpx.URL(url).host
                context.add_cookies(
                    [{"name": SESSION_COOKIE, "value": cookie, "domain": host, "path": "/"}]
                )
            yield context.new_page()
        finally:
            browser.close()


def sign_in(
    base: str,
    engine,
    username: str,
    *roles: str,
    display_name: str | None = None,
    unit_code: str | None = None,
) -> str:
    """The session cookie of ``username`` (created with ``roles`` on first use)."""
    with contextlib.suppress(ConflictError):
        create_user(engine, username, PASSWORD, list(roles), display_name, unit_code)
    r = httpx.post(base + "/login", data={"username": username, "password": PASSWORD, "next": "/"})
    assert r.status_code == 303, r.text
    return r.cookies[SESSION_COOKIE]


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
    try:
        with uvicorn_server(url, tmp_path_factory.mktemp("home")) as base:
            yield base, url, engine
    finally:
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
    base, _, engine = server
    cookie = sign_in(base, engine, "analyst-zhao", "analyst")
    pixels, errors, _ = render(base + "/maps/planner?lang=en", tmp_path, cookie)
    assert errors == []
    fills = [_blend(c, 0.7) for c in COMMUNITY_COLOURS]
    assert _share(pixels, fills, 14) > 0.15
    page = httpx.get(base + "/maps/planner?lang=en", cookies={SESSION_COOKIE: cookie}, timeout=60)
    # workload in the tooltips and as a layer; streets; no drawing tools for an analyst
    assert "cases, last 90 days" in page.text and "Workload (cases, last 90 days)" in page.text
    assert '"Streets"' in page.text and "leaflet.draw" not in page.text
    bad = httpx.get(base + "/maps/planner?area=32059900100", cookies={SESSION_COOKIE: cookie})
    assert bad.status_code == 422


def test_supervisor_map_lights_cases_and_links_them(server, tmp_path) -> None:
    base, _, engine = server
    who, _, _ = _supervisors(engine)
    cookie = sign_in(base, engine, "dispatcher-qian", "dispatcher")
    at = "2026-10-31T12:00:00"
    page = httpx.get(
        base + "/maps/supervisor",
        params={"supervisor": who, "at": at, "lang": "zh"},
        cookies={SESSION_COOKIE: cookie},
        timeout=60,
    )
    assert page.status_code == 200
    assert "/api/v1/events/" in page.text and "监督员工作图" in page.text
    pixels, errors, _ = render(str(page.url), tmp_path, cookie)
    assert errors == []
    assert _share(pixels, [_blend("#c6dbef", 0.25)], 8) > 0.05, (
        "the supervisor's grids are not drawn"
    )
    lights = [_hex(LIGHT_COLOURS[k]) for k in ("green", "yellow", "red")]
    assert _share(pixels, lights, 20) > 0.0003, "no case markers"
    jar = {SESSION_COOKIE: cookie}
    missing = httpx.get(base + "/maps/supervisor?supervisor=nobody", cookies=jar, timeout=30)
    assert (
        missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    )
    assert httpx.get(base + "/maps/supervisor", cookies=jar, timeout=30).status_code == 422


def _supervisors(engine) -> tuple[str, list[str], str]:
    """A supervisor with open cases, their current grids, and a grid of someone else."""
    with engine.connect() as conn:
        who = busiest_supervisor(conn)
        assert who is not None, "the demo district has a supervisor with open cases"
        own = (
            conn.execute(
                text(
                    "SELECT code FROM grid WHERE supervisor = :w AND valid_to IS NULL ORDER BY code"
                ),
                {"w": who},
            )
            .scalars()
            .all()
        )
        other = conn.execute(
            text("SELECT min(code) FROM grid WHERE supervisor <> :w AND valid_to IS NULL"),
            {"w": who},
        ).scalar_one()
    return who, list(own), other


def test_map_pages_need_a_session_and_a_supervisor_sees_only_their_grids(server) -> None:
    base, _, engine = server
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    # not signed in: a browser is sent to the sign-in page and back; a script gets a 401
    r = httpx.get(base + "/maps/supervisor?lang=en", headers=browser)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/maps/supervisor%3Flang%3Den"
    r = httpx.get(base + "/maps/planner")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    form = httpx.get(base + "/login?next=/maps/planner")
    assert form.status_code == 200 and 'name="password"' in form.text
    assert 'value="/maps/planner"' in form.text

    who, own, other = _supervisors(engine)
    create_user(engine, "jdy-01", PASSWORD, ["supervisor"], who)
    wrong = httpx.post(base + "/login", data={"username": "jdy-01", "password": "nope-nope"})
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    assert SESSION_COOKIE not in wrong.cookies
    # only paths of this site are followed after signing in
    away = httpx.post(
        base + "/login",
        data={"username": "jdy-01", "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert away.status_code == 303 and away.headers["location"] == "/"
    ok = httpx.post(
        base + "/login",
        data={"username": "jdy-01", "password": PASSWORD, "next": "/maps/supervisor"},
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/maps/supervisor"
    set_cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    jar = {SESSION_COOKIE: ok.cookies[SESSION_COOKIE]}

    # the supervisor's own map needs no parameter, and names them
    mine = httpx.get(base + "/maps/supervisor", cookies=jar, timeout=60)
    assert mine.status_code == 200
    assert f"监督员 {who} · {len(own)} 网格" in mine.text and "退出登录" in mine.text
    assert httpx.get(base + f"/maps/supervisor?grid={own[0]}", cookies=jar).status_code == 200
    # …and nobody else's
    theirs = httpx.get(base + f"/maps/supervisor?grid={other}", cookies=jar)
    assert theirs.status_code == 403 and f"网格 {other} 不归您" in theirs.json()["detail"]
    page = httpx.get(base + f"/maps/supervisor?grid={other}", cookies=jar, headers=browser)
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert httpx.get(base + "/maps/supervisor?supervisor=someone", cookies=jar).status_code == 403
    # a supervisor is not a planner; a handler sees no supervisor map
    assert httpx.get(base + "/maps/planner", cookies=jar).status_code == 403
    handler = sign_in(base, engine, "handler-sun", "handler", unit_code=_a_unit(engine))
    r = httpx.get(base + f"/maps/supervisor?grid={own[0]}", cookies={SESSION_COOKIE: handler})
    assert r.status_code == 403

    # signing out ends the session
    out = httpx.post(base + "/logout", cookies=jar)
    assert out.status_code == 303 and 'citygrid_session=""' in out.headers["set-cookie"]


def _a_unit(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT min(code) FROM responsible_unit")).scalar_one()


def test_a_session_cookie_writes_only_with_the_pages_csrf_token(server) -> None:
    base, _, engine = server
    cookie = sign_in(base, engine, "planner-li", "planner")
    jar = {SESSION_COOKIE: cookie}
    page = httpx.get(base + "/maps/planner", cookies=jar, timeout=60).text
    found = re.search(r'"csrf": "([^"]+)"', page)
    assert found, "the planner page carries its CSRF token"
    csrf = found.group(1)
    with engine.connect() as conn:
        code = conn.execute(text("SELECT min(code) FROM grid WHERE valid_to IS NULL")).scalar_one()
    url = base + f"/api/v1/grids/{code}/split?dry_run=true"
    body = {"line": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}
    # a cross-site form or script can send the cookie but cannot know the token
    for headers in ({}, {"X-CSRF-Token": "guess"}):
        r = httpx.post(url, json=body, cookies=jar, headers=headers)
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    r = httpx.post(url, json=body, cookies=jar, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 422  # through the door; the line misses the grid
    assert "未将网格" in r.json()["detail"]


FIND_MAP = (
    "window[Object.keys(window).find(k => k.startsWith('map_') && window[k] instanceof L.Map)]"
)


def test_planner_draws_a_split_line_previews_it_and_submits(server, tmp_path) -> None:
    base, _, engine = server
    create_user(engine, "planner-zhou", PASSWORD, ["planner"], "规划员 周")
    with engine.connect() as conn:
        code, x0, y0, x1, y1 = conn.execute(
            text(
                "SELECT code, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM grid "
                "WHERE valid_to IS NULL ORDER BY ST_Area(geom::geography) DESC, code LIMIT 1"
            )
        ).one()
    cx, cy, pad = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * 0.25
    seen: dict = {}

    def act(page) -> None:
        # the browser was sent to the sign-in page; sign in there and come back
        assert "/login?next=/maps/planner" in page.url
        page.fill("#username", "planner-zhou")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == base + "/maps/planner" and "规划员 周" in page.text_content(
            "#cg-session"
        )
        page.wait_for_timeout(800)
        page.evaluate(
            f"() => {{ {FIND_MAP}.fitBounds([[{y0}, {x0}], [{y1}, {x1}]], {{padding: [200, 200]}}); }}"
        )
        page.wait_for_timeout(400)

        def at(lon: float, lat: float) -> tuple[float, float]:
            return tuple(
                page.evaluate(
                    f"(() => {{ const m = {FIND_MAP}, p = m.latLngToContainerPoint([{lat}, {lon}]),"
                    " r = m.getContainer().getBoundingClientRect(); return [p.x + r.left, p.y + r.top]; })()"
                )
            )

        page.mouse.click(*at(cx, cy))  # select the grid
        assert page.text_content("#cg-selected") == code
        page.click(".leaflet-draw-draw-polyline")  # draw a line across it
        for lon in (x0 - pad, x1 + pad):
            page.mouse.click(*at(lon, cy))
            page.wait_for_timeout(300)  # Leaflet.draw takes quicker clicks for a double click
        page.click(".leaflet-draw-actions a[title='完成绘制']")
        assert page.text_content("#cg-drawn") == "线"
        page.click("#cg-preview")
        page.wait_for_selector("#cg-result p", timeout=30_000)
        seen["preview"] = page.text_content("#cg-result")
        assert page.query_selector("#cg-result .ok"), seen["preview"]
        page.screenshot(path=str(tmp_path / "preview.png"))
        assert page.is_enabled("#cg-submit")
        with page.expect_navigation(timeout=60_000):
            page.click("#cg-submit")
        page.wait_for_timeout(500)

    pixels, errors, _ = render(base + "/maps/planner", tmp_path, act=act)
    assert errors == []
    assert "符合拓扑规则" in seen["preview"] and "新网格" in seen["preview"]
    from PIL import Image

    preview = np.asarray(Image.open(tmp_path / "preview.png").convert("RGB"))
    assert _share(preview, [_hex("#ff7f00")], 30) > 0.001, "the previewed grids are not drawn"
    with engine.connect() as conn:
        ended = conn.execute(
            text(
                "SELECT valid_to IS NOT NULL FROM grid WHERE code = :c "
                "ORDER BY version DESC LIMIT 1"
            ),
            {"c": code},
        ).scalar_one()
        edit = conn.execute(
            text("SELECT kind, actor FROM grid_edit ORDER BY id DESC LIMIT 1")
        ).one()
    assert ended and edit.kind == "split" and edit.actor == "planner-zhou"


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


HOSTILE = '<img src=x onerror="window.__xss=1">`${window.__xss=2}`'


def test_hostile_names_stay_text_in_every_map(server, tmp_path) -> None:
    """Names planners and imports write (classes, communities, streets) reach tooltips and
    popups: in HTML and in JavaScript template literals they must stay text."""
    base, _, engine = server
    who, _, _ = _supervisors(engine)
    with engine.begin() as conn:
        saved = {
            "class": conn.execute(text("SELECT code, name FROM classification")).all(),
            "area": conn.execute(text("SELECT code, name FROM admin_area")).all(),
            "street": conn.execute(text("SELECT id, name FROM street")).all(),
        }
        conn.execute(text("UPDATE classification SET name = :h || code"), {"h": HOSTILE})
        conn.execute(text("UPDATE admin_area SET name = :h || code"), {"h": HOSTILE})
        conn.execute(text("UPDATE street SET name = :h || id"), {"h": HOSTILE})
    cookie = sign_in(base, engine, "dispatcher-hostile", "dispatcher", "planner")
    pages = [
        f"/maps/supervisor?supervisor={who}&at=2026-10-31T12:00:00",
        "/maps/hotspots?from=2026-01-01&to=2026-06-30",
        "/maps/planner",
    ]
    try:
        for path in pages:
            with browser_page(base + path, cookie) as page:
                page.goto(base + path, wait_until="load", timeout=120_000)
                # Open every tooltip and popup, so their HTML is built (folium builds some
                # only when shown).
                opened = page.evaluate(
                    """() => { let n = 0;
                    for (const k of Object.keys(window).filter(k => k.startsWith('map_'))) {
                      window[k].eachLayer(l => {
                        if (l.getTooltip && l.getTooltip() && (l.getLatLng || l.getBounds)) {
                          try { l.openTooltip(); n++; } catch (e) {} }
                        if (l.getPopup && l.getPopup() && l.getLatLng) {
                          try { l.openPopup(); n++; } catch (e) {} }
                      }); }
                    return n; }"""
                )
                assert opened > 0, path
                assert page.evaluate("window.__xss") is None, path
                html = page.content()
                assert "window.__xss" in html, path  # the names are there, as text
    finally:
        with engine.begin() as conn:
            for code, name in saved["class"]:
                conn.execute(
                    text("UPDATE classification SET name = :n WHERE code = :c"),
                    {"n": name, "c": code},
                )
            for code, name in saved["area"]:
                conn.execute(
                    text("UPDATE admin_area SET name = :n WHERE code = :c"), {"n": name, "c": code}
                )
            for sid, name in saved["street"]:
                conn.execute(
                    text("UPDATE street SET name = :n WHERE id = :i"), {"n": name, "i": sid}
                )
