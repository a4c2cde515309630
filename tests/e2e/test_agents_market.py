"""MARKET's four actions on the real catalogue through the whole stack."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from deploy.local.testing import Launched
from tests.e2e.conftest import auth
from tests.e2e.helpers import wait_done
from tests.e2e.test_http import _json


async def _run(http: aiohttp.ClientSession, action: str, input: dict[str, Any]) -> dict[str, Any]:
    async with http.post(
        "/api/agents/execute", json={"type": "MARKET", "action": action, "input": input}
    ) as r:
        assert r.status == 200, await r.text()
        xid = (await _json(r))["executionId"]
    done = await wait_done(http, xid)
    assert done["status"] == "COMPLETED", done
    return done


async def test_create_listing_with_a_suggested_price_then_find_it(stack: Launched) -> None:
    async with aiohttp.ClientSession(stack.http, headers=auth("operator")) as http:
        done = await _run(
            http, "create_listing", {"title": "Walnut bookshelf, five shelves", "category": "furniture"}
        )
        out = done["output"]
        assert out["created"] is True and out["suggested_price"] > 0
        assert out["listing"]["price"] == out["suggested_price"]
        found = await _run(http, "find_listings", {"category": "furniture", "query": "Walnut bookshelf"})
        assert out["listing"]["id"] in [x["id"] for x in found["output"]["listings"]]
        assert [t["tool"] for t in done["toolCalls"]] == ["analyze_market_price", "create_listing"]


async def test_price_alert_reports_only_new_listings_the_second_time(stack: Launched) -> None:
    async with aiohttp.ClientSession(stack.http, headers=auth("operator")) as http:
        first = (await _run(http, "price_alert", {"category": "sports", "max_price": 60}))["output"]
        assert first["matches"] > 0 and len(first["new"]) == min(first["matches"], 100)
        await asyncio.sleep(0.3)  # the memory write is projected
        await _run(
            http, "create_listing", {"title": "Cheap tennis racket", "category": "sports", "price": 9.5}
        )
        second = (await _run(http, "price_alert", {"category": "sports", "max_price": 60}))["output"]
        assert [x["title"] for x in second["new"]] == ["Cheap tennis racket"]
        assert second["previously_reported"] == len(first["new"])
