"""The composition root: event log, read model, projector, registry, servicer, gRPC server."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from labs.tools.v1 import tool_service_pb2, tool_service_pb2_grpc

from labs_core import telemetry
from labs_core.eventlog import EventLog
from labs_core.grpcutil import GrpcServer
from labs_core.migrations import migrate
from labs_core.projector import Projection, Projector
from services.tools.activity import ActivityTools, start_activity_tools
from services.tools.adapters.listing_events import ListingEventStore
from services.tools.adapters.listing_read_model import ListingReadModel
from services.tools.config import Settings
from services.tools.domain.registry import Registry
from services.tools.entrypoints.grpc_servicer import ToolServicer
from services.tools.ops_wiring import Ops, start_ops
from services.tools.projections.activity import ActivityProjection
from services.tools.projections.listings import MIGRATIONS, ListingsProjection
from services.tools.projections.ops import RemoteToolsProjection, SchedulesProjection
from services.tools.service_layer.invoker import Invoker, LimitPolicy
from services.tools.service_layer.listings import ListingService
from services.tools.service_layer.seeding import CatalogueSeeder, SeedReport
from services.tools.toolbox.market import register_market_tools

log = logging.getLogger(__name__)

SERVICE_NAME = tool_service_pb2.DESCRIPTOR.services_by_name["ToolService"].full_name


async def migrate_schema(database_url: str, schema: str = "tools") -> None:
    """Apply the tools service's migrations (idempotent, advisory-locked)."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, schema, MIGRATIONS)
    finally:
        await conn.close()


def projections(prefix: str, schema: str) -> list[Projection]:
    """Every projection this service keeps in `schema` (what `labs-audit verify` rebuilds and diffs)."""
    return [
        ListingsProjection(prefix, schema),
        ActivityProjection(prefix, schema),
        SchedulesProjection(prefix, schema),
        RemoteToolsProjection(prefix, schema),
    ]


def build_registry(listings: ListingService) -> Registry:
    """Every tool this service serves, on one explicit registry."""
    registry = Registry()
    register_market_tools(registry, listings)
    return registry


def limit_policy(settings: Settings) -> LimitPolicy:
    """The invocation limits from the settings."""
    overrides = {
        name: {k: v for k, v in limit.model_dump().items() if v is not None}
        for name, limit in settings.tool_limits.items()
    }
    return LimitPolicy(
        timeout_s=settings.tool_timeout_s, max_concurrency=settings.tool_max_concurrency, overrides=overrides
    )


class ToolsService:
    """The running service: `start`, then `stop` (idempotent); or `async with`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.eventlog: EventLog | None = None
        self.pool: asyncpg.Pool | None = None
        self.projector: Projector | None = None
        self.registry: Registry | None = None
        self.invoker: Invoker | None = None
        self.listings: ListingService | None = None
        self.seeder: CatalogueSeeder | None = None
        self.seed_report: SeedReport | None = None
        self.activity: ActivityTools | None = None
        self.ops: Ops | None = None
        self.server: GrpcServer | None = None
        self._projector_task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        """The port the gRPC server listens on."""
        assert self.server is not None, "not started"
        return self.server.port

    async def start(self) -> None:
        """Connect, migrate, project, seed, then serve."""
        s = self.settings
        internal = s.internal_auth()  # first: no secret, no start
        self.eventlog = await EventLog.connect(
            s.nats_url, stream=s.stream_name, prefix=s.subject_prefix, name="tools"
        )
        await self.eventlog.ensure_stream()
        await migrate_schema(s.database_url, s.tools_schema)
        self.pool = await asyncpg.create_pool(
            s.database_url,
            min_size=1,
            max_size=s.db_pool_size,
            server_settings={"search_path": s.tools_schema},
        )
        projection = ListingsProjection(s.subject_prefix, s.tools_schema)
        self.projector = Projector(self.eventlog, s.database_url, s.tools_schema, projection)
        self._projector_task = asyncio.create_task(self.projector.run(), name="tools-listings-projector")
        store = ListingEventStore(self.eventlog)
        read_model = ListingReadModel(self.pool)
        self.listings = ListingService(
            store,
            read_model,
            self.projector,
            read_wait_s=s.read_wait_s,
            cache_entries=s.listings_cache_entries,
            market_stats_max_age_s=s.market_stats_max_age_s,
        )
        self.registry = build_registry(self.listings)
        self.activity = await start_activity_tools(s, self.eventlog, self.pool, self.registry, internal)
        self.ops = await start_ops(s, self.eventlog, self.pool, self.registry, self.projector, internal)
        self.invoker = Invoker(self.registry, limit_policy(s), memo_entries=s.tool_memo_entries)
        self.seeder = CatalogueSeeder(
            store, read_model, self.projector, seed=s.catalogue_seed, size=s.catalogue_size
        )
        if s.catalogue_seed_enabled and s.catalogue_size > 0:
            self.seed_report = await self.seeder.run()

        self.server = GrpcServer(
            f"{s.bind_host}:{s.port_of(s.tools_addr)}",
            [SERVICE_NAME],
            grace_s=s.shutdown_grace_s,
            auth=internal,
        )
        servicer = ToolServicer(self.registry, self.invoker, notifications=self.activity.notifications)
        servicer.remote_tools = self.ops.remote
        tool_service_pb2_grpc.add_ToolServiceServicer_to_server(servicer, self.server.server)
        await self.server.start()
        log.info("tools service on port %d with %d tools", self.server.port, len(self.registry))

    async def stop(self) -> None:
        """Stop serving (with grace), stop the projector, close the pool and the log (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self.server is not None:
            await self.server.stop()
        if self.projector is not None:
            self.projector.stop()
        if self._projector_task is not None:
            self._projector_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._projector_task
        if self.activity is not None:
            await self.activity.stop()
        if self.ops is not None:
            await self.ops.stop()
        if self.pool is not None:
            await self.pool.close()
        if self.eventlog is not None:
            await self.eventlog.close()

    async def __aenter__(self) -> ToolsService:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the tools service until `stop` is set, then shut down gracefully."""
    async with ToolsService(settings) as svc:
        await telemetry.expose(settings, "tools", stop, eventlog=svc.eventlog)
        await stop.wait()
