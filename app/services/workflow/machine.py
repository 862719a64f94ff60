"""The case workflow as a pure state machine (CJJ/T 106 seven stages; README section 3).

The API (`app.services.workflow.transitions`) and the demo simulator (`app.services.demo.simulation`) both move
cases with :func:`apply`, so a simulated year follows exactly the rules a user meets.

    reported ─request_verification→ verifying ─confirm→ verified      (public reports: 核实)
                                              └invalidate→ invalid
    reported | verified ─file→ filed ─dispatch→ dispatched ─accept→ handling ─handle→ handled
                        └void→ voided           └return→ returned ─dispatch→ dispatched
    handled ─request_check→ checking ─close→ closed
                                     └rework→ handling (返工; the deadline keeps running)
    dispatched | handling: request/approve/refuse extension (延期 moves the deadline) and
    shelving (挂账: approve → shelved, the clock stops; resume → back, the deadline moves).

The deadline clock starts at dispatch (派遣) and restarts on a re-dispatch after 退回: the new
unit gets the full limit, the wrong dispatch counts against the dispatcher instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from app import states
from app.errors import ConflictError, InvalidInputError
from app.services.workflow.deadlines import TimeLimit, WorkCalendar

# The states and their sets are decided in app.states; the machine moves cases between them.
TERMINAL, UNIT_STATES, STATUS_NAMES = states.TERMINAL, states.UNIT_STATES, states.STATUS_NAMES


@dataclass(frozen=True)
class Action:
    """One workflow action: the statuses it leaves, where it leads (None = stays), and the
    role expected to take it (the account roles of `app.db.models.ROLES`; a unit's staff
    are ``handler``s)."""

    name_zh: str
    sources: frozenset[str]
    target: str | None
    role: str


def _a(zh: str, sources: str, target: str | None, role: str) -> Action:
    return Action(zh, frozenset(sources.split()), target, role)


ACTIONS: dict[str, Action] = {
    "request_verification": _a("派发核实", "reported", "verifying", "acceptor"),
    "confirm": _a("核实属实", "verifying", "verified", "supervisor"),
    "invalidate": _a("核实不属实", "verifying", "invalid", "supervisor"),
    "file": _a("立案", "reported verified", "filed", "shift_leader"),
    "void": _a("作废", "reported verified", "voided", "shift_leader"),
    "dispatch": _a("派遣", "filed returned", "dispatched", "dispatcher"),
    "return": _a("退回", "dispatched handling", "returned", "handler"),
    "accept": _a("签收", "dispatched", "handling", "handler"),
    "handle": _a("处理反馈", "handling", "handled", "handler"),
    "request_check": _a("派发核查", "handled", "checking", "acceptor"),
    "close": _a("结案", "checking", "closed", "shift_leader"),
    "rework": _a("返工", "checking", "handling", "shift_leader"),
    "request_extension": _a("申请延期", "dispatched handling", None, "handler"),
    "approve_extension": _a("批准延期", "dispatched handling", None, "shift_leader"),
    "refuse_extension": _a("驳回延期", "dispatched handling", None, "shift_leader"),
    "request_shelving": _a("申请挂账", "dispatched handling", None, "handler"),
    "approve_shelving": _a("批准挂账", "dispatched handling", "shelved", "shift_leader"),
    "refuse_shelving": _a("驳回挂账", "dispatched handling", None, "shift_leader"),
    "resume": _a("恢复办理", "shelved", None, "shift_leader"),
}
TASK_NAMES = {
    "reported": ("受理立案", "accept and file"),
    "verifying": ("现场核实", "verify on site"),
    "verified": ("立案", "file"),
    "filed": ("派遣", "dispatch"),
    "returned": ("重新派遣", "re-dispatch"),
    "dispatched": ("签收", "accept the case"),
    "handling": ("处置", "handle"),
    "handled": ("派发核查", "send the check"),
    "checking": ("现场核查", "check on site"),
}
# Which waiting statuses each role works on; reported cases split by source between the
# acceptor (public reports, to send for verification) and the shift leader (to file).
ROLE_TASKS: dict[str, tuple[str, ...]] = {
    "supervisor": ("verifying", "checking"),
    "handler": ("dispatched", "handling"),
    "unit": ("dispatched", "handling"),
    "acceptor": ("reported", "handled"),
    "shift_leader": ("reported", "verified"),
    "dispatcher": ("filed", "returned"),
    "command_centre": ("reported", "verified", "filed", "returned", "handled"),
}

REQUESTS = {"request_extension": "extension", "request_shelving": "shelving"}
DECISIONS = {
    "approve_extension": "extension",
    "refuse_extension": "extension",
    "approve_shelving": "shelving",
    "refuse_shelving": "shelving",
}


@dataclass(frozen=True)
class Actor:
    """Who acts: a name and a role (authentication comes later; now it is taken on trust)."""

    name: str = "system"
    role: str = "system"
    unit_id: int | None = None  # a handler's unit: it may act only on that unit's cases


@dataclass(frozen=True)
class Policy:
    """Deployment rules the machine needs: calendar, stage limits, sources to verify."""

    calendar: WorkCalendar
    stage_limits: dict[str, TimeLimit] = field(default_factory=dict)
    verify_sources: frozenset[str] = frozenset({"hotline", "public_app"})
    # Share of a stage's limit used when its light turns yellow (预警).
    yellow_share: float = 0.8


@dataclass(frozen=True)
class CaseState:
    """Everything the machine knows about one case."""

    status: str
    source: str
    reported_at: datetime
    unit_id: int | None = None
    criterion: str | None = None
    limit: TimeLimit | None = None
    clock_started_at: datetime | None = None
    deadline_at: datetime | None = None
    extension_hours: float = 0.0
    stage_due_at: datetime | None = None
    # When the current stage's light turns yellow (stored, so SQL can count lights).
    stage_yellow_at: datetime | None = None
    shelved_at: datetime | None = None
    resume_status: str | None = None
    pending_request: str | None = None
    pending_hours: float | None = None
    dispatched_by: str | None = None
    rework_count: int = 0
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Step:
    """One action as asked for, with what the caller resolved (unit id, the time limit)."""

    action: str
    at: datetime
    actor: Actor = Actor()
    note: str | None = None
    photo_urls: tuple[str, ...] = ()
    unit_id: int | None = None
    hours: float | None = None
    criterion: str | None = None
    limit: TimeLimit | None = None


def allowed_actions(case: CaseState, policy: Policy) -> list[str]:
    """The actions possible from the case's current state, in workflow order."""
    out = []
    for name, action in ACTIONS.items():
        if case.status not in action.sources:
            continue
        if name == "file" and case.status == "reported" and case.source in policy.verify_sources:
            continue  # public reports are verified on site before filing
        if name in REQUESTS and case.pending_request is not None:
            continue
        if name in DECISIONS and case.pending_request != DECISIONS[name]:
            continue
        out.append(name)
    return out


def illegal(case: CaseState, action: str, policy: Policy) -> ConflictError:
    """The 409 for ``action`` from the case's state, listing what is allowed instead."""
    allowed = allowed_actions(case, policy)
    known = action in ACTIONS
    zh = (
        f"案件状态为“{STATUS_NAMES.get(case.status, case.status)}”，不能执行 {action}"
        if known
        else f"未知的操作 {action}"
    )
    en = (
        f"action {action!r} is not allowed from status {case.status!r}"
        if known
        else f"unknown action {action!r}"
    )
    return ConflictError(
        f"{zh}；可执行：{', '.join(allowed) or '无'}",
        f"{en}; allowed: {', '.join(allowed) or 'none'}",
        current_status=case.status,
        action=action,
        allowed_actions=allowed,
    )


def stage_due(case: CaseState, status: str, at: datetime, policy: Policy) -> datetime | None:
    """When the task of ``status`` entered at ``at`` is due."""
    return _stage_due(case.deadline_at, status, at, policy)


def _stage_due(
    deadline: datetime | None, status: str, at: datetime, policy: Policy
) -> datetime | None:
    if status in UNIT_STATES:
        return deadline
    limit = policy.stage_limits.get(status)
    return policy.calendar.deadline(at, limit) if limit else None


def stage_yellow(
    status: str,
    due: datetime | None,
    limit: TimeLimit | None,
    extension_hours: float,
    policy: Policy,
) -> datetime | None:
    """When the task of ``status`` due at ``due`` turns yellow: once ``policy.yellow_share`` of
    its budget is used. A unit's task runs on the case's ``limit`` plus its extensions, any
    other on the stage's own limit."""
    if status not in UNIT_STATES:
        limit, extension_hours = policy.stage_limits.get(status), 0.0
    if due is None or limit is None:
        return None
    seconds = policy.calendar.limit_seconds(limit) + extension_hours * 3600
    return policy.calendar.yellow_at(due, seconds, limit.working, policy.yellow_share)


def apply(case: CaseState, step: Step, policy: Policy) -> tuple[CaseState, dict]:
    """The case after ``step`` and the data its log row records; 409 when not allowed."""
    if step.action not in allowed_actions(case, policy):
        raise illegal(case, step.action, policy)
    changes = _effect(case, step, policy)
    target = ACTIONS[step.action].target or case.status
    if step.action == "resume":
        target = case.resume_status or "handling"
    if target != case.status or step.action in ("approve_extension", "resume", "rework"):
        changes["status"] = target
        changes["stage_due_at"] = _stage_due(
            changes.get("deadline_at", case.deadline_at), target, step.at, policy
        )
    if target in TERMINAL:
        changes.update(stage_due_at=None, pending_request=None, pending_hours=None)
    if "stage_due_at" in changes:
        changes["stage_yellow_at"] = stage_yellow(
            changes.get("status", case.status),
            changes["stage_due_at"],
            changes.get("limit", case.limit),
            changes.get("extension_hours", case.extension_hours),
            policy,
        )
    # One replace per step: the simulator applies hundreds of thousands of them.
    new = replace(case, **changes)
    return new, _log_data(case, new, step, policy)


def _effect(case: CaseState, step: Step, policy: Policy) -> dict:
    """The fields an action changes besides its status."""
    cal, at, name = policy.calendar, step.at, step.action
    cleared = {"pending_request": None, "pending_hours": None}
    if name == "file":
        return {"criterion": step.criterion or case.criterion}
    if name == "dispatch":
        if step.unit_id is None:
            raise InvalidInputError(
                "派遣需要指定责任单位（unit_code）", "dispatch needs a unit (unit_code)"
            )
        limit = step.limit or case.limit
        if limit is None:
            raise InvalidInputError(
                "该分类没有处置时限：请先在时限表（/api/v1/time-limits）中设定",
                "this class has no time limit: set one in the time-limit table "
                "(/api/v1/time-limits) first",
            )
        # 派遣 starts the clock (README section 3, stage 3); a re-dispatch restarts it.
        return {
            "unit_id": step.unit_id,
            "limit": limit,
            "clock_started_at": at,
            "deadline_at": cal.deadline(at, limit),
            "extension_hours": 0.0,
            "dispatched_by": step.actor.name,
        }
    if name == "return":
        return {"deadline_at": None, "clock_started_at": None, **cleared}
    if name == "rework":
        return {"rework_count": case.rework_count + 1}
    if name == "close":
        return {"closed_at": at}
    if name in REQUESTS:
        if name == "request_extension" and not (step.hours and step.hours > 0):
            raise InvalidInputError(
                "申请延期需要填写延长小时数（hours）", "an extension request needs hours > 0"
            )
        return {"pending_request": REQUESTS[name], "pending_hours": step.hours}
    if name == "approve_extension":
        hours = step.hours or case.pending_hours or 0.0
        assert case.deadline_at is not None and case.limit is not None
        # Extension hours count on the limit's own clock: working hours for working limits.
        extended = cal.add(case.deadline_at, hours * 3600, case.limit.working)
        return {"deadline_at": extended, "extension_hours": case.extension_hours + hours, **cleared}
    if name in ("refuse_extension", "refuse_shelving"):
        return dict(cleared)
    if name == "approve_shelving":
        return {"shelved_at": at, "resume_status": case.status, **cleared}
    if name == "resume":
        assert case.shelved_at is not None
        deadline = case.deadline_at
        if deadline is not None and case.limit is not None:
            # Shelved time does not count: the deadline moves by the time spent shelved.
            paused = cal.between(case.shelved_at, at, case.limit.working)
            deadline = cal.add(deadline, max(paused, 0.0), case.limit.working)
        return {"deadline_at": deadline, "shelved_at": None, "resume_status": None}
    return {}


def _log_data(old: CaseState, new: CaseState, step: Step, policy: Policy) -> dict:
    """What evaluation needs later, frozen at the moment of the action (local times)."""

    def _iso(moment: datetime | None) -> str | None:
        return moment.astimezone(policy.calendar.tz).isoformat() if moment else None

    data: dict = {
        "role": step.actor.role,
        "unit_id": new.unit_id if new.unit_id is not None else old.unit_id,
        # stage_due_at: when the task this action completes was due; due_at: the next one's.
        "stage_due_at": _iso(old.stage_due_at),
        "due_at": _iso(new.stage_due_at),
        "deadline_at": _iso(new.deadline_at if step.action != "return" else old.deadline_at),
    }
    if step.photo_urls:
        data["photo_urls"] = list(step.photo_urls)
    if step.action == "file" and new.criterion:
        data["criterion"] = new.criterion
    if step.action == "dispatch" and new.limit:
        data["limit"] = {"value": new.limit.value, "unit": new.limit.unit}
    if step.action == "return":
        data["dispatched_by"] = old.dispatched_by
    if step.action in ("request_extension", "approve_extension"):
        data["hours"] = step.hours or old.pending_hours
    return data
