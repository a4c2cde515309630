"""Agents used by the runtime's tests (loaded through AGENT_MODULES, like a user's custom agent)."""

from __future__ import annotations

from typing import Any

from services.runtime.domain.agent import ActionSpec, AgentDefinition, AgentRuntime, RetryPolicy


class ProbeAgent(AgentRuntime):
    """Calls the test tools in ways a test chooses through its input."""

    definition = AgentDefinition(
        type="PROBE",
        description="Test agent",
        actions=(
            ActionSpec(
                "call",
                "Call the tool named in input.tool with input.args",
                {
                    "type": "object",
                    "required": ["tool"],
                    "properties": {
                        "tool": {"type": "string"},
                        "args": {"type": "object"},
                        "times": {"type": "integer"},
                    },
                },
            ),
            ActionSpec("think", "One model call", {"type": "object"}),
            ActionSpec(
                "remember",
                "Remember input.value under input.key, then recall it",
                {
                    "type": "object",
                    "required": ["key"],
                    "properties": {"key": {"type": "string"}, "value": {}, "fail_after": {"type": "boolean"}},
                },
            ),
            ActionSpec(
                "recall",
                "Recall input.key",
                {
                    "type": "object",
                    "required": ["key"],
                    "properties": {"key": {"type": "string"}},
                },
            ),
        ),
        allowed_tools=("flaky", "slow", "side_effect", "echo"),
        timeout_ms=3000,
        retry=RetryPolicy(max_attempts=4, initial_delay_ms=1000, jitter=0.0),
    )

    async def act_call(self, input: dict[str, Any]) -> dict[str, Any]:
        results = []
        for _ in range(int(input.get("times", 1))):
            results.append(await self.call_tool(input["tool"], input.get("args", {})))
        return {"results": results}

    async def act_think(self, input: dict[str, Any]) -> dict[str, Any]:
        a = await self.call_ai("two plus two?")
        b = await self.call_ai("and three?")
        return {"answers": [a.text, b.text]}

    async def act_remember(self, input: dict[str, Any]) -> dict[str, Any]:
        await self.remember(input["key"], input.get("value"))
        seen = await self.recall(input["key"])
        if input.get("fail_after"):
            await self.call_tool("flaky", {})  # fails (retryable) the first times: the write is replayed
        return {"recalled": seen}

    async def act_recall(self, input: dict[str, Any]) -> dict[str, Any]:
        return {"value": await self.recall(input["key"], "nothing")}
