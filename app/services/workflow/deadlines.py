"""Deadline arithmetic on a working calendar. Pure: no database, no web, only the stdlib.

Time limits (处置时限) come as a value and one of four units. ``urgent_hours`` (紧急工时) and
``calendar_days`` (自然日) run on the clock, 24×7. ``working_hours`` (工作时) and
``working_days`` (工作日) run only inside the work periods of working days; a working day is
worth one full day of work periods, so "1 working day" from Friday 15:00 ends at 15:00 on the
next working day. Working days are Monday to Friday unless the calendar says otherwise:
public holidays are off even on weekdays, make-up working days (调休) are on even on weekends.

Wall-clock times are read in the calendar's time zone (Asia/Shanghai by default), so work
periods mean local office hours whatever zone a timestamp arrives in.

>>> cal = WorkCalendar(exceptions={date(2026, 2, 14): True})
>>> start = datetime(2026, 2, 13, 16, 0, tzinfo=cal.tz)          # Friday 16:00
>>> cal.deadline(start, TimeLimit(4, "working_hours")).isoformat()  # Saturday is 调休
'2026-02-14T11:30:00+08:00'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UNITS = ("urgent_hours", "working_hours", "working_days", "calendar_days")
UNIT_NAMES = {
    "urgent_hours": ("紧急工时", "urgent hours"),
    "working_hours": ("工作时", "working hours"),
    "working_days": ("工作日", "working days"),
    "calendar_days": ("自然日", "calendar days"),
}
CLOCK_SECONDS = {"urgent_hours": 3600.0, "calendar_days": 86400.0}
DEFAULT_PERIODS_TEXT = "09:00-12:00,13:30-17:30"
# A calendar without working time would make the search for a deadline run forever.
MAX_DAYS = 3660

Period = tuple[time, time]


class BeyondHorizon(ValueError):
    """The answer lies more than ``MAX_DAYS`` days away (or past the last representable day)."""


def parse_periods(text: str) -> tuple[Period, ...]:
    """``"09:00-12:00,13:30-17:30"`` → ordered, non-overlapping (start, end) pairs."""
    periods: list[Period] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            a, b = (time.fromisoformat(x.strip()) for x in part.split("-"))
        except ValueError as exc:
            raise ValueError(f"bad work period {part!r}: expected HH:MM-HH:MM") from exc
        if b <= a:
            raise ValueError(f"work period {part!r} ends before it starts")
        if periods and a < periods[-1][1]:
            raise ValueError(f"work period {part!r} overlaps or precedes the one before")
        periods.append((a, b))
    if not periods:
        raise ValueError("at least one work period is needed")
    return tuple(periods)


def format_periods(periods: tuple[Period, ...]) -> str:
    """The inverse of :func:`parse_periods`."""
    return ",".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in periods)


@dataclass(frozen=True)
class TimeLimit:
    """A time limit: ``value`` of ``unit`` (one of :data:`UNITS`)."""

    value: float
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown time-limit unit {self.unit!r}; one of {', '.join(UNITS)}")
        if not self.value > 0:
            raise ValueError("a time limit must be positive")

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        """``"2 working_hours"`` → ``TimeLimit(2.0, "working_hours")``."""
        value, _, unit = text.strip().partition(" ")
        return cls(float(value), unit.strip())

    @property
    def working(self) -> bool:
        """True when the limit runs on working time only."""
        return self.unit not in CLOCK_SECONDS

    def describe(self, language: str = "zh") -> str:
        """The limit in words, e.g. ``2 工作时`` / ``2 working hours``, ``1 working day``."""
        zh, en = UNIT_NAMES[self.unit]
        if language == "zh":
            return f"{self.value:g} {zh}"
        return f"{self.value:g} {en[:-1] if self.value == 1 else en}"


@dataclass(frozen=True)
class Progress:
    """How much of a limit is used at one moment, and the alert colour (预警)."""

    limit_seconds: float
    used_seconds: float
    remaining_seconds: float
    used_share: float
    overdue: bool
    light: str

    def as_dict(self) -> dict:
        """The progress as JSON-ready numbers (seconds rounded, percent to 0.1)."""
        return {
            "limit_seconds": round(self.limit_seconds),
            "used_seconds": round(self.used_seconds),
            "remaining_seconds": round(self.remaining_seconds),
            "used_percent": round(100 * self.used_share, 1),
            "overdue": self.overdue,
            "light": self.light,
        }


@dataclass(frozen=True)
class WorkCalendar:
    """Working days and work periods; ``exceptions`` maps a day to whether it is worked."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    periods: tuple[Period, ...] = field(default_factory=lambda: parse_periods(DEFAULT_PERIODS_TEXT))
    exceptions: Mapping[date, bool] = field(default_factory=dict)
    year_periods: Mapping[int, tuple[Period, ...]] = field(default_factory=dict)

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is worked: the calendar's word first, else Monday to Friday."""
        worked = self.exceptions.get(day)
        return day.weekday() < 5 if worked is None else worked

    def periods_on(self, day: date) -> tuple[Period, ...]:
        """The work periods of ``day``; none on a day off."""
        if not self.is_workday(day):
            return ()
        return self.year_periods.get(day.year, self.periods)

    @property
    def day_seconds(self) -> float:
        """Length of one working day (the default periods), the size of a ``working_days`` unit."""
        return sum(_seconds(a, b) for a, b in self.periods)

    def limit_seconds(self, limit: TimeLimit) -> float:
        """The limit in seconds of its own clock (working seconds for working units)."""
        if limit.unit in CLOCK_SECONDS:
            return limit.value * CLOCK_SECONDS[limit.unit]
        return limit.value * (3600.0 if limit.unit == "working_hours" else self.day_seconds)

    def deadline(self, start: datetime, limit: TimeLimit) -> datetime:
        """When ``limit`` runs out for a clock started at ``start``."""
        return self.add(start, self.limit_seconds(limit), limit.working)

    def add(self, start: datetime, seconds: float, working: bool) -> datetime:
        """``start`` plus ``seconds`` of working time (or of clock time); ``seconds`` ≥ 0."""
        if seconds < 0:
            raise ValueError("only non-negative amounts of time can be added")
        if not working:
            return (start + timedelta(seconds=seconds)).astimezone(self.tz)
        if seconds == 0:
            return start.astimezone(self.tz)
        local = self._local(start)
        remaining, day = seconds, local.date()
        for _ in range(MAX_DAYS):
            for a, b in self.periods_on(day):
                begin, end = datetime.combine(day, a), datetime.combine(day, b)
                if end <= local:
                    continue
                begin = max(begin, local)
                available = (end - begin).total_seconds()
                # "<=": a limit that runs out exactly at 12:00 ends at 12:00, not at 13:30.
                if remaining <= available:
                    return (begin + timedelta(seconds=remaining)).replace(tzinfo=self.tz)
                remaining -= available
            day += timedelta(days=1)
        raise BeyondHorizon(f"the calendar has no working time within {MAX_DAYS} days")

    def back(self, end: datetime, seconds: float, working: bool) -> datetime:
        """The earliest moment with at most ``seconds`` of working (or clock) time left before
        ``end``: the inverse of :meth:`add`, used for the moment a light turns yellow."""
        if seconds < 0:
            raise ValueError("only non-negative amounts of time can be taken back")
        if not working:
            return (end - timedelta(seconds=seconds)).astimezone(self.tz)
        local = self._local(end)
        remaining, day = seconds, local.date()
        for _ in range(MAX_DAYS):
            for a, b in reversed(self.periods_on(day)):
                begin, stop = datetime.combine(day, a), datetime.combine(day, b)
                if begin >= local:
                    continue
                stop = min(stop, local)
                available = (stop - begin).total_seconds()
                # "<": when the time runs out exactly at a period's start, the days off before
                # it hold no working time either, so the answer is the previous period's end.
                if remaining < available:
                    return (stop - timedelta(seconds=remaining)).replace(tzinfo=self.tz)
                remaining -= available
            day -= timedelta(days=1)
        raise BeyondHorizon(f"the calendar has no working time within {MAX_DAYS} days")

    def yellow_at(
        self, deadline: datetime, limit_seconds: float, working: bool, yellow_share: float
    ) -> datetime:
        """When a ``limit_seconds`` budget ending at ``deadline`` has ``yellow_share`` used."""
        return self.back(deadline, max(1.0 - yellow_share, 0.0) * limit_seconds, working)

    def between(self, a: datetime, b: datetime, working: bool) -> float:
        """Seconds of working (or clock) time from ``a`` to ``b``; negative when ``b`` < ``a``."""
        if not working:
            return (b - a).total_seconds()
        if b < a:
            return -self.between(b, a, working)
        la, lb = self._local(a), self._local(b)
        total, day = 0.0, la.date()
        while day <= lb.date():
            for p0, p1 in self.periods_on(day):
                begin = max(datetime.combine(day, p0), la)
                end = min(datetime.combine(day, p1), lb)
                if end > begin:
                    total += (end - begin).total_seconds()
            day += timedelta(days=1)
        return total

    def progress(
        self,
        deadline: datetime,
        limit_seconds: float,
        working: bool,
        now: datetime,
        yellow_share: float = 0.8,
    ) -> Progress:
        """Time used of a ``limit_seconds`` budget ending at ``deadline``, seen at ``now``."""
        remaining = self.between(now, deadline, working)
        used = limit_seconds - remaining
        share = used / limit_seconds if limit_seconds > 0 else 1.0
        yellow = self.yellow_at(deadline, limit_seconds, working, yellow_share)
        return Progress(
            limit_seconds, used, remaining, share, now > deadline, light_at(deadline, yellow, now)
        )

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return moment.astimezone(self.tz).replace(tzinfo=None)


def light_at(due_at: datetime | None, yellow_at: datetime | None, now: datetime) -> str:
    """The traffic light (预警) of a task due at ``due_at`` that turns yellow at ``yellow_at``:
    ``red`` once overdue, ``yellow`` from ``yellow_at``, else ``green``; ``none`` without a due
    time. The light counts in SQL compare the stored moments the same way
    (`app.db.hotspots.queries.supervisor_workload`).

    >>> t = datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> [light_at(t, t - timedelta(hours=1), t + timedelta(hours=h)) for h in (-2, -1, 0, 1)]
    ['green', 'yellow', 'yellow', 'red']
    """
    if due_at is None:
        return "none"
    if now > due_at:
        return "red"
    return "yellow" if yellow_at is not None and now >= yellow_at else "green"


def _seconds(a: time, b: time) -> float:
    return (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds()
