"""One trace from the HTTP request through runtime (API and worker), tools and llm."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import aiohttp

from deploy.local.testing import Launched
from tests.e2e.conftest import auth


def _spans(stack: Launched) -> list[dict[str, Any]]:
    """Every span the stack's services have exported so far."""
    pattern = Path(stack.env["OTEL_TRACES_FILE"])
    found: list[dict[str, Any]] = []
    for f in pattern.parent.glob(pattern.name.replace("{service}", "*")):
        found += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return found


async def test_one_trace_across_services(stack: Launched) -> None:
    trace_id, root_span = secrets.token_hex(16), secrets.token_hex(8)
    headers = {"traceparent": f"00-{trace_id}-{root_span}-01"}
    body = {"type": "MARKET", "action": "analyze_market", "input": {"category": "toys"}}
    async with aiohttp.ClientSession(stack.http, headers=auth("operator")) as http:
        async with http.post("/api/agents/execute", json=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            xid = (await r.json())["executionId"]
        async with asyncio.timeout(30):
            while True:
                async with http.get(f"/api/agents/{xid}") as r:
                    if (await r.json())["status"] == "COMPLETED":
                        break
                await asyncio.sleep(0.05)
    async with asyncio.timeout(10):
        while True:
            spans = [s for s in _spans(stack) if s["trace_id"] == trace_id]
            services = {s["service"] for s in spans}
            if {"runtime", "tools", "llm"} <= services and sum(
                s["name"].endswith("/InvokeTool") for s in spans
            ) >= 4:
                break
            await asyncio.sleep(0.1)
    by_id = {s["span_id"]: s for s in spans}
    execute = [
        s for s in spans if s["name"] == "/labs.agents.v1.AgentService/Execute" and s["kind"] == "SERVER"
    ]
    assert len(execute) == 1 and execute[0]["parent_id"] == root_span  # continues the caller's trace
    attempt = [s for s in spans if s["name"] == "execute MARKET.analyze_market"]
    assert len(attempt) == 1 and attempt[0]["service"] == "runtime"
    assert attempt[0]["parent_id"] == execute[0]["span_id"]  # carried across NATS in the event

    def ancestors(s: dict[str, Any]) -> list[str]:
        out = []
        while s["parent_id"] in by_id:
            s = by_id[s["parent_id"]]
            out.append(s["name"])
        return out

    tool_servers = [s for s in spans if s["service"] == "tools" and s["kind"] == "SERVER"]
    llm_servers = [s for s in spans if s["service"] == "llm" and s["kind"] == "SERVER"]
    assert len(tool_servers) == 2 and len(llm_servers) == 1
    for s in [*tool_servers, *llm_servers]:
        assert "execute MARKET.analyze_market" in ancestors(s)
