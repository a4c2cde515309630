"""CONTENT: writes copy through the model proxy and curates collections."""

from __future__ import annotations

from typing import Any

from services.runtime.domain.agent import ActionSpec, AgentDefinition, AgentRuntime

KINDS = ["title", "description", "social_post", "email"]
TONES = ["neutral", "friendly", "professional", "enthusiastic", "formal", "playful"]

GENERATE_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "topic"],
    "properties": {
        "kind": {"enum": KINDS},
        "topic": {"type": "string", "minLength": 3, "maxLength": 1000},
        "tone": {"enum": TONES},
        "audience": {"type": "string", "maxLength": 200},
        "keywords": {
            "type": "array",
            "maxItems": 10,
            "items": {"type": "string", "minLength": 1, "maxLength": 40},
        },
    },
}

CURATE_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 120},
        "description": {"type": "string", "maxLength": 1000},
        "items": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["item_id"],
                "properties": {
                    "item_id": {"type": "string", "minLength": 1, "maxLength": 200},
                    "title": {"type": "string", "maxLength": 300},
                    "score": {"type": "number"},
                },
            },
        },
        "remove": {"type": "array", "maxItems": 100, "items": {"type": "string", "minLength": 1}},
        "rank_by_score": {"type": "boolean"},
    },
}


class ContentAgent(AgentRuntime):
    """Generates titles, descriptions, social posts and emails; curates ranked collections."""

    definition = AgentDefinition(
        type="CONTENT",
        description="Content: generated copy within each kind's length limit, curated collections",
        actions=(
            ActionSpec(
                "generate", "Write a title, description, social_post or email about a topic", GENERATE_INPUT
            ),
            ActionSpec(
                "curate",
                "Create (or find) a named collection, add and remove items, rank it by score, and return it",
                CURATE_INPUT,
            ),
        ),
        allowed_tools=("generate_content", "curate_content", "send_notification"),
        timeout_ms=60_000,
    )

    async def act_generate(self, input: dict[str, Any]) -> dict[str, Any]:
        """One piece of content through generate_content."""
        args: dict[str, Any] = {
            k: input[k] for k in ("kind", "topic", "tone", "audience", "keywords") if k in input
        }
        out = await self.call_tool("generate_content", args)
        await self.update_metric("content_generated", 1)
        result = {
            "kind": out["kind"],
            "topic": input["topic"],
            "text": out["text"],
            "length": out["length"],
            "max_length": out["max_length"],
            "trimmed": out["trimmed"],
            "usage": out["usage"],
            "cost_usd": out["cost_usd"],
            "provider": out["provider"],
            "model": out["model"],
        }
        for k in ("subject", "body", "note"):
            if k in out:
                result[k] = out[k]
        return result

    async def act_curate(self, input: dict[str, Any]) -> dict[str, Any]:
        """Create or find the collection, apply the additions and removals, rank by score."""
        create: dict[str, Any] = {"action": "create", "name": input["name"]}
        if "description" in input:
            create["description"] = input["description"]
        created = await self.call_tool("curate_content", create)
        collection = created["collection"]
        cid = collection["collection_id"]
        present = {i["item_id"] for i in collection["items"]}
        fresh = [i for i in input.get("items", []) if i["item_id"] not in present]
        skipped = [i["item_id"] for i in input.get("items", []) if i["item_id"] in present]
        if fresh:
            collection = (
                await self.call_tool(
                    "curate_content", {"action": "add", "collection_id": cid, "items": fresh}
                )
            )["collection"]
        present = {i["item_id"] for i in collection["items"]}
        gone = [i for i in dict.fromkeys(input.get("remove", [])) if i in present]
        if gone:
            collection = (
                await self.call_tool(
                    "curate_content", {"action": "remove", "collection_id": cid, "item_ids": gone}
                )
            )["collection"]
        if input.get("rank_by_score", True) and collection["items"]:
            collection = (await self.call_tool("curate_content", {"action": "rank", "collection_id": cid}))[
                "collection"
            ]
        await self.update_metric("collections_curated", 1)
        return {
            "collection": collection,
            "created": created["changed"],
            "added": [i["item_id"] for i in fresh],
            "already_present": skipped,
            "removed": gone,
        }
