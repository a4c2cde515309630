"""Requests, answers and model descriptions of the proxy, as plain frozen values."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

GEMINI = "gemini"
OPENAI = "openai"
OFFLINE = "offline"
PROVIDERS = (GEMINI, OPENAI, OFFLINE)

# Normalised finish reasons (OpenAI's vocabulary, which Gemini's enum is mapped onto).
STOP = "stop"
LENGTH = "length"
CONTENT_FILTER = "content_filter"


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
