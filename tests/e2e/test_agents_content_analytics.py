"""CONTENT and ANALYTICS agents through the whole stack (gateway -> runtime -> tools -> llm), and
the notifications inbox served by the gateway from ToolService's annotation alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from labs.tools.v1 import tool_service_pb2, tool_service_pb2_grpc

from deploy.local.testing import Launched
from labs_core.structs import dict_to_struct
from labs_core.testing import ADMIN, internal_channel
from tests.e2e.conftest import auth
from tests.e2e.helpers import run

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def http(stack: Launched) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(stack.http, headers=auth("operator")) as s:
        yield s


async def test_content_generate_and_curate(http: aiohttp.ClientSession) -> None:
    done = await run(
        http, {"type": "CONTENT", "action": "generate", "input": {"kind": "title", "topic": "oak table"}}
    )
    assert done["status"] == "COMPLETED", done
    out = done["output"]
    assert out["kind"] == "title" and 0 < len(out["text"]) <= 80 and out["max_length"] == 80
    assert out["provider"] == "offline" and out["usage"]["total_tokens"] > 0
    assert [t["tool"] for t in done["toolCalls"]] == ["generate_content"]

    post = await run(
        http, {"type": "CONTENT", "action": "generate", "input": {"kind": "social_post", "topic": "bikes"}}
    )
    assert post["status"] == "COMPLETED" and len(post["output"]["text"]) <= 280

    async with http.post(
        "/api/agents/execute",
        json={"type": "CONTENT", "action": "generate", "input": {"kind": "poem", "topic": "x"}},
    ) as r:
        assert r.status == 400
        assert "input.kind" in (await r.text())

    items = [{"item_id": "l1", "title": "Lamp", "score": 2}, {"item_id": "l2", "title": "Desk", "score": 9}]
    cur = await run(
        http, {"type": "CONTENT", "action": "curate", "input": {"name": "Home office", "items": items}}
    )
    assert cur["status"] == "COMPLETED", cur
    col = cur["output"]["collection"]
    assert [i["item_id"] for i in col["items"]] == ["l2", "l1"] and col["ranked_by"] == "score"
    assert cur["output"]["created"] is True
    again = await run(
        http,
        {
            "type": "CONTENT",
            "action": "curate",
            "input": {
                "name": "home office",
                "items": [*items, {"item_id": "l3", "score": 5}],
                "remove": ["l1"],
            },
        },
    )
    out2 = again["output"]
    assert again["status"] == "COMPLETED" and out2["created"] is False
    assert out2["already_present"] == ["l1", "l2"] and out2["added"] == ["l3"] and out2["removed"] == ["l1"]
    assert [i["item_id"] for i in out2["collection"]["items"]] == ["l2", "l3"]
    assert out2["collection"]["collection_id"] == col["collection_id"]


async def test_analytics_reports_over_projected_executions(http: aiohttp.ClientSession) -> None:
    first = await run(
        http, {"type": "CONTENT", "action": "generate", "input": {"kind": "description", "topic": "a chair"}}
    )
    assert first["status"] == "COMPLETED"
    # The tools service projects executions on its own; poll until it has seen the one above.
    async with asyncio.timeout(20):
        while True:
            rep = await run(
                http,
                {"type": "ANALYTICS", "action": "agent_report", "input": {"period": "1h", "format": "csv"}},
            )
            assert rep["status"] == "COMPLETED", rep
            csv_text = rep["output"]["report"]["content"]
            rows = {line.split(",")[0]: line.split(",") for line in csv_text.strip().splitlines()[1:]}
            if "CONTENT" in rows and int(rows["CONTENT"][2]) >= 1:
                break
            await asyncio.sleep(0.2)
    assert csv_text.startswith("agent_type,executions,completed,")

    user = await run(
        http,
        {"type": "ANALYTICS", "action": "user_report", "input": {"user": "e2e-operator", "period": "1h"}},
    )
    assert user["status"] == "COMPLETED", user
    m = user["output"]["metrics"]
    assert m["executions"]["executions"] >= 2 and m["executions"]["completed"] >= 1
    assert m["tokens"]["total"] > 0
    assert user["output"]["report"]["content"].startswith("# Activity of e2e-operator")

    market = await run(
        http,
        {
            "type": "ANALYTICS",
            "action": "market_report",
            "input": {"category": "electronics", "format": "html"},
        },
    )
    assert market["status"] == "COMPLETED", market
    assert market["output"]["stats"]["category"] == "electronics"
    assert "<table>" in market["output"]["report"]["content"]

    async with http.post(
        "/api/agents/execute", json={"type": "ANALYTICS", "action": "user_report", "input": {"period": "2d"}}
    ) as r:
        assert r.status == 400
        body = await r.text()
        assert "input.user" in body or "input.period" in body


async def test_notifications_inbox_over_http(stack: Launched) -> None:
    async with internal_channel(stack.addrs["tools"], ADMIN) as ch:
        stub = tool_service_pb2_grpc.ToolServiceStub(ch)
        for n in range(3):
            req = tool_service_pb2.InvokeToolRequest(
                name="send_notification", agent_type="ADMIN", idempotency_key=f"e2e-inbox-{n}"
            )
            dict_to_struct(
                {"channel": "in_app", "recipient": "erin", "subject": f"Note {n}", "body": "hello"},
                req.arguments,
            )
            await stub.InvokeTool(req, timeout=10)
    async with aiohttp.ClientSession(stack.http, headers=auth("admin")) as admin:
        async with admin.get("/api/notifications", params={"recipient": "erin", "pageSize": "2"}) as r:
            assert r.status == 200, await r.text()
            page = await r.json()
        assert page["total"] == 3 and [n["subject"] for n in page["notifications"]] == ["Note 2", "Note 1"]
        assert (
            page["notifications"][0]["channel"] == "in_app"
            and page["notifications"][0]["status"] == "delivered"
        )
        params = {"recipient": "erin", "pageSize": "2", "pageToken": page["nextPageToken"]}
        async with admin.get("/api/notifications", params=params) as r:
            rest = await r.json()
        assert [n["subject"] for n in rest["notifications"]] == ["Note 0"] and not rest.get("nextPageToken")
        async with admin.get("/api/notifications") as r:  # an admin naming no one: everyone's
            assert r.status == 200
            assert (await r.json())["total"] >= 3


async def test_system_health_sees_the_whole_stack(stack: Launched) -> None:
    async with internal_channel(stack.addrs["tools"], ADMIN) as ch:
        req = tool_service_pb2.InvokeToolRequest(name="get_system_health", agent_type="ADMIN")
        resp = await tool_service_pb2_grpc.ToolServiceStub(ch).InvokeTool(req, timeout=10)
    from labs_core.structs import struct_to_dict

    h = struct_to_dict(resp.result)
    checks = {c["name"]: c for c in h["checks"]}
    for name in (
        "nats",
        "postgres",
        "grpc:runtime",
        "grpc:tools",
        "grpc:llm",
        "grpc:metrics",
        "grpc:gateway",
    ):
        assert checks[name]["status"] == "ok", checks[name]
        assert checks[name]["latency_ms"] > 0
    worker = checks["consumer:agent-worker"]
    assert worker["status"] in ("ok", "degraded") and "num_ack_pending" in worker["details"]
