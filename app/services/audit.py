"""The audit trail: who wrote what, written in the background in small batches."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine

from app.db import users as repo

log = logging.getLogger(__name__)

STOP = None
GATHER_SECONDS = 0.05
RETRY_SECONDS = 1.0
MAX_PENDING = 100_000


class AuditTrail:
    """Records writes (user, method, path, status, client, time) and stores them in batches.

    An intake costs a few milliseconds; writing its audit row in a transaction of its own
    cost a fifth of that and, under load, a second pooled connection per request. Here a
    background thread writes what has queued up in one transaction, at most ~20 a second,
    so a row waits ~50 ms (more under load, never more than one batch). On a crash
    those rows are lost — the window the embedded database's asynchronous commit already
    accepts for the cases themselves; a graceful shutdown (:meth:`close`) writes them all.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._run, name="audit-trail", daemon=True)
        self._writer.start()

    def record(self, username: str | None, method: str, path: str, status: int,
               client: str | None) -> None:
        """Queue one row; never blocks and never touches the database itself."""
        self._queue.put((datetime.now(UTC), username, method, path, status, client))

    def close(self) -> None:
        """Write what is waiting and stop the writer."""
        self._queue.put(STOP)
        self._writer.join()

    def _run(self) -> None:
        pending: list[tuple] = []
        retry_at = 0.0  # after a failed write, the database gets RETRY_SECONDS of rest
        while True:
            batch = self._take(timeout=RETRY_SECONDS if pending else None)
            stopping = STOP in batch
            pending += [row for row in batch if row is not STOP]
            pending = pending[-MAX_PENDING:]  # the database is gone for long: keep the newest
            if pending and (stopping or time.monotonic() >= retry_at):
                if self._write(pending):
                    pending = []
                else:
                    retry_at = time.monotonic() + RETRY_SECONDS
            if stopping:
                return  # what could not be written is in the log

    def _take(self, timeout: float | None) -> list:
        """The next row and those that follow within GATHER_SECONDS (one transaction)."""
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return []
        if first is not STOP:
            time.sleep(GATHER_SECONDS)
        batch = [first]
        with contextlib.suppress(queue.Empty):
            while True:
                batch.append(self._queue.get_nowait())
        return batch

    def _write(self, rows: list[tuple]) -> bool:
        try:
            with self.engine.begin() as conn:
                repo.write_audit_rows(conn, rows)
            return True
        except Exception:
            log.exception("writing %d audit rows failed; retrying", len(rows))
            return False
