"""The audit API through the gateway over HTTP: history from the log, live follow, resume."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from deploy.local.testing import Launched
from labs_core.ids import uuid7
from tests.e2e.conftest import auth

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def http(stack: Launched) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(stack.http, headers=auth("admin")) as s:
        yield s


async def follow(http: aiohttp.ClientSession, xid: str, start: int = 0) -> list[dict[str, Any]]:
    """Every event of the follow stream (NDJSON) until the server ends it."""
    async with http.get(f"/api/agents/{xid}/events:follow", params={"fromSequence": str(start)}) as r:
        assert r.status == 200, await r.text()
        # NDJSON, one {"result": <ExecutionEvent>} per line (the response_body of the binding)
        return [json.loads(line)["result"] for line in (await r.text()).splitlines() if line.strip()]


async def test_events_page_follow_and_404(http: aiohttp.ClientSession) -> None:
    req = {"type": "MARKET", "action": "analyze_market", "input": {"category": "electronics"}}
    async with http.post("/api/agents/execute", json=req) as r:
        xid = (await r.json(content_type=None))["executionId"]
    live = await follow(http, xid)  # started right after the POST: ends by itself at the terminal event
    seqs = [int(e["sequence"]) for e in live]
    assert live[0]["type"] == "execution_requested" and live[-1]["type"] == "execution_completed"
    assert live[0]["actor"] == "e2e-admin" and len(live[0]["traceId"]) == 32
    assert seqs == sorted(set(seqs))
    async with http.get(f"/api/agents/{xid}/events") as r:
        assert r.status == 200, await r.text()
        page = await r.json(content_type=None)
    assert [int(e["sequence"]) for e in page["events"]] == seqs and page["finished"] is True
    assert page["events"][0]["payload"]["agentType"] == "MARKET"
    async with http.get(f"/api/agents/{xid}/events", params={"pageSize": "2"}) as r:
        first = await r.json(content_type=None)
    assert len(first["events"]) == 2 and int(first["nextFromSequence"]) == seqs[2]
    resumed = await follow(http, xid, seqs[2])
    assert [int(e["sequence"]) for e in first["events"] + resumed] == seqs
    async with http.get(f"/api/agents/{uuid7()}/events") as r:
        assert r.status == 404, await r.text()
    async with http.get(
        "/api/agents/*/events"
    ) as r:  # not an id the runtime issues: refused, never a wildcard
        assert r.status == 400 and "execution_id" in await r.text()
