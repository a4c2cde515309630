"""The public gRPC door: forwards every method of the public services to its backend as raw bytes.

Nothing is deserialised: a generic handler per service passes the request bytes on, copies the
caller's metadata, gives the backend call the caller's remaining deadline, and relays the
backend's reply, metadata and status (with its `grpc-status-details-bin` trailer) unchanged.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from typing import Any, NoReturn

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from services.gateway.adapters.backends import Backends
from services.gateway.transcoding import errors
from services.gateway.transcoding.routes import backend_of, grpc_path

Metadata = list[tuple[str, Any]]
_DROPPED = frozenset({"user-agent", "te", "content-type", "host", "connection"})
# Larger than any real deadline: the value some gRPC versions report for "no deadline".
_NO_DEADLINE_S = 10**8


class _Forwarder:
    """Forwarding of the calls of one method to one backend."""

    def __init__(self, method: MethodDescriptor, backends: Backends, default_timeout: float) -> None:
        self.backend = backend_of(method)
        self.address = backends.address(self.backend)
        self.default_timeout = default_timeout
        channel = backends.channel(self.backend)
        path = grpc_path(method)
        # No serializers: the channel sends and returns bytes as they are.
        if method.client_streaming:
            factory = channel.stream_stream if method.server_streaming else channel.stream_unary
        else:
            factory = channel.unary_stream if method.server_streaming else channel.unary_unary
        self.call = factory(path, _registered_method=True)

    def timeout(self, context: grpc.aio.ServicerContext) -> float:
        """The caller's remaining time, or the default deadline when it set none."""
        remaining = context.time_remaining()
        if remaining is None or remaining > _NO_DEADLINE_S:
            return self.default_timeout
        return max(0.001, float(remaining))

    @staticmethod
    def metadata(context: grpc.aio.ServicerContext) -> Metadata:
        """The caller's metadata minus transport headers, with an x-request-id."""
        md: Metadata = []
        has_id = False
        for key, value in context.invocation_metadata() or ():
            if key.startswith((":", "grpc-")) or key in _DROPPED:
                continue
            has_id = has_id or key == "x-request-id"
            md.append((key, value))
        if not has_id:
            md.append(("x-request-id", os.urandom(16).hex()))
        return md

    async def abort(self, context: grpc.aio.ServicerContext, err: grpc.aio.AioRpcError) -> NoReturn:
        """End the caller's RPC with the backend's status, message, details and trailers."""
        trailing = tuple(err.trailing_metadata() or ())
        message = err.details() or ""
        if not any(k == errors.STATUS_DETAILS_KEY for k, _ in trailing):
            message = errors.backend_message(err.code().value[0], message, self.backend, self.address)
        await context.abort(err.code(), message, trailing)
        raise AssertionError("unreachable")  # abort always raises

    @staticmethod
    async def relay_initial(call: Any, context: grpc.aio.ServicerContext) -> None:
        """Send the backend's initial metadata to the caller, if it sent any."""
        md = await call.initial_metadata()
        if md:
            await context.send_initial_metadata(tuple(md))

    @staticmethod
    async def relay_trailing(call: Any, context: grpc.aio.ServicerContext) -> None:
        """Pass on the backend's trailing metadata."""
        md = await call.trailing_metadata()
        if md:
            context.set_trailing_metadata(tuple(md))

    async def unary_unary(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """Forward a unary call."""
        call = self.call(request, timeout=self.timeout(context), metadata=self.metadata(context))
        try:
            reply: bytes = await call
        except grpc.aio.AioRpcError as e:
            await self.abort(context, e)
        await self.relay_initial(call, context)
        await self.relay_trailing(call, context)
        return reply

    async def unary_stream(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        """Forward a server-streaming call."""
        call = self.call(request, timeout=self.timeout(context), metadata=self.metadata(context))
        async for item in self._relay_stream(call, context):
            yield item

    async def stream_unary(self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
        """Forward a client-streaming call."""
        call = self.call(requests, timeout=self.timeout(context), metadata=self.metadata(context))
        try:
            reply: bytes = await call
        except grpc.aio.AioRpcError as e:
            await self.abort(context, e)
        await self.relay_initial(call, context)
        await self.relay_trailing(call, context)
        return reply

    async def stream_stream(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """Forward a bidirectional call."""
        call = self.call(requests, timeout=self.timeout(context), metadata=self.metadata(context))
        async for item in self._relay_stream(call, context):
            yield item

    async def _relay_stream(self, call: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        try:
            await self.relay_initial(call, context)
            async for item in call:
                yield item
        except grpc.aio.AioRpcError as e:
            await self.abort(context, e)
        await self.relay_trailing(call, context)

    def handler(self, method: MethodDescriptor) -> grpc.RpcMethodHandler:
        """The method handler, with bytes in and bytes out."""
        if method.client_streaming:
            if method.server_streaming:
                return grpc.stream_stream_rpc_method_handler(self.stream_stream)
            return grpc.stream_unary_rpc_method_handler(self.stream_unary)
        if method.server_streaming:
            return grpc.unary_stream_rpc_method_handler(self.unary_stream)
        return grpc.unary_unary_rpc_method_handler(self.unary_unary)


def proxy_handlers(
    services: Sequence[ServiceDescriptor], backends: Backends, default_timeout: float
) -> list[grpc.GenericRpcHandler]:
    """One generic handler per public service, forwarding each of its methods."""
    handlers = []
    for service in services:
        methods = {m.name: _Forwarder(m, backends, default_timeout).handler(m) for m in service.methods}
        handlers.append(grpc.method_handlers_generic_handler(service.full_name, methods))
    return handlers
