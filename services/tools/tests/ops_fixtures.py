"""A tools stack for the scheduling/system tools: seeded listings, ops projectors, invoker (real NATS + Postgres)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from labs_core.eventlog import EventLog
from labs_core.projector import Projector
from labs_core.testing import internal_auth
from services.tools.adapters.listing_events import ListingEventStore
from services.tools.adapters.listing_read_model import ListingReadModel
from services.tools.bootstrap import migrate_schema
from services.tools.config import Settings
from services.tools.domain.registry import Registry, ToolContext
from services.tools.ops_wiring import Ops, start_ops
from services.tools.projections.listings import ListingsProjection
from services.tools.service_layer.invoker import Invoker
from services.tools.service_layer.listings import ListingService
from services.tools.service_layer.seeding import CatalogueSeeder
from services.tools.toolbox.market import register_market_tools


@dataclass
class OpsStack:
    """What the tests use."""

    settings: Settings
    eventlog: EventLog
    pool: asyncpg.Pool
    projector: Projector
    registry: Registry
    invoker: Invoker
    ops: Ops

    async def call(
        self, name: str, args: dict[str, Any], agent: str = "ADMIN", key: str = ""
    ) -> dict[str, Any]:
        """Invoke a tool as an agent type, called by an admin for ADMIN and by an operator otherwise."""
        role = "admin" if agent == "ADMIN" else "operator"
        ctx = ToolContext(agent_type=agent, idempotency_key=key, actor=f"test-{role}", role=role)
        out = await self.invoker.invoke(name, args, ctx)
        return out.result


@contextlib.asynccontextmanager
async def ops_stack(
    eventlog: EventLog, database_url: str, schema: str, *, size: int = 60, **overrides: Any
) -> AsyncIterator[OpsStack]:
    """Migrate, seed `size` listings, start the ops parts (scheduler off unless asked)."""
    settings = Settings(
        nats_url=eventlog.url,
        database_url=database_url,
        stream_name=eventlog.stream,
        subject_prefix=eventlog.prefix,
        tools_schema=schema,
        scheduler_enabled=overrides.pop("scheduler_enabled", False),
        **overrides,
    )
    await migrate_schema(database_url, schema)
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=4, server_settings={"search_path": schema}
    )
    projector = Projector(eventlog, database_url, schema, ListingsProjection(eventlog.prefix, schema))
    task = asyncio.create_task(projector.run())
    store = ListingEventStore(eventlog)
    read_model = ListingReadModel(pool)
    listings = ListingService(store, read_model, projector)
    registry = Registry()
    register_market_tools(registry, listings)
    ops = await start_ops(settings, eventlog, pool, registry, projector, internal_auth())
    if size:
        await CatalogueSeeder(store, read_model, projector, seed=7, size=size).run()
    stack = OpsStack(settings, eventlog, pool, projector, registry, Invoker(registry), ops)
    try:
        yield stack
    finally:
        await ops.stop()
        projector.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pool.close()
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.execute(f'DROP OWNED BY "{schema}_query_reader"')
            await conn.execute(f'DROP ROLE IF EXISTS "{schema}_query_reader"')
        finally:
            await conn.close()
