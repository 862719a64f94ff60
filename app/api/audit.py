"""What a write changed, for its audit row (written by :class:`app.main.AuditWrites`).

The middleware opens a record per write; a handler names what only it knows (a new case's
id, the grids an edit started) with :func:`audit_object`. A context variable carries the
record, so handlers need no extra parameter, and a sync handler's worker thread (which runs
in a copy of the context) fills the same record.
"""

from __future__ import annotations

from contextvars import ContextVar

_changed: ContextVar[dict | None] = ContextVar("audit_changed", default=None)


def begin() -> dict:
    """Open the record of one write (the middleware does, before the handler runs)."""
    record: dict = {}
    _changed.set(record)
    return record


def audit_object(**ids: object) -> None:
    """Name the object(s) this write changed (``event_id=12``, ``grids=[…]``…). Path
    parameters (``/events/{event_id}/…``) are recorded without being named here."""
    record = _changed.get()
    if record is not None:
        record.update(ids)
