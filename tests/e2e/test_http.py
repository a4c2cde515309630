"""The seed's HTTP API through the gateway, against the real stack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from deploy.local.testing import Launched
from tests.e2e.conftest import auth
from tests.e2e.helpers import wait_done


@pytest.fixture
async def http(stack: Launched) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(stack.http, headers=auth("admin")) as s:
        yield s


async def _json(resp: aiohttp.ClientResponse) -> Any:
    return await resp.json(content_type=None)


async def test_seed_flow_analyze_market(http: aiohttp.ClientSession) -> None:
    req = {"type": "MARKET", "action": "analyze_market", "input": {"category": "electronics"}}
    async with http.post("/api/agents/execute", json=req) as r:
        assert r.status == 200, await r.text()
        created = await _json(r)
    assert set(created) == {"executionId", "taskId", "status"} and created["status"] == "QUEUED"
    async with http.get(f"/api/agents/{created['executionId']}") as r:  # straight after the POST
        assert r.status == 200
        assert (await _json(r))["status"] in ("QUEUED", "RUNNING", "COMPLETED")
    done = await wait_done(http, created["executionId"])
    assert done["status"] == "COMPLETED", done
    tools = [t["tool"] for t in done["toolCalls"]]
    assert {"get_listings", "analyze_market_price"} <= set(tools)
    assert all(t["outcome"] == "OK" for t in done["toolCalls"])
    out = done["output"]
    assert out["category"] == "electronics" and out["stats"]["count"] > 0 and out["cheapest"]
    assert out["summary"].startswith("[offline provider]") or "offline" in out["summary"].lower()
    assert (
        done["modelCalls"][0]["provider"] == "offline" and int(done["tokenUsage"]["total"]) > 0
    )  # 64-bit ints are JSON strings
    for key in ("queuedAt", "startedAt", "finishedAt"):
        assert key in done
    assert done["durationMs"] > 0 and done["attempts"] == 1


async def test_request_id_over_http(http: aiohttp.ClientSession) -> None:
    req = {"type": "MARKET", "action": "find_listings", "input": {"category": "books"}, "requestId": "same-1"}
    async with (
        http.post("/api/agents/execute", json=req) as r1,
        http.post("/api/agents/execute", json=req) as r2,
    ):
        a, b = await _json(r1), await _json(r2)
    assert a["executionId"] == b["executionId"]
    req["input"] = {"category": "toys"}
    async with http.post("/api/agents/execute", json=req) as r3:
        assert r3.status == 409
        assert (await _json(r3))["code"] == 6  # ALREADY_EXISTS


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("POST", "/api/agents/execute", {"type": "NOPE", "action": "x"}, 400, "type"),
        ("POST", "/api/agents/execute", {"type": "MARKET", "action": "fly"}, 400, "action"),
        (
            "POST",
            "/api/agents/execute",
            {"type": "MARKET", "action": "analyze_market", "input": {}},
            400,
            "category",
        ),
        ("POST", "/api/agents/execute", {"type": "MARKET", "bogus": 1}, 400, "bogus"),
        ("GET", "/api/agents/00000000-0000-7000-8000-000000000000", None, 404, "not found"),
        ("GET", "/api/agents/does-not-exist", None, 400, "execution_id"),
        ("DELETE", "/api/agents/*", None, 400, "execution_id"),
        ("GET", "/api/nothing-here", None, 404, ""),
        ("PUT", "/api/agents/execute", {}, 405, ""),
        ("GET", "/api/agents/metrics?period=2w", None, 400, "period"),
    ],
)
async def test_error_mapping(
    http: aiohttp.ClientSession, method: str, path: str, body: Any, status: int, needle: str
) -> None:
    async with http.request(method, path, json=body) as r:
        assert r.status == status, await r.text()
        err = await _json(r)
    assert set(err) >= {"code", "message"}
    assert needle in err["message"] or needle in str(err.get("details"))


async def test_malformed_json_is_400_naming_the_problem(http: aiohttp.ClientSession) -> None:
    async with http.post(
        "/api/agents/execute", data=b'{"type": "MARKET",', headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 400
        assert "json" in (await _json(r))["message"].lower()


async def test_cancel_finished_is_failed_precondition_and_queued_cancel_works(
    http: aiohttp.ClientSession,
) -> None:
    req = {"type": "MARKET", "action": "find_listings", "input": {"category": "sports"}}
    async with http.post("/api/agents/execute", json=req) as r:
        xid = (await _json(r))["executionId"]
    done = await wait_done(http, xid)
    assert done["status"] == "COMPLETED"
    async with http.delete(f"/api/agents/{xid}") as r:
        assert r.status == 400
        assert (await _json(r))["code"] == 9  # FAILED_PRECONDITION
    async with http.delete("/api/agents/00000000-0000-7000-8000-000000000000") as r:
        assert r.status == 404


async def test_history_agents_metrics_tools_health(http: aiohttp.ClientSession) -> None:
    req = {"type": "MARKET", "action": "find_listings", "input": {"category": "home"}}
    async with http.post("/api/agents/execute", json=req) as r:
        xid = (await _json(r))["executionId"]
    await wait_done(http, xid)
    async with http.get("/api/agents/MARKET/history?limit=5") as r:
        assert r.status == 200
        hist = await _json(r)
    assert hist["executions"] and int(hist["summary"]["executions"]) >= 1
    async with http.get("/api/agents") as r:
        agents = {a["type"]: a for a in (await _json(r))["agents"]}
    assert "MARKET" in agents and agents["MARKET"]["availability"]["workersOnline"] >= 1
    async with asyncio.timeout(10):
        while True:
            async with http.get("/api/agents/metrics?period=1h") as r:
                assert r.status == 200
                m = await _json(r)
            if int(m["total"]["executions"]) >= 1:
                break
            await asyncio.sleep(0.1)
    async with http.get("/api/tools?category=market") as r:
        names = {t["name"] for t in (await _json(r))["tools"]}
    assert {"get_listings", "analyze_market_price"} <= names
    for path in ("/api/health", "/api/health/nats", "/api/health/db"):
        async with http.get(path) as r:
            assert r.status == 200, path
            assert (await _json(r))["status"] == "ok"
