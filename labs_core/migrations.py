"""Per-schema SQL migrations, applied in order and recorded as applied.

A service keeps its migrations as `NNNN_name.sql` files in one folder. They are written without
a schema name: each runs with `search_path` set to the target schema, so the same files build
the live schema and a scratch schema for an audit rebuild.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

import asyncpg

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

CORE_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
  version text PRIMARY KEY,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS projection_checkpoints (
  projection text PRIMARY KEY,
  last_sequence bigint NOT NULL
);
"""


def check_schema_name(schema: str) -> str:
    """The schema name, if it is a plain lower-case identifier; ValueError otherwise."""
    if not _SCHEMA_RE.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


def _read_folder(folder: Path) -> list[tuple[str, str]]:
    return [(p.stem, p.read_text()) for p in sorted(folder.glob("*.sql"))]


async def migrate(conn: asyncpg.Connection, schema: str, folder: Path) -> list[str]:
    """Apply the folder's pending migrations to `schema`; returns the versions applied."""
    check_schema_name(schema)
    applied_now: list[str] = []
    lock_key = int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True)
    await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        async with conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{schema}"')
            await conn.execute(CORE_SQL)
        done = {
            r["version"]: r["checksum"]
            for r in await conn.fetch(f'SELECT version, checksum FROM "{schema}".schema_migrations')
        }
        for version, sql in await asyncio.to_thread(_read_folder, folder):
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if version in done:
                if done[version] != checksum:
                    raise RuntimeError(f"migration {schema}/{version} changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(f'SET LOCAL search_path TO "{schema}"')
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", version, checksum
                )
            applied_now.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    return applied_now
