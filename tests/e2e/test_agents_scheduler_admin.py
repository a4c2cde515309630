"""SCHEDULER and ADMIN agents through the whole stack (gateway -> runtime -> tools), and RegisterTool
over HTTP (POST /api/tools) with a remote endpoint served by this test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from deploy.local.testing import Launched
from services.tools.tests.test_remote_tools import start_remote
from tests.e2e.conftest import auth
from tests.e2e.helpers import run

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def http(stack: Launched) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(stack.http, headers=auth("admin")) as s:
        yield s


async def _has_tool(http: aiohttp.ClientSession, name: str) -> bool:
    async with http.get(f"/api/tools/{name}") as r:
        return r.status == 200


async def test_scheduler_schedule_list_and_cancel(http: aiohttp.ClientSession) -> None:
    made = await run(
        http,
        {
            "type": "SCHEDULER",
            "action": "schedule",
            "input": {
                "cron": "30 7 * * 1",
                "timezone": "America/New_York",
                "agent_type": "market",
                "action": "find_listings",
                "input": {"category": "electronics"},
                "missed_policy": "none",
            },
        },
    )
    assert made["status"] == "COMPLETED", made
    out = made["output"]
    sid = out["schedule_id"]
    assert (
        out["created"] is True and out["runs"] == "MARKET.find_listings" and len(out["next_occurrences"]) == 3
    )
    assert all(t.endswith(("11:30:00Z", "12:30:00Z")) for t in out["next_occurrences"])  # 07:30 New York

    listed = await run(http, {"type": "SCHEDULER", "action": "list_schedules", "input": {"status": "active"}})
    assert listed["status"] == "COMPLETED", listed
    assert sid in [s["schedule_id"] for s in listed["output"]["schedules"]]

    for already in (False, True):
        c = await run(http, {"type": "SCHEDULER", "action": "cancel_schedule", "input": {"schedule_id": sid}})
        assert c["status"] == "COMPLETED", c
        assert c["output"]["already_cancelled"] is already

    bad = await run(
        http,
        {
            "type": "SCHEDULER",
            "action": "schedule",
            "input": {"cron": "99 * * * *", "agent_type": "MARKET", "action": "find_listings"},
        },
    )
    assert bad["status"] == "FAILED" and "arguments.cron" in bad["error"]["message"], bad
    assert bad["attempts"] == 1  # not retried


async def test_admin_query_and_batch_update(http: aiohttp.ClientSession) -> None:
    q = await run(
        http,
        {
            "type": "ADMIN",
            "action": "query",
            "input": {"sql": "SELECT id, price_cents FROM listings ORDER BY id LIMIT 2"},
        },
    )
    assert q["status"] == "COMPLETED", q
    rows = q["output"]["rows"]
    assert len(rows) == 2 and q["output"]["columns"][0]["name"] == "id"
    ids = [r[0] for r in rows]

    b = await run(
        http,
        {
            "type": "ADMIN",
            "action": "batch_update",
            "input": {
                "operation": "update_price",
                "items": [{"listing_id": ids[0], "price": 321.5}, {"listing_id": "missing", "price": 1}],
            },
        },
    )
    assert b["status"] == "COMPLETED", b
    assert (b["output"]["succeeded"], b["output"]["failed"]) == (1, 1)
    check = await run(
        http,
        {
            "type": "ADMIN",
            "action": "query",
            "input": {"sql": f"SELECT price_cents FROM listings WHERE id = '{ids[0]}'"},
        },
    )
    assert check["output"]["rows"] == [[32150]]

    hostile = await run(http, {"type": "ADMIN", "action": "query", "input": {"sql": "DELETE FROM listings"}})
    assert hostile["status"] == "FAILED" and "SELECT" in hostile["error"]["message"], hostile
    again = await run(
        http,
        {
            "type": "ADMIN",
            "action": "query",
            "input": {"sql": "SELECT count(*) FROM listings WHERE id = ANY(ARRAY['x'])"},
        },
    )
    assert again["status"] == "COMPLETED"

    async with http.post("/api/agents/execute", json={"type": "ADMIN", "action": "query", "input": {}}) as r:
        assert r.status == 400 and "sql" in await r.text()


async def test_admin_health_check_and_notify(http: aiohttp.ClientSession) -> None:
    if not await _has_tool(http, "get_system_health") or not await _has_tool(http, "send_notification"):
        pytest.skip("get_system_health / send_notification (tools A) not in this build")
    h = await run(http, {"type": "ADMIN", "action": "health_check", "input": {"timeout_ms": 2000}})
    assert h["status"] == "COMPLETED", h
    names = {c["name"] for c in h["output"]["checks"]}
    assert {"nats", "postgres"} <= names
    n = await run(
        http,
        {
            "type": "ADMIN",
            "action": "notify",
            "input": {"recipient": "ops-e2e", "subject": "hi", "body": "batch done"},
        },
    )
    assert n["status"] == "COMPLETED", n
    assert n["output"]["status"] == "delivered" and n["output"]["channel"] == "in_app"


async def test_register_a_remote_tool_over_http(http: aiohttp.ClientSession) -> None:
    remote, port, _ = await start_remote()
    try:
        body = {
            "tool": {
                "name": "e2e_word_count",
                "version": "1.0.0",
                "description": "Count words",
                "category": "content",
                "parameters": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {"text": {"type": "string"}},
                },
            },
            "address": f"127.0.0.1:{port}",
        }
        async with http.post("/api/tools", json=body) as r:
            assert r.status == 200, await r.text()
            assert (await r.json())["created"] is True
        async with http.get("/api/tools/e2e_word_count") as r:
            assert r.status == 200 and (await r.json())["agentTypes"] == ["CONTENT"]
    finally:
        await remote.stop(0)
