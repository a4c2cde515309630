"""The composition root of the llm service: settings -> providers -> proxy -> gRPC server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial

from labs.llm.v1 import llm_service_pb2, llm_service_pb2_grpc

from labs_core import telemetry
from labs_core.eventlog import EventLog
from labs_core.grpcutil import GrpcServer
from services.llm.adapters.base import Provider
from services.llm.adapters.call_events import CallRecorder, EventLogRecorder
from services.llm.adapters.lazy import LazyProvider
from services.llm.adapters.offline import OfflineProvider
from services.llm.config import Settings
from services.llm.domain.breaker import CircuitBreaker
from services.llm.domain.catalog import ModelCatalog
from services.llm.domain.model import GEMINI, OFFLINE, OPENAI
from services.llm.entrypoints.grpc_servicer import LlmServicer
from services.llm.handlers.proxy import ModelProxy, RetryPolicy, RoutingPolicy

log = logging.getLogger(__name__)

SERVICE_NAME = llm_service_pb2.DESCRIPTOR.services_by_name["LlmService"].full_name


async def migrate_schema(database_url: str) -> None:
    """The llm service keeps no tables yet: nothing to migrate."""


def build_catalog(settings: Settings) -> ModelCatalog:
    """The model table from the defaults, LLM_MODELS, LLM_PRICES and DEFAULT_AI_MODEL."""
    catalog = ModelCatalog.build(
        settings.default_ai_model, extra_models=settings.llm_models, prices=settings.llm_prices
    )
    for var, model, provider in (
        ("GEMINI_FALLBACK_MODEL", settings.gemini_fallback_model, GEMINI),
        ("OPENAI_FALLBACK_MODEL", settings.openai_fallback_model, OPENAI),
    ):
        spec = catalog.models.get(model)
        if spec is None or spec.provider != provider:
            raise ValueError(f"{var}: {model!r} is not a {provider} model of the model table")
    return catalog


def build_providers(settings: Settings) -> dict[str, Provider]:
    """A provider for each configured key, and the offline provider.

    A configured provider's SDK (google-genai, openai: their pydantic models and HTTP stacks,
    tens of MB) is imported, and its client built, on the provider's first call (LazyProvider),
    so a service that does not use it does not pay for it in memory or start-up time.
    """
    providers: dict[str, Provider] = {OFFLINE: OfflineProvider()}
    if settings.google_api_key is not None:
        providers[GEMINI] = LazyProvider(GEMINI, partial(_gemini, settings))
    if settings.openai_api_key is not None:
        providers[OPENAI] = LazyProvider(OPENAI, partial(_openai, settings))
    return providers


def _gemini(settings: Settings) -> Callable[[], Provider]:
    from services.llm.adapters.gemini import GeminiProvider

    assert settings.google_api_key is not None
    key = settings.google_api_key.get_secret_value()
    return lambda: GeminiProvider(
        key,
        base_url=settings.google_gemini_base_url,
        api_version=settings.google_genai_api_version,
        timeout_s=settings.gemini_timeout_s,
    )


def _openai(settings: Settings) -> Callable[[], Provider]:
    from services.llm.adapters.openai_chat import OpenAIProvider

    assert settings.openai_api_key is not None
    key = settings.openai_api_key.get_secret_value()
    return lambda: OpenAIProvider(key, base_url=settings.openai_base_url, timeout_s=settings.openai_timeout_s)


def build_proxy(settings: Settings, recorder: CallRecorder | None = None) -> ModelProxy:
    """The model proxy wired from `settings`; calls are recorded by `recorder` (default: not at all)."""
    policy = RoutingPolicy(
        chain=settings.llm_fallback_chain,
        allow_offline=settings.allow_offline_fallback,
        fallback_models={GEMINI: settings.gemini_fallback_model, OPENAI: settings.openai_fallback_model},
        timeouts_s={GEMINI: settings.gemini_timeout_s, OPENAI: settings.openai_timeout_s},
        retry=RetryPolicy(
            attempts=settings.llm_retry_attempts,
            backoff_s=settings.llm_retry_backoff_s,
            max_retry_after_s=settings.llm_max_retry_after_s,
        ),
    )
    return ModelProxy(
        build_catalog(settings),
        build_providers(settings),
        policy,
        breaker=lambda: CircuitBreaker(settings.llm_breaker_threshold, settings.llm_breaker_cooldown_s),
        recorder=recorder,
    )


async def serve(
    settings: Settings, stop: asyncio.Event, *, on_listening: Callable[[int], None] | None = None
) -> None:
    """Serve LlmService on settings.llm_addr until `stop` is set, then stop gracefully.

    `on_listening` receives the bound port (useful with port 0).
    """
    settings.internal_auth()  # first: no secret, no start
    eventlog = await EventLog.connect(
        settings.nats_url, stream=settings.stream_name, prefix=settings.subject_prefix, name="llm"
    )
    try:
        await eventlog.ensure_stream()
        await _serve(settings, stop, eventlog, on_listening)
    finally:
        await eventlog.close()


async def _serve(
    settings: Settings, stop: asyncio.Event, eventlog: EventLog, on_listening: Callable[[int], None] | None
) -> None:
    # Each call is recorded as a ModelCallRecorded event on the log.
    proxy = build_proxy(settings, EventLogRecorder(eventlog))
    try:
        server = GrpcServer(
            f"{settings.bind_host}:{settings.port_of(settings.llm_addr)}",
            [SERVICE_NAME],
            grace_s=settings.shutdown_grace_s,
            auth=settings.internal_auth(),
        )
        llm_service_pb2_grpc.add_LlmServiceServicer_to_server(LlmServicer(proxy), server.server)
        await server.start()
        try:
            configured = sorted(n for n in proxy.providers if n != OFFLINE) or ["none (offline only)"]
            log.info(
                "llm: serving on %s:%d; providers: %s; default model %s",
                settings.bind_host, server.port, ", ".join(configured), proxy.catalog.default_model,
            )  # fmt: skip
            if on_listening is not None:
                on_listening(server.port)
            await telemetry.expose(settings, "llm", stop)
            await stop.wait()
        finally:
            await server.stop()
    finally:
        await proxy.aclose()
