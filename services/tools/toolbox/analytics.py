"""Analytics tools: get_user_metrics and generate_report, from this service's read models."""

from __future__ import annotations

from services.tools.domain import reports
from services.tools.domain.errors import ArgumentsInvalid, FieldViolation
from services.tools.domain.listings import CURRENCIES, LISTING_CATEGORIES
from services.tools.domain.registry import JSONObject, Registry, ToolContext, ToolDefinition
from services.tools.service_layer.analytics import PERIODS, Analytics

VERSION = "1.0.0"
_USER = {"type": "string", "minLength": 1, "maxLength": 200}
_COUNT = {"type": "integer", "minimum": 0}
_RATE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}

GET_USER_METRICS = ToolDefinition(
    name="get_user_metrics",
    version=VERSION,
    description=(
        "For a user (the actor who submitted executions) and a period: executions submitted and their "
        "outcomes and success rate, tokens and cost spent, listings created (as seller), notifications received."
    ),
    category="analytics",
    extra_agent_types=frozenset({"ADMIN"}),
    parameters={
        "type": "object",
        "additionalProperties": False,
        "required": ["user"],
        "properties": {"user": _USER, "period": {"enum": list(PERIODS), "default": "24h"}},
    },
    result={
        "type": "object",
        "required": [
            "user",
            "period",
            "since",
            "until",
            "executions",
            "tokens",
            "cost_usd",
            "listings_created",
            "notifications_received",
        ],
        "properties": {
            "user": {"type": "string"},
            "period": {"enum": list(PERIODS)},
            "since": {"type": "string", "format": "date-time"},
            "until": {"type": "string", "format": "date-time"},
            "executions": {
                "type": "object",
                "required": ["executions", "completed", "failed", "success_rate"],
                "properties": {
                    "executions": _COUNT,
                    "completed": _COUNT,
                    "failed": _COUNT,
                    "success_rate": _RATE,
                },
            },
            "by_agent_type": {"type": "object"},
            "tokens": {
                "type": "object",
                "required": ["input", "output", "total"],
                "properties": {"input": _COUNT, "output": _COUNT, "total": _COUNT},
            },
            "cost_usd": {"type": "number", "minimum": 0},
            "listings_created": _COUNT,
            "notifications_received": _COUNT,
            "notifications_in_app": _COUNT,
        },
    },
)

GENERATE_REPORT = ToolDefinition(
    name="generate_report",
    version=VERSION,
    description=(
        "A market (listings per category and their prices), agents (executions, success rate, latency, tokens "
        "and cost per agent type) or user report, rendered as json, csv (RFC 4180, header row), markdown or html."
    ),
    category="analytics",
    extra_agent_types=frozenset({"ADMIN"}),
    parameters={
        "type": "object",
        "additionalProperties": False,
        "required": ["kind"],
        "properties": {
            "kind": {"enum": ["market", "agents", "user"]},
            "format": {"enum": list(reports.FORMATS), "default": "json"},
            "period": {"enum": list(PERIODS), "default": "7d"},
            "user": _USER,
            "category": {"enum": list(LISTING_CATEGORIES)},
            "currency": {"enum": list(CURRENCIES), "default": "USD"},
            "agent_type": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"},
        },
        "if": {"properties": {"kind": {"const": "user"}}},
        "then": {"required": ["user"]},
    },
    result={
        "type": "object",
        "required": ["kind", "format", "media_type", "content", "rows", "columns", "summary", "generated_at"],
        "properties": {
            "kind": {"type": "string"},
            "format": {"enum": list(reports.FORMATS)},
            "media_type": {"type": "string"},
            "title": {"type": "string"},
            "content": {"type": "string"},
            "rows": _COUNT,
            "columns": {"type": "array", "items": {"type": "string"}},
            "summary": {"type": "object"},
            "data": {"type": "array", "items": {"type": "object"}},
            "generated_at": {"type": "string", "format": "date-time"},
        },
    },
)


def register_analytics_tools(registry: Registry, analytics: Analytics) -> None:
    """Register get_user_metrics and generate_report."""

    async def get_user_metrics(args: JSONObject, ctx: ToolContext) -> JSONObject:
        return await analytics.user_metrics(args["user"].strip(), args.get("period", "24h"))

    async def generate_report(args: JSONObject, ctx: ToolContext) -> JSONObject:
        kind, period, fmt = args["kind"], args.get("period", "7d"), args.get("format", "json")
        misplaced = [
            k
            for k, only in (
                ("user", "user"),
                ("category", "market"),
                ("currency", "market"),
                ("agent_type", "agents"),
            )
            if k in args and kind != only
        ]
        if misplaced:
            raise ArgumentsInvalid(
                "generate_report",
                [FieldViolation(f"arguments.{k}", f"does not apply to a {kind} report") for k in misplaced],
            )
        if kind == "market":
            rep = await analytics.market_report(period, args.get("category"), args.get("currency", "USD"))
        elif kind == "agents":
            at = args.get("agent_type")
            rep = await analytics.agents_report(period, at.upper() if at else None)
        else:
            rep = await analytics.user_report(args["user"].strip(), period)
        out: JSONObject = {
            "kind": kind,
            "format": fmt,
            "media_type": reports.MEDIA_TYPES[fmt],
            "title": rep.title,
            "content": reports.render(rep, fmt),
            "rows": len(rep.rows),
            "columns": list(rep.columns),
            "summary": dict(rep.summary),
            "generated_at": rep.generated_at,
        }
        if fmt == "json":
            out["data"] = [dict(r) for r in rep.rows]
        return out

    registry.add(GET_USER_METRICS, get_user_metrics)
    registry.add(GENERATE_REPORT, generate_report)
