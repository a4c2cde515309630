"""The port through which an agent reaches tools, models and metrics (implemented by the worker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class AiAnswer:
    """A model's answer with what it cost."""

    text: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float


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
    ) -> AiAnswer: ...

    async def update_metric(self, name: str, delta: float) -> None: ...

    async def remember(self, key: str, value: Any) -> None: ...

    async def recall(self, key: str, default: Any = None) -> Any: ...


class MemoryReader(Protocol):
    """Reads an agent type's memory as the read model knows it."""

    async def read(self, agent_type: str, key: str) -> tuple[bool, Any]: ...
