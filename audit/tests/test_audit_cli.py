"""labs-audit against a real runtime, tools and metrics service on one log after a mixed workload."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from labs.agents.v1 import agent_service_pb2 as pb

from audit.cli import amain
from audit.settings import AuditSettings
from labs_core.eventlog import EventLog
from labs_core.testing import unique
from services.metrics.bootstrap import MetricsApp
from services.metrics.config import Settings as MetricsSettings
from services.runtime.tests.harness import Stack, runtime_stack
from services.tools.bootstrap import ToolsService
from services.tools.config import Settings as ToolsSettings

pytestmark = pytest.mark.timeout(90)


@dataclass
class World:
    """The running services, the audit settings and what the workload produced."""

    stack: Stack
    settings: AuditSettings
    began: datetime
    ids: dict[str, str]


async def run(settings: AuditSettings, *argv: str) -> tuple[int, str]:
    """labs-audit in-process: (exit status, output)."""
    out = io.StringIO()
    rc = await amain(list(argv), settings, out)
    return rc, out.getvalue()


@pytest.fixture
async def world(eventlog: EventLog, database_url: str, schema: str) -> AsyncIterator[World]:
    began = datetime.now(UTC) - timedelta(seconds=1)
    tools_schema, metrics_schema = unique("t_"), unique("m_")
    common: dict[str, Any] = dict(
        nats_url=eventlog.url,
        database_url=database_url,
        stream_name=eventlog.stream,
        subject_prefix=eventlog.prefix,
    )
    metrics = MetricsApp(MetricsSettings(**common, metrics_schema=metrics_schema, metrics_addr="127.0.0.1:0"))
    await metrics.start()
    tools = ToolsService(
        ToolsSettings(**common, tools_schema=tools_schema, tools_addr="127.0.0.1:0", catalogue_size=25)
    )
    await tools.start()
    try:
        async with runtime_stack(eventlog, database_url, schema) as st:
            st.tools.flaky_failures = 1
            ids = {
                "market": (
                    await st.execute("MARKET", "analyze_market", {"category": "electronics"})
                ).execution_id,
                "market2": (await st.execute("MARKET", "analyze_market", {"category": "books"})).execution_id,
                "think": (await st.execute("PROBE", "think", {})).execution_id,
                "flaky": (await st.execute("PROBE", "call", {"tool": "flaky"})).execution_id,
                "echo": (
                    await st.execute("PROBE", "call", {"tool": "echo", "args": {"x": 1}, "times": 3})
                ).execution_id,
                "slow": (
                    await st.execute("PROBE", "call", {"tool": "slow", "args": {"seconds": 5}})
                ).execution_id,
            }
            await st.wait_status(ids["slow"], {"RUNNING"})
            await st.stub.CancelExecution(
                pb.CancelExecutionRequest(execution_id=ids["slow"], reason="auditor test")
            )
            for xid in ids.values():
                await st.wait_status(xid, {"COMPLETED", "CANCELLED", "FAILED"}, timeout=20)
            settings = AuditSettings(
                **common, runtime_schema=schema, tools_schema=tools_schema, metrics_schema=metrics_schema
            )
            yield World(st, settings, began, ids)
    finally:
        await tools.stop()
        await metrics.stop()


async def test_verify_story_and_export(world: World, database_url: str):
    s = world.settings
    rc, out = await run(s, "verify")
    assert rc == 0, out
    assert "all read models match the log" in out
    for name in ("runtime.executions", "tools.listings", "metrics.execution_rollups"):
        assert any(name in line and ": clean" in line for line in out.splitlines()), out

    # An altered read-model row is reported, row by row, and verify fails.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            f"UPDATE {s.runtime_schema}.executions SET status = 'FAILED' WHERE execution_id = $1",
            world.ids["market"],
        )
    finally:
        await conn.close()
    rc, out = await run(s, "verify", "--service", "runtime")
    assert rc == 1, out
    diff_lines = [line for line in out.splitlines() if line.startswith("    ")]
    assert any(
        "executions [live only]" in x and world.ids["market"] in x and "'FAILED'" in x for x in diff_lines
    )
    assert any(
        "executions [rebuilt only]" in x and world.ids["market"] in x and "'COMPLETED'" in x
        for x in diff_lines
    )
    assert len(diff_lines) == 2, out

    # The story from the log alone.
    rc, out = await run(s, "story", world.ids["flaky"])
    assert rc == 0
    assert "requested by test-admin: PROBE.call" in out
    assert "attempt 1 failed (TOOL_UNAVAILABLE)" in out and "retry in 1000 ms" in out
    assert "attempt 2 started" in out and "tool flaky (step 1) OK" in out
    assert "outcome: COMPLETED after 2 attempt(s), 1 retry" in out
    rc, out = await run(s, "story", world.ids["think"])
    assert "2 model call(s), tokens 22 in / 14 out, cost $0.000200" in out and "model test/" in out
    rc, out = await run(s, "story", world.ids["slow"])
    assert "cancellation requested by test-admin: auditor test" in out and "outcome: CANCELLED" in out
    assert (await run(s, "story", "no-such-execution"))[0] == 1

    # Export: every event since the start as JSON lines, in order; a subject filter; an empty range.
    rc, out = await run(s, "export", "--since", world.began.isoformat())
    rows = [json.loads(x) for x in out.splitlines()]
    log = world.stack.log
    assert rc == 0 and [r["sequence"] for r in rows] == list(range(1, await log.last_sequence() + 1))
    assert {"sequence", "subject", "time", "type", "payload"} <= rows[0].keys()
    requested = [r for r in rows if r["type"] == "execution_requested"]
    assert {r["aggregate_id"] for r in requested} == set(world.ids.values())
    rc, out = await run(
        s, "export", "--since", "10m", "--subject-filter", f"{log.prefix}.execution.*.requested"
    )
    assert [json.loads(x)["sequence"] for x in out.splitlines()] == [r["sequence"] for r in requested]
    assert json.loads(out.splitlines()[0])["payload"]["agentType"] == "MARKET"
    rc, out = await run(s, "export", "--since", "2h", "--until", world.began.isoformat())
    assert rc == 0 and out == ""
    assert (await run(s, "export", "--since", "yesterday"))[0] == 2

    # The installed entry point (python -m audit) with settings from the environment.
    env = {
        **os.environ,
        "NATS_URL": s.nats_url,
        "DATABASE_URL": s.database_url,
        "STREAM_NAME": s.stream_name,
        "SUBJECT_PREFIX": s.subject_prefix,
        "RUNTIME_SCHEMA": s.runtime_schema,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "audit", "story", world.ids["echo"], env=env, stdout=subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0 and b"tool echo (step 3) OK" in stdout
