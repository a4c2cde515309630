"""Pytest plugin: real nats-server and PostgreSQL for the whole session, isolated per test.

With NATS_URL / DATABASE_URL set, those servers are used and none is started. Each test that
asks for `eventlog` gets its own stream and subject prefix; `schema` gives a fresh schema name.
The session's services share a random LABS_INTERNAL_TOKEN (set in the environment before any
settings are read, unless one is given); `internal_channel` calls them as one of our services.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import asyncpg
import grpc
import pytest

from labs_core.auth import Identity, InternalAuth, channel_as
from labs_core.eventlog import EventLog

#: The secret every service started by the tests is configured with (and a child process inherits).
INTERNAL_TOKEN = os.environ.setdefault("LABS_INTERNAL_TOKEN", "test-" + secrets.token_urlsafe(24))
ADMIN = Identity("test-admin", "admin")
OPERATOR = Identity("test-operator", "operator")
VIEWER = Identity("test-viewer", "viewer")


def internal_auth() -> InternalAuth:
    """The session's internal authentication."""
    return InternalAuth(INTERNAL_TOKEN)


def internal_channel(addr: str, identity: Identity | None = ADMIN) -> grpc.aio.Channel:
    """A channel to a backend whose calls carry the secret and `identity` (None: no caller)."""
    return channel_as(addr, identity, internal_auth())


@pytest.fixture(scope="session")
def servers_dir() -> Iterator[Path]:
    """A scratch folder for the session's servers."""
    d = Path(tempfile.mkdtemp(prefix="labs-test-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_url(servers_dir: Path) -> Iterator[str]:
    """URL of a real nats-server with JetStream."""
    if os.environ.get("NATS_URL"):
        yield os.environ["NATS_URL"]
        return
    from deploy.local.servers import start_nats

    srv = start_nats(servers_dir / "nats")
    try:
        yield srv.url
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def database_url(servers_dir: Path) -> Iterator[str]:
    """URL of a real PostgreSQL database."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    from deploy.local.servers import start_postgres

    srv = start_postgres(servers_dir / "pg", durable=False)
    try:
        yield srv.url
    finally:
        srv.stop()


def unique(prefix: str) -> str:
    """A short unique lower-case name."""
    return f"{prefix}{secrets.token_hex(4)}"


@pytest.fixture
async def eventlog(nats_url: str) -> AsyncIterator[EventLog]:
    """An EventLog on a stream of its own (deleted afterwards)."""
    tag = unique("t")
    log = await EventLog.connect(nats_url, stream=tag.upper(), prefix=tag, name=f"test-{tag}")
    await log.ensure_stream()
    try:
        yield log
    finally:
        try:
            await log.js.delete_stream(log.stream)
        finally:
            await log.close()


@pytest.fixture
def schema() -> str:
    """A fresh schema name."""
    return unique("s_")


@pytest.fixture
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the test database."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


T = TypeVar("T")


def interleave(flows: Sequence[Sequence[T]], rng: random.Random) -> list[T]:
    """The flows' items merged in a random order that keeps each flow's own order (events of
    several aggregates as concurrent writers would append them)."""
    out: list[T] = []
    cursors = [0] * len(flows)
    while any(c < len(f) for c, f in zip(cursors, flows, strict=True)):
        k = rng.choice([j for j, f in enumerate(flows) if cursors[j] < len(f)])
        out.append(flows[k][cursors[k]])
        cursors[k] += 1
    return out
