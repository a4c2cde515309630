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
