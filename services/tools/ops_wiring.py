"""Composition of the scheduling/system tools, the scheduler and remote tools (called by bootstrap)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import asyncpg

from labs_core.auth import InternalAuth
from labs_core.eventlog import EventLog
from labs_core.projector import Projector
from services.tools.adapters.listing_read_model import ListingReadModel
from services.tools.config import Settings
from services.tools.domain.registry import Registry
from services.tools.projections.ops import RemoteToolsProjection, SchedulesProjection
from services.tools.service_layer.batch import BatchService
from services.tools.service_layer.query import QueryLimits, QueryService
from services.tools.service_layer.remote_tools import RemoteTools
from services.tools.service_layer.schedules import RuntimeSubmitter, Scheduler, ScheduleService
from services.tools.toolbox.ops import register_ops_tools


@dataclass
class Ops:
    """The running parts: projectors, scheduler, remote-tool monitor; `stop` ends them all."""

    schedules: ScheduleService
    remote: RemoteTools
    scheduler: Scheduler | None
    submitter: RuntimeSubmitter | None
    projectors: list[Projector]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        """Stop the loops and projectors, close channels (idempotent)."""
        if self.scheduler is not None:
            self.scheduler.stop()
        for p in self.projectors:
            p.stop()
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self.tasks.clear()
        await self.remote.close()
        if self.submitter is not None:
            await self.submitter.close()


async def start_ops(
    s: Settings,
    eventlog: EventLog,
    pool: asyncpg.Pool,
    registry: Registry,
    listings_projector: Projector,
    internal: InternalAuth,
) -> Ops:
    """Register the tools, start the schedule and remote-tool projectors, the scheduler and the monitor."""
    sched_proj = Projector(
        eventlog, s.database_url, s.tools_schema, SchedulesProjection(s.subject_prefix, s.tools_schema)
    )
    tools_proj = Projector(
        eventlog, s.database_url, s.tools_schema, RemoteToolsProjection(s.subject_prefix, s.tools_schema)
    )
    tasks = [
        asyncio.create_task(sched_proj.run(), name="tools-schedules-projector"),
        asyncio.create_task(tools_proj.run(), name="tools-remote-tools-projector"),
    ]
    schedules = ScheduleService(eventlog, pool, sched_proj, read_wait_s=s.read_wait_s)
    query = QueryService(
        pool,
        s.tools_schema,
        QueryLimits(statement_timeout_ms=s.query_statement_timeout_ms, max_rows=s.query_max_rows),
    )
    batch = BatchService(
        eventlog,
        listings_projector,
        read_wait_s=s.read_wait_s,
        after_bulk_change=ListingReadModel(pool).analyze,
    )
    register_ops_tools(registry, schedules, query, batch)
    remote = RemoteTools(
        eventlog,
        pool,
        tools_proj,
        registry,
        interval_s=s.remote_tool_check_s,
        failures=s.remote_tool_failures,
        check_timeout_s=s.remote_tool_check_timeout_s,
        read_wait_s=s.read_wait_s,
    )
    # Registrations made before a restart (or by another replica) are served at once.
    await caught_up(eventlog, tools_proj, s.read_wait_s)
    await remote.sync()
    tasks.append(asyncio.create_task(remote.run(), name="tools-remote-tool-monitor"))
    scheduler = submitter = None
    if s.scheduler_enabled:
        submitter = RuntimeSubmitter(s.runtime_addr, internal)
        scheduler = Scheduler(
            eventlog,
            pool,
            submitter,
            tick_s=s.scheduler_tick_s,
            grace_s=s.scheduler_grace_s,
            name="tools-scheduler",
        )
        tasks.append(asyncio.create_task(scheduler.run(), name="tools-scheduler"))
    return Ops(schedules, remote, scheduler, submitter, [sched_proj, tools_proj], tasks)


async def caught_up(eventlog: EventLog, projector: Projector, timeout_s: float) -> bool:
    """Wait (bounded) until the projector has applied every event of its subjects there is now."""
    subjects = projector.projection.subjects
    deadline = asyncio.get_running_loop().time() + timeout_s
    while await eventlog.pending_count(subjects, projector.checkpoint + 1) > 0:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
