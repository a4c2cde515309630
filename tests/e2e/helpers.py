"""What the end-to-end tests share: submit a task, wait for its execution to end."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

NOT_DONE = ("QUEUED", "RUNNING", "RETRYING")


async def wait_done(http: aiohttp.ClientSession, execution_id: str, timeout: float = 30) -> dict[str, Any]:
    """Poll GET /api/agents/{id} until the execution has ended; its last view."""
    async with asyncio.timeout(timeout):
        while True:
            async with http.get(f"/api/agents/{execution_id}") as r:
                assert r.status == 200, await r.text()
                body: dict[str, Any] = await r.json(content_type=None)
            if body["status"] not in NOT_DONE:
                return body
            await asyncio.sleep(0.05)


async def run(http: aiohttp.ClientSession, task: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """Submit a task and wait for its end; the execution as GET returns it."""
    async with http.post("/api/agents/execute", json=task) as r:
        assert r.status == 200, await r.text()
        xid = (await r.json())["executionId"]
    return await wait_done(http, xid, timeout)
