"""End to end: executions submitted over HTTP or gRPC, followed until COMPLETED in the read model."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import grpc
from google.protobuf import struct_pb2
from labs.agents.v1 import agent_service_pb2, agent_service_pb2_grpc

from bench.measure import CpuSnapshot, open_loop, percentiles, to_ms
from labs_core.auth import TOOLING, channel_as, env_auth

TERMINAL = ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED", "BUDGET_EXCEEDED")
TASK = {"type": "MARKET", "action": "analyze_market", "input": {"category": "electronics"}}


@dataclass
class Seen:
    """When an execution was submitted and when its terminal row became visible."""

    submitted_wall: float
    reply_s: float = 0.0
    visible_s: float | None = None
    lag_s: float | None = None
    status: str = ""


@dataclass
class Tracker:
    """Polls the runtime's read model (one indexed query for the outstanding ids) every `every_s`.

    A poll asks about the `window` oldest outstanding ids only: executions finish roughly in the
    order they were submitted (one durable consumer), and a poll over thousands of ids at full
    speed cost PostgreSQL 8 ms each, CPU taken from the stack under test on this small machine.
    One that finishes ahead of the window is seen when the window reaches it (its latency is then
    overstated, never understated).
    """

    pool: asyncpg.Pool
    schema: str = "runtime"
    every_s: float = 0.002
    seen: dict[str, Seen] = field(default_factory=dict)
    window: int = 256
    #: Outstanding ids, oldest first (a dict keeps insertion order).
    pending: dict[str, None] = field(default_factory=dict)
    polls: int = 0
    #: The PostgreSQL backend serving the polls: its CPU is the benchmark's, not the stack's.
    backend_pid: int = 0

    def add(self, execution_id: str, seen: Seen) -> None:
        """Follow one more execution."""
        self.seen[execution_id] = seen
        self.pending[execution_id] = None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set."""
        sql = (
            f"SELECT execution_id, status, finished_at FROM {self.schema}.executions "
            "WHERE execution_id = ANY($1::text[]) AND status = ANY($2::text[])"
        )
        async with self.pool.acquire() as conn:
            self.backend_pid = int(await conn.fetchval("SELECT pg_backend_pid()"))
            stmt = await conn.prepare(sql)
            while not stop.is_set():
                if self.pending:
                    oldest = list(itertools.islice(self.pending, self.window))
                    rows = await stmt.fetch(oldest, list(TERMINAL))
                    now = time.time()
                    self.polls += 1
                    for r in rows:
                        xid = r["execution_id"]
                        s = self.seen[xid]
                        s.visible_s = now - s.submitted_wall
                        s.status = r["status"]
                        if r["finished_at"] is not None:
                            s.lag_s = now - r["finished_at"].timestamp()
                        self.pending.pop(xid, None)
                # A long backlog is polled less often: its latencies are seconds, and a poll over
                # thousands of ids would take CPU from the stack on this small machine.
                await asyncio.sleep(self.every_s if len(self.pending) <= 64 else self.every_s * 10)

    async def wait_all(self, timeout_s: float) -> None:
        """Until nothing is pending or the time is up."""
        deadline = time.monotonic() + timeout_s
        while self.pending and time.monotonic() < deadline:  # noqa: ASYNC110 - polled, like the read model
            await asyncio.sleep(0.01)


class Submitter:
    """Execute over HTTP (gateway) or gRPC (gateway's public port, or the runtime directly)."""

    def __init__(self, transport: str, http_base: str, grpc_addr: str, api_key: str) -> None:
        self.transport = transport
        self.auth = {"Authorization": f"Bearer {api_key}"}
        self.metadata = (("authorization", f"Bearer {api_key}"),)
        self.http_base = http_base
        self.session: aiohttp.ClientSession | None = None
        self.channel: grpc.aio.Channel | None = None
        if transport == "http":
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        else:
            self.channel = grpc.aio.insecure_channel(grpc_addr)
            self.stub = agent_service_pb2_grpc.AgentServiceStub(self.channel)
        inp = struct_pb2.Struct()
        inp.update(TASK["input"])  # type: ignore[arg-type]
        self.request = agent_service_pb2.ExecuteRequest(type="MARKET", action="analyze_market", input=inp)

    async def execute(self) -> str:
        """Submit one execution; its id."""
        if self.session is not None:
            async with self.session.post(
                f"{self.http_base}/api/agents/execute", json=TASK, headers=self.auth
            ) as resp:
                body = await resp.json()
                if resp.status != 200:
                    raise RuntimeError(f"execute: HTTP {resp.status} {body}")
                return str(body["executionId"])
        resp2 = await self.stub.Execute(self.request, timeout=10, metadata=self.metadata)
        return str(resp2.execution_id)

    async def close(self) -> None:
        """Close the client."""
        if self.session is not None:
            await self.session.close()
        if self.channel is not None:
            await self.channel.close()


def stream_dir(data_dir: Path, stream: str = "AGENTS") -> Path | None:
    """Where nats-server keeps the stream's blocks under the launcher's data folder."""
    return next(iter(sorted(data_dir.glob(f"nats/**/streams/{stream}"))), None)


async def stream_state(js: Any, stream: str = "AGENTS") -> tuple[int, int]:
    """(bytes, messages) of the stream."""
    info = await js.stream_info(stream)
    return int(info.state.bytes), int(info.state.messages)


async def schema_bytes(pool: asyncpg.Pool, schema: str) -> int:
    """pg_total_relation_size (heap, indexes, TOAST) of every table of a schema."""
    v = await pool.fetchval(
        "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'",
        schema,
    )
    return int(v)


async def run_e2e(
    *,
    transport: str,
    n: int,
    rate: float,
    http_base: str,
    grpc_addr: str,
    pool: asyncpg.Pool,
    js: Any,
    pids: dict[str, int],
    api_key: str,
    max_in_flight: int = 64,
    time_limit_s: float = 120.0,
) -> dict[str, Any]:
    """Offer `n` executions at `rate`/s (0: full speed, `max_in_flight` at once); follow them to the end."""
    sub = Submitter(transport, http_base, grpc_addr, api_key)
    tracker = Tracker(pool)
    stop = asyncio.Event()
    errors: list[str] = []
    sb0, sm0 = await stream_state(js)
    pg0 = {s: await schema_bytes(pool, s) for s in ("runtime", "metrics")}
    cpu0 = CpuSnapshot.take(pids)
    poller = asyncio.create_task(tracker.run(stop))
    t0 = time.perf_counter()
    wall0 = time.time()
    deadline = time.monotonic() + time_limit_s

    async def one(_i: int) -> None:
        if time.monotonic() > deadline:
            return
        wall = time.time()
        t = time.perf_counter()
        try:
            xid = await sub.execute()
        except Exception as e:
            errors.append(repr(e)[:200])
            return
        s = Seen(wall, reply_s=time.perf_counter() - t)
        # The reply may come after the row is already terminal: fine, the next poll sees it.
        tracker.add(xid, s)

    try:
        offer_s = await open_loop(n, rate, one, max_in_flight=max_in_flight if rate == 0 else 5000)
        await tracker.wait_all(max(5.0, deadline - time.monotonic()))
    finally:
        stop.set()
        await poller
        await sub.close()
    cpu1 = CpuSnapshot.take(pids)
    tracker_cpu = (
        cpu1.by_pid.get(tracker.backend_pid, ("", 0.0))[1]
        - cpu0.by_pid.get(tracker.backend_pid, ("", 0.0))[1]
    )
    sb1, sm1 = await stream_state(js)
    pg1 = {s: await schema_bytes(pool, s) for s in ("runtime", "metrics")}
    done = [s for s in tracker.seen.values() if s.visible_s is not None]
    completed = [s for s in done if s.status == "COMPLETED"]
    last_visible = max((s.submitted_wall + (s.visible_s or 0) for s in done), default=time.time())
    elapsed = max(1e-9, last_visible - wall0)
    cpu = cpu0.delta(cpu1)
    if tracker.backend_pid and "postgres" in cpu:
        cpu["postgres"] = max(0.0, cpu["postgres"] - tracker_cpu)
    per = max(1, len(done))
    return {
        "transport": transport,
        "offered": n,
        "offered_rate": rate or "full speed",
        "max_in_flight": max_in_flight if rate == 0 else None,
        "submitted": len(tracker.seen),
        "terminal": len(done),
        "completed": len(completed),
        "not_completed": {st: sum(1 for s in done if s.status == st) for st in TERMINAL if st != "COMPLETED"},
        "missing": len(tracker.pending),
        "submit_errors": len(errors),
        "first_errors": errors[:3],
        "offer_s": round(offer_s, 3),
        "elapsed_s": round(elapsed, 3),
        "executions_per_s": len(completed) / elapsed,
        "submit_reply_ms": to_ms(percentiles([s.reply_s for s in tracker.seen.values()])),
        "submit_to_visible_ms": to_ms(percentiles([s.visible_s for s in done if s.visible_s is not None])),
        "projection_lag_ms": to_ms(percentiles([s.lag_s for s in done if s.lag_s is not None])),
        "cpu_s_by_process": {k: round(v, 3) for k, v in sorted(cpu.items())},
        "cpu_ms_per_execution": 1000 * sum(cpu.values()) / per,
        "stream_bytes_per_execution": (sb1 - sb0) / per,
        "stream_messages_per_execution": (sm1 - sm0) / per,
        "stream_bytes_per_message": (sb1 - sb0) / max(1, sm1 - sm0),
        "pg_bytes_per_execution": {s: (pg1[s] - pg0[s]) / per for s in pg0},
        "poll_interval_ms": tracker.every_s * 1000,
        "polls": tracker.polls,
        "bench_poll_pg_cpu_s_excluded": round(tracker_cpu, 3),
        "wall_started": t0,
    }


async def runtime_overhead(runtime_addr: str, pool: asyncpg.Pool, sample: int = 100) -> dict[str, Any]:
    """Per completed execution: duration minus time in tool and model calls (from the execution view)."""
    ids = [
        r["execution_id"]
        for r in await pool.fetch(
            "SELECT execution_id FROM runtime.executions WHERE status = 'COMPLETED' ORDER BY finished_at DESC LIMIT $1",
            sample,
        )
    ]
    over: list[float] = []
    phases: dict[str, list[float]] = {}
    async with channel_as(runtime_addr, TOOLING, env_auth()) as ch:
        stub = agent_service_pb2_grpc.AgentServiceStub(ch)
        for xid in ids:
            ex = (await stub.GetExecution(agent_service_pb2.GetExecutionRequest(execution_id=xid))).execution
            inside = sum(t.duration_ms for t in ex.tool_calls) + sum(m.duration_ms for m in ex.model_calls)
            over.append((ex.duration_ms - inside) / 1000)
            for f in ("initialize_ms", "preprocess_ms", "execute_ms", "postprocess_ms", "shutdown_ms"):
                phases.setdefault(f, []).append(getattr(ex.phases, f))
            phases.setdefault("tools_and_models_ms", []).append(inside)
            phases.setdefault("duration_ms", []).append(ex.duration_ms)
    return {
        "label": "issue 3: runtime overhead per execution = duration - time in tool and model calls",
        "overhead_ms": to_ms(percentiles(over)),
        "phase_means_ms": {k: round(sum(v) / len(v), 3) for k, v in phases.items() if v},
    }
