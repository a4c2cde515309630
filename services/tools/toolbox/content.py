"""Content tools: generate_content (through the llm service) and curate_content (collections)."""

from __future__ import annotations

from typing import Any

from services.tools.adapters.llm_client import LlmClient
from services.tools.domain import content
from services.tools.domain.collections import Item
from services.tools.domain.registry import JSONObject, Registry, ToolContext, ToolDefinition
from services.tools.service_layer.collections import CollectionService

VERSION = "1.0.0"

GENERATE_CONTENT = ToolDefinition(
    name="generate_content",
    version=VERSION,
    description=(
        "Write a title (<= 80 chars), description (<= 2000), social_post (<= 280) or email (subject <= 120, "
        "body <= 5000) about a topic through the model proxy. An over-long answer is cut at a word boundary "
        "and flagged `trimmed`. Returns the token usage and cost."
    ),
    category="content",
    extra_agent_types=frozenset({"MARKET"}),
    timeout_s=60,
    parameters={
        "type": "object",
        "additionalProperties": False,
        "required": ["kind", "topic"],
        "properties": {
            "kind": {"enum": list(content.KINDS)},
            "topic": {"type": "string", "minLength": 3, "maxLength": 1000},
            "tone": {"enum": list(content.TONES), "default": "neutral"},
            "audience": {"type": "string", "maxLength": 200},
            "keywords": {
                "type": "array",
                "maxItems": 10,
                "items": {"type": "string", "minLength": 1, "maxLength": 40},
            },
            "model": {"type": "string", "maxLength": 100},
        },
    },
    result={
        "type": "object",
        "required": [
            "kind",
            "text",
            "length",
            "max_length",
            "trimmed",
            "provider",
            "model",
            "usage",
            "cost_usd",
        ],
        "properties": {
            "kind": {"type": "string"},
            "text": {"type": "string"},
            "subject": {"type": "string"},
            "body": {"type": "string"},
            "length": {"type": "integer", "minimum": 0},
            "max_length": {"type": "integer"},
            "trimmed": {"type": "boolean"},
            "note": {"type": "string"},
            "provider": {"type": "string"},
            "model": {"type": "string"},
            "usage": {
                "type": "object",
                "required": ["input_tokens", "output_tokens", "total_tokens"],
                "properties": {
                    "input_tokens": {"type": "integer", "minimum": 0},
                    "output_tokens": {"type": "integer", "minimum": 0},
                    "total_tokens": {"type": "integer", "minimum": 0},
                },
            },
            "cost_usd": {"type": "number", "minimum": 0},
        },
    },
)

_ITEM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["item_id"],
    "properties": {
        "item_id": {"type": "string", "minLength": 1, "maxLength": 200},
        "title": {"type": "string", "maxLength": 300, "default": ""},
        "score": {"type": "number", "default": 0},
        "attributes": {
            "type": "object",
            "maxProperties": 20,
            "additionalProperties": {"type": "string", "maxLength": 500},
        },
    },
}
_COLLECTION_ID = {"type": "string", "pattern": "^col_[0-9a-f]{20}$"}

CURATE_CONTENT = ToolDefinition(
    name="curate_content",
    version=VERSION,
    description=(
        "Curated collections: create (or find) a named collection, add or remove items, reorder them by hand "
        "or rank them by score, get one, list them. Writes are events, idempotent by idempotency key."
    ),
    category="content",
    extra_agent_types=frozenset({"MARKET"}),
    side_effects=True,
    parameters={
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"enum": ["create", "add", "remove", "reorder", "rank", "get", "list"]},
            "collection_id": _COLLECTION_ID,
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "description": {"type": "string", "maxLength": 1000},
            "owner": {"type": "string", "minLength": 1, "maxLength": 100},
            "items": {"type": "array", "minItems": 1, "maxItems": 100, "items": _ITEM},
            "item_ids": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {"type": "string", "minLength": 1},
                "uniqueItems": True,
            },
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        },
        "allOf": [
            {"if": {"properties": {"action": {"const": "create"}}}, "then": {"required": ["name"]}},
            {
                "if": {"properties": {"action": {"const": "add"}}},
                "then": {"required": ["collection_id", "items"]},
            },
            {
                "if": {"properties": {"action": {"enum": ["remove", "reorder"]}}},
                "then": {"required": ["collection_id", "item_ids"]},
            },
            {
                "if": {"properties": {"action": {"enum": ["rank", "get"]}}},
                "then": {"required": ["collection_id"]},
            },
        ],
    },
    result={
        "type": "object",
        "properties": {
            "collection": {
                "type": "object",
                "required": ["collection_id", "name", "owner", "ranked_by", "version", "items"],
            },
            "collections": {"type": "array"},
            "changed": {"type": "boolean"},
        },
    },
)


def register_content_tools(registry: Registry, llm: LlmClient, collections: CollectionService) -> None:
    """Register generate_content and curate_content."""

    async def generate_content(args: JSONObject, ctx: ToolContext) -> JSONObject:
        kind = content.KINDS[args["kind"]]
        system, prompt = content.prompt_for(
            kind,
            args["topic"].strip(),
            args.get("tone", "neutral"),
            args.get("audience", ""),
            args.get("keywords", []),
        )
        g = await llm.generate(
            prompt,
            system=system,
            max_output_tokens=kind.max_output_tokens,
            temperature=None,
            execution_id=ctx.execution_id,
            timeout_s=50,
        )
        out: dict[str, Any] = {"kind": kind.name, "max_length": kind.max_chars}
        notes = []
        if kind.name == "email":
            subject, body = content.split_email(g.text)
            subject, cut_s = content.trim(content.single_line(subject), content.EMAIL_SUBJECT_MAX)
            body, cut_b = content.trim(body, kind.max_chars)
            if cut_s:
                notes.append(f"subject trimmed to {content.EMAIL_SUBJECT_MAX} characters at a word boundary")
            if cut_b:
                notes.append(f"body trimmed to {kind.max_chars} characters at a word boundary")
            text = f"Subject: {subject}\n\n{body}"
            out |= {"subject": subject, "body": body, "length": len(body), "trimmed": cut_s or cut_b}
        else:
            raw = content.single_line(g.text) if kind.name == "title" else g.text
            text, cut = content.trim(raw, kind.max_chars)
            if cut:
                notes.append(
                    f"the model's answer had {len(raw.strip())} characters; trimmed to {kind.max_chars} "
                    "at a word boundary"
                )
            out |= {"length": len(text), "trimmed": cut}
        if notes:
            out["note"] = "; ".join(notes)
        return out | {
            "text": text,
            "provider": g.provider,
            "model": g.model,
            "usage": {
                "input_tokens": g.input_tokens,
                "output_tokens": g.output_tokens,
                "total_tokens": g.input_tokens + g.output_tokens,
            },
            "cost_usd": g.cost_usd,
        }

    async def curate_content(args: JSONObject, ctx: ToolContext) -> JSONObject:
        action = args["action"]
        key, corr = ctx.idempotency_key, ctx.execution_id
        owner = args.get("owner") or f"agent-{ctx.agent_type.lower()}"
        if action == "list":
            return {"collections": await collections.list(args.get("owner"), args.get("limit", 20))}
        if action == "get":
            return {"collection": await collections.get(args["collection_id"])}
        if action == "create":
            o = await collections.create(
                owner, args["name"], args.get("description", ""), key=key, correlation_id=corr
            )
        elif action == "add":
            items = [
                Item(i["item_id"], i.get("title", ""), float(i.get("score", 0)), i.get("attributes", {}))
                for i in args["items"]
            ]
            o = await collections.add(args["collection_id"], items, key=key, correlation_id=corr)
        elif action == "remove":
            o = await collections.remove(
                args["collection_id"], args["item_ids"], key=key, correlation_id=corr
            )
        elif action == "reorder":
            o = await collections.reorder(
                args["collection_id"], args["item_ids"], key=key, correlation_id=corr
            )
        else:  # rank
            o = await collections.reorder(args["collection_id"], None, key=key, correlation_id=corr)
        return {"collection": o.collection.to_json(), "changed": o.changed}

    registry.add(GENERATE_CONTENT, generate_content)
    registry.add(CURATE_CONTENT, curate_content)
