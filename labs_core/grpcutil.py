"""gRPC helpers shared by the services: server bootstrap, error mapping, deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status

from labs_core import errors, telemetry, tracing
from labs_core.auth import InternalAuth

log = logging.getLogger(__name__)

_CODES: list[tuple[type[Exception], grpc.StatusCode]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.ConcurrencyConflict, grpc.StatusCode.ABORTED),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
]


def status_code_for(exc: BaseException) -> grpc.StatusCode:
    """The gRPC status code a domain error maps to (INTERNAL for anything unknown).

    A service's own error class names its code with a `grpc_code` class attribute instead of
    keeping a table of its own.
    """
    own = getattr(exc, "grpc_code", None)
    if isinstance(own, grpc.StatusCode):
        return own
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


async def abort_with(
    context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str, details: Sequence[Message] = ()
) -> None:
    """Abort the RPC with a google.rpc.Status carrying typed details."""
    st = status_pb2.Status(code=code.value[0], message=message)
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)
        st.details.append(a)
    await context.abort_with_status(rpc_status.to_status(st))


def bad_request(field: str, reason: str, more: Sequence[tuple[str, str]] = ()) -> Message:
    """A google.rpc.BadRequest detail naming the failing fields."""
    from google.rpc import error_details_pb2

    pairs = [(field, reason), *more] if field or reason else list(more)
    return error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=f, description=r) for f, r in pairs
        ]
    )


def domain_errors(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Decorate a servicer method: domain errors become their gRPC status, with field details."""

    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await fn(self, request, context)
        except errors.LabsError as e:
            code = status_code_for(e)
            details: list[Message] = []
            if isinstance(e, errors.InvalidArgument):
                details.append(bad_request("", "", e.violations))
            await abort_with(context, code, str(e), details)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


#: grpc reports "no deadline" as a remaining time of centuries.
_NO_DEADLINE_S = 1e8


def time_left(context: grpc.aio.ServicerContext, default: float = 30.0) -> float:
    """Seconds left before the caller's deadline (to pass on to the calls this RPC makes)."""
    remaining = context.time_remaining()
    if remaining is None or remaining > _NO_DEADLINE_S:
        return default
    return max(0.001, remaining)


class GrpcServer:
    """An aio server with health checking and reflection, started and stopped gracefully.

    `auth` makes it an internal backend: every call but a health check must carry the services'
    shared secret, and the caller's role must grant what the RPC's proto options ask for. Only the
    public gateway (which checks API keys instead) and test doubles go without.
    """

    def __init__(
        self,
        bind: str,
        service_names: Iterable[str],
        *,
        grace_s: float = 5.0,
        auth: InternalAuth | None = None,
    ) -> None:
        # The auth interceptor is innermost, so a refused call is still traced and counted.
        own = [auth.server_interceptor()] if auth is not None else []
        self.server = grpc.aio.server(
            interceptors=[*tracing.server_interceptors(), *telemetry.server_interceptors(), *own],
            options=[
                ("grpc.max_receive_message_length", 16 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
        )
        self.health = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.service_names = list(service_names)
        reflection.enable_server_reflection(
            [*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = self.server.add_insecure_port(bind)
        if self.port == 0:
            raise OSError(f"cannot bind gRPC server to {bind}")
        self.grace_s = grace_s

    async def start(self) -> None:
        """Start serving and report SERVING for every service."""
        await self.server.start()
        await self.set_serving(True)

    async def set_serving(self, serving: bool) -> None:
        """Report SERVING or NOT_SERVING on the health service."""
        st = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ["", *self.service_names]:
            r = self.health.set(name, st)
            if asyncio.iscoroutine(r):
                await r

    async def stop(self) -> None:
        """Report NOT_SERVING, then stop with a grace period for in-flight RPCs (idempotent)."""
        with contextlib.suppress(Exception):
            await self.set_serving(False)
        await self.server.stop(self.grace_s)


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM set `stop` instead of killing the process mid-write."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


def channel(
    addr: str, options: Sequence[tuple[str, Any]] = (), *, auth: InternalAuth | None = None
) -> grpc.aio.Channel:
    """An insecure aio channel to a peer service on loopback or a private network.

    Carries the trace context when tracing is on; `options` add to (or override) the defaults.
    With `auth` (a channel to one of our services) every call carries the shared secret and the
    current caller; an endpoint outside the system (a remote tool) gets a channel without.
    """
    merged = dict(
        [
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
            ("grpc.enable_retries", 1),
            ("grpc.keepalive_time_ms", 30_000),
        ]
    )
    merged.update(options)
    interceptors = [*tracing.client_interceptors(), *(auth.client_interceptors() if auth else [])]
    return grpc.aio.insecure_channel(addr, interceptors=interceptors, options=list(merged.items()))
