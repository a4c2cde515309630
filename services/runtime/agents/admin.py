"""ADMIN: operations — system health, read-only SQL over the read models, notifications, bulk listing changes."""

from __future__ import annotations

from typing import Any

from services.runtime.domain.agent import ActionSpec, AgentDefinition, AgentRuntime

HEALTH_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"timeout_ms": {"type": "integer", "minimum": 50, "maximum": 10_000}},
}

QUERY_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["sql"],
    "properties": {
        "sql": {"type": "string", "minLength": 1, "maxLength": 20_000},
        "max_rows": {"type": "integer", "minimum": 1, "maximum": 10_000},
    },
}

NOTIFY_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["recipient", "subject", "body"],
    "properties": {
        "channel": {"enum": ["in_app", "webhook"]},
        "recipient": {"type": "string", "minLength": 1, "maxLength": 200},
        "subject": {"type": "string", "minLength": 1, "maxLength": 200},
        "body": {"type": "string", "minLength": 1, "maxLength": 10_000},
        "webhook": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
    },
}

BATCH_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["operation", "items"],
    "properties": {
        "batch_key": {"type": "string", "minLength": 1, "maxLength": 200},
        "operation": {"enum": ["update_price", "change_status", "delete"]},
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["listing_id"],
                "properties": {
                    "listing_id": {"type": "string", "minLength": 1, "maxLength": 100},
                    "price": {"type": "number", "exclusiveMinimum": 0},
                    "status": {"enum": ["active", "sold", "archived"]},
                },
            },
        },
    },
}


class AdminAgent(AgentRuntime):
    """Keeps an eye on the system and makes careful bulk changes."""

    definition = AgentDefinition(
        type="ADMIN",
        description="Operations: system health, read-only SQL over the read models, notifications, bulk updates",
        actions=(
            ActionSpec("health_check", "Live health of NATS, PostgreSQL and every service", HEALTH_INPUT),
            ActionSpec("query", "One read-only SELECT over the tools read models", QUERY_INPUT),
            ActionSpec("notify", "Send an in-app or webhook notification", NOTIFY_INPUT),
            ActionSpec("batch_update", "Bulk price/status change or deletion of listings", BATCH_INPUT),
        ),
        allowed_tools=(
            "get_system_health",
            "execute_database_query",
            "send_notification",
            "batch_process_items",
        ),
    )

    async def act_health_check(self, input: dict[str, Any]) -> dict[str, Any]:
        """The checks, with the failing ones named."""
        out = await self.call_tool("get_system_health", dict(input))
        checks = out.get("checks", [])
        unhealthy = [c["name"] for c in checks if c.get("status") != "ok"]
        return {"status": out.get("status"), "unhealthy": unhealthy, "checks": checks}

    async def act_query(self, input: dict[str, Any]) -> dict[str, Any]:
        """Rows of one checked SELECT (the tools service refuses anything else)."""
        return await self.call_tool("execute_database_query", dict(input))

    async def act_notify(self, input: dict[str, Any]) -> dict[str, Any]:
        """Send one notification (in_app unless a channel is given)."""
        args = {"channel": "in_app", **input}
        return await self.call_tool("send_notification", args)

    async def act_batch_update(self, input: dict[str, Any]) -> dict[str, Any]:
        """Apply the bulk change; the batch key defaults to this execution (a retry repeats nothing)."""
        args = {"batch_key": input.get("batch_key") or f"execution:{self.info.execution_id}", **input}
        out = await self.call_tool("batch_process_items", args)
        await self.update_metric("batch_items_failed", float(out.get("failed", 0)))
        return out
