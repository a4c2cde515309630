"""GetMetrics: validate the request, pick the window, read rollups and queue, assemble the report."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from labs_core.errors import InvalidArgument
from services.metrics.domain.periods import Period, Window, parse_period
from services.metrics.domain.report import MetricsReport, QueueDepth, RollupRows, build_report

_AGENT_TYPE = re.compile(r"^[A-Z0-9_.-]{1,64}$")


class RollupSource(Protocol):
    """Where the rollups of a window come from."""

    async def read(
        self, period: Period, window: Window, agent_type: str, *, timeout: float
    ) -> RollupRows: ...


class QueueSource(Protocol):
    """Where the worker queue's depth comes from (None when unknown)."""

    async def depth(self, timeout: float | None = None) -> QueueDepth | None: ...


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def normalize_agent_type(text: str) -> str:
    """Agent types are upper-case names (e.g. MARKET); empty means all."""
    name = text.strip().upper()
    if name and not _AGENT_TYPE.match(name):
        raise InvalidArgument(
            "agent_type", "must be an agent type name such as MARKET (letters, digits, _ . -)"
        )
    return name


class GetMetrics:
    """The GetMetrics use case."""

    def __init__(
        self, rollups: RollupSource, queue: QueueSource, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.rollups = rollups
        self.queue = queue
        self.clock = clock

    async def __call__(self, period: str, agent_type: str, *, timeout: float = 10.0) -> MetricsReport:
        """The report for `period` (1h, 24h, 7d or 30d; empty: 24h), of one agent type or all."""
        p = parse_period(period)
        agent = normalize_agent_type(agent_type)
        window = p.window(self.clock())
        queue_task = asyncio.create_task(self.queue.depth(timeout))
        try:
            rows = await self.rollups.read(p, window, agent, timeout=timeout)
            queue = await queue_task
        finally:
            queue_task.cancel()  # only matters when the read failed
        return build_report(p, window, rows, queue, agent_type=agent)
