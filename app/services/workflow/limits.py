"""The deadline rule, in one place: which time limit (处置时限) a class has, and what intake may
say about it before the handling clock starts.

A class's limit comes from the time-limit table (``/api/v1/time-limits``: per class and filing
criterion, ``''`` being the class's default), else from the class row's own columns; there is
no invented default. The handling clock starts at dispatch (派遣) on the working calendar
(`app.services.workflow.machine`); before that, each stage has its own limit
(``settings.workflow_stage_limits``). So intake states the class's limit and the first stage's
due time, and leaves the handling deadline to the workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from app.services.workflow.deadlines import TimeLimit, WorkCalendar
from app.settings import Settings

# What a case waits for in its first stage (the task list's name for it).
FIRST_STAGE = "reported"
FIRST_TASK = ("受理立案", "accept and file")


def pick_limit(
    table: Mapping[str, Mapping], own: Mapping | None, criterion: str | None
) -> tuple[TimeLimit | None, str]:
    """The limit of a class under a filing criterion and where it came from: the table's row
    for the criterion, else the table's default row (``''``), else the class row's own
    ``limit_value``/``limit_unit``; ``(None, "none")`` when the class has none."""
    for key, origin in ((criterion or "", "criterion"), ("", "class")):
        row = table.get(key)
        if row is not None:
            return TimeLimit(float(row["limit_value"]), row["limit_unit"]), origin
    if own is not None and own.get("limit_value") is not None and own.get("limit_unit"):
        return TimeLimit(float(own["limit_value"]), own["limit_unit"]), "classification"
    return None, "none"


def class_limit(cls: Mapping) -> TimeLimit | None:
    """The default limit of a class row as intake gathers it: the time-limit table's default
    row joined as ``limit_value``/``limit_unit``, the class's own ``time_limit_*`` columns."""
    table = {"": cls} if cls.get("limit_value") is not None else {}
    own = {"limit_value": cls.get("time_limit_value"), "limit_unit": cls.get("time_limit_unit")}
    return pick_limit(table, own, None)[0]


def stage_limits(settings: Settings) -> dict[str, TimeLimit]:
    """The deployment's stage limits (阶段时限) per waiting status."""
    return {k: _parse(v) for k, v in settings.workflow_stage_limits.items()}


@lru_cache(maxsize=64)
def _parse(text: str) -> TimeLimit:
    return TimeLimit.parse(text)


def _limit_json(limit: TimeLimit) -> dict:
    return {
        "value": limit.value,
        "unit": limit.unit,
        "text": limit.describe("zh"),
        "text_en": limit.describe("en"),
    }


def intake_deadline(settings: Settings, cls: Mapping, reported_at: datetime) -> dict:
    """What intake answers about time: the class's limit as the table has it, that the
    handling clock starts at dispatch (``at`` is None: no deadline exists yet), and when the
    first stage (受理立案) is due."""
    # Runs per report (a million times in a bulk import): the words are made once per class.
    limit_json, zh, en = _class_words(
        cls.get("limit_value"),
        cls.get("limit_unit"),
        cls.get("time_limit_value"),
        cls.get("time_limit_unit"),
        cls["name"],
        cls.get("name_en") or cls["name"],
    )
    stage = _first_stage(settings.workflow_stage_limits.get(FIRST_STAGE), settings, reported_at)
    return {
        "at": None,
        "clock_starts": "dispatch",
        "time_limit": dict(limit_json) if limit_json else None,
        "stage": stage,
        "reason": f"{zh}；{stage['reason']}" if stage else zh,
        "reason_en": f"{en}; {stage['reason_en']}" if stage else en,
    }


@lru_cache(maxsize=4096)
def _class_words(
    value, unit: str | None, own_value, own_unit: str | None, name: str, name_en: str
) -> tuple[dict | None, str, str]:
    limit = class_limit(
        {
            "limit_value": value,
            "limit_unit": unit,
            "time_limit_value": own_value,
            "time_limit_unit": own_unit,
        }
    )
    if limit is None:
        return (
            None,
            f"{name} 未设处置时限：须先在时限表中设定，才能派遣",
            f"{name_en} has no time limit: set one in the time-limit table before dispatch",
        )
    return (
        _limit_json(limit),
        f"{name} 处置时限 {limit.describe('zh')}，自派遣起算（派遣时按工作日历确定期限）",
        f"{name_en}: time limit {limit.describe('en')}, counted from dispatch (派遣) "
        "on the working calendar; the deadline is set then",
    )


def _first_stage(text: str | None, settings: Settings, reported_at: datetime) -> dict | None:
    if text is None:
        return None
    limit, limit_json, zh, en = _stage_words(text)
    zh_task, en_task = FIRST_TASK
    out = {"status": FIRST_STAGE, "task": zh_task, "task_en": en_task, "limit": dict(limit_json)}
    if limit.working:
        # Working time needs the stored calendar, which intake does not read per report; the
        # case's workflow view (/api/v1/events/{id}/workflow) gives the due time.
        return {
            **out,
            "due_at": None,
            "reason": f"{zh}（按工作日历，见案件流转视图）",
            "reason_en": f"{en} (working calendar: see the case's workflow view)",
        }
    # A clock limit (紧急工时, 自然日) runs 24×7: the calendar's days do not change it.
    due = _clock_calendar(settings.timezone).deadline(reported_at, limit)
    when = due.replace(tzinfo=None).isoformat(" ", "minutes")
    return {**out, "due_at": due, "reason": f"{zh}，至 {when}", "reason_en": f"{en}, by {when}"}


@lru_cache(maxsize=64)
def _stage_words(text: str) -> tuple[TimeLimit, dict, str, str]:
    limit = _parse(text)
    zh_task, en_task = FIRST_TASK
    return (
        limit,
        _limit_json(limit),
        f"{zh_task}时限 {limit.describe('zh')}",
        f"{en_task} within {limit.describe('en')}",
    )


@lru_cache(maxsize=4)
def _clock_calendar(timezone: str) -> WorkCalendar:
    return WorkCalendar(tz=ZoneInfo(timezone))
