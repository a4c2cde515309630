"""The whole stack, started once for these tests by the same launcher `make up` uses."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.testing import Launched, launch


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
        # Every service writes its spans here ({service} is replaced), flushed every 100 ms.
        "OTEL_TRACES_FILE": str(Path(tempfile.gettempdir()) / f"labs-e2e-{tag}" / "spans-{service}.jsonl"),
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with tempfile.TemporaryDirectory(prefix="labs-e2e-") as d, launch(Path(d) / "data", env) as run:
        yield run
