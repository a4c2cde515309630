"""Fixtures of the tools service tests: a seeded catalogue on real NATS and Postgres."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest_asyncio

from labs_core.eventlog import EventLog, StoredEvent
from labs_core.projector import Projector
from labs_core.testing import unique
from services.tools.adapters.listing_events import ListingEventStore
from services.tools.adapters.listing_read_model import ListingReadModel
from services.tools.bootstrap import build_registry, migrate_schema
from services.tools.projections.listings import ListingsProjection
from services.tools.service_layer.invoker import Invoker
from services.tools.service_layer.listings import ListingService
from services.tools.service_layer.seeding import CatalogueSeeder, SeedReport

SEED = 4242
SIZE = 2000
HOUR_NS = 3_600 * 1_000_000_000


@dataclass
class Catalogue:
    """A running listings stack: log, projector, read model, service, registry, invoker."""

    eventlog: EventLog
    schema: str
    pool: asyncpg.Pool
    projector: Projector
    store: ListingEventStore
    read_model: ListingReadModel
    listings: ListingService
    invoker: Invoker
    seeder: CatalogueSeeder
    task: asyncio.Task[None]

    async def close(self) -> None:
        self.projector.stop()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.pool.close()


async def open_catalogue(
    eventlog: EventLog, database_url: str, schema: str, *, seed: int = SEED, size: int = SIZE
) -> Catalogue:
    """Migrate, start the projector, wire the service (without seeding)."""
    await migrate_schema(database_url, schema)
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=4, server_settings={"search_path": schema}
    )
    projector = Projector(eventlog, database_url, schema, ListingsProjection(eventlog.prefix, schema))
    task = asyncio.create_task(projector.run())
    store = ListingEventStore(eventlog)
    read_model = ListingReadModel(pool)
    listings = ListingService(store, read_model, projector)
    seeder = CatalogueSeeder(store, read_model, projector, seed=seed, size=size)
    invoker = Invoker(build_registry(listings))
    return Catalogue(eventlog, schema, pool, projector, store, read_model, listings, invoker, seeder, task)


async def all_events(eventlog: EventLog) -> list[StoredEvent]:
    """Every listing event in the stream, read straight from NATS (independent of Postgres)."""
    subjects = [f"{eventlog.prefix}.listing.>"]
    total = await eventlog.pending_count(subjects, 1)
    out: list[StoredEvent] = []
    if total == 0:
        return out
    async for batch in eventlog.subscribe(subjects, 1, batch_size=2000):
        out.extend(batch)
        if len(out) >= total:
            break
    return out


@dataclass
class Seeded:
    """The module's seeded catalogue and what the seeding reported."""

    cat: Catalogue
    report: SeedReport
    anchor_ns: int
    events: list[StoredEvent]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def seeded(nats_url: str, database_url: str) -> AsyncIterator[Seeded]:
    """A 2,000-listing catalogue seeded once for the module, projected and caught up."""
    tag = unique("m")
    log = await EventLog.connect(nats_url, stream=tag.upper(), prefix=tag, name=f"test-{tag}")
    await log.ensure_stream()
    schema = unique("s_")
    cat = await open_catalogue(log, database_url, schema)
    try:
        import time

        anchor = time.time_ns() // HOUR_NS * HOUR_NS
        report = await cat.seeder.run(anchor_ns=anchor)
        last = await log.last_sequence()
        assert await cat.projector.wait_for(last, 30)
        yield Seeded(cat, report, anchor, await all_events(log))
    finally:
        await cat.close()
        try:
            await log.js.delete_stream(log.stream)
        finally:
            await log.close()
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
