"""The physical limits with the same client libraries: raw JetStream publishes, raw PostgreSQL inserts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import asyncpg
import nats


async def jetstream_publish_rate(nats_url: str, *, n: int, size: int, in_flight: int = 256) -> dict[str, Any]:
    """Pipelined publishes (`in_flight` awaiting their acks at once) into a scratch stream, file storage."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    name = "BENCH_RAW"
    try:
        with contextlib.suppress(Exception):
            await js.delete_stream(name)
        await js.add_stream(name=name, subjects=["benchraw.>"], storage="file")
        payload = b"x" * size
        sem = asyncio.Semaphore(in_flight)

        async def one(i: int) -> None:
            async with sem:
                await js.publish(f"benchraw.{i % 1000}", payload, timeout=30)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        dt = time.perf_counter() - t0
        # One at a time, for the latency floor of an append.
        lat: list[float] = []
        for i in range(min(500, n)):
            t = time.perf_counter()
            await js.publish(f"benchraw.{i}", payload)
            lat.append(time.perf_counter() - t)
        lat.sort()
        await js.delete_stream(name)
        return {
            "messages": n,
            "message_bytes": size,
            "in_flight": in_flight,
            "publishes_per_s": n / dt,
            "sequential_publish_p50_ms": 1000 * lat[len(lat) // 2],
        }
    finally:
        await nc.close()


async def pg_insert_rate(database_url: str, *, n: int, row_bytes: int, batch: int = 1000) -> dict[str, Any]:
    """Batched inserts (executemany and COPY) of rows about the width of an execution row."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DROP TABLE IF EXISTS public.bench_raw")
        await conn.execute(
            "CREATE TABLE public.bench_raw (id text PRIMARY KEY, status text NOT NULL, body jsonb NOT NULL, at timestamptz NOT NULL)"
        )
        body = '{"pad": "' + "x" * max(0, row_bytes - 60) + '"}'
        rows = [(f"{i:032d}", "COMPLETED", body) for i in range(n)]
        t0 = time.perf_counter()
        for k in range(0, n, batch):
            await conn.executemany(
                "INSERT INTO public.bench_raw VALUES ($1, $2, $3::jsonb, now())", rows[k : k + batch]
            )
        many = time.perf_counter() - t0
        await conn.execute("TRUNCATE public.bench_raw")
        import datetime as dt

        now = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        for k in range(0, n, batch):
            await conn.copy_records_to_table(
                "bench_raw", schema_name="public", records=[(*r, now) for r in rows[k : k + batch]]
            )
        copy = time.perf_counter() - t0
        # One row per transaction, for the floor of a single commit.
        await conn.execute("TRUNCATE public.bench_raw")
        m = min(500, n)
        t0 = time.perf_counter()
        for r in rows[:m]:
            await conn.execute("INSERT INTO public.bench_raw VALUES ($1, $2, $3::jsonb, now())", *r)
        single = time.perf_counter() - t0
        await conn.execute("DROP TABLE public.bench_raw")
        return {
            "rows": n,
            "row_bytes": row_bytes,
            "batch": batch,
            "executemany_rows_per_s": n / many,
            "copy_rows_per_s": n / copy,
            "single_commit_rows_per_s": m / single,
        }
    finally:
        await conn.close()


async def rebuild_rates(
    nats_url: str, database_url: str, *, prefix: str = "agents", tools: bool = True
) -> dict[str, Any]:
    """labs_core.projector.rebuild of each read model alone into a scratch schema (events/s), then
    of all of them at once with `rebuild_many` (one read of the log, each read model applied on a
    connection of its own): "all" is the events all read models applied over that wall time,
    "all_one_by_one" the same events over the sum of the times alone."""
    from labs_core.eventlog import EventLog
    from labs_core.projector import rebuild, rebuild_many
    from services.metrics.projections.execution_metrics import ExecutionMetrics
    from services.runtime.projections.executions import ExecutionsProjection
    from services.tools.projections.listings import ListingsProjection

    log = await EventLog.connect(nats_url, name="bench-rebuild")
    out: dict[str, Any] = {}
    total_events = 0
    total_s = 0.0
    conn = await asyncpg.connect(database_url)
    targets: list[tuple[Any, str]] = []
    try:
        for label, proj in (
            ("runtime.executions", ExecutionsProjection(prefix)),
            ("metrics.execution_rollups", ExecutionMetrics(prefix, lock_scope="bench")),
            ("tools.listings", ListingsProjection(prefix, "bench_rebuild_tools")),
        ):
            if label == "tools.listings" and not tools:
                continue
            scratch = "bench_rebuild_" + label.split(".")[0]
            targets.append((proj, scratch))
            t0 = time.perf_counter()
            events = await asyncio.wait_for(rebuild(log, database_url, proj, scratch), 300)
            dt = time.perf_counter() - t0
            out[label] = {"events": events, "seconds": round(dt, 3), "events_per_s": events / dt if dt else 0}
            total_events += events
            total_s += dt
            await conn.execute(f'DROP SCHEMA IF EXISTS "{scratch}" CASCADE')
        t0 = time.perf_counter()
        counts = await asyncio.wait_for(rebuild_many(log, database_url, targets), 300)
        dt = time.perf_counter() - t0
        for _, scratch in targets:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{scratch}" CASCADE')
        out["all"] = {"events": sum(counts), "seconds": round(dt, 3), "events_per_s": sum(counts) / dt}
        out["all_one_by_one"] = {
            "events": total_events,
            "seconds": round(total_s, 3),
            "events_per_s": total_events / total_s,
        }
    finally:
        await conn.close()
        await log.close()
    return out
