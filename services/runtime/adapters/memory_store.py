"""Reads agent memory from the runtime's own read model."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from labs_core.migrations import check_schema_name


class PgMemoryReader:
    """MemoryReader over the `agent_memory` table of the runtime's schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.s = check_schema_name(schema)

    async def read(self, agent_type: str, key: str) -> tuple[bool, Any]:
        """(found, value) of one key."""
        text = await self.pool.fetchval(
            f"SELECT value::text FROM {self.s}.agent_memory WHERE agent_type = $1 AND key = $2",
            agent_type,
            key,
        )
        return (False, None) if text is None else (True, json.loads(text))
