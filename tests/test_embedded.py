"""The embedded PostGIS: first start initialises, restart after a crash, stop, status; `db stop`
then `db start` keep the port, so a running server reconnects by itself; every commit is
durable (synchronous_commit on)."""

import os
import shutil
import signal
import time

import psycopg2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import make_url, text
from typer.testing import CliRunner

from app.cli import app as cli
from app.db.migrate import upgrade
from app.db.session import make_engine
from app.embedded import EmbeddedPostgres
from app.main import create_app
from app.services.catalog.classes import load_standard_classes
from app.settings import Settings
from tests import auth
from tests import small_district as sd


@pytest.fixture()
def cluster(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "home")
    yield pg
    pg.stop()
    shutil.rmtree(pg.home, ignore_errors=True)  # /var/tmp/citygrid-… when run as root


def _query(url: str, sql: str):
    conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_first_start_creates_database_with_postgis(cluster):
    assert not cluster.status().running
    url = cluster.start()
    assert cluster.status().running
    assert _query(url, "SELECT extname FROM pg_extension WHERE extname = 'postgis'") == "postgis"
    assert url == cluster.start()  # a second start is a no-op returning the same URL


@pytest.mark.skipif(os.geteuid() != 0, reason="root-only behaviour")
def test_as_root_the_server_runs_as_an_unprivileged_user(cluster):
    cluster.start()
    pid = cluster.status().pid
    assert os.stat(f"/proc/{pid}").st_uid != 0


def test_restarts_after_a_crash_with_a_stale_pid_file(cluster):
    cluster.start()
    pid = cluster.status().pid
    os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.1)
    assert (cluster.data_dir / "postmaster.pid").exists()  # the crash left it behind
    assert not cluster.status().running
    url = cluster.start()
    assert _query(url, "SELECT 1") == 1


def test_stop_then_status(cluster):
    cluster.start()
    assert cluster.stop() is True
    assert not cluster.status().running
    assert cluster.stop() is False


def test_database_url_wins_and_no_server_is_started(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@db.invalid:5432/elsewhere")
    monkeypatch.setenv("CITYGRID_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "url"])
    assert result.exit_code == 0
    assert result.output.strip() == "postgresql+psycopg2://someone@db.invalid:5432/elsewhere"
    result = runner.invoke(cli, ["db", "start"])
    assert result.exit_code == 2
    assert not (tmp_path / "home").exists()


def _setting(url: str, name: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(f"SHOW {name}")).scalar_one()
    finally:
        engine.dispose()


def test_stop_and_start_keep_the_port_and_commits_are_durable(cluster) -> None:
    first = cluster.start()
    assert _setting(first, "synchronous_commit") == "on"
    assert cluster.stop()
    again = cluster.start()
    assert make_url(again).port == make_url(first).port


def test_a_cluster_made_by_an_older_version_gets_the_current_settings(cluster) -> None:
    # Older versions appended their settings, asynchronous commit included, after initdb.
    cluster._initdb()
    with open(cluster.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write("\n# citygrid embedded cluster\nsynchronous_commit = off\n")
    url = cluster.start()
    assert _setting(url, "synchronous_commit") == "on"


def test_a_running_server_survives_db_stop_and_start(cluster, tmp_path) -> None:
    url = cluster.start()
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(database_url=url, home=tmp_path / "app")
    load_standard_classes(engine)
    sd.build(engine)
    lon, lat = sd.lonlat(30, 40)
    body = {"class_kind": "event", "class_code": "0102", "lon": lon, "lat": lat}
    headers = auth.headers(settings, "supervisor")
    with TestClient(create_app(settings), headers=headers) as client:
        assert client.post("/api/v1/events", json=body).status_code == 201
        cluster.stop()
        assert client.post("/api/v1/events", json=body).status_code == 503
        cluster.start()
        deadline = time.monotonic() + 30
        while (r := client.post("/api/v1/events", json=body)).status_code != 201:
            assert time.monotonic() < deadline, r.text
            time.sleep(0.5)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM event")).scalar_one() == 2
    engine.dispose()
