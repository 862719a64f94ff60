"""The one place HTML pages are rendered: Jinja2 templates (``app/templates/``), the static
files they use (``app/static/``, served under ``/static/``) and the Content-Security-Policy
every page is sent with.

Pages carry no inline script or style: ``default-src 'self'`` is the whole policy for them.
Folium's map pages are one big inline script; :func:`map_response` allows exactly those
scripts by their SHA-256 hashes (CSP Level 2), so an injected ``<script>`` still cannot run.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
STATIC_URL = "/static/"

PAGE_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# Hosts a map page loads Leaflet from when it is not served locally.
REMOTE = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"(https://[^/\"]+)", re.I)

templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(("html",), default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["static"] = lambda name: STATIC_URL + name


def render(name: str, status_code: int = 200, **context) -> HTMLResponse:
    """Template ``name`` rendered with ``context`` (autoescaped), sent with the page CSP."""
    body = templates.get_template(name).render(**context)
    return HTMLResponse(
        body, status_code=status_code, headers={"Content-Security-Policy": PAGE_CSP}
    )


def map_response(page: str) -> HTMLResponse:
    """A folium map page with a CSP that lets its own inline scripts run, and nothing else.

    Scripts: this site, the hashes of the page's inline scripts and the hosts its own
    ``<script src>``/``<link href>`` name (none with ``CITYGRID_MAP_ASSETS=local``; folium's
    CDN otherwise). Styles stay ``'unsafe-inline'``: folium and Leaflet write ``style``
    attributes, which no hash can allow, and a style cannot run code. Basemap tiles come
    from whichever host the basemap names (``img-src https:``).
    """
    hashes = {
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in _inline_scripts(page)
    }
    hosts = set(REMOTE.findall(page))
    scripts = " ".join(["'self'", *sorted(hosts), *sorted(hashes)])
    styles = " ".join(["'self'", "'unsafe-inline'", *sorted(hosts)])
    policy = (
        f"default-src 'self'; script-src {scripts}; style-src {styles}; "
        "img-src 'self' data: https:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": policy})


def _inline_scripts(page: str):
    """The text of each inline ``<script>`` (no ``src``, not JSON data) in ``page``.

    str.find, not a regular expression: a city-wide map is megabytes of one script, which a
    lazy ``.*?`` crawls through at a fraction of the speed. Folium writes lower-case tags; a
    script this misses gets no hash and is blocked, never wrongly allowed.
    """
    if "\r" in page:  # the browser hashes the text after its parser turned CRLF into LF
        page = page.replace("\r\n", "\n")
    start = 0
    while (start := page.find("<script", start)) >= 0:
        body = page.find(">", start) + 1
        end = page.find("</script>", body)
        if body == 0 or end < 0:
            return
        attrs = page[start:body]
        if "src=" not in attrs and "application/json" not in attrs:
            yield page[body:end]
        start = end + len("</script>")
