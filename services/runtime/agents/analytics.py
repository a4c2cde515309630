"""ANALYTICS: user, market and agent reports from the tools service's read models."""

from __future__ import annotations

from typing import Any

from services.runtime.domain.agent import ActionSpec, AgentDefinition, AgentRuntime

PERIOD = {"enum": ["1h", "24h", "7d", "30d"]}
FORMAT = {"enum": ["json", "csv", "markdown", "html"]}
CATEGORY = {"type": "string", "minLength": 1, "maxLength": 64}


def _schema(required: list[str], **props: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": {"period": PERIOD, "format": FORMAT, **props},
    }


class AnalyticsAgent(AgentRuntime):
    """Reports on users, the market and the agents themselves."""

    definition = AgentDefinition(
        type="ANALYTICS",
        description="Analytics: user activity, market and agent performance reports",
        actions=(
            ActionSpec(
                "user_report",
                "A user's executions, success rate, tokens, cost, listings and notifications, with a report",
                _schema(["user"], user={"type": "string", "minLength": 1, "maxLength": 200}),
            ),
            ActionSpec(
                "market_report",
                "Listings and prices per category, and for one category its price statistics and trend",
                _schema([], category=CATEGORY, window_days={"type": "integer", "minimum": 1, "maximum": 365}),
            ),
            ActionSpec(
                "agent_report",
                "Executions, success rate, latency, tokens and cost per agent type",
                _schema([], agent_type={"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"}),
            ),
        ),
        allowed_tools=(
            "get_user_metrics",
            "generate_report",
            "analyze_market_price",
            "get_listings",
            "get_system_health",
        ),
    )

    async def _report(self, args: dict[str, Any]) -> dict[str, Any]:
        rep = await self.call_tool("generate_report", args)
        await self.update_metric("reports_generated", 1)
        return {
            "format": rep["format"],
            "media_type": rep["media_type"],
            "title": rep.get("title", ""),
            "rows": rep["rows"],
            "columns": rep["columns"],
            "summary": rep["summary"],
            "content": rep["content"],
        }

    async def act_user_report(self, input: dict[str, Any]) -> dict[str, Any]:
        """The user's metrics and a user report."""
        period = input.get("period", "7d")
        metrics = await self.call_tool("get_user_metrics", {"user": input["user"], "period": period})
        report = await self._report(
            {
                "kind": "user",
                "user": input["user"],
                "period": period,
                "format": input.get("format", "markdown"),
            }
        )
        return {"user": input["user"], "period": period, "metrics": metrics, "report": report}

    async def act_market_report(self, input: dict[str, Any]) -> dict[str, Any]:
        """Per-category market report; with a category, its statistics and trend too."""
        period = input.get("period", "30d")
        args: dict[str, Any] = {"kind": "market", "period": period, "format": input.get("format", "markdown")}
        out: dict[str, Any] = {"period": period}
        if "category" in input:
            args["category"] = input["category"]
            out["category"] = input["category"]
            out["stats"] = await self.call_tool(
                "analyze_market_price",
                {"category": input["category"], "window_days": input.get("window_days", 30)},
            )
        out["report"] = await self._report(args)
        return out

    async def act_agent_report(self, input: dict[str, Any]) -> dict[str, Any]:
        """Per-agent-type execution figures."""
        period = input.get("period", "24h")
        args: dict[str, Any] = {"kind": "agents", "period": period, "format": input.get("format", "markdown")}
        if "agent_type" in input:
            args["agent_type"] = input["agent_type"].upper()
        return {"period": period, "report": await self._report(args)}
