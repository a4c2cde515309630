"""The model proxy: pick the provider for a model, retry, fall back, count tokens and cost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from labs_core.ids import uuid7
from services.llm.adapters.base import Provider
from services.llm.adapters.call_events import CallRecorder, DiscardRecorder
from services.llm.domain import tokens
from services.llm.domain.breaker import CircuitBreaker
from services.llm.domain.catalog import OFFLINE_MODEL, ModelCatalog
from services.llm.domain.errors import (
    AllProvidersFailed,
    BadRequest,
    ExtractionFailed,
    LlmError,
    ProviderError,
    StreamInterrupted,
)
from services.llm.domain.extraction import repair_request, schema_error
from services.llm.domain.jsonmode import parse_json_answer
from services.llm.domain.model import (
    CANCELLED,
    ERROR,
    OFFLINE,
    OK,
    PROVIDERS,
    CallRecord,
    Completion,
    GenerateRequest,
    Generation,
    ModelSpec,
    ModelStatus,
    Usage,
)
from services.llm.domain.validation import validate

log = logging.getLogger(__name__)

T = TypeVar("T")


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
        recorder: CallRecorder | None = None,
    ) -> None:
        self.catalog = catalog
        # Every call is recorded once, whatever its outcome (serve() records on the event log).
        self.recorder: CallRecorder = recorder if recorder is not None else DiscardRecorder()
        # Recordings of cancelled calls finish in the background; aclose() waits for them.
        self._pending: set[asyncio.Task[None]] = set()
        # Only configured providers are here; a missing one is "unconfigured".
        self.providers = dict(providers)
        self.policy = policy
        # One breaker per networked provider; the offline provider cannot be tripped.
        self.breakers = {name: breaker() for name, p in self.providers.items() if not p.local}

    async def generate(self, request: GenerateRequest, *, budget_s: float | None = None) -> Generation:
        """Answer `request`, trying the fallback chain; AllProvidersFailed when nothing could.

        `budget_s` is the caller's remaining deadline: no call or backoff is started past it.
        """
        spec = self.catalog.resolve(request.model)
        validate(request)
        call = _Call(uuid7(), request, spec, time.perf_counter(), streamed=False)
        try:
            generation = await self._generate(spec, request, budget_s, call)
        except asyncio.CancelledError:
            self._record(call, CANCELLED, self._estimate(call), wait=False)
            raise
        except ExtractionFailed as e:
            await self._record(call, ERROR, e.usage, error=str(e))
            raise
        except LlmError as e:
            await self._record(call, ERROR, call.spent, error=str(e))
            raise
        await self._record(
            call,
            OK,
            generation.usage,
            finish_reason=generation.finish_reason,
            tool_calls=len(generation.tool_calls),
        )
        return replace(generation, call_id=call.call_id)

    async def _generate(
        self, spec: ModelSpec, request: GenerateRequest, budget_s: float | None, call: _Call
    ) -> Generation:
        deadline = None if budget_s is None else time.monotonic() + budget_s
        completion = await self._route(spec, request, deadline, call)
        has_json, value = False, None
        if request.json_mode or request.json_schema is not None:
            has_json, value = parse_json_answer(completion.text)
        if request.json_schema is not None:
            error = schema_error(request.json_schema, has_json, value)
            if error is not None:
                # One repair: the answer and the validation error go back to the model.
                call.attempts = 2
                call.spent = completion.usage
                repair = repair_request(request, completion.text, error)
                completion = await self._route(spec, repair, deadline, call)
                has_json, value = parse_json_answer(completion.text)
                error = schema_error(request.json_schema, has_json, value)
                if error is not None:
                    raise ExtractionFailed(
                        error,
                        provider=call.provider,
                        model=call.model,
                        usage=_add(call.spent, completion.usage),
                        fallbacks=tuple(call.fallbacks),
                    )
        usage = _add(call.spent, completion.usage)
        return Generation(
            text=completion.text,
            provider=call.provider,
            model=call.model,
            usage=usage,
            cost_usd=self.catalog.price(call.model).cost(usage),
            finish_reason=completion.finish_reason,
            fallbacks=tuple(call.fallbacks),
            latency_us=call.elapsed_us(),
            tool_calls=completion.tool_calls,
            json=value,
            has_json=has_json,
            attempts=call.attempts,
        )

    async def generate_stream(
        self, request: GenerateRequest, *, budget_s: float | None = None
    ) -> AsyncGenerator[str | Generation, None]:
        """Text pieces of the answer as they come, then the Generation (text: the whole answer).

        The fallback chain applies until the first piece has arrived; after that a provider's
        failure ends the stream (StreamInterrupted). Closing the iterator early cancels the
        provider's stream and records the call as cancelled, with the usage so far (estimated).
        """
        spec = self.catalog.resolve(request.model)
        validate(request)
        if request.json_schema is not None:
            raise BadRequest("json_schema", "parameter extraction is offered by Generate only")
        call = _Call(uuid7(), request, spec, time.perf_counter(), streamed=True)
        deadline = None if budget_s is None else time.monotonic() + budget_s
        stream: AsyncGenerator[str | Completion, None] | None = None
        final: Generation | None = None
        outcome, error = ERROR, ""
        try:
            stream, item = await self._open_stream(spec, request, deadline, call)
            while not isinstance(item, Completion):
                call.pieces.append(item)
                yield item
                item = await self._next_piece(stream, call, deadline)
            has_json, value = parse_json_answer(item.text) if request.json_mode else (False, None)
            final = Generation(
                text=item.text,
                provider=call.provider,
                model=call.model,
                usage=item.usage,
                cost_usd=self.catalog.price(call.model).cost(item.usage),
                finish_reason=item.finish_reason,
                fallbacks=tuple(call.fallbacks),
                latency_us=call.elapsed_us(),
                tool_calls=item.tool_calls,
                json=value,
                has_json=has_json,
                call_id=call.call_id,
            )
            outcome = OK
            yield final
        except (asyncio.CancelledError, GeneratorExit):
            if final is None:
                outcome = CANCELLED
            raise
        except ProviderError as e:
            error = f"stream interrupted: {e}"
            raise StreamInterrupted(str(e)) from e
        except LlmError as e:
            error = str(e)
            raise
        finally:
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()
            if outcome == OK and final is not None:
                await self._record(
                    call, OK, final.usage, finish_reason=final.finish_reason, tool_calls=len(final.tool_calls)
                )
            elif outcome == CANCELLED:
                self._record(call, CANCELLED, self._estimate(call), wait=False)
            else:
                await self._record(
                    call, ERROR, self._estimate(call) if call.pieces else call.spent, error=error
                )

    async def _open_stream(
        self, spec: ModelSpec, request: GenerateRequest, deadline: float | None, call: _Call
    ) -> tuple[AsyncGenerator[str | Completion, None], str | Completion]:
        """The first provider's stream that yields its first piece, and that piece."""

        def opener(
            model: str,
        ) -> Callable[[Provider], Awaitable[tuple[AsyncGenerator[str | Completion, None], str | Completion]]]:
            async def open_(
                provider: Provider,
            ) -> tuple[AsyncGenerator[str | Completion, None], str | Completion]:
                stream = provider.stream(model, request)
                try:
                    return stream, await anext(stream)
                except BaseException:
                    with contextlib.suppress(Exception):
                        await stream.aclose()
                    raise

            return open_

        return await self._first_of_plan(spec, opener, deadline, call, request.execution_id)

    async def _next_piece(
        self, stream: AsyncGenerator[str | Completion, None], call: _Call, deadline: float | None
    ) -> str | Completion:
        provider = self.providers[call.provider]
        timeout = None if provider.local else self._timeout(provider, deadline)
        try:
            async with asyncio.timeout(timeout):
                return await anext(stream)
        except TimeoutError as e:
            raise ProviderError(call.provider, "timeout") from e
        except StopAsyncIteration as e:
            raise ProviderError(call.provider, "stream ended without a final message") from e

    def _estimate(self, call: _Call) -> Usage:
        """Usage of a call cut short: what was spent, plus the local estimate of this attempt."""
        return _add(call.spent, tokens.estimate_usage(call.request, "".join(call.pieces)))

    def _record(
        self,
        call: _Call,
        outcome: str,
        usage: Usage,
        *,
        error: str = "",
        finish_reason: str = "",
        tool_calls: int = 0,
        wait: bool = True,
    ) -> Awaitable[None]:
        """Record the call once; the append runs in its own task so a cancelled caller cannot stop it."""
        record = CallRecord(
            call_id=call.call_id,
            execution_id=call.request.execution_id,
            provider=call.provider,
            model=call.model,
            requested_model=call.request.model,
            usage=usage,
            cost_usd=self.catalog.price(call.model).cost(usage),
            latency_us=call.elapsed_us(),
            outcome=outcome,
            error=error,
            fallbacks=tuple(call.fallbacks),
            streamed=call.streamed,
            finish_reason=finish_reason,
            tool_calls=tool_calls,
            attempts=call.attempts,
        )
        task = asyncio.get_running_loop().create_task(self.recorder.record(record))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        if not wait:
            return task
        return asyncio.shield(task)

    async def _route(
        self, spec: ModelSpec, request: GenerateRequest, deadline: float | None, call: _Call
    ) -> Completion:
        """The completion of the first provider of the plan that answers."""

        def generate(model: str) -> Callable[[Provider], Awaitable[Completion]]:
            return lambda provider: provider.generate(model, request)

        return await self._first_of_plan(spec, generate, deadline, call, request.execution_id)

    async def _first_of_plan(
        self,
        spec: ModelSpec,
        operation: Callable[[str], Callable[[Provider], Awaitable[T]]],
        deadline: float | None,
        call: _Call,
        execution_id: str,
    ) -> T:
        """`operation(model)(provider)` on each (provider, model) of the plan until one succeeds."""
        retry_hints: list[float] = []
        for provider_name, model in self.plan(spec):
            call.provider, call.model = provider_name, model
            try:
                return await self._try_provider(provider_name, operation(model), deadline)
            except ProviderError as e:
                call.fallbacks.append(f"{provider_name}: {e.reason}")
                if e.retry_after_s is not None:
                    retry_hints.append(e.retry_after_s)
                # An unconfigured provider is the normal case of local development: not a warning.
                log.log(
                    logging.DEBUG if e.reason == "unconfigured" else logging.WARNING,
                    "llm: %s (%s) failed for execution %r: %s; trying the next provider",
                    provider_name, model, execution_id, e.reason,
                )  # fmt: skip
        raise AllProvidersFailed(tuple(call.fallbacks), min(retry_hints, default=None))

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
        """Finish pending recordings; close every provider's connections."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        for provider in self.providers.values():
            try:
                await provider.aclose()
            except Exception:
                log.exception("llm: closing %s failed", provider.name)

    async def _try_provider(
        self, name: str, operation: Callable[[Provider], Awaitable[T]], deadline: float | None
    ) -> T:
        provider = self.providers.get(name)
        if provider is None:
            raise ProviderError(name, "unconfigured", trips_breaker=False)
        if provider.local:
            # No network: no timeout, retries or breaker.
            return await operation(provider)
        breaker = self.breakers[name]
        attempt = 0
        while True:
            if not breaker.allow():
                raise ProviderError(name, "circuit open", trips_breaker=False)
            attempt += 1
            if deadline is not None and deadline - time.monotonic() <= 0:
                raise ProviderError(name, "deadline exceeded", trips_breaker=False)
            try:
                async with asyncio.timeout(self._timeout(provider, deadline)):
                    result = await operation(provider)
            except TimeoutError as e:
                error = ProviderError(provider.name, "timeout")
                error.__cause__ = e
            except ProviderError as e:
                error = e
            else:
                breaker.record_success()
                return result
            if error.trips_breaker:
                breaker.record_failure()
            else:
                # The request was at fault, the provider answered: it is healthy.
                breaker.record_success()
            delay = self._retry_delay(error, attempt, deadline)
            if delay is None:
                raise error
            log.info("llm: %s: %s; retry %d in %.2fs", name, error.reason, attempt, delay)
            await asyncio.sleep(delay)

    def _timeout(self, provider: Provider, deadline: float | None) -> float:
        """Seconds one call to `provider` may take: its timeout, bounded by the caller's deadline."""
        timeout = self.policy.timeouts_s.get(provider.name, self.policy.default_timeout_s)
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - time.monotonic()))
        return timeout

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


@dataclass
class _Call:
    """What is known of one call while it runs: who is being asked, what was tried and spent."""

    call_id: str
    request: GenerateRequest
    spec: ModelSpec
    started: float
    streamed: bool
    provider: str = ""
    model: str = ""
    fallbacks: list[str] = field(default_factory=list)
    # Usage of attempts already finished (the first answer of a repaired extraction).
    spent: Usage = field(default_factory=lambda: Usage(0, 0))
    # Text pieces streamed so far.
    pieces: list[str] = field(default_factory=list)
    attempts: int = 1

    def __post_init__(self) -> None:
        self.provider, self.model = self.spec.provider, self.spec.name

    def elapsed_us(self) -> int:
        """Microseconds since the call started."""
        return int((time.perf_counter() - self.started) * 1_000_000)
