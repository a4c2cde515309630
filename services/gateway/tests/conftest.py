"""Fixtures: a real test backend, and a real gateway (HTTP and gRPC on free ports) in front of it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.gateway.bootstrap import Gateway
from services.gateway.config import Settings
from services.gateway.tests.backend import Backend


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_settings(backend_addr: str, **overrides: object) -> Settings:
    """Settings pointing every backend at `backend_addr` except llm (nothing listens there)."""
    values: dict[str, object] = {
        "runtime_addr": backend_addr,
        "tools_addr": backend_addr,
        "metrics_addr": backend_addr,
        "llm_addr": f"127.0.0.1:{closed_port()}",
        "bind_host": "127.0.0.1",
        "forward_timeout_s": 5.0,
        "shutdown_grace_s": 0.5,
        "labs_auth_disabled": True,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
async def backend() -> AsyncIterator[Backend]:
    """The test backend, shared by a module's tests."""
    b = Backend()
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


@pytest.fixture(scope="module")
async def gateway(backend: Backend) -> AsyncIterator[Gateway]:
    """A started gateway in front of the test backend."""
    async with Gateway(gateway_settings(backend.addr), http_port=0, grpc_port=0) as gw:
        yield gw


@pytest.fixture
async def http(gateway: Gateway) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client of the gateway."""
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gateway.http_port}") as session:
        yield session
