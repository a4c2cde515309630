"""The model proxy: pick the provider for a model, retry, fall back, count tokens and cost."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from services.llm.adapters.base import Provider
from services.llm.domain.breaker import CircuitBreaker
from services.llm.domain.catalog import OFFLINE_MODEL, ModelCatalog
from services.llm.domain.errors import AllProvidersFailed, ExtractionFailed, ProviderError
from services.llm.domain.extraction import repair_request, schema_error
from services.llm.domain.jsonmode import parse_json_answer
from services.llm.domain.model import (
    OFFLINE,
    PROVIDERS,
    Completion,
    GenerateRequest,
    Generation,
    ModelSpec,
    ModelStatus,
    Usage,
)
from services.llm.domain.validation import validate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries of one provider before falling back to the next."""

    # Attempts per provider, the first included.
    attempts: int = 2
    # First backoff when the provider gave no hint; doubled per attempt, plus up to 10 % jitter.
    backoff_s: float = 0.25
    # A Retry-After longer than this is not waited for: the next provider is tried instead.
    max_retry_after_s: float = 5.0


@dataclass(frozen=True)
class RoutingPolicy:
    """Where to go when the preferred provider cannot answer."""

    # Providers in the order they are tried after the model's own provider.
    chain: tuple[str, ...] = PROVIDERS
    allow_offline: bool = True
    # The model asked of a provider when it stands in for another.
    fallback_models: Mapping[str, str] = field(default_factory=dict)
    # Seconds one call to a provider may take.
    timeouts_s: Mapping[str, float] = field(default_factory=dict)
    default_timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class ModelProxy:
    """Serves GenerateRequests through the configured providers; owns their breakers."""

    def __init__(
        self,
        catalog: ModelCatalog,
        providers: Mapping[str, Provider],
        policy: RoutingPolicy,
        *,
        breaker: Callable[[], CircuitBreaker],
    ) -> None:
        self.catalog = catalog
        # Only configured providers are here; a missing one is "unconfigured".
        self.providers = dict(providers)
        self.policy = policy
        # One breaker per networked provider; the offline provider cannot be tripped.
        self.breakers = {name: breaker() for name, p in self.providers.items() if not p.local}

    async def generate(self, request: GenerateRequest, *, budget_s: float | None = None) -> Generation:
        """Answer `request`, trying the fallback chain; AllProvidersFailed when nothing could.

        `budget_s` is the caller's remaining deadline: no call or backoff is started past it.
        """
        started = time.perf_counter()
        spec = self.catalog.resolve(request.model)
        validate(request)
        deadline = None if budget_s is None else time.monotonic() + budget_s
        fallbacks: list[str] = []
        provider, model, completion = await self._route(spec, request, deadline, fallbacks)
        usage = completion.usage
        attempts = 1
        has_json, value = False, None
        if request.json_mode or request.json_schema is not None:
            has_json, value = parse_json_answer(completion.text)
        if request.json_schema is not None:
            error = schema_error(request.json_schema, has_json, value)
            if error is not None:
                # One repair: the answer and the validation error go back to the model.
                attempts = 2
                repair = repair_request(request, completion.text, error)
                provider, model, completion = await self._route(spec, repair, deadline, fallbacks)
                usage = _add(usage, completion.usage)
                has_json, value = parse_json_answer(completion.text)
                error = schema_error(request.json_schema, has_json, value)
                if error is not None:
                    raise ExtractionFailed(
                        error, provider=provider, model=model, usage=usage, fallbacks=tuple(fallbacks)
                    )
        return Generation(
            text=completion.text,
            provider=provider,
            model=model,
            usage=usage,
            cost_usd=self.catalog.price(model).cost(usage),
            finish_reason=completion.finish_reason,
            fallbacks=tuple(fallbacks),
            latency_us=int((time.perf_counter() - started) * 1_000_000),
            tool_calls=completion.tool_calls,
            json=value,
            has_json=has_json,
            attempts=attempts,
        )

    async def _route(
        self, spec: ModelSpec, request: GenerateRequest, deadline: float | None, fallbacks: list[str]
    ) -> tuple[str, str, Completion]:
        """(provider, model, completion) from the first provider of the plan that answers."""
        retry_hints: list[float] = []
        for provider_name, model in self.plan(spec):
            try:
                provider, completion = await self._try_provider(provider_name, model, request, deadline)
            except ProviderError as e:
                fallbacks.append(f"{provider_name}: {e.reason}")
                if e.retry_after_s is not None:
                    retry_hints.append(e.retry_after_s)
                # An unconfigured provider is the normal case of local development: not a warning.
                log.log(
                    logging.DEBUG if e.reason == "unconfigured" else logging.WARNING,
                    "llm: %s (%s) failed for execution %r: %s; trying the next provider",
                    provider_name, model, request.execution_id, e.reason,
                )  # fmt: skip
                continue
            return provider.name, model, completion
        raise AllProvidersFailed(tuple(fallbacks), min(retry_hints, default=None))

    def plan(self, spec: ModelSpec) -> list[tuple[str, str]]:
        """(provider, model) pairs in the order they are tried for `spec`."""
        plan = [(spec.provider, spec.name)]
        for name in self.policy.chain:
            if name == spec.provider or (name == OFFLINE and not self.policy.allow_offline):
                continue
            model = OFFLINE_MODEL if name == OFFLINE else self.policy.fallback_models.get(name)
            if model:
                plan.append((name, model))
        return plan

    def list_models(self) -> list[ModelStatus]:
        """Every model in the table, available when its provider is configured and not tripped."""
        return [ModelStatus(spec, self.available(spec.provider)) for spec in self.catalog.models.values()]

    def available(self, provider_name: str) -> bool:
        """Is the provider configured with its breaker not open?"""
        provider = self.providers.get(provider_name)
        if provider is None:
            return False
        breaker = self.breakers.get(provider_name)
        return breaker is None or not breaker.is_open

    async def aclose(self) -> None:
        """Close every provider's connections."""
        for provider in self.providers.values():
            try:
                await provider.aclose()
            except Exception:
                log.exception("llm: closing %s failed", provider.name)

    async def _try_provider(
        self, name: str, model: str, request: GenerateRequest, deadline: float | None
    ) -> tuple[Provider, Completion]:
        provider = self.providers.get(name)
        if provider is None:
            raise ProviderError(name, "unconfigured", trips_breaker=False)
        if provider.local:
            # No network: no timeout, retries or breaker.
            return provider, await provider.generate(model, request)
        breaker = self.breakers[name]
        attempt = 0
        while True:
            if not breaker.allow():
                raise ProviderError(name, "circuit open", trips_breaker=False)
            attempt += 1
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ProviderError(name, "deadline exceeded", trips_breaker=False)
            try:
                completion = await self._call(provider, model, request, remaining)
            except ProviderError as e:
                if e.trips_breaker:
                    breaker.record_failure()
                else:
                    # The request was at fault, the provider answered: it is healthy.
                    breaker.record_success()
                delay = self._retry_delay(e, attempt, deadline)
                if delay is None:
                    raise
                log.info("llm: %s: %s; retry %d in %.2fs", name, e.reason, attempt, delay)
                await asyncio.sleep(delay)
                continue
            breaker.record_success()
            return provider, completion

    async def _call(
        self, provider: Provider, model: str, request: GenerateRequest, remaining: float | None
    ) -> Completion:
        timeout = self.policy.timeouts_s.get(provider.name, self.policy.default_timeout_s)
        if remaining is not None:
            timeout = min(timeout, remaining)
        try:
            async with asyncio.timeout(timeout):
                return await provider.generate(model, request)
        except TimeoutError as e:
            raise ProviderError(provider.name, "timeout") from e

    def _retry_delay(self, e: ProviderError, attempt: int, deadline: float | None) -> float | None:
        retry = self.policy.retry
        if not e.retryable or attempt >= retry.attempts:
            return None
        if e.retry_after_s is not None:
            if e.retry_after_s > retry.max_retry_after_s:
                return None
            delay = e.retry_after_s
        else:
            base = retry.backoff_s * 2 ** (attempt - 1)
            delay = base + random.uniform(0, base / 10)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        return delay


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        a.input_tokens + b.input_tokens, a.output_tokens + b.output_tokens, a.estimated or b.estimated
    )
