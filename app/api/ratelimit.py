"""A per-client sliding-window rate limit for public endpoints (one process's memory)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from fastapi import Request

from app.errors import DomainError


class TooManyRequestsError(DomainError):
    status = 429
    type_slug = "too-many-requests"
    title_zh = "请求过于频繁"
    title_en = "Too many requests"


class RateLimit:
    """At most ``per_minute`` calls per client address in any 60 s window."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._calls: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            calls = self._calls[key]
            while calls and calls[0] <= now - 60:
                calls.popleft()
            if len(calls) >= self.per_minute:
                wait = int(60 - (now - calls[0])) + 1
                raise TooManyRequestsError(
                    f"提交过于频繁：每分钟最多 {self.per_minute} 次，请 {wait} 秒后再试",
                    f"too many submissions: at most {self.per_minute} a minute; retry in {wait} s",
                    retry_after=wait,
                )
            calls.append(now)


def limit(request: Request, name: str, per_minute: int) -> None:
    """Count one call of ``name`` for this client against ``per_minute`` (429 beyond it)."""
    state = request.app.state
    limits = getattr(state, "rate_limits", None)
    if limits is None:
        state.rate_limits = limits = {}
    if name not in limits:
        limits[name] = RateLimit(per_minute)
    limits[name].check(request.client.host if request.client else "unknown")


def limit_public_writes(request: Request) -> None:
    """Dependency: the public submission limit of this app (settings.open311_rate_per_minute)."""
    limit(request, "public_writes", request.app.state.settings.open311_rate_per_minute)
