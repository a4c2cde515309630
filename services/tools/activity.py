"""Wiring of the activity tools (content, analytics, system): their projector, services and tools.

Called from bootstrap.py (the composition root) so that the root stays one short list.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import aiohttp
import asyncpg

from labs_core.auth import InternalAuth
from labs_core.eventlog import EventLog
from labs_core.projector import Projector
from services.tools.adapters.collection_events import COLLECTION, NOTIFICATION, AggregateStore
from services.tools.adapters.llm_client import LlmClient
from services.tools.adapters.webhook import RetryPolicy, WebhookSender
from services.tools.config import Settings
from services.tools.domain.registry import Registry
from services.tools.projections.activity import ActivityProjection
from services.tools.service_layer.analytics import Analytics
from services.tools.service_layer.collections import CollectionService
from services.tools.service_layer.notifications import Endpoint, NotificationService
from services.tools.toolbox.analytics import register_analytics_tools
from services.tools.toolbox.content import register_content_tools
from services.tools.toolbox.system import register_system_tools


def service_addrs(s: Settings) -> dict[str, str]:
    """The gRPC address of every service, for the health checks."""
    return {
        "runtime": s.runtime_addr,
        "tools": s.tools_addr,
        "llm": s.llm_addr,
        "metrics": s.metrics_addr,
        "gateway": s.gateway_grpc_addr,
    }


@dataclass
class ActivityTools:
    """What the activity tools run on; `stop` releases it (idempotent)."""

    projector: Projector
    collections: CollectionService
    notifications: NotificationService
    analytics: Analytics
    llm: LlmClient
    http: aiohttp.ClientSession
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop the projector, close the HTTP session and the llm channel."""
        self.projector.stop()
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        if not self.http.closed:
            await self.http.close()
        await self.llm.close()


async def start_activity_tools(
    s: Settings,
    eventlog: EventLog,
    pool: asyncpg.Pool,
    registry: Registry,
    internal: InternalAuth,
    *,
    addrs: dict[str, str] | None = None,
) -> ActivityTools:
    """Start the activity projector and register the six tools on `registry`."""
    projector = Projector(
        eventlog, s.database_url, s.tools_schema, ActivityProjection(eventlog.prefix, s.tools_schema)
    )
    task = asyncio.create_task(projector.run(), name="tools-activity-projector")
    http = aiohttp.ClientSession()
    llm = LlmClient(s.llm_addr, internal)
    collections = CollectionService(
        AggregateStore(eventlog, COLLECTION), pool, projector, read_wait_s=s.read_wait_s
    )
    endpoints = {
        name: Endpoint(e.url, e.secret.get_secret_value().encode()) for name, e in s.webhook_endpoints.items()
    }
    sender = WebhookSender(
        http, RetryPolicy(s.webhook_max_attempts, s.webhook_backoff_s, s.webhook_timeout_s)
    )
    notifications = NotificationService(
        AggregateStore(eventlog, NOTIFICATION), pool, projector, sender, endpoints, read_wait_s=s.read_wait_s
    )
    analytics = Analytics(pool)
    register_content_tools(registry, llm, collections)
    register_analytics_tools(registry, analytics)
    register_system_tools(
        registry,
        eventlog=eventlog,
        pool=pool,
        service_addrs=addrs if addrs is not None else service_addrs(s),
        notifications=notifications,
        lag_warn=s.consumer_lag_warn,
    )
    return ActivityTools(projector, collections, notifications, analytics, llm, http, task)
