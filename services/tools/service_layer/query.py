"""execute_database_query: one vetted SELECT, read-only, as the reader role, with a timeout and a row cap."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from labs_core.errors import PermissionDenied
from services.tools.domain.errors import ReadModelUnavailable, ToolTimedOut


def reader_role(schema: str) -> str:
    """The database role queries run as (created by migration 0003_zz_query_reader)."""
    return f"{schema}_query_reader"[:63]


def _json_value(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else str(v)
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return v.total_seconds()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, list | tuple):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    return str(v)


@dataclass(frozen=True, slots=True)
class QueryLimits:
    """How long a query may run and how many rows it may return."""

    statement_timeout_ms: int = 2000
    max_rows: int = 500


class QueryService:
    """Runs checked queries against the read models of one schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str, limits: QueryLimits | None = None) -> None:
        self.pool = pool
        self.schema = schema
        self.limits = limits or QueryLimits()

    async def run(self, sql: str, *, max_rows: int | None = None) -> dict[str, Any]:
        """Run one SELECT; the answer has columns, rows (JSON values), row_count and truncated."""
        # Deferred: the guard loads pglast (PostgreSQL's parser, ~4 MB), needed only by this tool.
        from services.tools.domain.sqlguard import QueryRefused, check_query

        checked = check_query(sql, schema=self.schema)
        cap = min(max_rows or self.limits.max_rows, self.limits.max_rows)
        started = time.perf_counter()
        try:
            async with (
                self.pool.acquire() as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                # One round trip; search_path comes from the pool's server_settings (the schema).
                await conn.execute(
                    f"SET LOCAL statement_timeout = {int(self.limits.statement_timeout_ms)}; "
                    f'SET LOCAL ROLE "{reader_role(self.schema)}"'
                )
                stmt = await conn.prepare(checked.sql)
                columns = [{"name": a.name, "type": a.type.name} for a in stmt.get_attributes()]
                cursor = await stmt.cursor()
                records = await cursor.fetch(cap + 1)
        except asyncpg.QueryCanceledError as e:
            raise ToolTimedOut(
                f"query ran past its statement timeout of {self.limits.statement_timeout_ms} ms"
            ) from e
        except asyncpg.InsufficientPrivilegeError as e:
            raise PermissionDenied(f"the query reader may not do this: {e}") from e
        except asyncpg.ReadOnlySQLTransactionError as e:
            raise QueryRefused(f"must be read-only: {e}") from e
        except (asyncpg.PostgresConnectionError, OSError) as e:
            raise ReadModelUnavailable(f"database unavailable: {e}") from e
        except asyncpg.PostgresError as e:
            raise QueryRefused(f"failed: {e}") from e
        truncated = len(records) > cap
        is_json = [c["type"] in ("json", "jsonb") for c in columns]
        rows = [
            [
                json.loads(v) if j and isinstance(v, str) else _json_value(v)
                for v, j in zip(r.values(), is_json, strict=True)
            ]
            for r in records[:cap]
        ]
        return {
            "columns": columns,
            "rows": rows,
            "row_count": len(rows),
            "truncated": truncated,
            "max_rows": cap,
            "relations": list(checked.relations),
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
