"""Repository: accounts and the audit trail."""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import Connection, text

from app.db.pool import IntakeConnection, Statement

SELECT = """
SELECT a.id, a.username, a.display_name, a.password_hash, a.roles, a.is_active, a.created_at,
       a.tokens_valid_after, u.code AS unit_code, u.id AS unit_id
FROM app_user a LEFT JOIN responsible_unit u ON u.id = a.unit_id
"""


def get_user(conn: Connection, username: str) -> dict | None:
    row = conn.execute(text(SELECT + " WHERE a.username = :u"), {"u": username}).mappings().first()
    return dict(row) if row else None


def list_users(conn: Connection) -> list[dict]:
    return [dict(r) for r in conn.execute(text(SELECT + " ORDER BY a.username")).mappings()]


def insert_user(conn: Connection, values: dict) -> int | None:
    """Insert; None when the username is taken."""
    return conn.execute(
        text(
            "INSERT INTO app_user (username, display_name, password_hash, roles, unit_id) "
            "VALUES (:username, :display_name, :password_hash, CAST(:roles AS varchar(16)[]), "
            "(SELECT id FROM responsible_unit WHERE code = :unit_code)) "
            "ON CONFLICT (username) DO NOTHING RETURNING id"
        ),
        values,
    ).scalar()


def update_user(conn: Connection, username: str, changes: dict) -> bool:
    sets = []
    if "roles" in changes:
        sets.append("roles = CAST(:roles AS varchar(16)[])")
    if "unit_code" in changes:
        sets.append("unit_id = (SELECT id FROM responsible_unit WHERE code = :unit_code)")
    for column in ("display_name", "password_hash", "is_active"):
        if column in changes:
            sets.append(f"{column} = :{column}")
    if "password_hash" in changes:  # every token issued before the change stops working
        # (whole seconds, as a token's iat, rounded up: a token of this very second is refused)
        sets.append("tokens_valid_after = date_trunc('second', now()) + interval '1 second'")
    if not sets:
        return get_user(conn, username) is not None
    result = conn.execute(
        text(f"UPDATE app_user SET {', '.join(sets)} WHERE username = :username"),
        {**changes, "username": username},
    )
    return result.rowcount == 1


def revoke_session(conn: Connection, jti: str, expires_at: datetime) -> None:
    """Sign a session out (and forget sessions that have expired anyway)."""
    conn.execute(text("DELETE FROM revoked_session WHERE expires_at < now()"))
    conn.execute(
        text("INSERT INTO revoked_session VALUES (:j, :e) ON CONFLICT DO NOTHING"),
        {"j": jti, "e": expires_at},
    )


def session_revoked(conn: Connection, jti: str) -> bool:
    sql = "SELECT EXISTS (SELECT 1 FROM revoked_session WHERE jti = :j)"
    return bool(conn.execute(text(sql), {"j": jti}).scalar())


def lock_admins(conn: Connection) -> None:
    """Serialise changes that could take away the last admin (until the transaction ends)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('citygrid.app_user.admins'))"))


def active_admins(conn: Connection) -> int:
    return int(
        conn.execute(
            text("SELECT count(*) FROM app_user WHERE is_active AND 'admin' = ANY(roles)")
        ).scalar_one()
    )


def unit_exists(conn: Connection, code: str) -> bool:
    return bool(
        conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM responsible_unit WHERE code = :c)"), {"c": code}
        ).scalar()
    )


AUDIT_INSERT = Statement(
    "INSERT INTO audit_log (at, username, method, path, status, client, object) "
    "SELECT * FROM unnest(CAST(:at AS timestamptz[]), CAST(:u AS text[]), "
    "CAST(:m AS text[]), CAST(:p AS text[]), CAST(:s AS int[]), CAST(:c AS text[]), "
    "CAST(:o AS jsonb[]))"
)


async def write_audit_rows(conn: IntakeConnection, rows: list[tuple]) -> None:
    """Audit rows as (at, username, method, path, status, client, object) tuples, in one
    statement."""
    at, u, m, p, s, c, o = (list(column) for column in zip(*rows, strict=True))
    objects = [orjson.dumps(x).decode() if x else None for x in o]
    await conn.rows(AUDIT_INSERT, {"at": at, "u": u, "m": m, "p": p, "s": s, "c": c, "o": objects})
