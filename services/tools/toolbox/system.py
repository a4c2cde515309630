"""System tools: get_system_health (real probes) and send_notification (in-app inbox, webhooks)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import asyncpg

from labs_core.eventlog import EventLog
from services.tools.adapters import probes
from services.tools.domain.errors import ArgumentsInvalid, FieldViolation
from services.tools.domain.notifications import CHANNELS
from services.tools.domain.registry import JSONObject, Registry, ToolContext, ToolDefinition
from services.tools.service_layer.notifications import NotificationService

VERSION = "1.0.0"
STATUSES = ("ok", "degraded", "down")

_CHECK = {
    "type": "object",
    "required": ["name", "status", "latency_ms"],
    "properties": {
        "name": {"type": "string"},
        "status": {"enum": list(STATUSES)},
        "latency_ms": {"type": "number", "minimum": 0},
        "error": {"type": "string"},
        "details": {"type": "object"},
    },
}

GET_SYSTEM_HEALTH = ToolDefinition(
    name="get_system_health",
    version=VERSION,
    description=(
        "Live checks, each with its status and measured latency: the NATS connection and stream, the "
        "agent-worker consumer's lag, PostgreSQL, and the gRPC health of runtime, tools, llm, metrics, gateway."
    ),
    category="system",
    extra_agent_types=frozenset({"ANALYTICS"}),
    parameters={
        "type": "object",
        "additionalProperties": False,
        "properties": {"timeout_ms": {"type": "integer", "minimum": 50, "maximum": 10_000, "default": 2000}},
    },
    result={
        "type": "object",
        "required": ["status", "checks", "checked_at_ms"],
        "properties": {
            "status": {"enum": list(STATUSES)},
            "checks": {"type": "array", "items": _CHECK},
            "checked_at_ms": {"type": "integer"},
        },
    },
)

SEND_NOTIFICATION = ToolDefinition(
    name="send_notification",
    version=VERSION,
    description=(
        "Notify a recipient: `in_app` puts it in their inbox (GET /api/notifications?recipient=...); `webhook` "
        "POSTs signed JSON (X-Labs-Signature: sha256=HMAC over '<X-Labs-Timestamp>.<body>') to a configured "
        "endpoint named in `webhook`, retrying 5xx and connection errors. Only configured endpoints: a "
        "caller-supplied URL would let any agent make this service call internal addresses (SSRF)."
    ),
    category="system",
    extra_agent_types=frozenset({"ANALYTICS", "CONTENT", "SCHEDULER"}),
    side_effects=True,
    timeout_s=30,
    parameters={
        "type": "object",
        "additionalProperties": False,
        "required": ["channel", "recipient", "subject", "body"],
        "properties": {
            "channel": {"enum": list(CHANNELS)},
            "recipient": {"type": "string", "minLength": 1, "maxLength": 200},
            "subject": {"type": "string", "minLength": 1, "maxLength": 200},
            "body": {"type": "string", "minLength": 1, "maxLength": 10_000},
            "webhook": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_.-]{1,64}$",
                "description": "Endpoint name.",
            },
        },
        "if": {"properties": {"channel": {"const": "webhook"}}},
        "then": {"required": ["webhook"]},
    },
    result={
        "type": "object",
        "required": ["notification_id", "channel", "recipient", "status", "created"],
        "properties": {
            "notification_id": {"type": "string"},
            "channel": {"enum": list(CHANNELS)},
            "recipient": {"type": "string"},
            "status": {"enum": ["delivered", "failed"]},
            "created": {"type": "boolean"},
            "delivery": {"type": "object"},
        },
    },
)


def register_system_tools(
    registry: Registry,
    *,
    eventlog: EventLog,
    pool: asyncpg.Pool,
    service_addrs: Mapping[str, str],
    notifications: NotificationService,
    consumer: str = "agent-worker",
    lag_warn: int = 1000,
) -> None:
    """Register get_system_health and send_notification."""

    async def get_system_health(args: JSONObject, ctx: ToolContext) -> JSONObject:
        import time

        t = args.get("timeout_ms", 2000) / 1000
        jobs = [
            probes.timed("nats", probes.nats_probe(eventlog), t),
            probes.timed(f"consumer:{consumer}", probes.consumer_probe(eventlog, consumer, lag_warn), t),
            probes.timed("postgres", probes.postgres_probe(pool), t),
            *(
                probes.timed(f"grpc:{name}", probes.grpc_probe(addr), t)
                for name, addr in service_addrs.items()
            ),
        ]
        checks = list(await asyncio.gather(*jobs))
        worst = max((STATUSES.index(c["status"]) for c in checks), default=0)
        return {"status": STATUSES[worst], "checks": checks, "checked_at_ms": time.time_ns() // 1_000_000}

    async def send_notification(args: JSONObject, ctx: ToolContext) -> JSONObject:
        if args["channel"] != "webhook" and "webhook" in args:
            raise ArgumentsInvalid(
                "send_notification",
                [FieldViolation("arguments.webhook", "applies only to the webhook channel")],
            )
        return await notifications.send(
            channel=args["channel"],
            recipient=args["recipient"].strip(),
            subject=args["subject"],
            body=args["body"],
            webhook=args.get("webhook", ""),
            key=ctx.idempotency_key,
            correlation_id=ctx.execution_id,
        )

    registry.add(GET_SYSTEM_HEALTH, get_system_health)
    registry.add(SEND_NOTIFICATION, send_notification)
