"""The floor of one unary gRPC call in Python on this machine: an echo server that does nothing.

An execution crosses four gRPC hops (gateway → runtime, runtime → tools twice, runtime → llm),
each a Python grpc.aio server and client like the ones measured here. What an empty call costs
the server and the client, with a message the size of a tool call's, bounds from below what
those hops cost, whatever our code does around them.

    python -m bench.grpc_floor serve    # the echo server (prints its port), used as a child
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from typing import Any

import grpc
import uvloop
from google.protobuf import struct_pb2

_METHOD = "/bench.Echo/Echo"


def _message() -> struct_pb2.Struct:
    """About the size of the benchmark's tool results (five listings of three fields, a total)."""
    s = struct_pb2.Struct()
    s.update(
        {
            "listings": [
                {"id": f"0192f7c3-{i:04d}", "title": "Walnut desk, two drawers", "price": 120.5}
                for i in range(5)
            ],
            "total": 812,
        }
    )
    return s


async def _serve() -> None:
    async def echo(req: struct_pb2.Struct, ctx: Any) -> struct_pb2.Struct:
        return req

    handler = grpc.method_handlers_generic_handler(
        "bench.Echo",
        {
            "Echo": grpc.unary_unary_rpc_method_handler(
                echo,
                request_deserializer=struct_pb2.Struct.FromString,
                response_serializer=struct_pb2.Struct.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def unary_floor(*, n: int = 4000, concurrency: int = 16) -> dict[str, Any]:
    """Echo calls against a child server: calls/s at `concurrency`, CPU per call on each side,
    and the sequential p50."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.grpc_floor", "serve", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        port = int(await asyncio.wait_for(proc.stdout.readline(), 30))
        msg = _message()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            call = ch.unary_unary(
                _METHOD,
                request_serializer=struct_pb2.Struct.SerializeToString,
                response_deserializer=struct_pb2.Struct.FromString,
            )
            lat: list[float] = []
            for _ in range(300):
                t = time.perf_counter()
                await call(msg, timeout=10)
                lat.append(time.perf_counter() - t)
            lat.sort()
            todo = iter(range(n))

            async def caller() -> None:
                for _ in todo:
                    await call(msg, timeout=10)

            s0, c0, t0 = _cpu_s(proc.pid), _own_cpu_s(), time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(concurrency)))
            dt, s1, c1 = time.perf_counter() - t0, _cpu_s(proc.pid), _own_cpu_s()
        return {
            "label": "empty unary gRPC call (grpc.aio server and client, uvloop), a tool-result-sized message",
            "message_bytes": len(msg.SerializeToString()),
            "calls": n,
            "concurrency": concurrency,
            "calls_per_s": n / dt,
            "server_cpu_ms_per_call": 1000 * (s1 - s0) / n,
            "client_cpu_ms_per_call": 1000 * (c1 - c0) / n,
            "sequential_p50_ms": 1000 * lat[len(lat) // 2],
        }
    finally:
        proc.kill()
        await proc.wait()


if __name__ == "__main__" and sys.argv[1:] == ["serve"]:
    uvloop.run(_serve())
