"""The whole stack, started once for these tests by the same launcher `make up` uses."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from deploy.local.testing import Launched, launch

#: One API key per role for the stack (LABS_API_KEYS); names are the actors events record.
E2E_KEYS = {role: f"e2e-{role}-{secrets.token_hex(8)}" for role in ("viewer", "operator", "admin")}


def auth(role: str = "admin") -> dict[str, str]:
    """The Authorization header of the role's key."""
    return {"Authorization": f"Bearer {E2E_KEYS[role]}"}


class _WithKey(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    """Adds `authorization` metadata to every call of a channel."""

    def __init__(self, key: str) -> None:
        self.md = ("authorization", f"Bearer {key}")

    def _details(self, details: Any) -> Any:
        return details._replace(metadata=(*(details.metadata or ()), self.md))

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


def auth_channel(addr: str, role: str = "admin") -> grpc.aio.Channel:
    """A channel to the gateway whose calls carry the role's key."""
    return grpc.aio.insecure_channel(addr, interceptors=[_WithKey(E2E_KEYS[role])])


@pytest.fixture(scope="session")
def stack(nats_url: str, database_url: str) -> Iterator[Launched]:
    """Gateway, runtime, tools, llm and metrics on the session's servers, with their own stream and schemas."""
    tag = secrets.token_hex(3)
    env = {
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "STREAM_NAME": f"E2E{tag.upper()}",
        "SUBJECT_PREFIX": f"e2e{tag}",
        "RUNTIME_SCHEMA": f"runtime_{tag}",
        "TOOLS_SCHEMA": f"tools_{tag}",
        "METRICS_SCHEMA": f"metrics_{tag}",
        "CATALOGUE_SIZE": "400",
        "LOG_LEVEL": "WARNING",
        "LABS_API_KEYS": ",".join(f"e2e-{role}:{role}:{key}" for role, key in E2E_KEYS.items()),
        # Every service writes its spans here ({service} is replaced), flushed every 100 ms.
        "OTEL_TRACES_FILE": str(Path(tempfile.gettempdir()) / f"labs-e2e-{tag}" / "spans-{service}.jsonl"),
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with tempfile.TemporaryDirectory(prefix="labs-e2e-") as d, launch(Path(d) / "data", env) as run:
        yield run
