"""Simulate the workflow for the demo district: a year of reports becomes a year of cases.

Each case still 'reported' walks a realistic path with realistic timings, through the same
state machine the API uses (`app.services.workflow.machine.apply`), so every log row is one a
user could have produced. Paths and rates (*practice*-like, tunable below): public reports are
verified (12 % found invalid), a few cases are voided, 3 % of dispatches are sent back and
re-dispatched, units handle within a lognormal share of the limit (about 9 % late), 4 % ask
for an extension, 1 % are shelved for days, 2.5 % are neglected (handled at several
times their limit, so overdue cases stay open for weeks),
about 9 % fail the check and are reworked. Steps after ``until`` do not happen, so recent
cases stay open at whatever stage they had reached. Deterministic for a seed and a database.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from app.db.workflow import calendar as calendar_repo
from app.db.workflow import cases as repo
from app.services.workflow import calendar as calendar_service
from app.services.workflow import machine as rules
from app.services.workflow.deadlines import TimeLimit
from app.services.workflow.limits import pick_limit
from app.services.workflow.machine import Actor, CaseState, Policy, Step
from app.services.workflow.transitions import event_columns, make_policy, workflow_columns
from app.settings import Settings

ACCEPTORS = ("受理员 李娜", "受理员 王静", "受理员 张敏")  # night, day, evening shifts
SHIFT_LEADERS = ("值班长 刘洋", "值班长 陈刚")
DISPATCHERS = ("派遣员 杨帆", "派遣员 赵磊")
# The demo district's departments by class (unit codes of data/grids/units.csv); "office"
# is the sub-district office (属地); classes not listed stay with the case's assigned unit.
CLASS_UNITS = {
    ("event", "0101"): "U-ZF",
    ("event", "0110"): "U-SZ",
    ("event", "0111"): "U-SZ",
    ("event", "0116"): "U-ZF",
    ("event", "0107"): "U-ZF",
    ("event", "0113"): "office",
    **{("event", f"02{i:02d}"): "U-ZF" for i in range(1, 6)},
    **{("event", f"03{i:02d}"): "U-JS" for i in (1, 3, 4, 5, 99)},
    ("event", "0302"): "U-ZF",
    ("event", "0401"): "U-SZ",
    ("event", "0402"): "U-GS",
    ("event", "0403"): "U-RQ",
    ("event", "0404"): "U-PS",
    ("event", "0406"): "U-PS",
    ("event", "0407"): "U-SZ",
    ("event", "0408"): "U-TX",
    ("event", "0505"): "U-JJ",
    ("event", "0509"): "U-JJ",
    **{
        ("event", c): "office"
        for c in ("0501", "0502", "0503", "0504", "0507", "0508", "0510", "0511", "0513", "0599")
    },
    ("component", "0101"): "U-GS",
    ("component", "0102"): "U-PS",
    ("component", "0103"): "U-PS",
    ("component", "0104"): "U-PS",
    ("component", "0105"): "U-GD",
    ("component", "0107"): "U-TX",
    ("component", "0111"): "U-RQ",
    ("component", "0118"): "U-SZ",
    ("component", "0210"): "U-JJ",
    ("component", "0213"): "U-SZ",
    ("component", "0203"): "U-GJ",
    ("component", "0305"): "U-HW",
    ("component", "0402"): "U-YL",
}


class _Stop(Exception):
    """The next step would happen after ``until``: the case stays where it is."""


def simulate_workflow(
    engine: Engine,
    settings: Settings,
    until: datetime,
    seed: int = 20261121,
) -> dict[str, int]:
    """Move every unprocessed reported case (reported before ``until``) through the workflow;
    returns how many cases end in each status."""
    if until.tzinfo is None:
        until = until.replace(tzinfo=ZoneInfo(settings.timezone))
    calendar_service.load_workflow_defaults(engine, settings)
    with engine.connect() as conn:
        policy = make_policy(conn, settings)
        cases = repo.unprocessed_reports(conn, until)
        units = repo.all_units(conn)
        limits: dict[tuple[str, str], dict[str, dict]] = {}
        for r in calendar_repo.all_limits(conn, settings.class_scheme):
            limits.setdefault((r["class_kind"], r["class_code"]), {})[r["criterion"]] = r
    walker = _Walker(policy, units, limits, until, seed, settings)
    case_rows, log_rows = [], []
    statuses: Counter[str] = Counter()
    for row in cases:
        state, logs = walker.run(row)
        statuses[state.status] += 1
        if not logs:
            continue
        ev, wf = event_columns(state), workflow_columns(state)
        case_rows.append(
            [
                row["id"],
                ev["status"],
                ev["unit_id"],
                _iso(ev["deadline_at"]),
                _iso(ev["closed_at"]),
                logs[-1][1],
            ]
            + [_iso(v) if isinstance(v, datetime) else v for v in wf.values()]
        )
        log_rows.extend(logs)
    with engine.begin() as conn:
        repo.write_simulated(conn, case_rows, log_rows)
    return dict(sorted(statuses.items()))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class _Walker:
    """Draws one path per case from a generator seeded by (seed, case id)."""

    def __init__(
        self,
        policy: Policy,
        units: list[dict],
        limits: dict,
        until: datetime,
        seed: int,
        settings: Settings,
    ):
        self.policy, self.cal, self.until, self.seed = policy, policy.calendar, until, seed
        self.rng = random.Random(seed)
        self.limits, self.settings = limits, settings
        self.by_code = {u["code"]: u for u in units}
        self.by_id = {u["id"]: u for u in units}
        self.offices = {u["area_code"]: u for u in units if u["kind"] == "subdistrict_office"}

    def run(self, row: dict) -> tuple[CaseState, list[list]]:
        """The final state of one case and its log rows (LOG_COLUMNS order)."""
        # One generator per case: a case's path depends on the seed and the case alone, so a
        # later run (a later ``until``) continues exactly the paths an earlier one began.
        self.rng = random.Random(f"{self.seed}:{row['id']}")
        state = CaseState(
            status="reported",
            source=row["source"],
            reported_at=row["reported_at"],
            unit_id=row["unit_id"],
        )
        due = rules.stage_due(state, "reported", state.reported_at, self.policy)
        state = replace(
            state,
            stage_due_at=due,
            stage_yellow_at=rules.stage_yellow("reported", due, None, 0.0, self.policy),
        )
        logs: list[list] = []

        def do(action: str, at: datetime, actor: Actor, **kw) -> None:
            nonlocal state
            if at >= self.until:
                raise _Stop
            old = state.status
            state, data = rules.apply(state, Step(action, at, actor, **kw), self.policy)
            logs.append(
                [
                    row["id"],
                    at.isoformat(),
                    actor.name,
                    action,
                    old,
                    state.status,
                    kw.get("note"),
                    json.dumps(data, ensure_ascii=False),
                ]
            )

        with contextlib.suppress(_Stop):
            self._path(row, do, lambda: state)
        return state, logs

    # -- timing ---------------------------------------------------------------------------

    def _clock(self, t: datetime, hours: float) -> datetime:
        """The command centre and supervisors' verification run around the clock."""
        return t + timedelta(hours=hours)

    def _centre(self, t: datetime, hours: float) -> datetime:
        """A command-centre step: quick, but 3 % wait in a backlog past the 2-hour stage limit."""
        return self._clock(t, self.rng.uniform(2.2, 6) if self.rng.random() < 0.03 else hours)

    def _work(self, t: datetime, hours: float, working: bool = True) -> datetime:
        """Units and on-site checks act in working time (clock time for urgent limits)."""
        return self.cal.add(t, hours * 3600, working)

    def _shift(self, names: tuple[str, ...], t: datetime) -> Actor:
        hour = t.astimezone(self.cal.tz).hour
        role = {ACCEPTORS: "acceptor", SHIFT_LEADERS: "shift_leader", DISPATCHERS: "dispatcher"}[
            names
        ]
        return Actor(names[min(hour * len(names) // 24, len(names) - 1)], role)

    # -- choices --------------------------------------------------------------------------

    def _criterion(self, row: dict) -> str | None:
        options = [c for c in self.limits.get((row["class_kind"], row["class_code"]), {}) if c]
        return self.rng.choice(options) if options and self.rng.random() < 0.2 else None

    def _limit(self, row: dict, criterion: str | None) -> TimeLimit | None:
        # The time-limit table only, as the API's dispatch (the class rows have none here).
        rows = self.limits.get((row["class_kind"], row["class_code"]), {})
        return pick_limit(rows, None, criterion)[0]

    def _unit(self, row: dict, avoid: int | None = None) -> int | None:
        code = CLASS_UNITS.get((row["class_kind"], row["class_code"]))
        office = self.offices.get(row["subdistrict_code"])
        unit = office if code == "office" else self.by_code.get(code or "")
        chosen = unit["id"] if unit else row["unit_id"]
        if avoid is not None and chosen == avoid:
            # After a 退回 the dispatcher falls back to the territorial office (属地兜底).
            chosen = office["id"] if office and office["id"] != avoid else row["unit_id"]
        return chosen

    def _unit_actor(self, unit_id: int | None) -> Actor:
        unit = self.by_id.get(unit_id) if unit_id is not None else None
        return Actor(unit["name"] if unit else "责任单位", "handler")

    # -- the path -------------------------------------------------------------------------

    def _path(self, row: dict, do: Callable[..., None], st: Callable[[], CaseState]) -> None:
        r, t = self.rng, row["reported_at"]
        supervisor = Actor(row["supervisor"] or "监督员", "supervisor")
        if row["source"] in self.policy.verify_sources:
            t = self._clock(t, r.uniform(0.1, 0.7))
            do("request_verification", t, self._shift(ACCEPTORS, t))
            late = r.random() < 0.04
            t = self._clock(
                t, r.uniform(24.5, 40) if late else min(r.lognormvariate(math.log(3), 0.8), 23.5)
            )
            if r.random() < 0.12:
                do("invalidate", t, supervisor, note="现场核实：问题不存在")
                return
            do("confirm", t, supervisor, note="现场核实属实")
        t = self._centre(t, r.uniform(0.15, 1.5))
        if r.random() < {"video": 0.08, "higher_order": 0.01}.get(row["source"], 0.03):
            do("void", t, self._shift(SHIFT_LEADERS, t), note="不符合立案条件")
            return
        criterion = self._criterion(row)
        do("file", t, self._shift(SHIFT_LEADERS, t), criterion=criterion)
        limit = self._limit(row, criterion)
        if limit is None:
            return  # no time limit: the dispatcher cannot dispatch it (the API answers 422)
        t = self._centre(t, r.uniform(0.1, 1.2))
        do("dispatch", t, self._shift(DISPATCHERS, t), unit_id=self._unit(row), limit=limit)
        if r.random() < 0.03:
            t = self._work(t, r.uniform(0.3, 3))
            do("return", t, self._unit_actor(st().unit_id), note="非本单位职责，申请退回")
            t = self._clock(t, r.uniform(0.2, 1.5))
            do(
                "dispatch",
                t,
                self._shift(DISPATCHERS, t),
                unit_id=self._unit(row, st().unit_id),
                limit=limit,
            )
        self._handle(row, do, st, t, supervisor)

    def _handle(
        self,
        row: dict,
        do: Callable[..., None],
        st: Callable[[], CaseState],
        t: datetime,
        supervisor: Actor,
    ) -> None:
        r = self.rng
        limit = st().limit
        assert limit is not None
        working, unit = limit.working, self._unit_actor(st().unit_id)
        t = self._work(t, r.uniform(0.05, 0.6), working)
        do("accept", t, unit)
        # 2.5 % are neglected: handled only after several times their limit (overdue, red).
        neglected = r.random() < 0.025
        if r.random() < 0.04:
            t = self._work(t, 0.5, working)
            hours = max(2.0, round(self.cal.limit_seconds(limit) / 3600 * 0.5))
            do("request_extension", t, unit, hours=hours, note="需协调多部门，申请延期")
            t = self._clock(t, r.uniform(0.5, 4))
            leader = self._shift(SHIFT_LEADERS, t)
            do("approve_extension" if r.random() < 0.8 else "refuse_extension", t, leader)
        if r.random() < 0.01:
            t = self._work(t, 1.0, working)
            do("request_shelving", t, unit, note="需专项资金，申请挂账")
            t = self._clock(t, r.uniform(1, 6))
            do("approve_shelving", t, self._shift(SHIFT_LEADERS, t))
            t = self._clock(t, r.uniform(72, 480))
            do("resume", t, self._shift(SHIFT_LEADERS, t), note="条件具备，恢复办理")
        for attempt in range(3):
            t = self._handled_at(st(), t, attempt, neglected)
            do(
                "handle",
                t,
                unit,
                note="已处置完毕",
                photo_urls=(f"https://demo.citygrid.example/photos/{row['id']}-{attempt}.jpg",),
            )
            t = self._centre(t, r.uniform(0.05, 0.6))
            do("request_check", t, self._shift(ACCEPTORS, t))
            late = r.random() < 0.06
            t = self._work(t, r.uniform(2.1, 5) if late else r.uniform(0.2, 1.8))
            if attempt < 2 and r.random() < (0.09 if attempt == 0 else 0.03):
                do(
                    "rework",
                    t,
                    self._shift(SHIFT_LEADERS, t),
                    note=f"核查未通过（{supervisor.name}）",
                )
                continue
            do("close", t, self._shift(SHIFT_LEADERS, t), note=f"核查通过（{supervisor.name}）")
            return

    def _handled_at(
        self, state: CaseState, t: datetime, attempt: int, neglected: bool = False
    ) -> datetime:
        """When the unit reports back: at a drawn share of its limit (lognormal, ~9 % late)."""
        assert state.limit is not None and state.deadline_at is not None
        cal, working = self.cal, state.limit.working
        total = cal.limit_seconds(state.limit) + state.extension_hours * 3600
        if attempt:
            return cal.add(t, self.rng.uniform(0.05, 0.3) * total, working)
        share = min(
            self.rng.lognormvariate(math.log(6 if neglected else 0.45), 1.4 if neglected else 0.55),
            40.0,
        )
        used = total - cal.between(t, state.deadline_at, working)
        return cal.add(t, max(share * total - used, 600.0), working)
