"""The embedded PostGIS: first start initialises, restart after a crash, stop, status."""

import os
import signal
import time

import psycopg2
import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.embedded import EmbeddedPostgres


@pytest.fixture()
def cluster(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "home")
    yield pg
    pg.stop()


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
