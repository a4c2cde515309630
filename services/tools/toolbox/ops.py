"""Scheduling and system tools: schedule_task, cancel_scheduled_task, list_schedules,
execute_database_query, batch_process_items."""

from __future__ import annotations

from typing import Any

from labs_core.auth import Identity, may_run
from labs_core.errors import PermissionDenied
from services.tools.domain.registry import JSONObject, Registry, ToolContext, ToolDefinition
from services.tools.domain.schedules import MISSED_POLICIES, check_cron, check_timezone
from services.tools.service_layer.batch import OPERATIONS, BatchService
from services.tools.service_layer.query import QueryService
from services.tools.service_layer.schedules import NewSchedule, ScheduleService

VERSION = "1.0.0"
_AGENT_TYPE = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"}
_ISO = {"type": "string"}
_SCHEDULE: JSONObject = {
    "type": "object",
    "required": ["schedule_id", "cron", "timezone", "agent_type", "action", "status", "next_occurrences"],
    "properties": {
        "schedule_id": {"type": "string"},
        "cron": {"type": "string"},
        "timezone": {"type": "string"},
        "agent_type": {"type": "string"},
        "action": {"type": "string"},
        "input": {"type": "object"},
        "missed_policy": {"enum": list(MISSED_POLICIES)},
        "status": {"enum": ["active", "cancelled"]},
        "next_occurrences": {"type": "array", "items": _ISO},
        "last_occurrence_at": {"type": ["string", "null"]},
        "fired_count": {"type": "integer"},
        "skipped_count": {"type": "integer"},
        "occurrences": {"type": "array", "items": {"type": "object"}},
    },
}

SCHEDULE_TASK = ToolDefinition(
    name="schedule_task",
    version=VERSION,
    description=(
        "Run an agent action on a cron schedule (five fields, read in the given IANA time zone). "
        "After downtime, missed occurrences follow missed_policy: 'latest' (default) runs the most "
        "recent missed one once, 'all' runs each, 'none' skips them. Idempotent per idempotency key."
    ),
    category="scheduling",
    side_effects=True,
    extra_agent_types=frozenset({"ADMIN"}),
    parameters={
        "type": "object",
        "additionalProperties": False,
        "required": ["cron", "agent_type", "action"],
        "properties": {
            "cron": {
                "type": "string",
                "minLength": 9,
                "maxLength": 120,
                "description": "e.g. '*/15 * * * *'",
            },
            "timezone": {"type": "string", "minLength": 1, "maxLength": 64, "default": "UTC"},
            "agent_type": _AGENT_TYPE,
            "action": {"type": "string", "minLength": 1, "maxLength": 64},
            "input": {"type": "object", "default": {}},
            "missed_policy": {"enum": list(MISSED_POLICIES), "default": "latest"},
            "description": {"type": "string", "maxLength": 500, "default": ""},
        },
    },
    result={
        "type": "object",
        "required": ["schedule", "created"],
        "properties": {"schedule": _SCHEDULE, "created": {"type": "boolean"}},
    },
)

CANCEL_SCHEDULED_TASK = ToolDefinition(
    name="cancel_scheduled_task",
    version=VERSION,
    description="Stop a schedule's future occurrences. Cancelling a cancelled schedule changes nothing.",
    category="scheduling",
    side_effects=True,
    extra_agent_types=frozenset({"ADMIN"}),
    parameters={
        "type": "object",
        "additionalProperties": False,
        "required": ["schedule_id"],
        "properties": {
            "schedule_id": {"type": "string", "minLength": 1, "maxLength": 100},
            "reason": {"type": "string", "maxLength": 500, "default": ""},
        },
    },
    result={
        "type": "object",
        "required": ["schedule_id", "cancelled", "already_cancelled"],
        "properties": {
            "schedule_id": {"type": "string"},
            "cancelled": {"type": "boolean"},
            "already_cancelled": {"type": "boolean"},
            "message": {"type": "string"},
        },
    },
)

LIST_SCHEDULES = ToolDefinition(
    name="list_schedules",
    version=VERSION,
    description="Schedules, newest first, with their next occurrences and optionally their latest fired ones.",
    category="scheduling",
    extra_agent_types=frozenset({"ADMIN"}),
    parameters={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "status": {"enum": ["active", "cancelled"]},
            "agent_type": _AGENT_TYPE,
            "schedule_id": {"type": "string", "minLength": 1},
            "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
            "occurrences": {"type": "integer", "minimum": 0, "maximum": 50, "default": 0},
        },
    },
    result={
        "type": "object",
        "required": ["schedules", "total"],
        "properties": {"schedules": {"type": "array", "items": _SCHEDULE}, "total": {"type": "integer"}},
    },
)

EXECUTE_DATABASE_QUERY = ToolDefinition(
    name="execute_database_query",
    version=VERSION,
    description=(
        "ADMIN only. Run exactly one read-only SELECT over the tools read models (listings, listing_prices, "
        "schedules, schedule_occurrences, remote_tools, ...), checked by PostgreSQL's parser: no writes, DDL, "
        "several statements, COPY, SELECT INTO, locking clauses or functions outside an allowlist of pure ones; "
        "READ ONLY transaction, statement timeout, row cap, as a role that can only read."
    ),
    category="system",
    parameters={
        "type": "object",
        "additionalProperties": False,
        "required": ["sql"],
        "properties": {
            "sql": {"type": "string", "minLength": 1, "maxLength": 20_000},
            "max_rows": {"type": "integer", "minimum": 1, "maximum": 10_000},
        },
    },
    result={
        "type": "object",
        "required": ["columns", "rows", "row_count", "truncated"],
        "properties": {
            "columns": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "type"],
                    "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                },
            },
            "rows": {"type": "array", "items": {"type": "array"}},
            "row_count": {"type": "integer", "minimum": 0},
            "truncated": {"type": "boolean"},
            "max_rows": {"type": "integer"},
            "relations": {"type": "array", "items": {"type": "string"}},
            "duration_ms": {"type": "number"},
        },
    },
)

_ITEM_RESULT: JSONObject = {
    "type": "object",
    "required": ["index", "listing_id", "ok", "outcome"],
    "properties": {
        "index": {"type": "integer"},
        "listing_id": {"type": "string"},
        "ok": {"type": "boolean"},
        "outcome": {"enum": ["done", "unchanged", "error"]},
        "error": {"type": "string"},
    },
}

BATCH_PROCESS_ITEMS = ToolDefinition(
    name="batch_process_items",
    version=VERSION,
    description=(
        "Bulk change over listings: update_price (items: listing_id, price), change_status (listing_id, status) "
        "or delete (listing_id). Results item by item; successful items stay done when others fail. "
        "Idempotent per batch_key: the same key answers the first result and changes nothing again."
    ),
    category="system",
    side_effects=True,
    parameters={
        "type": "object",
        "additionalProperties": False,
        "required": ["batch_key", "operation", "items"],
        "properties": {
            "batch_key": {"type": "string", "minLength": 1, "maxLength": 200},
            "operation": {"enum": list(OPERATIONS)},
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
                        "price": {"type": "number", "exclusiveMinimum": 0, "maximum": 10_000_000},
                        "status": {"enum": ["active", "sold", "archived"]},
                    },
                },
            },
        },
        "allOf": [
            {
                "if": {"properties": {"operation": {"const": "update_price"}}},
                "then": {"properties": {"items": {"items": {"required": ["price"]}}}},
            },
            {
                "if": {"properties": {"operation": {"const": "change_status"}}},
                "then": {"properties": {"items": {"items": {"required": ["status"]}}}},
            },
        ],
    },
    result={
        "type": "object",
        "required": ["batch_key", "operation", "total", "succeeded", "failed", "results", "replayed"],
        "properties": {
            "batch_key": {"type": "string"},
            "batch_id": {"type": "string"},
            "operation": {"enum": list(OPERATIONS)},
            "total": {"type": "integer"},
            "succeeded": {"type": "integer"},
            "failed": {"type": "integer"},
            "results": {"type": "array", "items": _ITEM_RESULT},
            "replayed": {"type": "boolean"},
        },
    },
)


def register_ops_tools(
    registry: Registry, schedules: ScheduleService, query: QueryService, batch: BatchService
) -> None:
    """Register the scheduling and system tools, bound to their services."""

    async def schedule_task(args: JSONObject, ctx: ToolContext) -> JSONObject:
        check_cron(args["cron"])
        tz = args.get("timezone", "UTC")
        check_timezone(tz)
        target = args["agent_type"].upper()
        # The occurrences run as the caller: it may schedule only what it may run itself.
        missing = may_run(ctx.role, target)
        if missing is not None:
            raise PermissionDenied(
                f"{ctx.actor or 'caller'} (role {ctx.role or 'none'}) lacks {missing!r} to schedule {target}"
            )
        new = NewSchedule(
            cron=args["cron"],
            timezone=tz,
            agent_type=target,
            action=args["action"],
            input=args.get("input", {}),
            missed_policy=args.get("missed_policy", "latest"),
            description=args.get("description", ""),
        )
        by = ctx.execution_id or ctx.agent_type
        return await schedules.create(
            new,
            idempotency_key=ctx.idempotency_key,
            created_by=by,
            creator=Identity(ctx.actor, ctx.role),
            correlation_id=ctx.execution_id,
        )

    async def cancel_scheduled_task(args: JSONObject, ctx: ToolContext) -> JSONObject:
        found = await schedules.get(args["schedule_id"])
        missing = may_run(ctx.role, found["agent_type"]) if found is not None else None
        if missing is not None:  # as cancelling an execution: only whom may run its agent type
            raise PermissionDenied(
                f"{ctx.actor or 'caller'} (role {ctx.role or 'none'}) lacks {missing!r} "
                f"to cancel a {found['agent_type'] if found else ''} schedule"
            )
        return await schedules.cancel(
            args["schedule_id"], reason=args.get("reason", ""), correlation_id=ctx.execution_id
        )

    async def list_schedules(args: JSONObject, ctx: ToolContext) -> JSONObject:
        if args.get("schedule_id"):
            one = await schedules.get(args["schedule_id"])
            return {"schedules": [one] if one else [], "total": 1 if one else 0}
        return await schedules.list(
            status=args.get("status", ""),
            agent_type=args.get("agent_type", "").upper(),
            limit=args.get("limit", 50),
            occurrences=args.get("occurrences", 0),
        )

    async def execute_database_query(args: JSONObject, ctx: ToolContext) -> JSONObject:
        return await query.run(args["sql"], max_rows=args.get("max_rows"))

    async def batch_process_items(args: JSONObject, ctx: ToolContext) -> JSONObject:
        items: list[dict[str, Any]] = args["items"]
        return await batch.run(args["batch_key"], args["operation"], items, correlation_id=ctx.execution_id)

    registry.add(SCHEDULE_TASK, schedule_task)
    registry.add(CANCEL_SCHEDULED_TASK, cancel_scheduled_task)
    registry.add(LIST_SCHEDULES, list_schedules)
    registry.add(EXECUTE_DATABASE_QUERY, execute_database_query)
    registry.add(BATCH_PROCESS_ITEMS, batch_process_items)
