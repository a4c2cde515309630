"""The runtime's composition root: builds the log, database pool, projector, worker and servicer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable

import asyncpg
from labs.agents.v1 import agent_service_pb2_grpc
from nats.aio.msg import Msg

from labs_core import telemetry
from labs_core.eventlog import EventLog
from labs_core.grpcutil import GrpcServer
from labs_core.migrations import migrate
from labs_core.projector import Projection, Projector
from services.runtime.adapters.llm_client import LlmClient
from services.runtime.adapters.memory_store import PgMemoryReader
from services.runtime.adapters.tools_client import ToolsClient
from services.runtime.agents import DEFAULT_AGENTS
from services.runtime.config import Settings
from services.runtime.domain.registry import AgentRegistry, discover
from services.runtime.entrypoints.grpc_servicer import RuntimeAgentService
from services.runtime.handlers.commands import Commands
from services.runtime.handlers.queries import Presence, Queries
from services.runtime.projections.executions import MIGRATIONS, ExecutionsProjection
from services.runtime.worker.consumer import Worker, WorkerConfig, presence_ping_subject, presence_subject
from services.runtime.worker.runner import Runner

log = logging.getLogger("runtime")

SERVICE_NAME = "labs.agents.v1.AgentService"


async def migrate_schema(database_url: str, schema: str = "runtime") -> None:
    """Apply the runtime's migrations."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, schema, MIGRATIONS)
    finally:
        await conn.close()


def projections(prefix: str, schema: str) -> list[Projection]:
    """Every projection this service keeps in `schema` (what `labs-audit verify` rebuilds and diffs)."""
    return [ExecutionsProjection(prefix)]


def build_registry(settings: Settings) -> AgentRegistry:
    """The default agents plus any configured or installed custom agents."""
    return AgentRegistry([*DEFAULT_AGENTS, *discover(settings.agent_modules.split(","))])


def worker_config(settings: Settings) -> WorkerConfig:
    """The worker's consumption settings."""
    return WorkerConfig(
        consumer=settings.worker_consumer,
        max_concurrency=settings.worker_concurrency,
        heartbeat_s=settings.worker_heartbeat_s,
        ack_wait_s=settings.worker_ack_wait_s,
    )


async def serve(settings: Settings, stop: asyncio.Event, *, ready: asyncio.Event | None = None) -> None:
    """Run the runtime (API, worker, or both) until `stop` is set."""
    internal = settings.internal_auth()  # first: no secret, no start
    eventlog = await EventLog.connect(
        settings.nats_url, stream=settings.stream_name, prefix=settings.subject_prefix, name="runtime"
    )
    await eventlog.ensure_stream()
    await migrate_schema(settings.database_url, settings.runtime_schema)
    registry = build_registry(settings)
    commands = Commands(eventlog, registry)
    tasks: list[asyncio.Task[None]] = []
    server: GrpcServer | None = None
    pool: asyncpg.Pool | None = None
    tools = ToolsClient(settings.tools_addr, internal)
    llm = LlmClient(settings.llm_addr, internal)
    try:
        # Workers read agent memory, the API serves queries: both from the runtime's read models.
        pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=settings.db_pool_max)
        if settings.runtime_role in ("all", "worker"):
            worker_id = settings.worker_id or f"{socket.gethostname()}-{os.getpid()}"
            runner = Runner(
                eventlog,
                registry,
                tools,
                llm,
                worker_id=worker_id,
                memory=PgMemoryReader(pool, settings.runtime_schema),
            )
            worker = Worker(eventlog, runner, worker_config(settings))
            telemetry.watch_worker(worker)
            await worker.ensure_consumer()
            tasks.append(asyncio.create_task(worker.run(stop), name="worker"))
        if settings.runtime_role in ("all", "api"):
            registered = await commands.register_agents()
            log.info("agents: %s", ", ".join(f"{t} v{v}{' (new)' if n else ''}" for t, v, n in registered))
            projector = Projector(
                eventlog,
                settings.database_url,
                settings.runtime_schema,
                ExecutionsProjection(settings.subject_prefix),
            )
            tasks.append(asyncio.create_task(projector.run(), name="projector"))
            presence = Presence()
            await eventlog.nc.subscribe(presence_subject(settings.subject_prefix), cb=_presence_cb(presence))
            await eventlog.nc.publish(presence_ping_subject(settings.subject_prefix), b"")
            queries = Queries(
                pool,
                settings.runtime_schema,
                eventlog,
                projector,
                presence,
                read_your_writes_timeout_s=settings.read_your_writes_timeout_s,
            )
            server = GrpcServer(
                f"{settings.bind_host}:{settings.port_of(settings.runtime_addr)}",
                [SERVICE_NAME],
                grace_s=settings.shutdown_grace_s,
                auth=internal,
            )
            agent_service_pb2_grpc.add_AgentServiceServicer_to_server(
                RuntimeAgentService(commands, queries), server.server
            )
            await server.start()
            log.info("runtime API on %s", settings.runtime_addr)
        await telemetry.expose(settings, "runtime", stop, eventlog=eventlog)
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        if server is not None:
            await server.stop()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await tools.close()
        await llm.close()
        if pool is not None:
            await pool.close()
        await eventlog.close()


def _presence_cb(presence: Presence) -> Callable[[Msg], Awaitable[None]]:
    async def cb(msg: Msg) -> None:
        presence.seen(msg.data.decode())

    return cb
