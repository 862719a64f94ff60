"""Accounts: passwords (argon2 via pwdlib), signed access tokens (JWT, HS256), roles."""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from pwdlib import PasswordHash
from sqlalchemy import Engine

from app.db import ratelimit as rates
from app.db.accounts import users as repo
from app.db.models import ROLES
from app.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    TooManyRequestsError,
    UnauthenticatedError,
)
from app.settings import Settings

PASSWORDS = PasswordHash.recommended()
ALGORITHM = "HS256"


@dataclass(frozen=True)
class User:
    """The signed-in user as the services see it."""

    username: str
    roles: tuple[str, ...]
    display_name: str | None = None
    unit_id: int | None = None
    unit_code: str | None = None
    extra: dict = field(default_factory=dict, compare=False)

    def has(self, *roles: str) -> bool:
        return bool(set(roles) & set(self.roles))


def secret_key(settings: Settings) -> str:
    """The signing key: the setting, else one generated once and kept in <home>/secret_key."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.home / "secret_key"
    if path in _secret_keys:  # read once per process: every request checks a signature
        return _secret_keys[path]
    if not path.exists():
        # Several processes (server workers, the CLI) may start at once on a fresh home: each
        # writes a candidate and links it into place, and the first link wins for all of them.
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_name(f"secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        candidate.write_text(secrets.token_urlsafe(48))
        candidate.chmod(0o600)
        with contextlib.suppress(FileExistsError):
            os.link(candidate, path)
        candidate.unlink()
    _secret_keys[path] = path.read_text().strip()
    return _secret_keys[path]


_secret_keys: dict[Path, str] = {}
# Tokens whose signature was checked, by (key, token): a client sends the same token with
# every request, and checking it again cost a tenth of an intake's server time.
_verified: dict[tuple[str, str], dict] = {}


def _check_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise InvalidInputError(
            f"角色无效：{', '.join(unknown) or '（空）'}；可选：{', '.join(ROLES)}",
            f"invalid role(s): {', '.join(unknown) or '(none)'}; choose from {', '.join(ROLES)}",
        )
    return sorted(set(roles))


def create_user(
    engine: Engine,
    username: str,
    password: str,
    roles: list[str],
    display_name: str | None = None,
    unit_code: str | None = None,
) -> dict:
    """Add an account; 422 for bad roles or unit, 409 when the name is taken."""
    roles = _check_roles(roles)
    if len(password) < 8:
        raise InvalidInputError("密码至少 8 位", "a password needs at least 8 characters")
    with engine.begin() as conn:
        if "handler" in roles and not unit_code:
            raise InvalidInputError(
                "处置人员须属于一个责任单位（unit_code）",
                "a handler must belong to a responsible unit (unit_code)",
            )
        if unit_code and not repo.unit_exists(conn, unit_code):
            raise InvalidInputError(
                f"责任单位 {unit_code} 不存在", f"unknown responsible unit {unit_code}"
            )
        new_id = repo.insert_user(
            conn,
            {
                "username": username,
                "display_name": display_name or username,
                "password_hash": PASSWORDS.hash(password),
                "roles": roles,
                "unit_code": unit_code,
            },
        )
        if new_id is None:
            raise ConflictError(f"用户名 {username} 已存在", f"username {username} is taken")
        _forget(engine, username)
        return _public(repo.get_user(conn, username))  # type: ignore[arg-type]


def update_user(
    engine: Engine,
    username: str,
    *,
    roles: list[str] | None = None,
    password: str | None = None,
    display_name: str | None = None,
    unit_code: str | None = None,
    is_active: bool | None = None,
) -> dict:
    changes: dict = {}
    if roles is not None:
        changes["roles"] = _check_roles(roles)
    if password is not None:
        changes["password_hash"] = PASSWORDS.hash(password)
    if display_name is not None:
        changes["display_name"] = display_name
    if unit_code is not None:
        changes["unit_code"] = unit_code
    if is_active is not None:
        changes["is_active"] = is_active
    with engine.begin() as conn:
        if unit_code and not repo.unit_exists(conn, unit_code):
            raise InvalidInputError(
                f"责任单位 {unit_code} 不存在", f"unknown responsible unit {unit_code}"
            )
        repo.lock_admins(conn)  # two admins demoting each other at once: one waits
        if not repo.update_user(conn, username, changes):
            raise NotFoundError(f"没有用户 {username}", f"no user {username}")
        if repo.active_admins(conn) == 0:  # rolled back with the change
            raise ConflictError(
                "不能停用或降级最后一个有效的管理员账号：请先为另一账号授予 admin 角色",
                "refused: this would leave no active admin; give another account the admin "
                "role first",
            )
        row = repo.get_user(conn, username)
    _forget(engine, username)
    return _public(row)  # type: ignore[arg-type]


def list_users(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [_public(u) for u in repo.list_users(conn)]


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "password_hash"}


def authenticate(
    engine: Engine, username: str, password: str, settings: Settings | None = None, client: str = ""
) -> dict:
    """The user row for a correct password, else 401 — the same answer, after the same work,
    for an unknown or disabled name. With ``settings``, failed sign-ins are counted per
    account and per client address, and beyond their limits the attempt is refused (429)
    before the password is even checked."""
    buckets, window = [], 0.0
    if settings is not None:
        window = settings.login_failure_window_s
        buckets = [
            ("login-account", username, settings.login_failures_per_account),
            ("login-client", client, settings.login_failures_per_client),
        ]
    with engine.begin() as conn:
        for bucket, key, limit in buckets:
            wait = rates.retry_after(conn, bucket, key, limit, window)
            if wait is not None:
                raise TooManyRequestsError(
                    f"登录失败次数过多，请 {wait} 秒后再试",
                    f"too many failed sign-ins; retry in {wait} s",
                    retry_after=wait,
                )
        row = repo.get_user(conn, username)
    # argon2 runs either way: the answer's timing does not tell whether the name exists.
    stored = row["password_hash"] if row is not None else _timing_hash()
    if not PASSWORDS.verify(password, stored) or row is None or not row["is_active"]:
        if buckets:
            with engine.begin() as conn:
                for bucket, key, _ in buckets:
                    rates.hit(conn, bucket, key)
        raise UnauthenticatedError("用户名或密码错误", "wrong username or password")
    return row


@functools.cache
def _timing_hash() -> str:
    """A hash no password matches, verified for unknown names (as long as a real check)."""
    return PASSWORDS.hash(secrets.token_urlsafe(32))


def issue_token(
    settings: Settings, username: str, minutes: int | None = None, **claims: str
) -> str:
    now = datetime.now(UTC)
    payload: dict[str, object] = {
        "sub": username,
        "iat": now,
        "exp": now + timedelta(minutes=minutes or settings.token_minutes),
        **claims,
    }
    return jwt.encode(payload, secret_key(settings), algorithm=ALGORITHM)


def issue_session(settings: Settings, username: str) -> str:
    """A browser session token: a signed token carrying its own CSRF secret (``csrf``) and an
    id (``jti``) by which signing out revokes it."""
    return issue_token(
        settings, username, csrf=secrets.token_urlsafe(24), jti=secrets.token_urlsafe(16)
    )


def revoke_session(engine: Engine, claims: dict) -> None:
    """Sign the session of ``claims`` out: its token is refused from now on, everywhere."""
    if "jti" in claims:
        with engine.begin() as conn:
            repo.revoke_session(conn, claims["jti"], datetime.fromtimestamp(claims["exp"], UTC))


def ensure_session_open(engine: Engine, claims: dict) -> None:
    """401 when the session of ``claims`` was signed out (a database look-up: sessions are
    browsers, a few requests a minute, unlike the scripts' bearer tokens)."""
    with engine.connect() as conn:
        revoked = repo.session_revoked(conn, claims["jti"])
    if revoked:
        raise UnauthenticatedError("已退出登录，请重新登录", "signed out; sign in again")


def read_token(settings: Settings, token: str) -> dict:
    """The claims of a valid, unexpired token, else 401."""
    key = secret_key(settings)
    claims = _verified.get((key, token))
    if claims is not None and claims.get("exp", 0) > time.time():
        return claims
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM])
        if len(_verified) > 10_000:
            _verified.clear()
        _verified[(key, token)] = claims
        return claims
    except jwt.ExpiredSignatureError:
        raise UnauthenticatedError(
            "令牌已过期，请重新登录", "the token has expired; sign in again"
        ) from None
    except jwt.InvalidTokenError:
        raise UnauthenticatedError("令牌无效", "invalid token") from None


# Signed-in users by name for a few seconds: every request names its user, and looking the
# account up each time was a tenth of an intake's cost. A change made through this process
# clears it at once; other worker processes see it within USER_CACHE_SECONDS.
USER_CACHE_SECONDS = 5.0
_users: dict[tuple[str, str], tuple[float, dict | None]] = {}


def _forget(engine: Engine, username: str) -> None:
    _users.pop((str(engine.url), username), None)


def account_is_cached(engine: Engine, username: str) -> bool:
    """Whether the account can be had without a database round trip."""
    hit = _users.get((str(engine.url), username))
    return hit is not None and time.monotonic() - hit[0] < USER_CACHE_SECONDS


def _account(engine: Engine, username: str) -> dict | None:
    now = time.monotonic()
    key = (str(engine.url), username)  # one process may serve several databases (tests)
    hit = _users.get(key)
    if hit is not None and now - hit[0] < USER_CACHE_SECONDS:
        return hit[1]
    with engine.connect() as conn:
        row = repo.get_user(conn, username)
    if len(_users) > 10_000:
        _users.clear()
    _users[key] = (now, row)
    return row


def user_from_claims(engine: Engine, claims: dict) -> User:
    """The active user the claims name, else 401; a session's CSRF secret rides in ``extra``."""
    row = _account(engine, str(claims.get("sub")))
    if row is None or not row["is_active"]:
        raise UnauthenticatedError(
            "账号不存在或已停用", "the account does not exist or is disabled"
        )
    valid_after = row.get("tokens_valid_after")
    if valid_after is not None and claims.get("iat", 0) < valid_after.timestamp():
        raise UnauthenticatedError(
            "密码已更改，此前的令牌已失效，请重新登录",
            "the password was changed: tokens issued before no longer work; sign in again",
        )
    extra = {"csrf": claims["csrf"]} if "csrf" in claims else {}
    return User(
        row["username"],
        tuple(row["roles"]),
        row["display_name"],
        row["unit_id"],
        row["unit_code"],
        extra,
    )
