"""MARKET: marketplace intelligence over the listings catalogue."""

from __future__ import annotations

from typing import Any

from services.runtime.domain.agent import ActionSpec, AgentDefinition, AgentRuntime, require
from services.runtime.domain.errors import InputInvalid

_CATEGORY = {"type": "string", "minLength": 1, "maxLength": 64}


def _money(units: Any) -> str:
    return "n/a" if units is None else f"{float(units):,.2f}"


class MarketAgent(AgentRuntime):
    """Analyses prices and finds listings."""

    definition = AgentDefinition(
        type="MARKET",
        description="Marketplace intelligence: price analysis and listing search",
        actions=(
            ActionSpec(
                "analyze_market",
                "Price statistics and trend for a category, the cheapest active listings, and a summary",
                {
                    "type": "object",
                    "required": ["category"],
                    "properties": {
                        "category": _CATEGORY,
                        "window_days": {"type": "integer", "minimum": 1, "maximum": 365},
                    },
                },
            ),
            ActionSpec(
                "find_listings",
                "Search listings by category, text and price range",
                {
                    "type": "object",
                    "properties": {
                        "category": _CATEGORY,
                        "query": {"type": "string", "maxLength": 200},
                        "min_price": {"type": "number", "minimum": 0},
                        "max_price": {"type": "number", "minimum": 0},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                    },
                },
            ),
            ActionSpec(
                "create_listing",
                "Create a listing for the caller; without a price, the category's median is suggested",
                {
                    "type": "object",
                    "required": ["title", "category"],
                    "properties": {
                        "title": {"type": "string", "minLength": 3, "maxLength": 140},
                        "category": _CATEGORY,
                        "price": {"type": "number", "exclusiveMinimum": 0},
                        "description": {"type": "string", "maxLength": 4000},
                        "currency": {"enum": ["USD", "EUR", "GBP"]},
                        "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            ),
            ActionSpec(
                "price_alert",
                "Active listings at or under a price; reports which are new since the last alert of the same kind",
                {
                    "type": "object",
                    "required": ["category", "max_price"],
                    "properties": {
                        "category": _CATEGORY,
                        "max_price": {"type": "number", "exclusiveMinimum": 0},
                        "query": {"type": "string", "maxLength": 200},
                    },
                },
            ),
        ),
        allowed_tools=("get_listings", "analyze_market_price", "create_listing"),
    )

    async def act_create_listing(self, input: dict[str, Any]) -> dict[str, Any]:
        """Create the listing (idempotent per execution step), suggesting a price when none is given."""
        args: dict[str, Any] = {
            k: input[k] for k in ("title", "category", "description", "currency", "attributes") if k in input
        }
        suggested = None
        if "price" in input:
            args["price"] = input["price"]
        else:
            stats = await self.call_tool("analyze_market_price", {"category": input["category"]})
            median = stats.get("median")
            if not median:
                raise InputInvalid(
                    f"no recent {input['category']} listings to suggest a price from: give input.price",
                    field="input.price",
                )
            suggested = max(0.99, round(float(median)) - 0.01)  # just under the median, as sellers do
            args["price"] = suggested
        if self.info.actor:
            args["seller"] = self.info.actor[:100]
        created = await self.call_tool("create_listing", args)
        await self.update_metric("listings_created", 1)
        return {
            "listing": created.get("listing"),
            "created": created.get("created"),
            "suggested_price": suggested,
        }

    async def act_price_alert(self, input: dict[str, Any]) -> dict[str, Any]:
        """Listings at or under the price, and which of them this alert has not reported before."""
        category, max_price = input["category"], float(input["max_price"])
        args: dict[str, Any] = {
            "category": category,
            "max_price": max_price,
            "status": "active",
            "sort": "price_asc",
            "limit": 100,
            "fields": ["id", "title", "price"],
        }
        if input.get("query"):
            args["query"] = input["query"]
        found = await self.call_tool("get_listings", args)
        listings = found.get("listings", [])
        key = f"price_alert:{category}:{max_price:g}:{input.get('query', '')}"
        seen = set(await self.recall(key, []))
        new = [x for x in listings if x.get("id") not in seen]
        # Remember what was reported (bounded), so the next alert shows only what is new.
        await self.remember(key, sorted(seen | {x.get("id") for x in listings})[-1000:])
        return {
            "category": category,
            "max_price": max_price,
            "matches": found.get("total", len(listings)),
            "new": [{"id": x.get("id"), "title": x.get("title"), "price": x.get("price")} for x in new],
            "previously_reported": len(listings) - len(new),
        }

    async def act_analyze_market(self, input: dict[str, Any]) -> dict[str, Any]:
        """Statistics, trend, cheapest listings and a model-written summary for one category."""
        category = require(input, "category", str)
        window = require(input, "window_days", int, optional=True) or 30
        stats = await self.call_tool("analyze_market_price", {"category": category, "window_days": window})
        listings = await self.call_tool(
            "get_listings",
            {
                "category": category,
                "status": "active",
                "sort": "price_asc",
                "limit": 5,
                "fields": ["id", "title", "price"],
            },
        )
        cheapest = [
            {"id": x.get("id"), "title": x.get("title"), "price": x.get("price")}
            for x in listings.get("listings", [])
        ]
        trend = stats.get("trend", {})
        prompt = (
            f"Summarise the {category} market in two sentences for a seller. "
            f"Over the last {window} days: {stats.get('count', 0)} listings, median price "
            f"{_money(stats.get('median', 0))}, 10th-90th percentile {_money(stats.get('p10', 0))}-"
            f"{_money(stats.get('p90', 0))}, prices {trend.get('direction', 'flat')} "
            f"({trend.get('slope_per_day') or 0.0:+.2f} per day)."
        )
        answer = await self.call_ai(
            prompt, system="You are a concise marketplace analyst.", max_output_tokens=200
        )
        await self.update_metric("market_analyses", 1)
        return {
            "category": category,
            "window_days": window,
            "stats": stats,
            "cheapest": cheapest,
            "active_listings": listings.get("total", len(cheapest)),
            "summary": answer.text,
            "model": answer.model,
        }

    async def act_find_listings(self, input: dict[str, Any]) -> dict[str, Any]:
        """Listings matching the filters, cheapest first."""
        args: dict[str, Any] = {"status": "active", "sort": "price_asc", "limit": input.get("limit", 20)}
        for k in ("category", "query", "min_price", "max_price"):
            if input.get(k) is not None:
                args[k] = input[k]
        if "min_price" in args and "max_price" in args and args["min_price"] > args["max_price"]:
            raise InputInvalid("input.min_price is above input.max_price", field="input.min_price")
        found = await self.call_tool("get_listings", args)
        return {"listings": found.get("listings", []), "total": found.get("total", 0)}
