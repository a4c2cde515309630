"""Trace context crosses every call shape a channel makes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider

from labs_core import tracing


async def _echo_traceparent(request: bytes, ctx: grpc.aio.ServicerContext) -> bytes:
    return dict(ctx.invocation_metadata() or ()).get("traceparent", "").encode()


async def _stream_traceparent(request: bytes, ctx: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    yield dict(ctx.invocation_metadata() or ()).get("traceparent", "").encode()


async def test_the_traceparent_reaches_the_server_on_unary_and_server_streaming_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(tracing._state, "enabled", True)
    server = grpc.aio.server()
    handlers: dict[str, Any] = {
        "Unary": grpc.unary_unary_rpc_method_handler(_echo_traceparent),
        "Stream": grpc.unary_stream_rpc_method_handler(_stream_traceparent),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("t.Echo", handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{port}", interceptors=tracing.client_interceptors()
        ) as channel:
            with TracerProvider().get_tracer("test").start_as_current_span("caller") as span:
                trace_id = format(span.get_span_context().trace_id, "032x")
                unary = await channel.unary_unary("/t.Echo/Unary")(b"", timeout=5)
                streamed = [m async for m in channel.unary_stream("/t.Echo/Stream")(b"", timeout=5)]
        assert trace_id in unary.decode()
        assert len(streamed) == 1 and trace_id in streamed[0].decode()
    finally:
        await server.stop(None)
