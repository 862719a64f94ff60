"""The intake's connections (and the audit trail's, a row per intake): asyncpg on the loop.

Every other path reads and writes through SQLAlchemy on psycopg2, in worker threads. The
intake (a report, an Open311 request, an assignment preview) is the one hot path, and there
that stack cost ~2.5 ms of server CPU and ~2 ms of PostgreSQL per report: a thread hop each
way, a text-protocol ``EXECUTE`` parsed per call, result metadata built per call. asyncpg
speaks the binary protocol with server-side prepared statements (cached per connection) and
waits on the event loop: ~0.8 ms and ~1.5 ms.

Driver errors are re-raised as SQLAlchemy's, so the one error mapping (``app.api.problems``)
answers 503 when the database cannot be reached and 500 otherwise, as on every other path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from app.db.sql import numbered

log = logging.getLogger(__name__)

# Sessions of this pool only ever run the intake's statements, whose plans do not depend
# on the values (per-point index probes): the generic plan spares a custom plan per call
# (~3 ms for the assignment query). JIT compiles big plans for ~1.5 s before running them.
SERVER_SETTINGS = {"plan_cache_mode": "force_generic_plan", "jit": "off", "timezone": "UTC"}
POOL_SIZE = 10
# Refused, lost, timed out, or the server shutting down or starting up: try again later (503).
CONNECTION_LOST = (OSError, asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError)


# asyncpg's refusal to start an operation while the connection is in another state: raised
# before anything is sent (an out-of-step connection), so the statement did not run.
_NOT_SENT = re.compile(r"^cannot switch to state \d+")


class Statement:
    """``sql`` with ``:name`` parameters (numbered in order of first use), run with a dict."""

    def __init__(self, sql: str) -> None:
        self.sql, self.names = numbered(sql)

    def args(self, values: dict) -> list:
        return [values[name] for name in self.names]


async def _init(conn: asyncpg.Connection) -> None:
    # JSON arrives decoded; JSON parameters are passed as text, already encoded.
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, schema="pg_catalog", encoder=str, decoder=orjson.loads)


async def _reset(conn: asyncpg.Connection) -> None:
    # The default reset (RESET ALL, CLOSE ALL, UNLISTEN *, ...) is a round trip per release;
    # these sessions change nothing but may be left inside a failed transaction.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class IntakeDatabase:
    """A small asyncpg pool for the intake, opened and closed with the app."""

    def __init__(self, url: str, size: int = POOL_SIZE) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.size = size
        self.pool: asyncpg.Pool | None = None
        self._warming: asyncio.Task | None = None

    async def open(self) -> None:
        """Create the pool without connecting (the app starts while the database is down)
        and open a few connections in the background: the first reports after a restart
        then skip the connection set-up (~30 ms each)."""
        self.pool = await asyncpg.create_pool(
            self.dsn,
            min_size=0,
            max_size=self.size,
            server_settings=SERVER_SETTINGS,
            init=_init,
            reset=_reset,
        )
        self._warming = asyncio.create_task(self._warm(min(4, self.size)))

    async def _warm(self, n: int) -> None:
        async def one() -> None:
            async with self.connection():
                await asyncio.sleep(0)

        results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
        if failed := [r for r in results if isinstance(r, Exception)]:
            log.warning("intake pool not warmed up: %s", failed[0])

    async def close(self) -> None:
        """Close the connections (waiting up to 10 s for statements still running)."""
        if self._warming is not None:
            self._warming.cancel()
        if self.pool is not None:
            try:
                await asyncio.wait_for(self.pool.close(), timeout=10)
            except TimeoutError:
                self.pool.terminate()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[IntakeConnection]:
        """A pooled connection for a few statements; 503 when none can be had."""
        conn = IntakeConnection(self, await self._acquire())
        try:
            yield conn
        finally:
            if conn.conn is not None:  # None when a replacement could not be had
                await self._release(conn.conn)

    async def _acquire(self) -> asyncpg.Connection:
        assert self.pool is not None, "IntakeDatabase.open() first"
        try:
            return await self.pool.acquire(timeout=10)
        except CONNECTION_LOST as exc:
            raise OperationalError("connect", None, exc) from exc

    async def _release(self, conn: asyncpg.Connection) -> None:
        assert self.pool is not None
        await self.pool.release(conn)

    async def _discard(self, conn: asyncpg.Connection) -> None:
        # A connection that failed this way is gone, and so probably are the pool's others
        # (a restart or failover cuts them all): each is replaced at its next acquire.
        assert self.pool is not None
        # When the server closed it (a restart's "terminating connection"), asyncpg has
        # already handed it back to the pool and detached it: terminate() would then raise
        # InterfaceError and turn the 503 into a 500.
        with contextlib.suppress(asyncpg.InterfaceError):
            conn.terminate()
        await self.pool.expire_connections()


class IntakeConnection:
    """One pooled connection; each statement is its own transaction (autocommit)."""

    def __init__(self, db: IntakeDatabase, conn: asyncpg.Connection) -> None:
        self.db = db
        self.conn: asyncpg.Connection | None = conn

    async def rows(self, statement: Statement, values: dict) -> list[dict]:
        assert self.conn is not None
        args = statement.args(values)
        try:
            try:
                return [dict(r) for r in await self.conn.fetch(statement.sql, *args)]
            except asyncpg.InternalClientError as exc:
                if not _NOT_SENT.search(str(exc)):
                    raise
                # Out of step with the server before sending anything: a restart's goodbye
                # is still unread on this connection. Nothing ran, so once more on a new one.
                await self.db._discard(self.conn)
                stale, self.conn = self.conn, None
                await self.db._release(stale)
                self.conn = await self.db._acquire()
                return [dict(r) for r in await self.conn.fetch(statement.sql, *args)]
        except (*CONNECTION_LOST, asyncpg.InternalClientError) as exc:
            await self.db._discard(self.conn)
            raise OperationalError(statement.sql, None, exc) from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DBAPIError(statement.sql, None, exc) from exc
