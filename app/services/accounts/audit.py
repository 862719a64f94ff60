"""The audit trail: who wrote what, written in the background in small batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from app.db.accounts import users as repo
from app.db.pool import IntakeDatabase

log = logging.getLogger(__name__)

GATHER_SECONDS = 0.05
RETRY_SECONDS = 1.0
MAX_PENDING = 100_000


class AuditTrail:
    """Records writes (user, method, path, status, client, object changed, time) and stores
    them in batches.

    Writing each intake's audit row in a transaction of its own cost a fifth of the intake.
    Here a task on the event loop writes what has gathered in one statement, at most ~20
    times a second, so a row waits ~50 ms. On a crash those rows are lost: the window the
    embedded database's asynchronous commit already accepts for the cases themselves; a
    graceful shutdown (:meth:`close`) writes them all. While the database is unreachable
    rows are kept (the newest ``MAX_PENDING``) and the write is retried every second.

    Create, record and close it on the event loop (the ASGI middleware records).
    """

    def __init__(self, db: IntakeDatabase) -> None:
        self.db = db
        self._pending: list[tuple] = []
        self._wake = asyncio.Event()  # rows are waiting
        self._stop = asyncio.Event()
        self._writer = asyncio.create_task(self._run(), name="audit-trail")

    def record(
        self,
        username: str | None,
        method: str,
        path: str,
        status: int,
        client: str | None,
        changed: dict | None = None,
    ) -> None:
        """Keep one row for the next batch; never waits and never touches the database."""
        row = (datetime.now(UTC), username, method, path, status, client, changed)
        self._pending.append(row)
        if len(self._pending) > MAX_PENDING:  # the database is gone for long: keep the newest
            del self._pending[:-MAX_PENDING]
        self._wake.set()

    async def close(self) -> None:
        """Write what is waiting (one attempt) and stop the writer."""
        self._stop.set()
        self._wake.set()
        await self._writer

    async def _run(self) -> None:
        retry_at = 0.0  # after a failed write, the database gets RETRY_SECONDS of rest
        while True:
            await self._wake.wait()
            # let a batch gather (or the database rest); a shutdown cuts the wait short
            with contextlib.suppress(TimeoutError):
                rest = max(GATHER_SECONDS, retry_at - time.monotonic())
                await asyncio.wait_for(self._stop.wait(), timeout=rest)
            self._wake.clear()
            stopping = self._stop.is_set()
            if not await self._write():
                retry_at = time.monotonic() + RETRY_SECONDS
                self._wake.set()  # still waiting: again after the rest
            if stopping:
                return  # what could not be written is in the log

    async def _write(self) -> bool:
        rows, self._pending = self._pending, []
        if not rows:
            return True
        try:
            async with self.db.connection() as conn:
                await repo.write_audit_rows(conn, rows)
            return True
        except Exception:  # the writer must outlive any one failure, not only the database's
            log.exception("writing %d audit rows failed; retrying", len(rows))
            self._pending[:0] = rows  # before what arrived meanwhile, in order
            del self._pending[:-MAX_PENDING]
            return False
