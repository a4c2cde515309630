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
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message

from labs_core import grpcutil
from labs_core.auth import policy_of
from services.gateway.adapters.backends import Backends
from services.gateway.security.guard import INTERNAL_PREFIX, Guard
from services.gateway.transcoding import errors
from services.gateway.transcoding.routes import backend_of, grpc_path
from services.gateway.transcoding.validation import Validator

Metadata = list[tuple[str, Any]]
_DROPPED = frozenset({"user-agent", "te", "content-type", "host", "connection"})


class _Forwarder:
    """Forwarding of the calls of one method to one backend."""

    def __init__(
        self, method: MethodDescriptor, backends: Backends, default_timeout: float, guard: Guard
    ) -> None:
        self.guard = guard
        self.policy = policy_of(method)
        self.request_class = message_factory.GetMessageClass(method.input_type)
        self.validator = Validator(method.input_type)
        # The request is parsed only when its content matters (content rules or field rules).
        self.inspect = not method.client_streaming and (bool(self.policy.rules) or self.validator.active)
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
        return grpcutil.time_left(context, self.default_timeout)

    async def admit(self, context: grpc.aio.ServicerContext, request: bytes | None) -> Metadata:
        """Authenticate, authorize and validate the call; its metadata for the backend."""
        md: Metadata = []
        has_id = False
        authorization: str | None = None
        guarded = self.guard.enabled
        for key, value in context.invocation_metadata() or ():
            if key.startswith((":", "grpc-", INTERNAL_PREFIX)) or key in _DROPPED:
                continue  # x-labs-* is the gateway's to set, never the caller's
            if key == "authorization":
                authorization = value if isinstance(value, str) else None
                if guarded:
                    continue  # the key stays at the edge
            has_id = has_id or key == "x-request-id"
            md.append((key, value))
        if not has_id:
            md.append(("x-request-id", os.urandom(16).hex()))
        try:
            principal = self.guard.authenticate(self.policy, authorization)
            msg: Message | None = None
            if request is not None and self.inspect:
                try:
                    msg = self.request_class.FromString(request)
                except DecodeError as e:
                    raise errors.invalid_body(
                        f"cannot parse {self.request_class.DESCRIPTOR.full_name}: {e}"
                    ) from None
            self.guard.authorize(self.policy, principal, msg)
            if msg is not None:
                self.validator.validate(msg)
        except errors.GatewayError as e:
            await abort_with(context, e)
        md.extend(self.guard.metadata(principal))
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

    async def unary_reply(
        self, request: bytes | AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """Forward a unary or client-streaming call."""
        md = await self.admit(context, request if isinstance(request, bytes) else None)
        call = self.call(request, timeout=self.timeout(context), metadata=md)
        try:
            reply: bytes = await call
        except grpc.aio.AioRpcError as e:
            await self.abort(context, e)
        await self.relay_initial(call, context)
        await self.relay_trailing(call, context)
        return reply

    async def stream_reply(
        self, request: bytes | AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """Forward a server-streaming or bidirectional call."""
        md = await self.admit(context, request if isinstance(request, bytes) else None)
        call = self.call(request, timeout=self.timeout(context), metadata=md)
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
                return grpc.stream_stream_rpc_method_handler(self.stream_reply)
            return grpc.stream_unary_rpc_method_handler(self.unary_reply)
        if method.server_streaming:
            return grpc.unary_stream_rpc_method_handler(self.stream_reply)
        return grpc.unary_unary_rpc_method_handler(self.unary_reply)


async def abort_with(context: grpc.aio.ServicerContext, e: errors.GatewayError) -> NoReturn:
    """End the caller's RPC with a gateway error: code, message, typed details, and its headers."""
    trailing: list[tuple[str, str | bytes]] = [(errors.STATUS_DETAILS_KEY, e.to_status().SerializeToString())]
    trailing += [(k.lower(), v) for k, v in e.headers.items()]
    await context.abort(e.code, e.message, tuple(trailing))
    raise AssertionError("unreachable")


def proxy_handlers(
    services: Sequence[ServiceDescriptor], backends: Backends, default_timeout: float, guard: Guard
) -> list[grpc.GenericRpcHandler]:
    """One generic handler per public service, forwarding each of its methods."""
    handlers = []
    for service in services:
        methods = {
            m.name: _Forwarder(m, backends, default_timeout, guard).handler(m) for m in service.methods
        }
        handlers.append(grpc.method_handlers_generic_handler(service.full_name, methods))
    return handlers
