"""Requests, answers and model descriptions of the proxy, as plain frozen values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

GEMINI = "gemini"
OPENAI = "openai"
OFFLINE = "offline"
PROVIDERS = (GEMINI, OPENAI, OFFLINE)

# Normalised finish reasons (OpenAI's vocabulary, which Gemini's enum is mapped onto).
STOP = "stop"
LENGTH = "length"
CONTENT_FILTER = "content_filter"
TOOL_CALLS = "tool_calls"

USER = "user"
ASSISTANT = "assistant"
TOOL = "tool"
ROLES = (USER, ASSISTANT, TOOL)

# tool_choice values.
AUTO = "auto"
NONE = "none"
REQUIRED = "required"
TOOL_CHOICES = (AUTO, NONE, REQUIRED)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call of a tool chosen by the model, in one form whatever the provider."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool the model may call: name, description and the JSON Schema of its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation: user or assistant text, an assistant's tool calls, or a tool result."""

    role: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    # Tool messages: the call answered and its result.
    tool_call_id: str = ""
    tool_result: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """One prompt and its options; `model` empty means the configured default."""

    prompt: str
    model: str = ""
    system: str = ""
    temperature: float | None = None
    # None: the provider's own limit.
    max_output_tokens: int | None = None
    stop: tuple[str, ...] = ()
    json_mode: bool = False
    execution_id: str = ""
    messages: tuple[Message, ...] = ()
    tools: tuple[Tool, ...] = ()
    tool_choice: str = AUTO
    # Parameter extraction: the answer must validate against this JSON Schema.
    json_schema: dict[str, Any] | None = None

    def conversation(self) -> tuple[Message, ...]:
        """The messages sent: `messages`, then `prompt` as the last user message when set."""
        if self.prompt:
            return (*self.messages, Message(USER, self.prompt))
        return self.messages

    def last_user_text(self) -> str:
        """The text of the last user message ("" when there is none)."""
        return next((m.text for m in reversed(self.conversation()) if m.role == USER), "")

    def tool_names_by_call_id(self) -> dict[str, str]:
        """Tool name of every call made by an assistant message, by call id."""
        return {c.id: c.name for m in self.messages for c in m.tool_calls}

    def all_text(self) -> tuple[str, ...]:
        """Every text sent (system, messages, tool results as JSON), for a local token estimate."""
        texts = [self.system]
        for m in self.conversation():
            texts.append(m.text)
            texts.extend(json.dumps(c.arguments) for c in m.tool_calls)
            if m.tool_result is not None:
                texts.append(json.dumps(m.tool_result))
        return tuple(texts)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call; `estimated` when counted locally rather than by the provider."""

    input_tokens: int
    output_tokens: int
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class Completion:
    """What one provider answered for one model."""

    text: str
    usage: Usage
    finish_reason: str
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens, input and output."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, usage: Usage) -> float:
        """The cost of `usage` in USD, computed in decimal so that equal inputs give equal figures."""
        mtok = Decimal(1_000_000)
        total = (
            Decimal(usage.input_tokens) * Decimal(str(self.input_per_mtok))
            + Decimal(usage.output_tokens) * Decimal(str(self.output_per_mtok))
        ) / mtok
        return float(round(total, 12))


FREE = Price(0.0, 0.0)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model the proxy serves: its name, the provider that runs it and its price."""

    name: str
    provider: str
    price: Price


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """A model as listed: its spec and whether it can be served right now."""

    spec: ModelSpec
    available: bool


@dataclass(frozen=True, slots=True)
class Generation:
    """The proxy's answer: the text, who served it, what it cost and what was tried first."""

    text: str
    provider: str
    model: str
    usage: Usage
    cost_usd: float
    finish_reason: str
    # Providers tried before the one that answered, as "<provider>: <reason>".
    fallbacks: tuple[str, ...]
    latency_us: int
    tool_calls: tuple[ToolCall, ...] = ()
    # JSON mode: the answer parsed, when it held a JSON value (has_json).
    json: Any = None
    has_json: bool = False
    call_id: str = ""
    # Model requests made (parameter extraction: 2 after one repair).
    attempts: int = 1


OK = "ok"
ERROR = "error"
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call of the proxy as recorded (ModelCallRecorded): whatever its outcome, once."""

    call_id: str
    execution_id: str
    provider: str
    model: str
    requested_model: str
    usage: Usage
    cost_usd: float
    latency_us: int
    # OK, ERROR or CANCELLED.
    outcome: str
    error: str = ""
    fallbacks: tuple[str, ...] = ()
    streamed: bool = False
    finish_reason: str = ""
    tool_calls: int = 0
    attempts: int = 1


UINT32_MAX = 2**32 - 1


def clamp_u32(n: int) -> int:
    """`n` clamped into a protobuf uint32 (token counts and latencies on the wire)."""
    return max(0, min(n, UINT32_MAX))
