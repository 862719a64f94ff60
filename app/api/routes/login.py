"""Sign-in and sign-out pages for the browser (the map pages): a session cookie.

Scripts keep using bearer tokens (``/api/v1/auth/token``). The cookie is HttpOnly and
SameSite=Lax, and a write it authenticates must also echo the session's CSRF secret (see
:mod:`app.api.auth`), so another site can neither read the session nor act with it.
"""

from __future__ import annotations

import contextlib
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.api.audit import audit_object
from app.api.auth import SESSION_COOKIE
from app.api.deps import EngineDep, LanguageDep, SettingsDep
from app.api.ratelimit import client_address
from app.api.templates import render
from app.errors import UnauthenticatedError
from app.services.accounts import users as service

router = APIRouter(include_in_schema=False)

TEXT = {
    "zh": {
        "title": "登录 CityGrid 数字化城管",
        "user": "用户名",
        "password": "密码",
        "submit": "登录",
        "other": "English",
    },
    "en": {
        "title": "Sign in to CityGrid",
        "user": "Username",
        "password": "Password",
        "submit": "Sign in",
        "other": "中文",
    },
}


def safe_next(target: str | None) -> str:
    """Only paths on this site: an open redirect would let a link send users elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _page(lang: str, target: str, username: str = "", error: str = "", status: int = 200):
    other = "en" if lang == "zh" else "zh"
    return render(
        "login.html",
        status,
        lang=lang,
        t=TEXT[lang],
        next=target,
        username=username,
        error=error,
        switch=f"/login?lang={other}&next={quote(target)}",
    )


@router.get("/login", response_class=HTMLResponse)
def read_login(lang: LanguageDep, next: str | None = Query(None, max_length=2000)):
    return _page(lang, safe_next(next))


@router.post("/login")
def sign_in(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    lang: LanguageDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form(max_length=2000)] = "/",
):
    target = safe_next(next)
    audit_object(username=username)  # every attempt is audited, failed ones too
    try:
        user = service.authenticate(engine, username, password, settings, client_address(request))
    except UnauthenticatedError as exc:
        return _page(lang, target, username, exc.message(lang), status=401)
    request.state.user = service.User(user["username"], tuple(user["roles"]))  # audit trail
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        service.issue_session(settings, user["username"]),
        max_age=settings.token_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def sign_out(request: Request, engine: EngineDep, settings: SettingsDep, lang: LanguageDep):
    # The session ends everywhere, not only in this browser: its token is revoked.
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with contextlib.suppress(UnauthenticatedError):  # expired or forged: nothing to end
            service.revoke_session(engine, service.read_token(settings, cookie))
    response = RedirectResponse(f"/login?lang={lang}", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
