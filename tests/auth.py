"""Accounts for tests: a user with the given roles and a bearer header for it."""

from __future__ import annotations

from app.db.session import make_engine
from app.errors import ConflictError
from app.services.accounts.users import create_user, issue_token
from app.settings import Settings

PASSWORD = "correct-horse-battery"


def headers(
    settings: Settings,
    *roles: str,
    username: str | None = None,
    unit_code: str | None = None,
    display_name: str | None = None,
) -> dict[str, str]:
    """``Authorization`` header for a user with ``roles`` (created on first use)."""
    roles = roles or ("admin",)
    username = username or "-".join(roles) + (f"-{unit_code}" if unit_code else "")
    assert settings.database_url is not None  # tests always name their database
    engine = make_engine(settings.database_url)
    try:
        create_user(engine, username, PASSWORD, list(roles), display_name, unit_code)
    except ConflictError:
        pass
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {issue_token(settings, username)}"}
