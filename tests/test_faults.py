"""Reports survive the database going away (issue #19, "Proof in CI").

A few clients post reports with Idempotency-Key headers to a uvicorn server while its
PostgreSQL is stopped and started again, then crashes (``pg_ctl stop -m immediate``) and
recovers. A client retries a report with the same key on a 503 or a dropped connection,
as the 503's message tells it to. Afterwards every report that got a 2xx is stored exactly
once under its key (a 2xx means committed: ``synchronous_commit = on``), none twice, and the
case each answer named is the stored one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text

from app.db.migrate import upgrade
from app.db.session import make_engine
from app.embedded import EmbeddedPostgres
from app.services.accounts.users import create_user, issue_token
from app.services.catalog.classes import load_standard_classes
from app.settings import Settings
from tests import small_district as sd
from tests.auth import PASSWORD
from tests.served import uvicorn_server

pytestmark = pytest.mark.slow

CLIENTS = 4
REPORTS_PER_CLIENT = 75
GIVE_UP_S = 45  # one report's retries; the outages last a few seconds
POINTS = [(30, 30), (160, 40), (40, 160), (150, 150), (70, 60), (130, 170)]


@dataclass
class Outcome:
    """What the clients saw."""

    attempts: int = 0
    statuses: Counter = field(default_factory=Counter)
    connection_errors: int = 0
    acknowledged: dict[str, int] = field(default_factory=dict)  # key → case id answered
    unanswered: list[str] = field(default_factory=list)  # given up on (no 2xx in time)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture()
def cluster(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "pg-home")
    yield pg
    pg.stop()
    shutil.rmtree(pg.home, ignore_errors=True)


def _crash(pg: EmbeddedPostgres) -> None:
    """Kill the server as a power cut would: no checkpoint, recovery from WAL at next start."""
    subprocess.run(
        [str(pg.bindir / "pg_ctl"), "stop", "-D", str(pg.data_dir), "-m", "immediate", "-w"],
        user=pg.run_as,
        cwd=pg.home,
        env={**os.environ, "LC_ALL": "C.UTF-8"},
        check=True,
        capture_output=True,
    )


def _client(base: str, token: str, n: int, outcome: Outcome) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        for i in range(REPORTS_PER_CLIENT):
            key = f"fault-{n}-{i}"
            lon, lat = sd.lonlat(*POINTS[(n + i) % len(POINTS)])
            body = {"class_kind": "event", "class_code": "0102", "lon": lon, "lat": lat}
            body["description"] = f"客户端 {n} 第 {i} 条"
            give_up = time.monotonic() + GIVE_UP_S
            while True:
                with outcome.lock:
                    outcome.attempts += 1
                try:
                    r = http.post(
                        "/api/v1/events", json=body, headers={"Idempotency-Key": key}, timeout=20
                    )
                except httpx.TransportError:
                    with outcome.lock:
                        outcome.connection_errors += 1
                else:
                    with outcome.lock:
                        outcome.statuses[r.status_code] += 1
                    if r.is_success:
                        with outcome.lock:
                            outcome.acknowledged[key] = r.json()["id"]
                        break
                    if r.status_code != 503:  # anything else is a wrong answer: stop there
                        with outcome.lock:
                            outcome.unanswered.append(f"{key}: {r.status_code} {r.text[:300]}")
                        break
                if time.monotonic() > give_up:
                    with outcome.lock:
                        outcome.unanswered.append(f"{key}: no 2xx within {GIVE_UP_S} s")
                    break
                time.sleep(0.2)


def _when(outcome: Outcome, acknowledged: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(outcome.acknowledged) < acknowledged and time.monotonic() < deadline:
        time.sleep(0.05)


def test_acknowledged_reports_survive_restart_and_crash_exactly_once(cluster, tmp_path) -> None:
    url = cluster.start()
    upgrade(url)
    engine = make_engine(url)
    load_standard_classes(engine)
    sd.build(engine)
    create_user(engine, "fault-app", PASSWORD, ["supervisor"])
    key = secrets.token_hex(32)
    home = tmp_path / "app-home"
    token = issue_token(Settings(database_url=url, home=home, secret_key=key), "fault-app")
    outcome = Outcome()
    total = CLIENTS * REPORTS_PER_CLIENT
    started = time.monotonic()
    with uvicorn_server(url, home, CITYGRID_SECRET_KEY=key) as base:
        clients = [
            threading.Thread(target=_client, args=(base, token, n, outcome)) for n in range(CLIENTS)
        ]
        for c in clients:
            c.start()
        _when(outcome, total // 4)
        assert cluster.stop()  # a clean restart (fast shutdown) under load
        time.sleep(1.5)
        cluster.start()
        _when(outcome, total // 2)
        _crash(cluster)  # and a crash
        time.sleep(1.5)
        cluster.start()
        for c in clients:
            c.join(GIVE_UP_S * 2)
    seconds = time.monotonic() - started
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT idempotency_key, array_agg(id ORDER BY id) FROM event "
                "WHERE idempotency_key LIKE 'fault-%' GROUP BY idempotency_key"
            )
        ).all()
    engine.dispose()
    ids: dict[str, list[int]] = {key: list(found) for key, found in stored}
    lost = [k for k in outcome.acknowledged if k not in ids]
    duplicated = [k for k, v in ids.items() if len(v) > 1]
    wrong_case = [k for k, i in outcome.acknowledged.items() if k in ids and ids[k] != [i]]
    print(
        f"\nfault test: {total} reports, {outcome.attempts} requests "
        f"({dict(outcome.statuses)}, {outcome.connection_errors} connection errors), "
        f"{len(outcome.acknowledged)} acknowledged, {len(lost)} lost, "
        f"{len(duplicated)} duplicated, {len(ids)} stored, {seconds:.1f} s"
    )
    assert not lost and not duplicated and not wrong_case, (lost, duplicated, wrong_case)
    assert not outcome.unanswered, outcome.unanswered[:5]
    assert len(outcome.acknowledged) == total == len(ids)
    assert outcome.statuses[503] > 0  # the outages did happen while reports were in flight
    assert set(outcome.statuses) <= {200, 201, 503}
