"""Repository: rate-limit counters (migration 0014), one row per counted call."""

from __future__ import annotations

import math

from sqlalchemy import Connection, text


def lock(conn: Connection, bucket: str, key: str) -> None:
    """Serialise the counting of one (bucket, key) until the transaction ends."""
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:b || '/' || :k))"), {"b": bucket, "k": key}
    )


def retry_after(conn: Connection, bucket: str, key: str, limit: int, window_s: float) -> int | None:
    """Seconds until one more call of (bucket, key) fits ``limit`` per ``window_s``; None when
    it fits now. Prunes what has left the window."""
    params = {"b": bucket, "k": key, "w": window_s}
    conn.execute(
        text(
            "DELETE FROM rate_hit WHERE bucket = :b AND key = :k "
            "AND at <= now() - make_interval(secs => :w)"
        ),
        params,
    )
    row = conn.execute(
        text(
            "SELECT count(*) AS n, extract(epoch FROM min(at) + make_interval(secs => :w) - now()) "
            "AS wait FROM rate_hit WHERE bucket = :b AND key = :k"
        ),
        params,
    ).one()
    if row.n < limit:
        return None
    return max(1, math.ceil(float(row.wait)))


def hit(conn: Connection, bucket: str, key: str) -> None:
    """Count one call."""
    conn.execute(
        text("INSERT INTO rate_hit (bucket, key) VALUES (:b, :k)"), {"b": bucket, "k": key}
    )
