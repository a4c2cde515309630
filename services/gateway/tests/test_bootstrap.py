"""The composition root and the process: serve(), port errors, `python -m services.gateway`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from services.gateway.bootstrap import Gateway, migrate_schema, serve
from services.gateway.config import Settings
from services.gateway.tests.backend import Backend
from services.gateway.tests.conftest import closed_port, gateway_settings

ROOT = Path(__file__).resolve().parents[3]


async def test_migrate_schema_is_a_no_op() -> None:
    await migrate_schema("postgresql://nowhere/none")


async def test_serve_until_stopped(backend: Backend) -> None:
    http_port, grpc_port = closed_port(), closed_port()
    settings = gateway_settings(backend.addr, http_port=http_port, gateway_grpc_addr=f"127.0.0.1:{grpc_port}")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{http_port}/api/agents") as r:
                        assert r.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("the gateway did not start listening")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_busy_http_port_fails_naming_it(backend: Backend, gateway: Gateway) -> None:
    settings = gateway_settings(backend.addr)
    with pytest.raises(OSError, match=f"127.0.0.1:{gateway.http_port}"):
        async with Gateway(settings, http_port=gateway.http_port, grpc_port=0):
            pass


async def test_backend_without_address_fails_at_start(backend: Backend) -> None:
    from services.gateway.adapters.backends import UnknownBackend

    class NoMetrics(Settings):
        def backend_addresses(self) -> dict[str, str]:
            return {k: v for k, v in super().backend_addresses().items() if k != "metrics"}

    settings = NoMetrics(runtime_addr=backend.addr, tools_addr=backend.addr)
    with pytest.raises(UnknownBackend, match="metrics"):
        async with Gateway(settings, http_port=0, grpc_port=0):
            pass


async def test_python_dash_m_serves_and_stops_on_sigterm(backend: Backend) -> None:
    http_port, grpc_port = closed_port(), closed_port()
    env = {
        **os.environ,
        "HTTP_PORT": str(http_port),
        "GATEWAY_GRPC_ADDR": f"127.0.0.1:{grpc_port}",
        "RUNTIME_ADDR": backend.addr,
        "LOG_LEVEL": "INFO",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.gateway", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.get(f"http://127.0.0.1:{http_port}/api/health/db") as r:
                        assert r.status == 200
                        assert (await r.json())["components"][0]["name"] == "db"
                        break
                except aiohttp.ClientConnectionError:
                    assert proc.returncode is None, "the gateway exited"
                    assert time.monotonic() < deadline, "the gateway did not start listening"
                    await asyncio.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        assert proc.stderr is not None
        log = (await proc.stderr.read()).decode()
        assert "gateway stopped" in log
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
