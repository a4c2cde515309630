"""The gateway's own cost: HTTP -> gateway -> a trivial grpc.aio backend, all on loopback.

    python -m services.gateway.bench_gateway [--requests 6000] [--concurrency 16] [--seconds 20]

Three processes: this one runs the gateway (with API keys and rate limiting on, as deployed);
a child runs a trivial AgentService backend; another child drives HTTP/1.1 keep-alive load with
a raw-socket client (cheaper than any HTTP library, so the client is not the bottleneck). The
figure that survives a busy machine is requests per CPU-second of the gateway process (all its
threads, gRPC's included): that is requests/s on one core. Wall-clock requests/s is printed too.
Added latency: the median of sequential requests via the gateway minus the median of the same
call made straight to the backend over gRPC, from the same client process.
Bounded: at most --requests per phase and --seconds overall; everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from typing import Any

import uvloop

KEY = "bench-key"
PAYLOAD = json.dumps({"type": "MARKET", "action": "analyze_market", "input": {"category": "toys"}})


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# --- the trivial backend (child process) -----------------------------------------------------


def _backend_main(port_out: Any) -> None:
    import grpc
    from labs.agents.v1 import agent_service_pb2 as pb
    from labs.agents.v1 import agent_service_pb2_grpc as pb_grpc

    class Trivial(pb_grpc.AgentServiceServicer):
        async def GetExecution(self, request: Any, context: Any) -> Any:
            return pb.GetExecutionResponse(
                execution=pb.Execution(execution_id=request.execution_id, status=pb.COMPLETED)
            )

        async def Execute(self, request: Any, context: Any) -> Any:
            return pb.ExecuteResponse(execution_id="e-1", task_id=request.request_id, status=pb.QUEUED)

    async def run() -> None:
        server = grpc.aio.server()
        pb_grpc.add_AgentServiceServicer_to_server(Trivial(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        port_out.send(port)
        await server.wait_for_termination()

    uvloop.run(run())


# --- the load generator (child process) ------------------------------------------------------


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: bytes) -> int:
    writer.write(req)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    i = head.lower().find(b"content-length:")
    if i < 0:
        raise RuntimeError(f"no Content-Length in {head!r}")
    length = int(head[i + 15 : head.index(b"\r\n", i)])
    await reader.readexactly(length)
    return status


async def _load(port: int, req: bytes, n: int, concurrency: int, deadline: float) -> tuple[int, float]:
    done = 0
    failures = 0

    async def worker() -> None:
        nonlocal done, failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while done < n and time.monotonic() < deadline:
                done += 1
                if await _exchange(reader, writer, req) != 200:
                    failures += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        raise RuntimeError(f"{failures} of {done} requests failed")
    return done, time.perf_counter() - t0


async def _sequential_ms(port: int, backend: str, n: int, deadline: float) -> tuple[float, float]:
    import grpc
    from labs.agents.v1 import agent_service_pb2 as pb
    from labs.agents.v1 import agent_service_pb2_grpc as pb_grpc

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    req = _request("GET", "/api/agents/exec-1")
    via, direct = [], []
    async with grpc.aio.insecure_channel(backend) as ch:
        stub = pb_grpc.AgentServiceStub(ch)
        msg = pb.GetExecutionRequest(execution_id="exec-1")
        for _ in range(n):  # interleaved, so both see the same machine load
            if time.monotonic() > deadline:
                break
            t = time.perf_counter()
            await _exchange(reader, writer, req)
            via.append(time.perf_counter() - t)
            t = time.perf_counter()
            await stub.GetExecution(msg, timeout=5)
            direct.append(time.perf_counter() - t)
    writer.close()
    return statistics.median(via) * 1e3, statistics.median(direct) * 1e3


def _client_main(port: int, backend: str, args: dict[str, Any], ctl: Any) -> None:
    async def run() -> None:
        deadline = time.monotonic() + args["seconds"]
        phases = {
            "GET /api/agents/{id}": _request("GET", "/api/agents/exec-1"),
            "POST /api/agents/execute": _request("POST", "/api/agents/execute", PAYLOAD.encode()),
        }
        await _load(port, phases["GET /api/agents/{id}"], 200, 4, deadline)  # warm up
        for name, req in phases.items():
            ctl.send(("start", name))
            ctl.recv()
            done, wall = await _load(port, req, args["requests"], args["concurrency"], deadline)
            ctl.send(("stop", name, done, wall))
            ctl.recv()
        via, direct = await _sequential_ms(port, backend, args["latency_requests"], deadline + 10)
        ctl.send(("latency", via, direct))

    uvloop.run(run())


# --- the gateway (this process) --------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Run the three processes; the figures."""
    from services.gateway.bootstrap import Gateway
    from services.gateway.config import Settings

    ctx = mp.get_context("spawn")
    port_rx, port_tx = ctx.Pipe(duplex=False)
    backend = ctx.Process(target=_backend_main, args=(port_tx,), daemon=True)
    backend.start()
    client: Any = None
    try:
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, port_rx.poll, 30):
            raise RuntimeError("the backend did not start")
        baddr = f"127.0.0.1:{port_rx.recv()}"
        settings = Settings(
            runtime_addr=baddr,
            tools_addr=baddr,
            llm_addr=baddr,
            metrics_addr=baddr,
            bind_host="127.0.0.1",
            labs_api_keys=f"bench:admin:{KEY}",
            rate_limits="admin=1000000/1000000",
            shutdown_grace_s=0.5,
        )
        out: dict[str, Any] = {"concurrency": args.concurrency, "phases": {}}
        async with Gateway(settings, http_port=0, grpc_port=0) as gw:
            ctl, child_ctl = ctx.Pipe()
            opts = {
                "requests": args.requests,
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                "latency_requests": args.latency_requests,
            }
            client = ctx.Process(
                target=_client_main, args=(gw.http_port, baddr, opts, child_ctl), daemon=True
            )
            client.start()
            cpu0 = loop0 = 0.0
            while True:
                if not await loop.run_in_executor(None, ctl.poll, args.seconds + 60):
                    raise RuntimeError("the load generator stopped answering")
                msg = ctl.recv()
                if msg[0] == "start":
                    cpu0, loop0 = _cpu_s(), time.thread_time()
                    ctl.send("go")
                elif msg[0] == "stop":
                    cpu, loop_cpu = _cpu_s() - cpu0, time.thread_time() - loop0
                    _, name, done, wall = msg
                    out["phases"][name] = {
                        "requests": done,
                        "req_per_s_wall": round(done / wall),
                        "req_per_gateway_cpu_s": round(done / cpu),
                        "gateway_cpu_us_per_req": round(cpu / done * 1e6, 1),
                        # The event loop's thread alone (the rest: gRPC's own threads).
                        "loop_thread_cpu_us_per_req": round(loop_cpu / done * 1e6, 1),
                    }
                    ctl.send("ok")
                else:
                    _, via, direct = msg
                    out["latency_ms"] = {
                        "p50_via_gateway_http": round(via, 3),
                        "p50_direct_grpc": round(direct, 3),
                        "added_p50": round(via - direct, 3),
                    }
                    break
        return out
    finally:
        for p in (client, backend):
            if p is not None and p.is_alive():
                p.terminate()
                p.join(5)


def main(argv: list[str] | None = None) -> int:
    """Parse the bounds, run, print JSON."""
    ap = argparse.ArgumentParser(prog="python -m services.gateway.bench_gateway", description=__doc__)
    ap.add_argument("--requests", type=int, default=6000, help="per load phase (default 6000)")
    ap.add_argument("--concurrency", type=int, default=16, help="keep-alive connections (default 16)")
    ap.add_argument("--latency-requests", type=int, default=500, help="sequential requests (default 500)")
    ap.add_argument("--seconds", type=float, default=20.0, help="time budget of the load (default 20)")
    args = ap.parse_args(argv)
    for name in ("requests", "concurrency", "latency_requests"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    if not 0 < args.seconds <= 600:
        ap.error("--seconds must be in (0, 600]")
    # The gateway runs under uvloop in production (labs_core.entry); so does its benchmark.
    print(json.dumps(uvloop.run(bench(args)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
