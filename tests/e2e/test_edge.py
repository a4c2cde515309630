"""The edge of the running stack: keys and roles, the actor in the record, OpenAPI, SSE, agentctl."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import aiohttp
import pytest

from deploy.local.config import ROOT
from deploy.local.testing import Launched
from tests.e2e.conftest import E2E_KEYS, auth

MARKET = {"type": "MARKET", "action": "analyze_market", "input": {"category": "toys"}}


async def agentctl(stack: Launched, *args: str, role: str | None = "operator") -> tuple[int, str, str]:
    """Run the installed CLI's module against the stack's gateway: exit code, stdout, stderr."""
    env = {k: v for k, v in os.environ.items() if k != "LABS_API_KEY"}
    if role is not None:
        env["LABS_API_KEY"] = E2E_KEYS.get(role, role)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentctl",
        "--addr",
        stack.addrs["gateway"],
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_keys_roles_and_the_actor_recorded(stack: Launched) -> None:
    async with aiohttp.ClientSession(stack.http) as http:
        async with http.post("/api/agents/execute", json=MARKET) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        async with http.post(
            "/api/agents/execute", json=MARKET, headers={"Authorization": "Bearer nope"}
        ) as r:
            assert r.status == 401
        async with http.post("/api/agents/execute", json=MARKET, headers=auth("viewer")) as r:
            assert r.status == 403
            assert "executions.write" in (await r.json())["message"]
        admin_task = {"type": "ADMIN", "action": "x", "input": {}}
        async with http.post("/api/agents/execute", json=admin_task, headers=auth("operator")) as r:
            assert r.status == 403
            assert "executions.admin" in (await r.json())["message"]
        async with http.get("/api/health") as r:
            assert r.status == 200
        headers = {**auth("operator"), "X-Labs-Actor": "mallory"}
        async with http.post("/api/agents/execute", json=MARKET, headers=headers) as r:
            assert r.status == 200, await r.text()
            xid = (await r.json())["executionId"]
        async with http.get(f"/api/agents/{xid}", headers=auth("viewer")) as r:
            assert (await r.json())["submittedBy"] == "e2e-operator"
        async with http.get(f"/api/agents/{xid}/events", headers=auth("viewer")) as r:
            events = (await r.json())["events"]
        assert events[0]["actor"] == "e2e-operator"


async def test_validation_and_openapi(stack: Launched) -> None:
    async with aiohttp.ClientSession(stack.http, headers=auth("admin")) as http:
        async with http.post("/api/agents/execute", json={"maxCostUsd": -1}) as r:
            assert r.status == 400
            fields = [v["field"] for v in (await r.json())["details"][0]["fieldViolations"]]
            assert fields == ["type", "action", "maxCostUsd"]
        async with aiohttp.ClientSession(stack.http) as anon, anon.get("/openapi.json") as r:
            doc = await r.json()
        assert doc["openapi"] == "3.1.0"
        assert "/api/agents/{execution_id}/events:follow" in doc["paths"]
        async with http.get("/docs") as r:
            assert r.status == 200 and "/api/agents/execute" in await r.text()


async def test_sse_follow_of_an_execution(stack: Launched) -> None:
    async with aiohttp.ClientSession(stack.http, headers=auth("operator")) as http:
        async with http.post("/api/agents/execute", json=MARKET) as r:
            xid = (await r.json())["executionId"]
        headers = {"Accept": "text/event-stream", "X-Request-Timeout": "60"}
        async with http.get(f"/api/agents/{xid}/events:follow", headers=headers) as r:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            text = await asyncio.wait_for(r.text(), 60)
        blocks = [b for b in text.split("\n\n") if b.startswith("id: ")]
        ids = [int(b.split("\n", 1)[0][4:]) for b in blocks]
        assert ids == sorted(ids) and len(ids) >= 3
        types = [json.loads(b.split("data: ", 1)[1])["type"] for b in blocks]
        assert types[0] == "requested" or "requested" in types[0]
        # Resume: Last-Event-ID gives only what came after it.
        async with http.get(
            f"/api/agents/{xid}/events:follow", headers={**headers, "Last-Event-ID": str(ids[-2])}
        ) as r:
            again = [b for b in (await r.text()).split("\n\n") if b.startswith("id: ")]
        assert [int(b.split("\n", 1)[0][4:]) for b in again] == ids[-1:]


async def test_agentctl_drives_the_stack(stack: Launched) -> None:
    rc, out, err = await agentctl(
        stack, "--json", "run", "MARKET", "analyze_market", "--input", '{"category": "toys"}', "--wait"
    )
    assert rc == 0, err
    ex: dict[str, Any] = json.loads(out)
    assert ex["status"] == "COMPLETED" and ex["submittedBy"] == "e2e-operator"
    xid = ex["executionId"]
    rc, out, _ = await agentctl(stack, "status", xid)
    assert rc == 0 and "COMPLETED" in out and "e2e-operator" in out
    rc, out, _ = await agentctl(stack, "history", "MARKET", role="viewer")
    assert rc == 0 and xid in out and "EXECUTION" in out
    rc, out, _ = await agentctl(stack, "--json", "history", "MARKET", "--status", "completed", role="viewer")
    assert rc == 0 and xid in out
    rc, out, _ = await agentctl(stack, "agents", role="viewer")
    assert rc == 0 and "MARKET" in out and "VERSION" in out
    rc, out, _ = await agentctl(stack, "metrics", "--period", "24h", role="viewer")
    assert rc == 0 and "(all)" in out
    rc, out, _ = await agentctl(stack, "events", xid, "--follow", role="viewer")
    assert rc == 0 and "e2e-operator" in out
    rc, out, err = await agentctl(
        stack, "run", "MARKET", "analyze_market", "--input", '{"category": "books"}', "--follow"
    )
    assert rc in (0, 8), err
    assert "requested" in out
    rc, _, err = await agentctl(stack, "cancel", xid)  # already finished
    assert rc == 1 and "FAILED_PRECONDITION" in err


@pytest.mark.parametrize(
    ("args", "role", "code", "needle"),
    [
        (("agents",), None, 3, "not authenticated (401)"),
        (("agents",), "wrong-key", 3, "not authenticated (401)"),
        (("run", "MARKET", "analyze_market"), "viewer", 4, "executions.write"),
        (("run", "ADMIN", "x"), "operator", 4, "executions.admin"),
        (("status", "00000000-0000-7000-8000-000000000000"), "viewer", 5, "not found (404)"),
        (("status", "no-such-execution"), "viewer", 1, "invalid request: execution_id"),
        (("run", "MARKET", "analyze_market", "--input", "[1"), "operator", 2, "--input is not valid JSON"),
    ],
)
async def test_agentctl_errors_and_exit_codes(
    stack: Launched, args: tuple[str, ...], role: str | None, code: int, needle: str
) -> None:
    rc, _, err = await agentctl(stack, *args, role=role)
    assert rc == code, err
    assert needle in err
