"""OpenTelemetry tracing: one trace from the HTTP request through runtime, tools and llm.

Opt-in, so that a service that exports nowhere pays nothing: tracing is on when
`OTEL_TRACES_FILE` (spans as JSON lines; `{service}` in the path is replaced by the service
name) or `OTEL_TRACES_CONSOLE=true` is set. When on:
- every gRPC server span continues the caller's W3C `traceparent` metadata;
- every gRPC client call made through `labs_core.grpcutil.channel` sends the current one;
- the runtime stores the trace context in each event's envelope, and its worker continues the
  trace of the ExecutionRequested event across NATS (see `continue_from`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()
_state: dict[str, Any] = {"enabled": False, "service": ""}


def enabled() -> bool:
    """Whether this process records spans."""
    return bool(_state["enabled"])


class JsonLinesExporter(SpanExporter):
    """Writes finished spans as JSON lines to a file (one object per span)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for s in spans:
            ctx = s.get_span_context()
            lines.append(
                json.dumps(
                    {
                        "trace_id": f"{ctx.trace_id:032x}" if ctx else "",
                        "span_id": f"{ctx.span_id:016x}" if ctx else "",
                        "parent_id": f"{s.parent.span_id:016x}" if s.parent else "",
                        "name": s.name,
                        "kind": s.kind.name,
                        "service": s.resource.attributes.get("service.name", ""),
                        "start_ns": s.start_time,
                        "end_ns": s.end_time,
                        "status": s.status.status_code.name,
                        "attributes": {
                            k: v for k, v in (s.attributes or {}).items() if isinstance(v, str | int | float)
                        },
                    }
                )
            )
        with self._lock, self.path.open("a") as f:
            f.write("\n".join(lines) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release: each export opens and closes the file."""


def setup(service: str) -> TracerProvider | None:
    """Configure tracing for this process from the environment; None when it stays off."""
    path = os.environ.get("OTEL_TRACES_FILE", "")
    console = os.environ.get("OTEL_TRACES_CONSOLE", "").lower() in ("1", "true", "yes")
    if not path and not console:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if path:
        provider.add_span_processor(
            BatchSpanProcessor(JsonLinesExporter(Path(path.replace("{service}", service))))
        )
    if console:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    _state.update(enabled=True, service=service)
    return provider


def shutdown() -> None:
    """Flush and stop the exporters (idempotent)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def tracer() -> trace.Tracer:
    """The tracer of this process."""
    return trace.get_tracer("labs")


def current_traceparent() -> str:
    """The W3C traceparent of the current span ("" when there is none, or tracing is off)."""
    if not _state["enabled"]:
        return ""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent", "")


@contextmanager
def continue_from(traceparent: str, name: str, **attributes: str | int) -> Iterator[None]:
    """A span that continues `traceparent` (e.g. from an event's envelope), if tracing is on."""
    if not enabled():
        yield
        return
    parent = _PROPAGATOR.extract({"traceparent": traceparent}) if traceparent else None
    with tracer().start_as_current_span(
        name, context=parent, kind=trace.SpanKind.CONSUMER, attributes=attributes
    ):
        yield


def _metadata_get(metadata: Sequence[tuple[str, Any]] | None, key: str) -> str:
    for k, v in metadata or ():
        if k == key:
            return v if isinstance(v, str) else v.decode()
    return ""


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """A server span per RPC, continuing the caller's `traceparent` metadata."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        parent_tp = _metadata_get(details.invocation_metadata, "traceparent")

        def span() -> Any:
            parent = _PROPAGATOR.extract({"traceparent": parent_tp}) if parent_tp else None
            return tracer().start_as_current_span(
                method, context=parent, kind=trace.SpanKind.SERVER, attributes={"rpc.method": method}
            )

        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
                with span():
                    return await inner_uu(request, ctx)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                with span():
                    async for item in inner_us(request, ctx):
                        yield item

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        return handler  # client-streaming shapes: not traced (none of ours is)


def _traced_details(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    """`details` with the current span's `traceparent` in its metadata."""
    tp = current_traceparent()
    if not tp:
        return details  # no span here: a traceparent the caller set passes through as it is
    md = [(k, v) for k, v in (details.metadata or ()) if k != "traceparent"]
    md.append(("traceparent", tp))
    return grpc.aio.ClientCallDetails(
        details.method,
        details.timeout,
        grpc.aio.Metadata(*md),
        details.credentials,
        details.wait_for_ready,
    )


# grpc.aio files an interceptor under the first call shape it implements only, so each shape
# is its own class: one class implementing two would never see the second shape's calls.
class _TracedUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    """A client span per unary call, sending its `traceparent` as metadata."""

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        if not trace.get_current_span().get_span_context().is_valid:
            # No span here (e.g. a proxy forwarding a caller's traceparent): add nothing, pass it on.
            return await continuation(details, request)
        with tracer().start_as_current_span(
            method, kind=trace.SpanKind.CLIENT, attributes={"rpc.method": method}
        ):
            call = await continuation(_traced_details(details), request)
            await call  # the span covers the whole call
            return call


class _TracedUnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    """The current `traceparent` sent with a server-streaming call."""

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        # The stream outlives this function: only the context is propagated, no client span.
        return await continuation(_traced_details(details), request)


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """Interceptors for a gRPC server ([] when tracing is off)."""
    return [ServerInterceptor()] if enabled() else []


def client_interceptors() -> list[Any]:
    """Interceptors for a gRPC channel ([] when tracing is off)."""
    return [_TracedUnaryUnary(), _TracedUnaryStream()] if enabled() else []
