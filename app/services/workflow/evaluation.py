"""Performance evaluation (绩效评价, GB/T 30428.4; standards README section 5).

Indicators for a period [from, to) per area (district … grid), per unit, or per post
(supervisor, acceptor, shift leader, dispatcher):

* counts — reported, public reports, valid (filed by the period's end), filed, dispatched,
  handled / handled on time, rework, closed / closed on time, extended, shelved, and the
  open cases whose deadline fell in the period (overdue at its end);
* to-handle (应处置) = handled + overdue not yet handled; to-close (应结案) = closed + overdue
  still open. Open overdue cases therefore count against the on-time rates;
* rates — 结案率 closed / to-close, 按期结案率 closed on time / to-close, 按期处置率 handled on
  time / to-handle, 返工率 rework / handled (the README's denominator), …;
* composite (综合指标值) = weighted mean of scores (rate × 100, or a band score for counts)
  with the configured weights; a score whose rate has no denominator (nothing to close…) is
  left out and the other weights are rescaled. Grades by configured floors (A ≥ 90 …).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from app.db.workflow import evaluation as repo
from app.errors import InvalidInputError
from app.settings import Settings

LEVELS = ("area", "unit", "post")
POSTS = ("supervisor", "acceptor", "shift_leader", "dispatcher")
AREA_ONLY = {
    "reported",
    "public_reported",
    "valid",
    "filed",
    "valid_report_rate",
    "public_report_rate",
}
# The actions by which command-centre posts are judged (decisions on requests have no due time).
POST_ACTIONS = {
    "acceptor": ["request_verification", "request_check"],
    "shift_leader": ["file", "void", "close", "rework"],
    "dispatcher": ["dispatch"],
}


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _rates(c: dict, level: str) -> dict:
    """Rates from counts; None where the denominator is zero."""
    if level == "supervisor":
        return {
            "valid_report_rate": _ratio(c["valid"], c["reported"]),
            "missed_rate": _ratio(c["missed"], c["valid"] + c["missed"]),
            "on_time_verification_rate": _ratio(c["verified_on_time"], c["to_verify"]),
            "on_time_check_rate": _ratio(c["checked_on_time"], c["to_check"]),
        }
    if level in POST_ACTIONS:
        return {
            "on_time_rate": _ratio(c["on_time"], c["actions"]),
            "wrong_dispatch_rate": _ratio(c["returned"], c["actions"])
            if level == "dispatcher"
            else None,
        }
    return {
        "valid_report_rate": _ratio(c["valid"], c["reported"]),
        "public_report_rate": _ratio(c["public_reported"], c["reported"]),
        "closing_rate": _ratio(c["closed"], c["to_close"]),
        "on_time_closing_rate": _ratio(c["closed_on_time"], c["to_close"]),
        "on_time_handling_rate": _ratio(c["handled_on_time"], c["to_handle"]),
        "rework_rate": _ratio(c["rework"], c["handled"]),
    }


def count_score(n: int, settings: Settings) -> float:
    """Band score for a case count: fewer cases, higher score (bands are configuration)."""
    for bound, score in settings.evaluation_count_bands:
        if n <= bound:
            return float(score)
    return float(settings.evaluation_count_score_above)


def _pct(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def _inv(value: float | None) -> float | None:
    return None if value is None else 100.0 * (1.0 - value)


# Score name (the keys of the weights setting) → how it is computed from counts and rates.
SCORES: dict[str, Callable[[dict, dict, Settings], float | None]] = {
    "filed_count": lambda c, r, s: count_score(c["filed"], s),
    "dispatched_count": lambda c, r, s: count_score(c["dispatched"], s),
    "closing_rate": lambda c, r, s: _pct(r["closing_rate"]),
    "on_time_closing_rate": lambda c, r, s: _pct(r["on_time_closing_rate"]),
    "on_time_handling_rate": lambda c, r, s: _pct(r["on_time_handling_rate"]),
    "no_rework_rate": lambda c, r, s: _inv(r["rework_rate"]),
    "few_public_reports": lambda c, r, s: _inv(r["public_report_rate"]),
    "valid_report_rate": lambda c, r, s: _pct(r["valid_report_rate"]),
    "no_missed_rate": lambda c, r, s: _inv(r["missed_rate"]),
    "on_time_verification_rate": lambda c, r, s: _pct(r["on_time_verification_rate"]),
    "on_time_check_rate": lambda c, r, s: _pct(r["on_time_check_rate"]),
    "on_time_rate": lambda c, r, s: _pct(r["on_time_rate"]),
    "no_wrong_dispatch_rate": lambda c, r, s: _inv(r["wrong_dispatch_rate"]),
}


def grade(score: float | None, settings: Settings) -> str | None:
    """The letter grade of a composite score."""
    if score is None:
        return None
    for floor, letter in settings.evaluation_grades:
        if score >= floor:
            return letter
    return settings.evaluation_grade_below


def score_row(counts: dict, level: str, settings: Settings) -> dict:
    """Counts → counts, rates, scores, composite and grade, as one flat row."""
    c = {k: int(v) for k, v in counts.items() if k != "key"}
    if level in ("area", "unit"):
        c["to_handle"] = c["handled"] + c["overdue_unhandled"]
        c["to_close"] = c["closed"] + c["overdue_open"]
    rates = _rates(c, level)
    weights = settings.evaluation_weights[level]
    unknown = set(weights) - set(SCORES)
    if unknown:
        raise InvalidInputError(
            f"评价权重中有未知指标：{sorted(unknown)}",
            f"unknown indicators in evaluation weights: {sorted(unknown)}",
        )
    scores = {name: SCORES[name](c, rates, settings) for name in weights}
    scored = {k: s for k, s in scores.items() if s is not None}
    used = {k: w for k, w in weights.items() if k in scored and w}
    composite = (
        round(sum(scored[k] * w for k, w in used.items()) / sum(used.values()), 2) if used else None
    )
    return {
        **c,
        **rates,
        **{f"score_{k}": None if v is None else round(v, 2) for k, v in scores.items()},
        "composite": composite,
        "grade": grade(composite, settings),
    }


def period(start: date | datetime, end: date | datetime, tz: str) -> tuple[datetime, datetime]:
    """[from, to) as aware datetimes; a date ``to`` includes that whole day (local time)."""
    zone = ZoneInfo(tz)

    def at(value: date | datetime, next_day: bool) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=zone)
        day = value + timedelta(days=1) if next_day else value
        return datetime.combine(day, time(0), tzinfo=zone)

    lo, hi = at(start, False), at(end, True)
    if hi <= lo:
        raise InvalidInputError("评价期间的结束须晚于开始", "the period must end after it starts")
    return lo, hi


def evaluate(
    engine: Engine,
    settings: Settings,
    level: str,
    start: date | datetime,
    end: date | datetime,
    *,
    area_level: str = "subdistrict",
    post: str = "supervisor",
    within: str | None = None,
) -> dict:
    """Indicators, composite scores and grades for every area, unit or post of a period."""
    if level not in LEVELS:
        raise InvalidInputError(f"level 须为 {'/'.join(LEVELS)}", f"level must be one of {LEVELS}")
    if level == "area" and area_level not in repo.AREA_COLUMNS:
        raise InvalidInputError(
            "area_level 须为 district/subdistrict/community/grid",
            f"area_level must be one of {tuple(repo.AREA_COLUMNS)}",
        )
    if level == "post" and post not in POSTS:
        raise InvalidInputError(f"post 须为 {'/'.join(POSTS)}", f"post must be one of {POSTS}")
    lo, hi = period(start, end, settings.timezone)
    public = list(settings.workflow_verify_sources)
    kind = post if level == "post" else level
    with engine.connect() as conn:
        if level == "post" and post == "supervisor":
            counts = repo.supervisor_counts(conn, lo, hi, public, within)
        elif level == "post":
            counts = repo.post_counts(conn, post, POST_ACTIONS[post], lo, hi, within)
        else:
            counts = repo.area_unit_counts(conn, level, area_level, lo, hi, public, within)
        names = _names(conn, level)
    rows = []
    for c in counts:
        code, name = names.get(c["key"], (c["key"], c["key"]))
        row = score_row(c, kind, settings)
        if level == "unit":
            # Reports and filing belong to areas and posts: a unit only receives dispatches.
            row = {k: v for k, v in row.items() if k not in AREA_ONLY}
        rows.append({"key": code, "name": name, **row})
    return {
        "level": level,
        "area_level": area_level if level == "area" else None,
        "post": post if level == "post" else None,
        "from": lo.isoformat(),
        "to": hi.isoformat(),
        "weights": settings.evaluation_weights[kind],
        "rows": rows,
    }


def _names(conn, level: str) -> dict[str, tuple[str, str]]:
    if level == "area":
        return {code: (code, name) for code, name in repo.area_names(conn).items()}
    if level == "unit":
        return repo.unit_names(conn)
    return {}


# -- export ---------------------------------------------------------------------------------


def table(result: dict) -> tuple[list[str], list[list]]:
    """Headers and rows of an evaluation, in the order the service produced them."""
    headers: list[str] = []
    for row in result["rows"]:
        headers += [k for k in row if k not in headers]
    return headers, [[row.get(h) for h in headers] for row in result["rows"]]


def to_csv(result: dict) -> str:
    """CSV text (open it in a spreadsheet as UTF-8)."""
    headers, rows = table(result)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(["" if v is None else v for v in r] for r in rows)
    return buffer.getvalue()


def to_markdown(result: dict) -> str:
    """A Markdown table with a title line naming the level and the period."""
    headers, rows = table(result)
    what = result["post"] or result["area_level"] or result["level"]
    lines = [
        f"# 绩效评价 / evaluation: {result['level']} ({what}), {result['from']} – {result['to']}",
        "",
    ]
    if not headers:
        return "\n".join(lines + ["(no rows)", ""])
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join(" --- " for _ in headers) + "|")
    for r in rows:
        lines.append("| " + " | ".join("" if v is None else str(v) for v in r) + " |")
    return "\n".join(lines) + "\n"


def write_xlsx(result: dict, path: Path) -> bool:
    """Write an .xlsx with openpyxl when it is installed; False (nothing written) otherwise."""
    try:
        from openpyxl import Workbook
    except ImportError:
        return False
    headers, rows = table(result)
    book = Workbook()
    sheet = book.active
    sheet.title = f"{result['level']}"[:31]
    sheet.append(headers)
    for r in rows:
        sheet.append(r)
    book.save(path)
    return True
