"""Composition root of the metrics service: event log, migrations, projector, gRPC server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

import asyncpg
from labs.agents.v1 import agent_service_pb2_grpc

from labs_core import telemetry
from labs_core.eventlog import EventLog
from labs_core.grpcutil import GrpcServer
from labs_core.migrations import migrate
from labs_core.projector import Projection, Projector
from services.metrics.adapters.queue_probe import JetStreamQueueProbe
from services.metrics.adapters.rollup_reader import RollupReader
from services.metrics.config import Settings
from services.metrics.entrypoints.grpc_servicer import SERVICE_NAME, MetricsServicer
from services.metrics.handlers.queries import GetMetrics, utc_now
from services.metrics.projections.execution_metrics import MIGRATIONS, ExecutionMetrics

log = logging.getLogger(__name__)

SCHEMA = "metrics"


async def migrate_schema(database_url: str, schema: str = SCHEMA) -> None:
    """Apply the metrics migrations to `schema` (idempotent, advisory-locked)."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, schema, MIGRATIONS)
    finally:
        await conn.close()


def projections(prefix: str, schema: str) -> list[Projection]:
    """Every projection this service keeps in `schema` (what `labs-audit verify` rebuilds and diffs)."""
    return [ExecutionMetrics(prefix, lock_scope=schema)]


class MetricsApp:
    """The running service: projector task, query pool and gRPC server. `start`, then `stop`."""

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self.eventlog: EventLog | None = None
        self.pool: asyncpg.Pool | None = None
        self.projector: Projector | None = None
        self.server: GrpcServer | None = None
        self._projector_task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The port the gRPC server listens on (useful when bound to port 0)."""
        if self.server is None:
            raise RuntimeError("not started")
        return self.server.port

    async def start(self) -> None:
        """Connect, migrate, start projecting and serving."""
        s = self.settings
        internal = s.internal_auth()  # first: no secret, no start
        try:
            self.eventlog = await EventLog.connect(
                s.nats_url, stream=s.stream_name, prefix=s.subject_prefix, name="metrics"
            )
            await self.eventlog.ensure_stream()
            await migrate_schema(s.database_url, s.metrics_schema)
            self.pool = await asyncpg.create_pool(s.database_url, min_size=1, max_size=s.metrics_db_pool_size)
            (projection,) = projections(s.subject_prefix, s.metrics_schema)
            self.projector = Projector(
                self.eventlog,
                s.database_url,
                s.metrics_schema,
                projection,
                batch_size=s.metrics_projector_batch,
            )
            self._projector_task = asyncio.create_task(self.projector.run(), name="metrics-projector")
            probe = JetStreamQueueProbe(
                self.eventlog.js, s.stream_name, s.worker_consumer, timeout_s=s.queue_probe_timeout_s
            )
            handler = GetMetrics(RollupReader(self.pool, s.metrics_schema), probe, self.clock)
            self.server = GrpcServer(
                f"{s.bind_host}:{s.port_of(s.metrics_addr)}",
                [SERVICE_NAME],
                grace_s=s.shutdown_grace_s,
                auth=internal,
            )
            agent_service_pb2_grpc.add_AgentServiceServicer_to_server(
                MetricsServicer(handler), self.server.server
            )
            await self.server.start()
        except BaseException:
            await self.stop()
            raise
        log.info("metrics service listening on %s:%d", s.bind_host, self.server.port)

    async def stop(self) -> None:
        """Stop serving (gracefully), stop projecting, close connections (idempotent)."""
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self._projector_task is not None:
            assert self.projector is not None
            self.projector.stop()
            self._projector_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._projector_task
            self._projector_task = None
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
        if self.eventlog is not None:
            await self.eventlog.close()
            self.eventlog = None


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Run the metrics service until `stop` is set."""
    app = MetricsApp(settings)
    await app.start()
    try:
        await telemetry.expose(settings, "metrics", stop, eventlog=app.eventlog)
        await stop.wait()
    finally:
        await app.stop()
