"""The agent model: definitions, the AgentRuntime base class with its hooks, and the calls it makes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from services.runtime.domain.calls import ChatMessage
from services.runtime.domain.errors import InputInvalid, NotAllowed, ToolFailed

if TYPE_CHECKING:
    from services.runtime.domain.calls import AgentCalls, AiAnswer

JSON = dict[str, Any]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: 1 s, 2 s, 4 s by default (four attempts in all), with jitter."""

    max_attempts: int = 4
    initial_delay_ms: int = 1000
    max_delay_ms: int = 30_000
    jitter: float = 0.1
    #: Whether a timed-out attempt is retried (otherwise the execution ends TIMED_OUT).
    retry_timeouts: bool = False

    def delay_ms(self, failed_attempt: int, rand: float) -> int:
        """Delay before the attempt after `failed_attempt` (1-based); `rand` in [0, 1)."""
        base = min(self.max_delay_ms, self.initial_delay_ms * 2 ** (failed_attempt - 1))
        return max(0, int(base * (1 + self.jitter * (2 * rand - 1))))


@dataclass(frozen=True)
class ActionSpec:
    """One action of an agent, with the JSON Schema of its input."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})


AUTO = ActionSpec(
    "auto",
    "Autonomous mode: the model chooses among the agent's allowed tools, step by step, to reach the goal",
    {
        "type": "object",
        "required": ["goal"],
        "additionalProperties": False,
        "properties": {
            "goal": {"type": "string", "minLength": 1, "maxLength": 4000},
            "max_steps": {"type": "integer", "minimum": 1, "maximum": 20},
            "model": {"type": "string"},
        },
    },
)


@dataclass(frozen=True)
class AgentDefinition:
    """What an agent type is: its actions, allowed tools, timeout and retry policy."""

    type: str
    description: str
    actions: tuple[ActionSpec, ...]
    allowed_tools: tuple[str, ...]
    timeout_ms: int = 30_000
    max_timeout_ms: int = 300_000
    retry: RetryPolicy = RetryPolicy()
    #: Whether the `auto` action (model-driven tool use) is offered, and its step limit.
    autonomous: bool = True
    max_auto_steps: int = 8

    def all_actions(self) -> tuple[ActionSpec, ...]:
        """The declared actions, plus `auto` when the agent is autonomous."""
        return (*self.actions, AUTO) if self.autonomous and self.allowed_tools else self.actions

    def action(self, name: str) -> ActionSpec | None:
        """The action called `name`, if the agent has it."""
        return next((a for a in self.all_actions() if a.name == name), None)

    def definition_hash(self) -> str:
        """A stable hash of the definition: a change gets a new registered version."""
        body = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:16]


@dataclass
class ExecutionInfo:
    """What an agent knows about the execution it is running."""

    execution_id: str
    agent_type: str
    action: str
    attempt: int
    actor: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


class AgentRuntime:
    """Base class of every agent. Subclass it, set `definition`, implement `on_execute`.

    Hooks run in this order for each attempt: on_initialize, on_preprocess, on_execute,
    on_postprocess, then on_success or on_error, and always on_shutdown. The default
    `on_execute` dispatches to a method named `act_<action>(input)`.
    """

    definition: ClassVar[AgentDefinition]

    def __init__(self, calls: AgentCalls, info: ExecutionInfo) -> None:
        self._calls = calls
        self.info = info

    # -- hooks ----------------------------------------------------------------------------
    async def on_initialize(self) -> None:
        """Prepare the agent for one attempt."""

    async def on_preprocess(self, input: JSON) -> JSON:
        """Check and enrich the input; raise InputInvalid naming the field."""
        return input

    async def on_execute(self, input: JSON, context: ExecutionInfo) -> JSON:
        """Do the work; by default calls `act_<action>`."""
        handler = getattr(self, f"act_{context.action}", None)
        if handler is None:
            raise InputInvalid(
                f"agent {self.definition.type} has no action {context.action!r}", field="action"
            )
        result: JSON = await handler(input)
        return result

    async def on_postprocess(self, result: JSON, context: ExecutionInfo) -> JSON:
        """Shape the result."""
        return result

    async def on_success(self, result: JSON, context: ExecutionInfo) -> None:
        """Called after a successful attempt."""

    async def on_error(self, error: BaseException, context: ExecutionInfo) -> None:
        """Called after a failed attempt."""

    async def on_shutdown(self) -> None:
        """Release what on_initialize took."""

    # -- calls ----------------------------------------------------------------------------
    async def call_tool(self, name: str, args: JSON) -> JSON:
        """Invoke one of the agent's allowed tools; recorded as an event, replayed on resume."""
        return await self._calls.call_tool(name, args)

    async def call_ai(
        self,
        prompt: str,
        *,
        system: str = "",
        model: str = "",
        temperature: float | None = None,
        max_output_tokens: int = 0,
        json_mode: bool = False,
    ) -> AiAnswer:
        """Ask a model through the llm service; recorded as an event, replayed on resume."""
        return await self._calls.call_ai(
            prompt,
            system=system,
            model=model,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
            json_mode=json_mode,
        )

    async def act_auto(self, input: JSON) -> JSON:
        """Autonomous mode: native function calling over the agent's allowed tools.

        Each turn is one recorded model call; each tool the model asks for is one recorded tool
        call whose result (or error) goes back to the model. Ends when the model answers without
        calling a tool, or after `max_steps` turns (then `stopped` is "step_limit").
        """
        goal: str = input["goal"]
        limit = min(
            int(input.get("max_steps") or self.definition.max_auto_steps), self.definition.max_auto_steps
        )
        tools = await self._calls.describe_tools()
        if not tools:
            raise InputInvalid(
                f"no tool of {self.definition.type} is available for autonomous mode", field="action"
            )
        system = (
            f"You are the {self.definition.type} agent: {self.definition.description}. "
            "Use the tools to reach the user's goal, then answer briefly."
        )
        messages: list[ChatMessage] = [ChatMessage("user", goal)]
        steps: list[JSON] = []
        for turn in range(1, limit + 1):
            ans = await self._calls.call_ai(
                "",
                system=system,
                model=str(input.get("model", "")),
                temperature=None,
                max_output_tokens=0,
                json_mode=False,
                messages=tuple(messages),
                tools=tools,
            )
            if not ans.tool_calls:
                return {"answer": ans.text, "turns": turn, "steps": steps, "stopped": "answered"}
            messages.append(ChatMessage("assistant", ans.text, tool_calls=ans.tool_calls))
            for call in ans.tool_calls:
                try:
                    result = await self.call_tool(call.name, call.arguments)
                    steps.append({"turn": turn, "tool": call.name, "arguments": call.arguments, "ok": True})
                except (InputInvalid, ToolFailed, NotAllowed) as e:
                    # The model chose badly: tell it, and let it try again.
                    result = {"error": str(e)}
                    steps.append(
                        {
                            "turn": turn,
                            "tool": call.name,
                            "arguments": call.arguments,
                            "ok": False,
                            "error": str(e),
                        }
                    )
                messages.append(ChatMessage("tool", tool_call_id=call.id, tool_result=result))
        return {"answer": None, "turns": limit, "steps": steps, "stopped": "step_limit"}

    async def update_metric(self, name: str, delta: float = 1.0) -> None:
        """Add `delta` to one of the agent's own counters (an event of the execution)."""
        await self._calls.update_metric(name, delta)

    async def remember(self, key: str, value: Any) -> None:
        """Store a JSON value under `key` in the agent type's memory (lasts across executions)."""
        await self._calls.remember(key, value)

    async def recall(self, key: str, default: Any = None) -> Any:
        """The value last remembered under `key` by any execution of this agent type, or `default`.

        Reads are not recorded: a resumed execution may see a newer value than its first attempt.
        """
        return await self._calls.recall(key, default)


def require(input: JSON, name: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    """Read one input field, raising InputInvalid naming it when missing or of the wrong type."""
    if name not in input or input[name] is None:
        if optional:
            return None
        raise InputInvalid(f"input.{name} is required", field=f"input.{name}")
    value = input[name]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise InputInvalid(f"input.{name} must not be a boolean", field=f"input.{name}")
    if not isinstance(value, kind):
        raise InputInvalid(f"input.{name} has the wrong type", field=f"input.{name}")
    return value
