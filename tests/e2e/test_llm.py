"""The model proxy through the gateway: streaming as NDJSON, function calling over HTTP/JSON."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from deploy.local.testing import Launched
from tests.e2e.conftest import auth

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def http(stack: Launched) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(stack.http, headers=auth("admin")) as s:
        yield s


async def test_generate_stream_over_http(http: aiohttp.ClientSession) -> None:
    body = {"model": "offline", "prompt": "Ship 40 units to Berlin by Friday.", "executionId": "e2e-llm"}
    async with http.post("/api/llm/generate:stream", json=body) as r:
        assert r.status == 200, await r.text()
        lines = [json.loads(line) for line in (await r.text()).splitlines() if line.strip()]
    results = [line["result"] for line in lines]
    pieces = [x["text"] for x in results[:-1]]
    done = results[-1]["done"]
    assert len(pieces) > 1 and "".join(pieces) == done["text"] and "40" in done["text"]
    assert done["provider"] == "offline" and done["usage"]["estimated"] is True
    assert done["callId"] and done["finishReason"] == "stop"


async def test_function_calling_over_http(http: aiohttp.ClientSession) -> None:
    tool = {
        "name": "get_listings",
        "description": "List marketplace listings of a category",
        "parameters": {
            "type": "object",
            "required": ["category"],
            "properties": {"category": {"type": "string"}},
        },
    }
    first = {"model": "offline", "prompt": "Show listings, category: toys", "tools": [tool]}
    async with http.post("/api/llm/generate", json=first) as r:
        assert r.status == 200, await r.text()
        answer = await r.json()
    assert answer["finishReason"] == "tool_calls"
    [call] = answer["toolCalls"]
    assert (call["name"], call["arguments"]) == ("get_listings", {"category": "toys"})
    second = {
        "model": "offline",
        "messages": [
            {"role": "user", "text": "Show listings, category: toys"},
            {"role": "assistant", "toolCalls": [call]},
            {"role": "tool", "toolCallId": call["id"], "toolResult": {"count": 7}},
        ],
        "tools": [tool],
    }
    async with http.post("/api/llm/generate", json=second) as r:
        assert r.status == 200, await r.text()
        final = await r.json()
    assert final["finishReason"] == "stop" and "7" in final["text"]
    bad = {**second, "messages": [{"role": "tool", "toolCallId": "nope", "toolResult": {}}]}
    async with http.post("/api/llm/generate", json=bad) as r:
        assert r.status == 400
        assert "messages[0].tool_call_id" in await r.text()
