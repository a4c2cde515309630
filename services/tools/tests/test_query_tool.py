"""execute_database_query: real queries, a corpus of hostile ones refused, the database unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from labs_core.errors import InvalidArgument, PermissionDenied
from labs_core.testing import unique
from services.tools.domain.errors import ToolNotPermitted, ToolTimedOut
from services.tools.domain.sqlguard import QueryForbidden, QueryRefused, check_query
from services.tools.service_layer.query import reader_role
from services.tools.tests.ops_fixtures import OpsStack, ops_stack

pytestmark = pytest.mark.timeout(60)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(nats_url: str, database_url: str) -> AsyncIterator[OpsStack]:
    from labs_core.eventlog import EventLog

    tag = unique("q")
    log = await EventLog.connect(nats_url, stream=tag.upper(), prefix=tag)
    await log.ensure_stream()
    try:
        async with ops_stack(log, database_url, unique("s_"), size=60, query_statement_timeout_ms=300) as s:
            yield s
    finally:
        await log.js.delete_stream(log.stream)
        await log.close()


async def test_a_select_returns_typed_columns_and_rows(stack: OpsStack) -> None:
    out = await stack.call(
        "execute_database_query",
        {
            "sql": "SELECT category, count(*) AS n, round(avg(price_cents) / 100.0, 2) AS mean FROM listings "
            "GROUP BY category ORDER BY category"
        },
    )
    assert [c["name"] for c in out["columns"]] == ["category", "n", "mean"]
    assert out["columns"][1]["type"] == "int8"
    assert sum(r[1] for r in out["rows"]) == 60
    assert out["truncated"] is False and out["relations"] == ["listings"]


async def test_row_cap_truncates(stack: OpsStack) -> None:
    out = await stack.call(
        "execute_database_query", {"sql": "SELECT id FROM listings ORDER BY id", "max_rows": 7}
    )
    assert out["row_count"] == 7 and out["truncated"] is True


async def test_ctes_joins_windows_and_json_are_allowed(stack: OpsStack) -> None:
    sql = """
    WITH p AS (SELECT listing_id, count(*) AS changes FROM listing_prices GROUP BY listing_id)
    SELECT l.id, p.changes, rank() OVER (ORDER BY l.price_cents DESC) AS r,
           jsonb_build_object('t', lower(l.title)) AS j, date_trunc('day', l.created_at) AS d
    FROM listings l JOIN p ON p.listing_id = l.id ORDER BY r LIMIT 3
    """
    out = await stack.call("execute_database_query", {"sql": sql})
    assert out["row_count"] == 3 and out["rows"][0][2] == 1
    assert isinstance(out["rows"][0][3], dict)


async def test_statement_timeout_stops_a_long_query(stack: OpsStack) -> None:
    sql = "SELECT count(*) FROM generate_series(1, 100000000) a"
    with pytest.raises(ToolTimedOut):
        await stack.call("execute_database_query", {"sql": sql})


async def test_only_admin_may_query(stack: OpsStack) -> None:
    for agent in ("SCHEDULER", "MARKET", "ANALYTICS", "CONTENT"):
        with pytest.raises(ToolNotPermitted):
            await stack.call("execute_database_query", {"sql": "SELECT 1"}, agent=agent)


# (sql, expected error class, a word the reason must contain)
HOSTILE: list[tuple[str, type[Exception], str]] = [
    ("DELETE FROM listings", QueryRefused, "SELECT"),
    ("UPDATE listings SET price_cents = 1", QueryRefused, "SELECT"),
    ("INSERT INTO listings (id) VALUES ('x')", QueryRefused, "SELECT"),
    ("DROP TABLE listings", QueryRefused, "SELECT"),
    ("TRUNCATE listings", QueryRefused, "SELECT"),
    ("CREATE TABLE evil (x int)", QueryRefused, "SELECT"),
    ("ALTER TABLE listings ADD COLUMN evil int", QueryRefused, "SELECT"),
    ("GRANT ALL ON listings TO PUBLIC", QueryRefused, "SELECT"),
    ("SELECT 1; DELETE FROM listings", QueryRefused, "exactly one"),
    ("SELECT 1; SELECT 2", QueryRefused, "exactly one"),
    ("SELECT 1 /* ; */ ; DROP TABLE listings -- ", QueryRefused, "exactly one"),
    ("SELECT 1 -- harmless\n; DELETE FROM listings", QueryRefused, "exactly one"),
    ("COPY listings TO STDOUT", QueryRefused, "SELECT"),
    ("COPY (SELECT 1) TO '/tmp/x'", QueryRefused, "SELECT"),
    ("SELECT * INTO evil FROM listings", QueryRefused, "SELECT INTO"),
    ("SELECT * FROM listings FOR UPDATE", QueryRefused, "locking"),
    ("SELECT * FROM listings FOR SHARE SKIP LOCKED", QueryRefused, "locking"),
    ("WITH d AS (DELETE FROM listings RETURNING id) SELECT * FROM d", QueryRefused, "data-modifying"),
    (
        "WITH u AS (UPDATE listings SET status = 'sold' RETURNING id) SELECT count(*) FROM u",
        QueryRefused,
        "data-modifying",
    ),
    (
        "WITH i AS (INSERT INTO listing_prices VALUES ('x', 1, 1, now()) RETURNING 1) SELECT 1",
        QueryRefused,
        "data-modifying",
    ),
    ("SELECT pg_sleep(10)", QueryForbidden, "pg_sleep"),
    ("SELECT id FROM listings WHERE pg_sleep(1) IS NULL", QueryForbidden, "pg_sleep"),
    ("SELECT set_config('role', 'postgres', true)", QueryForbidden, "set_config"),
    ("SELECT current_setting('data_directory')", QueryForbidden, "current_setting"),
    ("SELECT dblink('host=x', 'DROP TABLE listings')", QueryForbidden, "dblink"),
    ("SELECT pg_read_file('/etc/passwd')", QueryForbidden, "pg_read_file"),
    ("SELECT lo_import('/etc/passwd')", QueryForbidden, "lo_import"),
    ("SELECT pg_terminate_backend(1)", QueryForbidden, "pg_terminate_backend"),
    ("SELECT nextval('s')", QueryForbidden, "nextval"),
    ("SELECT pg_advisory_lock(1)", QueryForbidden, "pg_advisory_lock"),
    ("SELECT pg_catalog.pg_sleep(1)", QueryForbidden, "pg_sleep"),
    ("SELECT public.evil_function()", QueryForbidden, "allowlist"),
    ("SELECT * FROM pg_catalog.pg_authid", QueryForbidden, "pg_catalog"),
    ("SELECT * FROM pg_shadow", QueryForbidden, "hidden"),
    ("SELECT * FROM pg_stat_activity", QueryForbidden, "hidden"),
    ("SELECT table_name FROM information_schema.tables", QueryForbidden, "information_schema"),
    ("SELECT * FROM schema_migrations", QueryForbidden, "hidden"),
    ("SELECT * FROM runtime.executions", QueryForbidden, "outside"),
    ("SELECT * FROM otherdb.public.t", QueryForbidden, "other databases"),
    ("SELECT * FROM listings WHERE id = $1", QueryRefused, "parameters"),
    ("EXPLAIN ANALYZE SELECT * FROM listings", QueryRefused, "SELECT"),
    ("SET statement_timeout = 0", QueryRefused, "SELECT"),
    ("DO $$ BEGIN DELETE FROM listings; END $$", QueryRefused, "SELECT"),
    ("CALL evil()", QueryRefused, "SELECT"),
    ("LOCK TABLE listings", QueryRefused, "SELECT"),
    ("VACUUM listings", QueryRefused, "SELECT"),
    ("SELEC * FROM listings", QueryRefused, "not valid SQL"),
    ("   ", QueryRefused, "empty"),
    ("SELECT (SELECT pg_sleep(1))", QueryForbidden, "pg_sleep"),
    (
        "SELECT * FROM listings l, LATERAL (SELECT set_config('a.b', 'c', false)) x",
        QueryForbidden,
        "set_config",
    ),
    ("SELECT * FROM generate_series(1, 2) g, pg_ls_dir('.') f", QueryForbidden, "pg_ls_dir"),
    ("SELECT txid_current()", QueryForbidden, "txid_current"),
    ("SELECT query_to_xml('DELETE FROM listings', true, true, '')", QueryForbidden, "query_to_xml"),
]


async def _snapshot(database_url: str, schema: str) -> dict[str, object]:
    conn = await asyncpg.connect(database_url)
    try:
        tables = [
            r["relname"]
            for r in await conn.fetch(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1",
                schema,
            )
        ]
        out: dict[str, object] = {
            "objects": await conn.fetch(
                "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 ORDER BY 1",
                schema,
            ),
            "functions": await conn.fetchval("SELECT count(*) FROM pg_proc"),
            "roles": await conn.fetchval("SELECT count(*) FROM pg_roles"),
            "public_tables": await conn.fetchval(
                "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
                "AND schemaname NOT LIKE 's\\_%' AND schemaname NOT LIKE 'tools%'"
            ),
        }
        for t in tables:
            out[t] = await conn.fetchval(
                f"SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) "
                f'FROM "{schema}"."{t}" x'
            )
        return out
    finally:
        await conn.close()


async def test_hostile_corpus_is_refused_and_nothing_changes(stack: OpsStack, database_url: str) -> None:
    assert len(HOSTILE) >= 30
    schema = stack.settings.tools_schema
    before = await _snapshot(database_url, schema)
    for sql, error, word in HOSTILE:
        with pytest.raises(error) as info:
            await stack.call("execute_database_query", {"sql": sql})
        assert word.lower() in str(info.value).lower(), (sql, str(info.value))
        if isinstance(info.value, InvalidArgument):
            assert info.value.field == "arguments.sql"
        else:
            assert isinstance(info.value, PermissionDenied)
    assert await _snapshot(database_url, schema) == before


async def test_the_reader_role_cannot_write_or_read_elsewhere(stack: OpsStack, database_url: str) -> None:
    """The second line of defence: even SQL that slipped past the parser meets the role's privileges."""
    schema = stack.settings.tools_schema
    other = unique("s_")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{other}"; CREATE TABLE "{other}".secret (x int)')
        for sql in (
            f"INSERT INTO \"{schema}\".listing_prices VALUES ('x', 1, 1, now())",
            f'CREATE TABLE "{schema}".evil (x int)',
            f'SELECT * FROM "{other}".secret',
            f'SELECT * FROM "{schema}".schema_migrations',
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute(f'SET LOCAL ROLE "{reader_role(schema)}"')
                    await conn.execute(sql)
        n = await conn.fetchval(f"SELECT count(*) FROM \"{schema}\".listing_prices WHERE listing_id = 'x'")
        assert n == 0
    finally:
        await conn.execute(f'DROP SCHEMA "{other}" CASCADE')
        await conn.close()


def test_guard_reports_relations_without_ctes() -> None:
    q = check_query(
        "WITH a AS (SELECT * FROM listings) SELECT * FROM a JOIN schedules s ON true", schema="tools"
    )
    assert q.relations == ("listings", "schedules")
