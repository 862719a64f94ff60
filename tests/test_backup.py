"""`citygrid db backup` then `db restore`: the cases, the schema and the signing key come back
(a token issued before the backup still signs in after a restore into a fresh home)."""

from __future__ import annotations

import tarfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import app as cli
from app.main import create_app
from app.services.accounts import users
from app.settings import Settings
from tests import auth
from tests import small_district as sd


@pytest.fixture()
def env(engine, settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CITYGRID_HOME", str(settings.home))
    return engine, settings


def _cases(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM event")).scalar_one()


def test_backup_and_restore_round_trip(env, tmp_path, monkeypatch) -> None:
    engine, settings = env
    sd.build(engine)
    headers = auth.headers(settings, "supervisor")
    lon, lat = sd.lonlat(30, 40)
    with TestClient(create_app(settings), headers=headers) as client:
        r = client.post("/api/v1/events", json={"class_code": "0102", "lon": lon, "lat": lat})
        assert r.status_code == 201, r.text
    archive = tmp_path / "city.backup"
    result = CliRunner().invoke(cli, ["db", "backup", str(archive)])
    assert result.exit_code == 0, result.output
    with tarfile.open(archive) as tar:
        assert {"database.dump", "secret_key", "manifest.json"} <= set(tar.getnames())

    # Disaster: the cases are gone and the home (with its key) is lost.
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE event CASCADE"))
    fresh = tmp_path / "new-home"
    monkeypatch.setenv("CITYGRID_HOME", str(fresh))
    result = CliRunner().invoke(cli, ["db", "restore", str(archive), "--yes"])
    assert result.exit_code == 0, result.output
    assert _cases(engine) == 1
    assert (fresh / "secret_key").read_text() == (settings.home / "secret_key").read_text()

    # The old token works against the restored database with the restored home.
    users._secret_keys.clear()
    restored = Settings(database_url=settings.database_url, home=fresh)
    with TestClient(create_app(restored), headers=headers) as client:
        assert client.get("/api/v1/events/" + str(r.json()["id"])).status_code == 200


def test_a_file_that_is_no_backup_changes_nothing(env, tmp_path) -> None:
    engine, settings = env
    sd.build(engine)
    before = _cases(engine)
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a backup")
    result = CliRunner().invoke(cli, ["db", "restore", str(bogus), "--yes"])
    assert result.exit_code == 1
    assert "not a CityGrid backup" in result.output
    assert _cases(engine) == before
