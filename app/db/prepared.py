"""Server-side prepared statements for the intake path.

Planning the assignment query costs ~2-4 ms, four times its execution for one point, and the
insert-and-read-back of a case ~0.3 ms; a statement prepared once per connection is planned
once. Prepared statements survive rollbacks and live as long as the connection; the pool's
``info`` remembers which ones a connection has.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import psycopg2
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


class PreparedStatement:
    """``sql`` with ``:name`` parameters, PREPAREd on first use on each pooled connection.

    ``parameters`` gives each parameter's PostgreSQL type, in the order of the PREPARE.
    ``generic`` forces the generic plan: right for statements whose plan does not depend on
    the values (per-point index probes), and it spares the five custom plans PostgreSQL
    would try first.
    """

    def __init__(self, name: str, sql: str, parameters: Sequence[tuple[str, str]],
                 *, generic: bool = False) -> None:
        self.name = name
        positional = sql
        for n, (param, _) in enumerate(parameters, 1):
            positional = re.sub(rf"CAST\(:{param} AS [a-z0-9\[\]]+\)|:{param}\b", f"${n}",
                                positional)
        types = ", ".join(t for _, t in parameters)
        self.prepare = f"PREPARE {name} ({types}) AS {positional}"
        args = ", ".join(f"CAST(%({p})s AS {t})" for p, t in parameters)
        mode = "SET LOCAL plan_cache_mode = force_generic_plan; " if generic else ""
        self.execute_sql = f"{mode}EXECUTE {name}({args})"

    def rows(self, conn: Connection, values: dict) -> list[dict]:
        """Run the statement in ``conn``'s transaction (preparing it on that connection first
        if needed); the rows as dicts.

        The driver's cursor is used directly: SQLAlchemy's result layer (column metadata
        for ~35 columns, twice per intake) cost more Python time than the rest of the query.
        """
        info = conn.connection.info
        cursor = conn.connection.driver_connection.cursor()
        try:
            if self.name not in info:
                # no parameters: psycopg2 leaves the SQL (and its "%" signs) as it is
                cursor.execute(self.prepare)
                info[self.name] = True
            cursor.execute(self.execute_sql, values)
            names = [c.name for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except psycopg2.Error as exc:  # as SQLAlchemy would raise it: one error mapping
            raise DBAPIError.instance(self.execute_sql, values, exc, psycopg2.Error) from exc
        finally:
            cursor.close()
