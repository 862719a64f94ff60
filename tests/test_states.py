"""Case states are decided once (app.states) and everything derives from them.

The bug this guards against: several modules listed the finished states themselves and they
disagreed about 核实不属实 (``invalid``), so a report found untrue was still flagged as a
duplicate of new reports and shown as open on Open311.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app import states
from app.main import create_app
from app.services.workflow.calendar import load_workflow_defaults
from app.settings import Settings
from tests import auth
from tests import small_district as sd

ROOT = Path(__file__).resolve().parents[1]
# The states module itself, and the machine that names the states its actions lead to.
ALLOWED = {ROOT / "app" / "states.py", ROOT / "app" / "services" / "workflow" / "machine.py"}
STATE_PAIR = re.compile(
    r"'(" + "|".join(states.ALL) + r")'\s*,\s*'(" + "|".join(states.ALL) + r")'"
)


def _literal_state_lists(path: Path) -> list[str]:
    """Tuples, lists and sets of two or more state names, and SQL ``IN ('a', 'b')`` lists."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if (
                len(values) >= 2
                and len(values) == len(node.elts)
                and set(values) <= set(states.ALL)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {values}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and STATE_PAIR.search(node.value)
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} SQL list of states")
    return found


def test_no_literal_list_of_states_outside_the_states_module() -> None:
    paths = [p for d in ("app", "gis", "bench") for p in (ROOT / d).rglob("*.py")]
    assert len(paths) > 100
    found = [hit for p in paths if p not in ALLOWED for hit in _literal_state_lists(p)]
    assert found == [], "state lists belong in app/states.py:\n" + "\n".join(found)


def test_the_scan_finds_what_it_is_for() -> None:
    # The check above must be able to fail: both shapes of the old bug are caught.
    probe = ROOT / "app" / "_probe_states.py"
    probe.write_text(
        "DONE = ('closed', 'voided')\n"
        "SQL = \"SELECT 1 FROM event WHERE status NOT IN ('closed', 'voided')\"\n"
    )
    try:
        assert len(_literal_state_lists(probe)) == 2
    finally:
        probe.unlink()


def test_sets_are_consistent() -> None:
    assert {"closed", "voided", "invalid"} == states.TERMINAL
    assert set(states.ALL) == states.OPEN | states.TERMINAL
    assert not states.OPEN & states.TERMINAL
    assert states.UNIT_STATES <= states.OPEN and states.SUPERVISOR_TASKS <= states.OPEN
    assert states.is_open("e.status") == "e.status NOT IN ('invalid', 'voided', 'closed')"
    with pytest.raises(ValueError):
        states.sql_list({"closed", "archived"})


def test_database_derives_from_the_states_module(engine) -> None:
    """The CHECK constraint admits exactly the states; the open-case indexes exclude exactly
    the terminal ones (the planner only uses them when the predicates match)."""
    with engine.connect() as conn:
        check = conn.execute(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ck_event_status'"
            )
        ).scalar_one()
        predicates = dict(
            conn.execute(
                text(
                    "SELECT indexrelid::regclass::text, pg_get_expr(indpred, indrelid) "
                    "FROM pg_index WHERE indrelid = 'event'::regclass AND indpred IS NOT NULL"
                )
            ).all()
        )
    assert set(re.findall(r"'(\w+)'", check)) == set(states.ALL)
    assert set(predicates) >= {"ix_event_class_open", "ix_event_open_geom"}
    for name in ("ix_event_class_open", "ix_event_open_geom"):
        # PostgreSQL stores NOT IN (…) as <> ALL (ARRAY[…]).
        assert "<> ALL" in predicates[name], predicates[name]
        assert set(re.findall(r"'(\w+)'", predicates[name])) == states.TERMINAL, predicates[name]


def test_duplicate_lookup_uses_the_open_case_index(engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                text(
                    "EXPLAIN SELECT id FROM event e WHERE e.scheme = '2013' "
                    "AND e.class_kind = 'event' AND e.class_code = '0102' AND "
                    + states.is_open("e.status")
                )
            )
        )
    assert "ix_event_class_open" in plan or "ix_event_open_geom" in plan, plan


@pytest.fixture()
def world(engine, settings):
    sd.build(engine)
    load_workflow_defaults(engine, settings)
    headers = auth.headers(settings, "admin", "supervisor", "acceptor")
    with TestClient(create_app(settings), headers=headers) as client:
        yield client, engine


def _report(client, source: str = "public_app") -> dict:
    lon, lat = sd.lonlat(30, 40)
    body = {"class_kind": "event", "class_code": "0102", "lon": lon, "lat": lat, "source": source}
    r = client.post("/api/v1/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _act(client, case_id: int, action: str) -> None:
    r = client.post(f"/api/v1/events/{case_id}/transitions", json={"action": action})
    assert r.status_code == 200, r.text


def test_a_report_found_untrue_is_finished_everywhere(world) -> None:
    client, _ = world
    first = _report(client)
    second = _report(client)
    # While the first is open, the second is flagged as its possible duplicate.
    assert [c["id"] for c in second["assignment"]["duplicates"]["cases"]] == [first["id"]]
    for case in (first, second):
        _act(client, case["id"], "request_verification")
        _act(client, case["id"], "invalidate")
    # Found untrue on site: no longer a duplicate of a new report …
    third = _report(client)
    assert third["assignment"]["duplicates"]["cases"] == []
    # … and closed on Open311, with the note saying why.
    (request,) = client.get(f"/open311/v2/requests/{first['id']}.json").json()
    assert request["status"] == "closed" and request["status_notes"] == "经核实不属实"
    closed = client.get("/open311/v2/requests.json", params={"status": "closed"}).json()
    assert {first["id"], second["id"]} <= {int(r["service_request_id"]) for r in closed}
    still_open = client.get("/open311/v2/requests.json", params={"status": "open"}).json()
    assert {int(r["service_request_id"]) for r in still_open} == {third["id"]}


def test_settings_no_longer_redefine_finished_states() -> None:
    # Grid edits used to read their own list of finished states from a setting.
    assert not any("closed_statuses" in name for name in Settings.model_fields)
