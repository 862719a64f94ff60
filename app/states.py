"""Case states (案件状态): the one definition every layer derives from.

Which states exist, which are finished (terminal) and which are still open is decided here
and nowhere else. The workflow machine (`app.services.workflow.machine`) moves cases between
these states; SQL filters (duplicates, open cases per grid, Open311, hotspots, evaluation),
the partial indexes of migration 0011, the table's CHECK constraint and the Open311 status
mapping all derive from the sets below, and ``tests/test_states.py`` fails when a literal
list of states appears anywhere else.

A report found untrue on site (核实不属实, ``invalid``) is finished like a closed or voided
case: it is no duplicate of a new report and Open311 shows it as ``closed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class State:
    """One case state: its names and the note Open311 publishes for it."""

    zh: str
    en: str
    terminal: bool
    public_zh: str
    public_en: str


# In workflow order (CJJ/T 106: 受理 → 核实 → 立案 → 派遣 → 处置 → 核查 → 结案).
STATES: dict[str, State] = {
    "reported": State(
        "待受理", "reported", False, "已上报，待核实", "reported, awaiting verification"
    ),
    "verifying": State("核实中", "verifying", False, "核实中", "being verified"),
    "verified": State("已核实", "verified", False, "已核实，待立案", "verified, awaiting filing"),
    "invalid": State(
        "核实不属实", "found invalid", True, "经核实不属实", "closed: found untrue on site"
    ),
    "filed": State("已立案待派遣", "filed", False, "已立案", "filed as a case"),
    "voided": State("作废", "voided", True, "已作废（不予立案）", "voided: not accepted as a case"),
    "dispatched": State(
        "已派遣待签收",
        "dispatched",
        False,
        "已派遣至处置单位",
        "dispatched to the responsible unit",
    ),
    "returned": State(
        "退回待重派",
        "returned",
        False,
        "处置单位退回，待重新派遣",
        "sent back, awaiting re-dispatch",
    ),
    "handling": State("处置中", "handling", False, "处置中", "being handled"),
    "handled": State("已反馈待核查", "handled", False, "已处置，待核查", "handled, awaiting check"),
    "checking": State("核查中", "checking", False, "核查中", "being checked"),
    "closed": State("结案", "closed", True, "已结案", "closed"),
    "shelved": State("挂账", "shelved", False, "已挂账", "shelved for later handling"),
}
ALL: tuple[str, ...] = tuple(STATES)
TERMINAL: frozenset[str] = frozenset(k for k, s in STATES.items() if s.terminal)
OPEN: frozenset[str] = frozenset(ALL) - TERMINAL
# While a unit holds a case its handling deadline runs (the clock starts at 派遣).
UNIT_STATES: frozenset[str] = frozenset({"dispatched", "handling"})
# States in which no unit's deadline runs: finished, shelved (挂账) or sent back (退回).
NO_CLOCK: frozenset[str] = TERMINAL | {"shelved", "returned"}
# The grid supervisor's on-site tasks: verification (核实) and check (核查).
SUPERVISOR_TASKS: frozenset[str] = frozenset({"verifying", "checking"})
STATUS_NAMES: dict[str, str] = {k: s.zh for k, s in STATES.items()}


def ordered(states: Iterable[str]) -> tuple[str, ...]:
    """``states`` in workflow order (unknown names are refused)."""
    wanted = set(states)
    unknown = wanted - set(ALL)
    if unknown:
        raise ValueError(f"unknown case states: {sorted(unknown)}")
    return tuple(s for s in ALL if s in wanted)


def sql_list(states: Iterable[str]) -> str:
    """``'a', 'b'`` for an SQL ``IN (…)``, in workflow order.

    Written out rather than bound: the planner uses a partial index only when it can prove
    the query's predicate implies the index's, which it cannot do for a parameter.

    >>> sql_list({"closed", "voided"})
    "'voided', 'closed'"
    """
    return ", ".join(f"'{s}'" for s in ordered(states))


def is_open(column: str = "status") -> str:
    """SQL: ``column`` holds an open state (the predicate of the open-case indexes).

    >>> is_open("e.status")
    "e.status NOT IN ('invalid', 'voided', 'closed')"
    """
    return f"{column} NOT IN ({sql_list(TERMINAL)})"


def is_terminal(column: str = "status") -> str:
    """SQL: ``column`` holds a terminal state."""
    return f"{column} IN ({sql_list(TERMINAL)})"


def is_in(column: str, states: Iterable[str]) -> str:
    """SQL: ``column`` is one of ``states``."""
    return f"{column} IN ({sql_list(states)})"


def is_not_in(column: str, states: Iterable[str]) -> str:
    """SQL: ``column`` is none of ``states``."""
    return f"{column} NOT IN ({sql_list(states)})"
