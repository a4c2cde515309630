"""The provider port, and the translation of HTTP failures into ProviderError shared by adapters."""

from __future__ import annotations

import math
import re
import time
from collections.abc import AsyncGenerator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from services.llm.domain.errors import ProviderError
from services.llm.domain.model import Completion, GenerateRequest

# Statuses that say "try again later" rather than "this request is wrong".
RETRYABLE_STATUSES = frozenset({408, 409, 429})
# Client errors that are about the request itself and say nothing about the provider's health.
REQUEST_FAULT_STATUSES = frozenset({400, 404, 413, 422})

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class Provider(Protocol):
    """One model provider behind the proxy.

    `generate` answers one request with one of the provider's models, or raises ProviderError
    (any driver error is translated). `stream` yields the answer's text pieces as they come,
    then one Completion (the whole text, usage, finish reason, tool calls); closing it early
    closes the provider's connection.
    """

    name: str
    # True for a provider that needs no network (no timeout, retry or breaker applies).
    local: bool

    async def generate(self, model: str, request: GenerateRequest) -> Completion:
        """Answer `request` with `model`."""
        ...

    def stream(self, model: str, request: GenerateRequest) -> AsyncGenerator[str | Completion, None]:
        """Text pieces of the answer, then the Completion."""
        ...

    async def aclose(self) -> None:
        """Release connections (idempotent)."""
        ...


def status_error(
    provider: str, status: int, headers: Mapping[str, str] | None, body: object = None
) -> ProviderError:
    """The ProviderError for an HTTP error status, with the provider's retry hint if it sent one."""
    retryable = status in RETRYABLE_STATUSES or status >= 500
    return ProviderError(
        provider,
        str(status),
        retryable=retryable,
        trips_breaker=status not in REQUEST_FAULT_STATUSES,
        retry_after_s=retry_after(headers, body) if retryable else None,
    )


def retry_after(headers: Mapping[str, str] | None, body: object = None) -> float | None:
    """Seconds the provider asked us to wait: `retry-after-ms`, `Retry-After` or google.rpc.RetryInfo."""
    if headers is not None:
        ms = headers.get("retry-after-ms")
        if ms:
            try:
                return _non_negative(float(ms) / 1000.0)
            except ValueError:
                pass
        value = headers.get("retry-after")
        if value:
            try:
                return _non_negative(float(value))
            except ValueError:
                pass
            try:
                return _non_negative(parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    return _retry_info_delay(body)


def _retry_info_delay(body: object) -> float | None:
    # Gemini puts the hint in the error body: {"error": {"details": [{"@type": ".../RetryInfo",
    # "retryDelay": "12s"}]}}.
    error: Any = body.get("error", body) if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    if not isinstance(details, list):
        return None
    for d in details:
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.RetryInfo"):
            m = _DURATION.match(str(d.get("retryDelay", "")))
            if m:
                return float(m.group(1))
    return None


def _non_negative(seconds: float) -> float | None:
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)
