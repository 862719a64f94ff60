"""Rate limits for public endpoints and sign-ins, counted in the database so that every
server process shares them, per client address (X-Forwarded-For only from trusted proxies)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine

from app.db import ratelimit as repo
from app.errors import TooManyRequestsError


def client_address(request: Request) -> str:
    """The caller's address: the socket's peer, or — when that peer is a configured proxy —
    the nearest address in X-Forwarded-For that is not one of ours. A header anybody can
    send is believed from nobody else (and uvicorn's own proxy handling is off)."""
    peer = request.client.host if request.client else "unknown"
    proxies = set(request.app.state.settings.trusted_proxies)
    if peer not in proxies:
        return peer
    forwarded = [a.strip() for a in request.headers.get("x-forwarded-for", "").split(",")]
    for address in reversed([a for a in forwarded if a]):
        if address not in proxies:
            return address
    return peer


def too_many(zh: str, en: str, wait: int) -> TooManyRequestsError:
    return TooManyRequestsError(
        f"{zh}，请 {wait} 秒后再试", f"{en}; retry in {wait} s", retry_after=wait
    )


def count(engine: Engine, bucket: str, key: str, limit: int, window_s: float = 60) -> None:
    """Count one call of ``key`` in ``bucket``; 429 (nothing counted) beyond ``limit`` per
    ``window_s``."""
    with engine.begin() as conn:
        repo.lock(conn, bucket, key)
        wait = repo.retry_after(conn, bucket, key, limit, window_s)
        if wait is None:
            repo.hit(conn, bucket, key)
    if wait is not None:
        raise too_many(
            f"提交过于频繁：每 {window_s:g} 秒最多 {limit} 次",
            f"too many submissions: at most {limit} per {window_s:g} s",
            wait,
        )


def limit_public_writes(request: Request) -> None:
    """Dependency: the public submission limit (settings.open311_rate_per_minute)."""
    state = request.app.state
    count(
        state.engine,
        "public_writes",
        client_address(request),
        state.settings.open311_rate_per_minute,
    )
