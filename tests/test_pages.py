"""The site's pages: Jinja2 templates that escape every value, a Content-Security-Policy on
every HTML answer, and browser code served as static files (the planner's grid editor)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from html.parser import HTMLParser

import folium
import pytest
from fastapi.testclient import TestClient

import gis.maps
from app.api.auth import SESSION_COOKIE
from app.main import create_app
from app.services.accounts.users import create_user
from tests import small_district as sd
from tests.auth import PASSWORD

HOSTILE = '"><script>alert(1)</script>'
MESSAGE_EN = "wrong username or password"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


class Elements(HTMLParser):
    """The page's elements as (tag, attributes, text) as a browser's parser sees them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict, str]] = []
        self.open = False
        self.feed(page)

    def handle_starttag(self, tag, attrs) -> None:
        self.found.append((tag, dict(attrs), ""))
        self.open = True

    def handle_endtag(self, tag) -> None:
        self.open = False

    def handle_data(self, data) -> None:
        if self.found and self.open:
            tag, attrs, text = self.found[-1]
            self.found[-1] = (tag, attrs, text + data)

    def all(self, tag: str) -> list[tuple[dict, str]]:
        """Attributes and raw text of each ``tag`` (script text byte for byte, for hashing)."""
        return [(a, t) for g, a, t in self.found if g == tag]

    def text(self, tag: str) -> list[str]:
        return [t.strip() for _, t in self.all(tag)]


def csp(response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as directive → sources."""
    policy = response.headers["content-security-policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


@pytest.fixture()
def client(engine, settings):
    sd.build(engine)
    with TestClient(create_app(settings)) as client:
        yield client, engine


def test_login_page_escapes_next_and_username_and_keeps_its_language(client) -> None:
    client, _ = client
    page = client.get("/login", params={"next": "/maps/planner" + HOSTILE})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script>alert(1)" not in page.text
    found = Elements(page.text)
    assert found.all("script") == []  # the hostile value stayed text
    (hidden,) = [a for a, _ in found.all("input") if a.get("name") == "next"]
    assert hidden["value"] == "/maps/planner" + HOSTILE  # …and comes back intact
    assert "登录 CityGrid 数字化城管" in page.text and 'lang="zh"' in page.text
    (switch,) = [a["href"] for a, _ in found.all("a") if a.get("class") == "lang"]
    assert switch.startswith("/login?lang=en&next=/maps/planner%22%3E%3Cscript%3E")
    # a sign-in that fails shows the name typed, escaped, in English when asked
    wrong = client.post(
        "/login?lang=en",
        data={"username": "</script>" + HOSTILE, "password": "nope-nope", "next": "//evil.example"},
    )
    assert wrong.status_code == 401 and "Sign in to CityGrid" in wrong.text
    found = Elements(wrong.text)
    assert found.all("script") == [] and "<script>alert(1)" not in wrong.text
    (name,) = [a for a, _ in found.all("input") if a.get("name") == "username"]
    assert name["value"] == "</script>" + HOSTILE
    (target,) = [a for a, _ in found.all("input") if a.get("name") == "next"]
    assert target["value"] == "/"  # an off-site next is still refused
    assert [t.strip() for a, t in found.all("p") if a.get("role") == "alert"] == [MESSAGE_EN]


@pytest.mark.parametrize("path", ["/", "/login", "/login?lang=en"])
def test_pages_send_a_strict_csp_and_load_their_stylesheet_from_this_site(client, path) -> None:
    client, _ = client
    page = client.get(path)
    assert page.status_code == 200
    policy = csp(page)
    assert policy["default-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert "script-src" not in policy and "style-src" not in policy  # nothing inline allowed
    found = Elements(page.text)
    assert found.all("style") == [] and not any("style" in a for _, a, _ in found.found)
    (sheet,) = [a["href"] for a, _ in found.all("link") if a.get("rel") == "stylesheet"]
    css = client.get(sheet)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_error_page_escapes_what_it_echoes_and_sends_a_csp(client) -> None:
    client, _ = client
    page = client.get("/nothing/" + HOSTILE, headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert csp(page)["default-src"] == ["'self'"]
    found = Elements(page.text)
    assert found.all("script") == [] and "<script>alert(1)" not in page.text
    assert found.text("p")[0] == "/nothing/" + HOSTILE
    assert found.text("h1") == ["404 · 未找到"]
    (again,) = [a["href"] for a, _ in found.all("a") if a["href"].startswith("/login")]
    assert again == "/login?next=/nothing/%22%3E%3Cscript%3Ealert%281%29%3C/script%3E"
    english = client.get("/nothing?lang=en", headers=BROWSER)
    assert "404 · Not found" in english.text and "sign in as someone else" in english.text


def test_static_files_are_served_with_their_types_and_nothing_outside(client) -> None:
    client, _ = client
    script = client.get("/static/js/planner-editor.js")
    assert script.status_code == 200
    assert script.headers["content-type"].split(";")[0] in {
        "text/javascript",
        "application/javascript",
    }
    assert "cg-editor-config" in script.text
    for path in ("/static/js/none.js", "/static/../templates/base.html", "/static/%2e%2e/main.py"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/problem+json", path


def test_planner_page_loads_the_editor_script_with_its_settings_as_data(client) -> None:
    client, engine = client
    create_user(engine, "planner-wu", PASSWORD, ["planner"], "规划员 " + HOSTILE)
    signed = client.post(
        "/login", data={"username": "planner-wu", "password": PASSWORD}, follow_redirects=False
    )
    assert signed.status_code == 303
    page = client.get("/maps/planner?lang=en")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    found = Elements(page.text)
    scripts = found.all("script")
    assert [a["src"] for a, _ in scripts if a.get("src", "").startswith("/static/")] == [
        "/static/js/planner-editor.js"
    ]
    (data,) = [t for a, t in scripts if a.get("id") == "cg-editor-config"]
    settings = json.loads(data)
    assert settings["api"] == "/api/v1/grids" and settings["csrf_header"] == "X-CSRF-Token"
    assert settings["csrf"] and settings["text"]["heading"] == "Grid editor"
    assert re.search(rf"var {settings['map']} = L\.map\(", page.text)
    assert re.search(rf"var {settings['drawn']} = L\.featureGroup\(", page.text)
    # the planner's own name is shown, as text: no script of theirs runs
    assert "<script>alert(1)" not in page.text
    # the CSP allows exactly the page's inline scripts, by hash; nothing 'unsafe-inline'
    policy = csp(page)
    assert "'unsafe-inline'" not in policy["script-src"]
    inline = [t for a, t in scripts if "src" not in a and a.get("type") != "application/json"]
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"]
    editor_css = client.get("/static/css/planner-editor.css")
    assert editor_css.status_code == 200 and ".cg-editor" in editor_css.text
    # an analyst sees the map without the editor
    create_user(engine, "analyst-wu", PASSWORD, ["analyst"])
    client.cookies.clear()
    client.post("/login", data={"username": "analyst-wu", "password": PASSWORD})
    assert SESSION_COOKIE in client.cookies
    view = client.get("/maps/planner")
    assert view.status_code == 200 and "planner-editor.js" not in view.text
    assert "cg-editor-config" not in view.text and "content-security-policy" in view.headers


def test_hotspot_map_csp_names_its_scripts_by_hash(client) -> None:
    client, _ = client
    page = client.get("/maps/hotspots")
    assert page.status_code == 200
    policy = csp(page)
    hashes = [s for s in policy["script-src"] if s.startswith("'sha256-")]
    assert hashes and "'unsafe-inline'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"] and policy["connect-src"] == ["'self'"]


def test_page_script_settings_cannot_break_out_of_their_block() -> None:
    m = folium.Map(tiles=None)
    config = {"note": "</script><script>alert(1)</script>", "amp": "a & b <!--"}
    gis.maps.page_script(m, "/static/x.js", css="/static/x.css", config=config, config_id="cfg")
    page = m.get_root().render()
    found = Elements(page)
    (block,) = [t for a, t in found.all("script") if a.get("id") == "cfg"]
    assert json.loads(block) == config
    assert not any("alert(1)" in t for a, t in found.all("script") if a.get("id") != "cfg")
    assert [a for a, _ in found.all("script") if a.get("src") == "/static/x.js"] == [
        {"defer": None, "src": "/static/x.js"}
    ]
    assert [a["href"] for a, _ in found.all("link") if a["href"] == "/static/x.css"]
    with pytest.raises(ValueError, match="config_id"):
        gis.maps.page_script(m, "/static/x.js", config={})


def test_drawing_tools_doctests_pass() -> None:
    import doctest

    result = doctest.testmod(sys.modules[gis.maps.page_script.__module__])
    assert result.attempted and result.failed == 0
