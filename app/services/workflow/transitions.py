"""Case workflow service: transitions (state + log in one transaction), case clock, task lists.

Every call names an :class:`~app.services.workflow.machine.Actor` (name + role, and a handler's
unit), built from the signed-in user; each action needs its role (admins may stand in).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from app.db.models import EVENT_SOURCES, ROLES
from app.db.workflow import cases as repo
from app.errors import ForbiddenError, InvalidInputError, NotFoundError
from app.services.accounts.users import User
from app.services.workflow import calendar as calendar_service
from app.services.workflow import machine as rules
from app.services.workflow.deadlines import TimeLimit, light_at
from app.services.workflow.machine import Actor, CaseState, Policy, Step
from app.settings import Settings

# Account roles (the users' table) plus "system" for unattended callers and scripts.
ACTOR_ROLES = (*ROLES, "system")


@dataclass(frozen=True)
class TransitionInput:
    """What a caller asks for; ids and limits are resolved by the service."""

    action: str
    note: str | None = None
    photo_urls: tuple[str, ...] = ()
    unit_code: str | None = None
    hours: float | None = None
    criterion: str | None = None


def make_policy(conn: Connection, settings: Settings) -> Policy:
    """Calendar, stage limits and sources to verify, as configured for this deployment."""
    return Policy(
        calendar=calendar_service.load_calendar(conn, settings),
        stage_limits={k: TimeLimit.parse(v) for k, v in settings.workflow_stage_limits.items()},
        verify_sources=frozenset(settings.workflow_verify_sources),
        yellow_share=settings.workflow_yellow_share,
    )


def state_of(row: dict, policy: Policy) -> CaseState:
    """The machine's view of a case row (event joined with case_workflow)."""
    limit = (
        TimeLimit(float(row["limit_value"]), row["limit_unit"])
        if row.get("limit_value") is not None
        else None
    )
    state = CaseState(
        status=row["status"],
        source=row["source"],
        reported_at=row["reported_at"],
        unit_id=row["unit_id"],
        criterion=row.get("criterion"),
        limit=limit,
        clock_started_at=row.get("clock_started_at"),
        # The handling deadline exists once the workflow dispatched the case (limit stored).
        deadline_at=row["deadline_at"] if row.get("has_workflow") and limit else None,
        extension_hours=float(row.get("extension_hours") or 0),
        stage_due_at=row.get("stage_due_at"),
        stage_yellow_at=row.get("stage_yellow_at"),
        shelved_at=row.get("shelved_at"),
        resume_status=row.get("resume_status"),
        pending_request=row.get("pending_request"),
        pending_hours=float(row["pending_hours"]) if row.get("pending_hours") is not None else None,
        dispatched_by=row.get("dispatched_by"),
        rework_count=int(row.get("rework_count") or 0),
        closed_at=row.get("closed_at"),
    )
    if not row.get("has_workflow") and state.stage_due_at is None:
        # No workflow step yet (intake, the bulk import): the stage runs from the report.
        due = rules.stage_due(state, state.status, state.reported_at, policy)
        yellow = rules.stage_yellow(state.status, due, state.limit, 0.0, policy)
        state = replace(state, stage_due_at=due, stage_yellow_at=yellow)
    return state


def fill_stage_lights(engine: Engine, settings: Settings) -> int:
    """Store the yellow moment of cases written before it was stored (migration 0015);
    returns how many were filled."""
    with engine.begin() as conn:
        policy = make_policy(conn, settings)
        moments = []
        for row in repo.cases_missing_yellow(conn):
            s = state_of(row, policy)
            moments.append(
                (
                    row["id"],
                    rules.stage_yellow(
                        s.status, s.stage_due_at, s.limit, s.extension_hours, policy
                    ),
                )
            )
        repo.set_stage_yellow(conn, moments)
    return len(moments)


def event_columns(state: CaseState) -> dict:
    """The event-table columns a state change writes."""
    return {
        "status": state.status,
        "unit_id": state.unit_id,
        "deadline_at": state.deadline_at,
        "closed_at": state.closed_at,
    }


def workflow_columns(state: CaseState) -> dict:
    """The case_workflow columns of a state."""
    return {
        "criterion": state.criterion,
        "limit_value": state.limit.value if state.limit else None,
        "limit_unit": state.limit.unit if state.limit else None,
        "clock_started_at": state.clock_started_at,
        "extension_hours": state.extension_hours,
        "stage_due_at": state.stage_due_at,
        "stage_yellow_at": state.stage_yellow_at,
        "shelved_at": state.shelved_at,
        "resume_status": state.resume_status,
        "pending_request": state.pending_request,
        "pending_hours": state.pending_hours,
        "dispatched_by": state.dispatched_by,
        "rework_count": state.rework_count,
    }


def _not_found(event_id: int) -> NotFoundError:
    return NotFoundError(f"没有编号为 {event_id} 的案件", f"no case with id {event_id}")


def _step(
    conn: Connection,
    settings: Settings,
    row: dict,
    request: TransitionInput,
    actor: Actor,
    at: datetime,
) -> Step:
    """Resolve the unit and the time limit an action needs."""
    unit_id = None
    if request.unit_code:
        unit = repo.unit_by_code(conn, request.unit_code)
        if unit is None:
            raise InvalidInputError(
                f"责任单位 {request.unit_code} 不存在",
                f"unknown responsible unit {request.unit_code}",
            )
        unit_id = unit["id"]
    limit = None
    if request.action == "file":
        calendar_service.check_criterion(
            conn, settings, row["class_kind"], row["class_code"], request.criterion
        )
    if request.action == "dispatch":
        unit_id = unit_id or row["unit_id"]
        limit, _ = calendar_service.resolve_limit(
            conn, settings, row["class_kind"], row["class_code"], row.get("criterion")
        )
    return Step(
        action=request.action,
        at=at,
        actor=actor,
        note=request.note,
        photo_urls=tuple(request.photo_urls),
        unit_id=unit_id,
        hours=request.hours,
        criterion=request.criterion,
        limit=limit,
    )


def transition(
    engine: Engine,
    settings: Settings,
    event_id: int,
    request: TransitionInput,
    actor: Actor,
    at: datetime | None = None,
) -> dict:
    """Apply one action: state change and log row commit together, or neither does."""
    if actor.role not in ACTOR_ROLES:
        raise InvalidInputError(
            f"未知角色 {actor.role}", f"unknown role {actor.role!r}", roles=list(ACTOR_ROLES)
        )
    at = at or datetime.now(UTC)
    with engine.begin() as conn:
        # FOR UPDATE: two people acting on one case at once are serialised; the second then
        # sees the first one's state and gets a 409 if its action no longer applies.
        row = repo.get_case(conn, event_id, lock=True)
        if row is None:
            raise _not_found(event_id)
        policy = make_policy(conn, settings)
        old = state_of(row, policy)
        if request.action not in rules.allowed_actions(old, policy):
            raise rules.illegal(old, request.action, policy)
        _check_role(actor, request.action, row)
        new, data = rules.apply(old, _step(conn, settings, row, request, actor, at), policy)
        repo.save_case(conn, event_id, event_columns(new), workflow_columns(new), at)
        repo.insert_log(
            conn,
            event_id,
            at,
            actor.name,
            request.action,
            old.status,
            new.status,
            request.note,
            data,
        )
        _update_component(conn, event_id, request, new.status, actor)
        return describe(conn, settings, policy, event_id, at)


def _update_component(
    conn: Connection, event_id: int, request: TransitionInput, status: str, actor: Actor
) -> None:
    """A case about a component moves the component's status in the same transaction:
    filed as missing/damaged (read from the criterion or note), back in service on closing."""
    from app.services.components.inventory import apply_case_outcome, status_for_criterion

    if request.action == "file":
        implied = status_for_criterion(request.criterion or request.note)
        if implied:
            apply_case_outcome(conn, event_id, implied, actor.name, request.criterion)
    elif request.action == "close" and status == "closed":
        apply_case_outcome(conn, event_id, "in_service", actor.name, request.note)


def actor_for(user: User, action: str) -> Actor:
    """The signed-in user acting in the role ``action`` needs (admins may stand in)."""
    need = rules.ACTIONS[action].role if action in rules.ACTIONS else None
    role = need if need and user.has(need) else ("admin" if user.has("admin") else user.roles[0])
    return Actor(user.username, role, user.unit_id)


def _check_role(actor: Actor, action: str, row: dict) -> None:
    need = rules.ACTIONS[action].role
    if actor.role not in (need, "admin", "system"):
        raise ForbiddenError(
            f"「{rules.ACTIONS[action].name_zh}」需要角色 {need}",
            f"{action} needs the role {need}",
            required_roles=[need],
        )
    if actor.role == "handler" and actor.unit_id != row["unit_id"]:
        raise ForbiddenError(
            "只能办理本单位的案件",
            "handlers act only on their own unit's cases",
            required_roles=[need],
        )


def describe(
    conn: Connection, settings: Settings, policy: Policy, event_id: int, now: datetime
) -> dict:
    """The case's workflow view: status, allowed actions, limit, deadline, clock and stage."""
    row = repo.get_case(conn, event_id)
    if row is None:
        raise _not_found(event_id)
    state = state_of(row, policy)
    out = {
        "event_id": event_id,
        "status": state.status,
        "status_name": rules.STATUS_NAMES.get(state.status, state.status),
        "allowed_actions": [
            {"action": a, "name": rules.ACTIONS[a].name_zh, "role": rules.ACTIONS[a].role}
            for a in rules.allowed_actions(state, policy)
        ],
        "unit": {"id": row["unit_id"], "code": row["unit_code"], "name": row["unit_name"]},
        "time_limit": None,
        "clock_started_at": state.clock_started_at,
        "deadline_at": state.deadline_at,
        "clock": None,
        "stage": None,
        "pending_request": (
            {"kind": state.pending_request, "hours": state.pending_hours}
            if state.pending_request
            else None
        ),
        "shelved_at": state.shelved_at,
        "rework_count": state.rework_count,
    }
    if state.limit:
        out["time_limit"] = {
            "value": state.limit.value,
            "unit": state.limit.unit,
            "text": state.limit.describe(),
            "criterion": state.criterion,
            "extension_hours": state.extension_hours,
        }
    out["clock"] = case_progress(state, policy, now, settings.workflow_yellow_share)
    out["stage"] = stage_progress(state, policy, now, settings.workflow_yellow_share)
    return out


def case_progress(state: CaseState, policy: Policy, now: datetime, yellow: float) -> dict | None:
    """Time used of the handling limit (with extensions; shelved time excluded)."""
    if (
        state.limit is None
        or state.deadline_at is None
        or state.status in rules.TERMINAL - {"closed"}
    ):
        return None
    cal = policy.calendar
    total = cal.limit_seconds(state.limit) + state.extension_hours * 3600
    # A shelved case's clock is frozen at the moment it was shelved; a closed one at closing.
    seen = state.shelved_at or (state.closed_at if state.status == "closed" else None) or now
    progress = cal.progress(state.deadline_at, total, state.limit.working, seen, yellow).as_dict()
    return {**progress, "frozen": seen is not now}


def stage_progress(state: CaseState, policy: Policy, now: datetime, yellow: float) -> dict | None:
    """Time used of the current stage's own limit (verification 24 h, check 2 h …)."""
    if state.stage_due_at is None or state.status in rules.TERMINAL:
        return None
    if state.status in rules.UNIT_STATES:
        limit_text = state.limit.describe() if state.limit else None
        base = case_progress(state, policy, now, yellow) or {}
        return {"status": state.status, "due_at": state.stage_due_at, "limit": limit_text, **base}
    limit = policy.stage_limits.get(state.status)
    if limit is None:
        return None
    progress = policy.calendar.progress(
        state.stage_due_at, policy.calendar.limit_seconds(limit), limit.working, now, yellow
    )
    return {
        "status": state.status,
        "due_at": state.stage_due_at,
        "limit": limit.describe(),
        **progress.as_dict(),
    }


def case_light(row: dict, policy: Policy, now: datetime, yellow: float) -> dict:
    """A case's traffic light at ``now`` as the workflow decides it: the progress of its current
    stage on the working calendar (the handling deadline while a unit holds the case). Maps
    use this; the SQL light counts compare the stage due and yellow moments it stores."""
    state = state_of(row, policy)
    progress = stage_progress(state, policy, now, yellow) or {}
    return {
        "light": progress.get("light", "none"),
        "due_at": progress.get("due_at"),
        "used_percent": progress.get("used_percent"),
        "deadline_at": state.deadline_at,
    }


def waiting_light_bounds(
    policy: Policy, now: datetime
) -> list[tuple[str, datetime | None, datetime | None]]:
    """For cases no workflow step has touched yet (their stage runs from the report, as in
    :func:`state_of`): per status, the latest report time at which such a case is red at
    ``now``, and the latest at which it is yellow or red (None: no such time). A light then
    depends on the report time alone, monotonically, so SQL can count lights with two
    comparisons instead of a second copy of the calendar arithmetic."""

    def light(status: str, reported_at: datetime) -> str:
        state = CaseState(status=status, source="", reported_at=reported_at)
        due = rules.stage_due(state, status, reported_at, policy)
        return light_at(due, rules.stage_yellow(status, due, None, 0.0, policy), now)

    return [
        (
            status,
            _latest(lambda r, s=status: light(s, r) == "red", now),
            _latest(lambda r, s=status: light(s, r) in ("red", "yellow"), now),
        )
        for status in policy.stage_limits
        if status not in rules.UNIT_STATES
    ]


def _latest(holds, until: datetime) -> datetime | None:
    """The latest moment up to ``until`` where ``holds`` (true for all earlier moments)."""
    if holds(until):
        return until
    span = timedelta(days=1)
    while not holds(until - span):
        span *= 2
        if span > timedelta(days=20 * 366):
            return None
    # Bisection to the microsecond, PostgreSQL's resolution: ~45 steps.
    good, bad = -(span // timedelta(microseconds=1)), 0
    while bad - good > 1:
        mid = (good + bad) // 2
        if holds(until + timedelta(microseconds=mid)):
            good = mid
        else:
            bad = mid
    return until + timedelta(microseconds=good)


def get_workflow(
    engine: Engine, settings: Settings, event_id: int, now: datetime | None = None
) -> dict:
    """The workflow view of one case, or 404."""
    with engine.connect() as conn:
        return describe(
            conn, settings, make_policy(conn, settings), event_id, now or datetime.now(UTC)
        )


def get_log(engine: Engine, event_id: int) -> list[dict]:
    """Every logged action of a case, oldest first; 404 for an unknown case."""
    with engine.connect() as conn:
        if repo.get_case(conn, event_id) is None:
            raise _not_found(event_id)
        return repo.read_log(conn, event_id)


def list_tasks(
    engine: Engine,
    settings: Settings,
    role: str,
    *,
    grid: str | None = None,
    supervisor: str | None = None,
    unit: str | None = None,
    within: str | None = None,
    limit: int = 100,
    offset: int = 0,
    now: datetime | None = None,
) -> tuple[list[dict], int]:
    """Tasks waiting on ``role``, most urgent first, each with its traffic light."""
    if role not in rules.ROLE_TASKS:
        raise InvalidInputError(
            f"未知角色 {role}", f"unknown role {role!r}", roles=list(rules.ROLE_TASKS)
        )
    if role == "supervisor" and not (grid or supervisor or within):
        raise InvalidInputError(
            "监督员任务需指定 grid、supervisor 或 within",
            "supervisor tasks need grid, supervisor or within",
        )
    if role in ("handler", "unit") and not unit:
        raise InvalidInputError(
            "单位任务需指定 unit（单位编码）", "unit tasks need unit (a unit code)"
        )
    public = list(settings.workflow_verify_sources)
    # Public reports are verified first (the acceptor sends them); the shift leader files the rest.
    sources = {
        "acceptor": public,
        "shift_leader": [s for s in EVENT_SOURCES if s not in public],
    }.get(role)
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        policy = make_policy(conn, settings)
        reported = policy.stage_limits.get("reported")
        fallback = (
            policy.calendar.limit_seconds(reported) if reported and not reported.working else 0
        )
        rows, total = repo.list_tasks(
            conn,
            statuses=rules.ROLE_TASKS[role],
            reported_sources=sources,
            pending=role in ("shift_leader", "command_centre"),
            grid=grid,
            supervisor=supervisor,
            unit_code=unit,
            within=within,
            fallback_s=fallback,
            limit=limit,
            offset=offset,
        )
    return [_task(r, policy, now, settings) for r in rows], total


def _task(row: dict, policy: Policy, now: datetime, settings: Settings) -> dict:
    state = state_of(
        {
            **row,
            "id": row["event_id"],
            "unit_id": None,
            "closed_at": None,
            "has_workflow": row["limit_unit"] is not None or row["stage_due_at"] is not None,
            "shelved_at": None,
            "resume_status": None,
            "dispatched_by": None,
            "rework_count": 0,
            "criterion": None,
        },
        policy,
    )
    task = rules.TASK_NAMES.get(row["status"], (row["status"], row["status"]))
    if row["pending_request"]:
        task = (
            ("审批延期", "decide an extension")
            if row["pending_request"] == "extension"
            else ("审批挂账", "decide shelving")
        )
    progress = stage_progress(state, policy, now, settings.workflow_yellow_share) or {}
    keep = (
        "event_id",
        "status",
        "source",
        "class_kind",
        "class_code",
        "class_name",
        "grid_code",
        "supervisor",
        "unit_code",
        "unit_name",
        "location_text",
        "description",
        "reported_at",
        "deadline_at",
        "pending_request",
        "pending_hours",
    )
    return {
        **{k: row[k] for k in keep},
        "task": task[0],
        "task_en": task[1],
        "due_at": progress.get("due_at", row["due_at"]),
        "light": progress.get("light"),
        "used_percent": progress.get("used_percent"),
        "remaining_seconds": progress.get("remaining_seconds"),
    }
