"""Health probes: each measures its own latency and never raises (a failure is a result)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from labs_core import grpcutil
from labs_core.eventlog import EventLog

Check = dict[str, Any]


async def timed(name: str, probe: Callable[[], Awaitable[Check]], timeout_s: float) -> Check:
    """Run one probe under a time limit: {name, status, latency_ms, ...details | error}."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            detail = await probe()
        status = detail.pop("status", "ok")
        error = detail.pop("error", None)
    except TimeoutError:
        detail, status, error = {}, "down", f"no answer within {timeout_s:g}s"
    except Exception as e:  # a probe's failure is what it reports
        detail, status, error = {}, "down", f"{type(e).__name__}: {e}"
    out: Check = {
        "name": name,
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    if error:
        out["error"] = error
    if detail:
        out["details"] = detail
    return out


def nats_probe(log: EventLog) -> Callable[[], Awaitable[Check]]:
    """Connection state, round trip and the stream's state."""

    async def probe() -> Check:
        if not log.nc.is_connected:
            return {"status": "down", "error": "not connected to NATS"}
        rtt_ms = (await log.nc.rtt()) * 1000
        info = await log.js.stream_info(log.stream)
        s = info.state
        return {
            "server": log.nc.connected_url.netloc if log.nc.connected_url else "",
            "rtt_ms": round(rtt_ms, 3),
            "stream": log.stream,
            "messages": s.messages,
            "bytes": s.bytes,
            "first_seq": s.first_seq,
            "last_seq": s.last_seq,
            "consumers": s.consumer_count,
        }

    return probe


def consumer_probe(log: EventLog, durable: str, lag_warn: int) -> Callable[[], Awaitable[Check]]:
    """A durable consumer's lag: pending (not yet delivered) and delivered but not acknowledged."""

    async def probe() -> Check:
        from nats.js.errors import NotFoundError

        try:
            ci = await log.js.consumer_info(log.stream, durable)
        except NotFoundError:
            return {"status": "down", "error": f"consumer {durable} does not exist on {log.stream}"}
        pending, ack_pending = int(ci.num_pending or 0), int(ci.num_ack_pending or 0)
        return {
            "status": "degraded" if pending > lag_warn else "ok",
            "consumer": durable,
            "num_pending": pending,
            "num_ack_pending": ack_pending,
            "num_redelivered": int(ci.num_redelivered or 0),
            "delivered_stream_seq": ci.delivered.stream_seq if ci.delivered else 0,
            "ack_floor_stream_seq": ci.ack_floor.stream_seq if ci.ack_floor else 0,
            "lag_warn_threshold": lag_warn,
        }

    return probe


def postgres_probe(pool: asyncpg.Pool) -> Callable[[], Awaitable[Check]]:
    """A round trip to PostgreSQL and its version."""

    async def probe() -> Check:
        async with pool.acquire() as conn:
            t = time.perf_counter()
            await conn.fetchval("SELECT 1")
            query_ms = (time.perf_counter() - t) * 1000
            version = await conn.fetchval("SHOW server_version")
        return {"query_ms": round(query_ms, 3), "server_version": version}

    return probe


def grpc_probe(addr: str) -> Callable[[], Awaitable[Check]]:
    """The standard gRPC health check of a whole server ("" service)."""

    async def probe() -> Check:
        async with grpcutil.channel(addr) as ch:
            try:
                r = await health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=2
                )
            except grpc.aio.AioRpcError as e:
                return {"status": "down", "error": f"{e.code().name}: {e.details()}", "address": addr}
        serving = r.status == health_pb2.HealthCheckResponse.SERVING
        return {
            "status": "ok" if serving else "down",
            "address": addr,
            "serving_status": health_pb2.HealthCheckResponse.ServingStatus.Name(r.status),
        }

    return probe
