"""Read-side handlers: executions, history, agents, health — plain SQL over the read models."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from labs.events.v1 import envelope_pb2

from labs_core.errors import EventLogUnavailable, FailedPrecondition, InvalidArgument, NotFound
from labs_core.eventlog import EventLog
from labs_core.ids import require_issued_id
from labs_core.projector import Projector

_STATUSES = {
    "QUEUED",
    "RUNNING",
    "RETRYING",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMED_OUT",
    "BUDGET_EXCEEDED",
}


@dataclass
class ExecutionView:
    """One execution with its calls, as read from the read model, and the recorded events holding
    its large payloads (the output, each tool call's arguments and result), by sequence."""

    row: asyncpg.Record
    tool_calls: list[asyncpg.Record]
    model_calls: list[asyncpg.Record]
    failed_attempts: list[asyncpg.Record]
    payloads: dict[int, envelope_pb2.Event] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryQuery:
    """Filter and page of an agent's history."""

    agent: str
    statuses: Sequence[str] = ()
    start: datetime | None = None
    end: datetime | None = None
    page_size: int = 0
    page_token: str = ""
    limit: int = 0
    offset: int = 0


@dataclass
class HistoryPage:
    """A page of executions and the summary of the filter's window."""

    rows: list[asyncpg.Record]
    next_page_token: str
    total: int
    summary: dict[str, Any]


@dataclass
class ComponentStatus:
    """One health check."""

    name: str
    ok: bool
    latency_ms: float
    message: str = ""


@dataclass
class AgentView:
    """An agent type and its availability."""

    row: asyncpg.Record
    workers_online: int
    running: int
    queue_depth: int


@dataclass
class Presence:
    """Workers seen announcing themselves recently."""

    last_seen: dict[str, float] = field(default_factory=dict)
    window_s: float = 15.0

    def seen(self, worker_id: str) -> None:
        self.last_seen[worker_id] = time.monotonic()

    def online(self) -> int:
        cutoff = time.monotonic() - self.window_s
        return sum(1 for t in self.last_seen.values() if t >= cutoff)


def encode_token(queued_at: datetime, execution_id: str) -> str:
    """An opaque keyset page token."""
    return base64.urlsafe_b64encode(f"{queued_at.isoformat()}|{execution_id}".encode()).decode()


def decode_token(token: str) -> tuple[datetime, str]:
    """The keyset position in a page token; InvalidArgument when it is not one of ours."""
    try:
        at, _, xid = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        return datetime.fromisoformat(at), xid
    except Exception as e:
        raise InvalidArgument("page_token", "not a token this service issued") from e


class Queries:
    """Answers from the runtime's read models, waiting for the projection when needed."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        log_: EventLog,
        projector: Projector,
        presence: Presence,
        *,
        read_your_writes_timeout_s: float = 2.0,
    ) -> None:
        self.pool = pool
        self.s = schema
        self.log = log_
        self.projector = projector
        self.presence = presence
        self.ryw_timeout = read_your_writes_timeout_s

    async def get_execution(self, execution_id: str) -> ExecutionView:
        """One execution. If the read model has not seen it yet but the log has, wait for it."""
        require_issued_id("execution_id", execution_id)
        view = await self._load(execution_id)
        if view is None:
            seq = await self.log.first_sequence("execution", execution_id)
            if seq is None:
                raise NotFound(f"execution {execution_id} not found")
            await self.projector.wait_for(seq, self.ryw_timeout)
            view = await self._load(execution_id)
            if view is None:
                raise NotFound(f"execution {execution_id} is recorded but not yet visible; retry")
        return view

    async def _load(self, execution_id: str) -> ExecutionView | None:
        # One statement, one round trip: the calls come as arrays of their tables' row type.
        s = self.s
        row = await self.pool.fetchrow(
            f"""
            SELECT e.*,
              ARRAY(SELECT t FROM {s}.tool_calls t WHERE t.execution_id = e.execution_id
                    ORDER BY t.attempt, t.step) AS tool_call_rows,
              ARRAY(SELECT m FROM {s}.model_calls m WHERE m.execution_id = e.execution_id
                    ORDER BY m.attempt, m.step) AS model_call_rows,
              ARRAY(SELECT f FROM {s}.failed_attempts f WHERE f.execution_id = e.execution_id
                    ORDER BY f.attempt) AS failed_attempt_rows
            FROM {s}.executions e WHERE e.execution_id = $1
            """,
            execution_id,
        )
        if row is None:
            return None
        view = ExecutionView(row, row["tool_call_rows"], row["model_call_rows"], row["failed_attempt_rows"])
        await self._payloads(view)
        return view

    async def _payloads(self, view: ExecutionView) -> None:
        """Read the events the read model points at; each must be this execution's."""
        xid = view.row["execution_id"]
        seqs = [t["seq"] for t in view.tool_calls]
        if view.row["output_seq"] is not None:
            seqs.append(view.row["output_seq"])
        if not seqs:
            return
        try:
            found = await self.log.read_at(seqs)
        except EventLogUnavailable as e:
            raise EventLogUnavailable(
                f"execution {xid}: its output and tool-call payloads are read from the event log: {e}"
            ) from e
        for seq in seqs:
            se = found.get(seq)
            if se is None or se.event.aggregate_id != xid:
                # The read model and the log disagree: never answer with another event's data.
                raise FailedPrecondition(
                    f"execution {xid}: the log has no event of it at sequence {seq}; "
                    "the read model was built from another log (rebuild it)"
                )
            view.payloads[seq] = se.event

    async def history(self, q: HistoryQuery) -> HistoryPage:
        """An agent's executions, newest first, with a summary of the filtered window."""
        if not q.agent:
            raise InvalidArgument("agent", "required: an agent type such as MARKET")
        bad = [s for s in q.statuses if s not in _STATUSES]
        if bad:
            raise InvalidArgument("status", f"unknown status {bad[0]!r}")
        if q.page_size < 0 or q.limit < 0 or q.offset < 0:
            raise InvalidArgument(
                "page_size" if q.page_size < 0 else "limit" if q.limit < 0 else "offset",
                "must not be negative",
            )
        size = min(q.page_size or q.limit or 50, 500)
        where = ["agent_type = $1"]
        args: list[Any] = [q.agent.upper()]
        if q.statuses:
            args.append(list(q.statuses))
            where.append(f"status = ANY(${len(args)})")
        if q.start:
            args.append(q.start)
            where.append(f"queued_at >= ${len(args)}")
        if q.end:
            args.append(q.end)
            where.append(f"queued_at < ${len(args)}")
        window = " AND ".join(where)
        page_where, page_args = window, list(args)
        if q.page_token:
            at, xid = decode_token(q.page_token)
            page_args += [at, xid]
            page_where += f" AND (queued_at, execution_id) < (${len(page_args) - 1}, ${len(page_args)})"
        offset = q.offset if not q.page_token else 0
        async with self.pool.acquire() as c:
            rows = await c.fetch(
                f"SELECT * FROM {self.s}.executions WHERE {page_where} "
                f"ORDER BY queued_at DESC, execution_id DESC LIMIT {size + 1} OFFSET {offset}",
                *page_args,
            )
            summary = await self._summary(c, window, args)
        more = len(rows) > size
        rows = rows[:size]
        token = encode_token(rows[-1]["queued_at"], rows[-1]["execution_id"]) if more and rows else ""
        return HistoryPage(list(rows), token, summary["executions"], summary)

    async def _summary(self, c: asyncpg.Connection, where: str, args: list[Any]) -> dict[str, Any]:
        dur = "extract(epoch FROM (finished_at - queued_at)) * 1000"
        head = await c.fetchrow(
            f"SELECT count(*) AS n, count(*) FILTER (WHERE status = 'COMPLETED') AS ok, "
            f"count(*) FILTER (WHERE finished_at IS NOT NULL) AS finished, "
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {dur}) AS p50, "
            f"percentile_cont(0.95) WITHIN GROUP (ORDER BY {dur}) AS p95, "
            f"percentile_cont(0.99) WITHIN GROUP (ORDER BY {dur}) AS p99 "
            f"FROM {self.s}.executions WHERE {where}",
            *args,
        )
        errors = await c.fetch(
            f"SELECT error_category AS category, count(*) AS n, max(error_message) AS example "
            f"FROM {self.s}.executions WHERE {where} AND status NOT IN ('COMPLETED') AND error_category IS NOT NULL "
            f"GROUP BY error_category ORDER BY n DESC, error_category LIMIT 5",
            *args,
        )
        trend = await c.fetch(
            f"SELECT to_char(date_trunc('day', queued_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, count(*) AS n, "
            f"count(*) FILTER (WHERE status = 'COMPLETED') AS ok, "
            f"count(*) FILTER (WHERE finished_at IS NOT NULL) AS finished, "
            f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {dur}) AS p50 "
            f"FROM {self.s}.executions WHERE {where} GROUP BY 1 ORDER BY 1 DESC LIMIT 60",
            *args,
        )
        return {
            "executions": head["n"],
            "success_rate": (head["ok"] / head["finished"]) if head["finished"] else 0.0,
            "p50_ms": head["p50"] or 0.0,
            "p95_ms": head["p95"] or 0.0,
            "p99_ms": head["p99"] or 0.0,
            "top_errors": [dict(r) for r in errors],
            "trend": [
                {
                    "day": r["day"],
                    "executions": r["n"],
                    "success_rate": (r["ok"] / r["finished"]) if r["finished"] else 0.0,
                    "p50_ms": r["p50"] or 0.0,
                }
                for r in trend
            ],
        }

    async def list_agents(self) -> list[AgentView]:
        """Registered agents with workers online, executions running and queue depth."""
        async with self.pool.acquire() as c:
            rows = await c.fetch(f"SELECT * FROM {self.s}.agents ORDER BY agent_type")
            running = {
                r["agent_type"]: r["n"]
                for r in await c.fetch(
                    f"SELECT agent_type, count(*) AS n FROM {self.s}.executions "
                    f"WHERE status IN ('RUNNING', 'RETRYING') GROUP BY agent_type"
                )
            }
            queued = {
                r["agent_type"]: r["n"]
                for r in await c.fetch(
                    f"SELECT agent_type, count(*) AS n FROM {self.s}.executions WHERE status = 'QUEUED' "
                    f"GROUP BY agent_type"
                )
            }
        online = self.presence.online()
        return [
            AgentView(r, online, running.get(r["agent_type"], 0), queued.get(r["agent_type"], 0))
            for r in rows
        ]

    async def health(self, component: str) -> list[ComponentStatus]:
        """Real checks of NATS (round trip + stream) and PostgreSQL (a query), with latency."""
        if component not in ("", "nats", "db"):
            raise InvalidArgument("component", "one of: nats, db (or none for all)")
        checks = []
        if component in ("", "nats"):
            checks.append(self._check_nats())
        if component in ("", "db"):
            checks.append(self._check_db())
        return list(await asyncio.gather(*checks))

    async def _check_nats(self) -> ComponentStatus:
        t = time.perf_counter()
        try:
            if not self.log.nc.is_connected:
                raise ConnectionError("not connected")
            info = await asyncio.wait_for(self.log.js.stream_info(self.log.stream), 2.0)
            msg = f"stream {self.log.stream}: {info.state.messages} events"
            return ComponentStatus("nats", True, (time.perf_counter() - t) * 1000, msg)
        except Exception as e:
            return ComponentStatus(
                "nats", False, (time.perf_counter() - t) * 1000, f"{type(e).__name__}: {e}"
            )

    async def _check_db(self) -> ComponentStatus:
        t = time.perf_counter()
        try:
            async with asyncio.timeout(2.0), self.pool.acquire() as c:
                await c.fetchval("SELECT 1")
            lag = f"projection at sequence {self.projector.checkpoint}"
            return ComponentStatus("db", True, (time.perf_counter() - t) * 1000, lag)
        except Exception as e:
            return ComponentStatus("db", False, (time.perf_counter() - t) * 1000, f"{type(e).__name__}: {e}")
