"""SCHEDULER: recurring agent tasks on cron schedules (schedule_task, cancel_scheduled_task, list_schedules)."""

from __future__ import annotations

from typing import Any

from services.runtime.domain.agent import ActionSpec, AgentDefinition, AgentRuntime

MISSED_POLICIES = ["latest", "all", "none"]

SCHEDULE_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["cron", "agent_type", "action"],
    "properties": {
        "cron": {"type": "string", "minLength": 9, "maxLength": 120},
        "timezone": {"type": "string", "minLength": 1, "maxLength": 64},
        "agent_type": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"},
        "action": {"type": "string", "minLength": 1, "maxLength": 64},
        "input": {"type": "object"},
        "missed_policy": {"enum": MISSED_POLICIES},
        "description": {"type": "string", "maxLength": 500},
    },
}

CANCEL_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["schedule_id"],
    "properties": {
        "schedule_id": {"type": "string", "minLength": 1, "maxLength": 100},
        "reason": {"type": "string", "maxLength": 500},
    },
}

LIST_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "status": {"enum": ["active", "cancelled"]},
        "agent_type": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"},
        "schedule_id": {"type": "string", "minLength": 1},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
        "occurrences": {"type": "integer", "minimum": 0, "maximum": 50},
    },
}


class SchedulerAgent(AgentRuntime):
    """Creates, cancels and lists schedules that run other agents' actions."""

    definition = AgentDefinition(
        type="SCHEDULER",
        description="Recurring tasks: run an agent action on a cron schedule, in a time zone",
        actions=(
            ActionSpec(
                "schedule",
                "Schedule an agent action on a cron expression (missed occurrences: latest|all|none)",
                SCHEDULE_INPUT,
            ),
            ActionSpec("cancel_schedule", "Stop a schedule's future occurrences (idempotent)", CANCEL_INPUT),
            ActionSpec("list_schedules", "Schedules with their next and latest occurrences", LIST_INPUT),
        ),
        allowed_tools=("schedule_task", "cancel_scheduled_task", "list_schedules"),
    )

    async def act_schedule(self, input: dict[str, Any]) -> dict[str, Any]:
        """Record the schedule; the tools service's scheduler fires its occurrences."""
        args = {k: v for k, v in input.items() if v is not None}
        args.setdefault("timezone", "UTC")
        args["agent_type"] = args["agent_type"].upper()
        out = await self.call_tool("schedule_task", args)
        if out.get("created"):
            await self.update_metric("schedules_created", 1)
        s = out["schedule"]
        return {
            "schedule_id": s["schedule_id"],
            "created": out.get("created", False),
            "status": s["status"],
            "cron": s["cron"],
            "timezone": s["timezone"],
            "runs": f"{s['agent_type']}.{s['action']}",
            "missed_policy": s.get("missed_policy", "latest"),
            "next_occurrences": s.get("next_occurrences", []),
        }

    async def act_cancel_schedule(self, input: dict[str, Any]) -> dict[str, Any]:
        """Cancel; a second cancel answers that it was already cancelled."""
        return await self.call_tool("cancel_scheduled_task", dict(input))

    async def act_list_schedules(self, input: dict[str, Any]) -> dict[str, Any]:
        """The schedules, with a count per status."""
        out = await self.call_tool("list_schedules", dict(input))
        schedules = out.get("schedules", [])
        by_status: dict[str, int] = {}
        for s in schedules:
            by_status[s["status"]] = by_status.get(s["status"], 0) + 1
        return {"schedules": schedules, "total": out.get("total", len(schedules)), "by_status": by_status}
