"""The tools service's own cost, on loopback: InvokeTool throughput, market analysis, memory at rest.

    python -m services.tools.bench_tools [--listings 10000] [--calls 4000] [--concurrency 16] [--seconds 20]

Starts its own nats-server and PostgreSQL (under a temporary folder, 127.0.0.1, free ports) and the
tools service as a child process (`python -m services.tools`, catalogue seeded with --listings), then:

- RSS at rest: VmRSS of the service right after start-up (and VmHWM);
- `get_listings` (limit 20, one category) over gRPC: sequential latency, time inside the tool
  (`duration_us`), the rest (gRPC + registry + validation), then invocations/s with --concurrency
  callers (closed loop) and the service's CPU-seconds per 1,000 calls (robust on a busy machine);
- the same with `fields: ["id", "title", "price"]` (sparse fieldset);
- `get_listings` with a question never asked before on every call (the memo and the read cache
  miss: the tool and its PostgreSQL query run each time);
- `analyze_market_price` sequential latency: the first call after start-up, then the steady state.

Bounded: at most --calls per phase and --seconds per phase; every process it starts is stopped by PID.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2
from labs.tools.v1 import tool_service_pb2, tool_service_pb2_grpc

from deploy.local.servers import free_port, start_nats, start_postgres, wait_port
from labs_core.auth import TOOLING, channel_as, env_auth


def _proc_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0]) // 1024
    return out


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {
        "p50": round(statistics.median(xs) * 1000, 3),
        "p90": round(xs[int(len(xs) * 0.9)] * 1000, 3),
        "n": len(xs),
    }


def _request(name: str, args: dict[str, Any]) -> tool_service_pb2.InvokeToolRequest:
    s = struct_pb2.Struct()
    s.update(args)
    return tool_service_pb2.InvokeToolRequest(name=name, arguments=s, agent_type="MARKET")


async def _throughput(
    stub: Any, req: Any, pid: int, *, calls: int, concurrency: int, seconds: float, vary: Any = None
) -> dict[str, Any]:
    """Calls of one request, or with `vary(i)` the i-th of distinct requests (none asked twice)."""
    nth = iter(range(10**9))

    def next_req() -> Any:
        return req if vary is None else vary(next(nth))

    for _ in range(20):
        await stub.InvokeTool(next_req(), timeout=10)
    lat: list[float] = []
    inside: list[float] = []
    for _ in range(min(calls, 300)):
        t = time.perf_counter()
        resp = await stub.InvokeTool(next_req(), timeout=10)
        lat.append(time.perf_counter() - t)
        inside.append(resp.duration_us / 1e6)
    counter = iter(range(calls))
    done = 0
    deadline = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal done
        for _ in counter:
            if time.perf_counter() > deadline:
                return
            await stub.InvokeTool(next_req(), timeout=10)
            done += 1

    cpu0 = _cpu_s(pid)
    t0 = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    dt = time.perf_counter() - t0
    cpu = _cpu_s(pid) - cpu0
    return {
        "invocations_per_s": round(done / dt, 1),
        "calls": done,
        "concurrency": concurrency,
        "service_cpu_ms_per_call": round(cpu / max(done, 1) * 1000, 3),
        "latency_ms": _ms(lat),
        "in_tool_ms": _ms(inside),
        "outside_tool_ms": _ms([a - b for a, b in zip(lat, inside, strict=True)]),
    }


async def _measure(addr: str, pid: int, a: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with channel_as(addr, TOOLING, env_auth()) as ch:
        stub = tool_service_pb2_grpc.ToolServiceStub(ch)
        analyze = _request("analyze_market_price", {"category": "electronics"})
        t = time.perf_counter()
        await stub.InvokeTool(analyze, timeout=60)
        out["analyze_market_price_first_call_ms"] = round((time.perf_counter() - t) * 1000, 2)
        lat = []
        for _ in range(min(a.calls, 200)):
            t = time.perf_counter()
            await stub.InvokeTool(analyze, timeout=60)
            lat.append(time.perf_counter() - t)
        out["analyze_market_price_ms"] = _ms(lat)
        kw = {"calls": a.calls, "concurrency": a.concurrency, "seconds": a.seconds}
        out["get_listings"] = await _throughput(
            stub, _request("get_listings", {"category": "electronics", "limit": 20}), pid, **kw
        )
        # Every call a question not asked before (a price floor of its own): no memoised answer,
        # no cached page — the tool and its query run every time.
        out["get_listings_distinct"] = await _throughput(
            stub,
            None,
            pid,
            vary=lambda i: _request(
                "get_listings", {"category": "electronics", "limit": 20, "min_price": 1 + i / 100}
            ),
            **kw,
        )
        sparse = {"category": "electronics", "limit": 20, "fields": ["id", "title", "price"]}
        try:
            out["get_listings_fields"] = await _throughput(stub, _request("get_listings", sparse), pid, **kw)
        except grpc.aio.AioRpcError as e:  # a service without the `fields` argument
            out["get_listings_fields"] = {"error": e.code().name}
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the JSON figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--listings", type=int, default=10_000)
    p.add_argument("--calls", type=int, default=4000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--seconds", type=float, default=20.0)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as tmp:
        root = Path(tmp)
        nats = start_nats(root / "nats")
        pg = None
        svc: subprocess.Popen[bytes] | None = None
        try:
            pg = start_postgres(root / "pg", durable=False)
            port = free_port()
            os.environ.setdefault("LABS_INTERNAL_TOKEN", secrets.token_urlsafe(32))
            env = {
                **os.environ,
                "NATS_URL": nats.url,
                "DATABASE_URL": pg.url,
                "STREAM_NAME": "BENCHTOOLS",
                "SUBJECT_PREFIX": "benchtools",
                "TOOLS_ADDR": f"127.0.0.1:{port}",
                "BIND_HOST": "127.0.0.1",
                "CATALOGUE_SIZE": str(a.listings),
                "SCHEDULER_ENABLED": "false",
                "LOG_LEVEL": "WARNING",
            }
            for k in ("METRICS_HTTP_PORT", "TOOLS_METRICS_HTTP_PORT"):
                env.pop(k, None)
            started = time.perf_counter()
            with open(root / "tools.log", "wb") as logf:
                svc = subprocess.Popen(
                    [sys.executable, "-m", "services.tools"], env=env, stdout=logf, stderr=logf
                )
                wait_port(port, 300, svc, "tools")
            result: dict[str, Any] = {
                "listings": a.listings,
                "start_s": round(time.perf_counter() - started, 2),
            }
            time.sleep(1.0)
            result["rss_at_rest_mb"] = _proc_status(svc.pid)
            result.update(asyncio.run(_measure(f"127.0.0.1:{port}", svc.pid, a)))
            result["rss_after_load_mb"] = _proc_status(svc.pid)
            print(json.dumps(result, indent=2))
        finally:
            if svc is not None and svc.poll() is None:
                svc.terminate()
                try:
                    svc.wait(15)
                except subprocess.TimeoutExpired:
                    svc.kill()
                    svc.wait(5)
            if pg is not None:
                pg.stop()
            nats.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
