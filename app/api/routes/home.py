"""The site's front door: a landing page so a newcomer at http://127.0.0.1:8000/ sees where
to go, and the static files the pages load (``/static/``: stylesheets, browser scripts)."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.api.templates import STATIC_DIR, STATIC_URL, render

router = APIRouter(include_in_schema=False)
router.mount(STATIC_URL.rstrip("/"), StaticFiles(directory=STATIC_DIR), name="static")


@router.get("/", response_class=HTMLResponse)
def read_home():
    return render("home.html")
