"""The port through which an agent reaches tools, models and metrics (implemented by the worker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolRequest:
    """A tool call a model asked for."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to a model: name, description, JSON Schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation with a model."""

    role: str  # "user", "assistant" or "tool"
    text: str = ""
    tool_calls: tuple[ToolRequest, ...] = ()
    tool_call_id: str = ""
    tool_result: dict[str, Any] | None = None


@dataclass(frozen=True)
class AiAnswer:
    """A model's answer with what it cost."""

    text: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    tool_calls: tuple[ToolRequest, ...] = ()


class AgentCalls(Protocol):
    """What an agent may call; every call is recorded in the execution's history."""

    async def call_tool(self, name: str, args: dict[str, Any]) -> dict[str, Any]: ...

    async def call_ai(
        self,
        prompt: str,
        *,
        system: str,
        model: str,
        temperature: float | None,
        max_output_tokens: int,
        json_mode: bool,
        messages: tuple[ChatMessage, ...] = (),
        tools: tuple[ToolSpec, ...] = (),
    ) -> AiAnswer: ...

    async def describe_tools(self) -> tuple[ToolSpec, ...]: ...

    async def update_metric(self, name: str, delta: float) -> None: ...

    async def remember(self, key: str, value: Any) -> None: ...

    async def recall(self, key: str, default: Any = None) -> Any: ...


class MemoryReader(Protocol):
    """Reads an agent type's memory as the read model knows it."""

    async def read(self, agent_type: str, key: str) -> tuple[bool, Any]: ...
