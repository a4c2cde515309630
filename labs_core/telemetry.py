"""Prometheus exposition of the operational figures: gRPC, event log, projections, worker.

One process runs one service, so the figures live in one registry per process (`REGISTRY`).
The hooks are called from the shared code (GrpcServer's interceptor, EventLog.append,
Projector) and cost a few dictionary lookups; `/metrics` is served by `expose()` on the port
named by `<SERVICE>_METRICS_HTTP_PORT` or `METRICS_HTTP_PORT` (disabled when neither is set).
Gauges that need I/O (the log's head, each projection's backlog) are refreshed when scraped.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)

if TYPE_CHECKING:
    from labs.events.v1 import envelope_pb2

    from labs_core.eventlog import EventLog, StoredEvent
    from labs_core.projector import Projector

log = logging.getLogger(__name__)

#: The ports `make up` gives each service's /metrics (see deploy/local/config.py).
DEFAULT_METRICS_PORTS = {"gateway": 9100, "runtime": 9101, "tools": 9102, "llm": 9103, "metrics": 9104}

REGISTRY = CollectorRegistry()
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

GRPC_HANDLED = Counter(
    "labs_grpc_server_handled",
    "RPCs finished by this server, by service, method and status code",
    ["grpc_service", "grpc_method", "grpc_code"],
    registry=REGISTRY,
)
GRPC_SECONDS = Histogram(
    "labs_grpc_server_handling_seconds",
    "Time from an RPC's arrival to its last response (whole stream for streaming RPCs)",
    ["grpc_service", "grpc_method"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
APPEND_SECONDS = Histogram(
    "labs_eventlog_append_seconds",
    "Event-log append latency (publish to JetStream ack), by aggregate type and result",
    ["aggregate_type", "result"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
    registry=REGISTRY,
)
LOG_HEAD = Gauge(
    "labs_eventlog_last_sequence", "The stream's last sequence, read at scrape time", registry=REGISTRY
)
PROJECTION_CHECKPOINT = Gauge(
    "labs_projection_checkpoint",
    "Last log sequence applied by the projection (active or standby instance)",
    ["projection", "schema"],
    registry=REGISTRY,
)
PROJECTION_BACKLOG = Gauge(
    "labs_projection_lag_events",
    "Events on the projection's subjects after its checkpoint, read at scrape time",
    ["projection", "schema"],
    registry=REGISTRY,
)
PROJECTION_LAG = Histogram(
    "labs_projection_lag_seconds",
    "Time from an event's occurrence to the commit of the batch that applied it (last event per batch)",
    ["projection", "schema"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
PROJECTION_EVENTS = Counter(
    "labs_projection_events_applied",
    "Events applied by the projection in this process",
    ["projection", "schema"],
    registry=REGISTRY,
)
WORKER_RUNNING = Gauge(
    "labs_worker_executions_running",
    "Executions the workers of this process are running now",
    registry=REGISTRY,
)
EXECUTIONS_FINISHED = Counter(
    "labs_executions_finished",
    "Terminal events appended by this process, by final status",
    ["status"],
    registry=REGISTRY,
)
ATTEMPTS_STARTED = Counter(
    "labs_execution_attempts_started", "Attempts started by this process's workers", registry=REGISTRY
)
ATTEMPTS_FAILED = Counter(
    "labs_execution_attempts_failed",
    "Failed attempts recorded by this process, by error category and whether a retry follows",
    ["category", "will_retry"],
    registry=REGISTRY,
)

_TERMINAL = {
    "execution_completed": "COMPLETED",
    "execution_failed": "FAILED",
    "execution_timed_out": "TIMED_OUT",
    "execution_cancelled": "CANCELLED",
}
_projectors: weakref.WeakSet[Projector] = weakref.WeakSet()
_workers: weakref.WeakSet[Any] = weakref.WeakSet()
_tasks: set[asyncio.Task[None]] = set()
#: The port each service of this process serves /metrics on (when enabled).
bound_ports: dict[str, int] = {}


def _running() -> float:
    return float(sum(len(getattr(w, "running", ())) for w in list(_workers)))


WORKER_RUNNING.set_function(_running)


# ---- hooks called by the shared code -------------------------------------------------------


def observe_append(event: envelope_pb2.Event, seconds: float, result: str) -> None:
    """An append finished (`ok`, `duplicate`, `conflict`, `unavailable`); counts outcomes too."""
    APPEND_SECONDS.labels(event.aggregate_type, result).observe(seconds)
    if result != "ok":
        return
    kind = event.WhichOneof("payload")
    if kind in _TERMINAL:
        status = _TERMINAL[kind]
        if kind == "execution_failed" and event.execution_failed.category == 9:  # ERROR_CATEGORY_BUDGET
            status = "BUDGET_EXCEEDED"
        EXECUTIONS_FINISHED.labels(status).inc()
    elif kind == "execution_started":
        ATTEMPTS_STARTED.inc()
    elif kind == "attempt_failed":
        from labs.events.v1 import execution_pb2

        p = event.attempt_failed
        category = execution_pb2.ErrorCategory.Name(p.category).removeprefix("ERROR_CATEGORY_")
        ATTEMPTS_FAILED.labels(category, "true" if p.will_retry else "false").inc()


def track_projector(projector: Projector) -> None:
    """A projector started running in this process: its checkpoint and backlog are exposed."""
    _projectors.add(projector)
    PROJECTION_CHECKPOINT.labels(projector.projection.name, projector.schema).set(projector.checkpoint)


def checkpoint_moved(projector: Projector, sequence: int) -> None:
    """The projector's checkpoint is now `sequence`."""
    if projector in _projectors:
        PROJECTION_CHECKPOINT.labels(projector.projection.name, projector.schema).set(sequence)


def batch_applied(projector: Projector, events: Sequence[StoredEvent]) -> None:
    """A batch was committed: count it and observe the lag of its last event."""
    if not events or projector not in _projectors:
        return
    labels = (projector.projection.name, projector.schema)
    PROJECTION_EVENTS.labels(*labels).inc(len(events))
    at = events[-1].event.occurred_at
    PROJECTION_LAG.labels(*labels).observe(max(0.0, time.time() - (at.seconds + at.nanos / 1e9)))


def watch_worker(worker: Any) -> None:
    """Expose how many executions a worker (anything with a sized `running`) runs now."""
    _workers.add(worker)


# ---- gRPC server interceptor ---------------------------------------------------------------


def _split(method: str) -> tuple[str, str]:
    service, _, name = method.lstrip("/").rpartition("/")
    return service or "unknown", name or method


def _code(context: grpc.aio.ServicerContext, default: str) -> str:
    try:
        code = context.code()
    except Exception:
        return default
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        return next((c.name for c in grpc.StatusCode if c.value[0] == code), default)
    return default


class _Timer:
    def __init__(self, service: str, method: str) -> None:
        self.labels = (service, method)
        self.t0 = time.perf_counter()

    def done(self, code: str) -> None:
        GRPC_SECONDS.labels(*self.labels).observe(time.perf_counter() - self.t0)
        GRPC_HANDLED.labels(*self.labels, code).inc()


class ServerMetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts every RPC by method and status code and times it (all four RPC shapes)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        service, method = _split(handler_call_details.method)
        ser, de = handler.response_serializer, handler.request_deserializer
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(_single(handler.unary_unary, service, method), de, ser)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _single(handler.stream_unary, service, method), de, ser
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(_many(handler.unary_stream, service, method), de, ser)
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                _many(handler.stream_stream, service, method), de, ser
            )
        return handler


def _single(inner: Callable[..., Any], service: str, method: str) -> Callable[..., Awaitable[Any]]:
    async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> Any:
        timer = _Timer(service, method)
        code = "UNKNOWN"
        try:
            result = inner(request, context)
            if inspect.isawaitable(result):
                result = await result
            code = _code(context, "OK")
            return result
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        except BaseException:
            code = _code(context, "UNKNOWN")
            raise
        finally:
            timer.done(code)

    return behaviour


def _many(inner: Callable[..., Any], service: str, method: str) -> Callable[..., AsyncIterator[Any]]:
    async def behaviour(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        timer = _Timer(service, method)
        code = "UNKNOWN"
        try:
            result = inner(request, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            elif inspect.isawaitable(result):
                await result  # the context.write() style
            elif result is not None:
                for item in result:
                    yield item
            code = _code(context, "OK")
        except (asyncio.CancelledError, GeneratorExit):
            code = "CANCELLED"
            raise
        except BaseException:
            code = _code(context, "UNKNOWN")
            raise
        finally:
            timer.done(code)

    return behaviour


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """The interceptors every GrpcServer installs for metrics."""
    return [ServerMetricsInterceptor()]


# ---- the /metrics endpoint -----------------------------------------------------------------


def metrics_port(service: str) -> int | None:
    """The /metrics port of `service`: `<SERVICE>_METRICS_HTTP_PORT`, else `METRICS_HTTP_PORT`.

    None (disabled) when neither is set; 0 means any free port. A value that is not a port
    fails with the variable's name.
    """
    for name in (f"{service.upper()}_METRICS_HTTP_PORT", "METRICS_HTTP_PORT"):
        raw = os.environ.get(name, "").strip()
        if not raw:
            continue
        try:
            port = int(raw)
            if not 0 <= port <= 65535:
                raise ValueError(raw)
        except ValueError as e:
            raise ValueError(f"{name}: not a port number: {raw!r}") from e
        return port
    return None


async def refresh(eventlog: EventLog | None, timeout_s: float = 1.0) -> None:
    """Read the gauges that need I/O: the log's head and each projection's backlog."""
    if eventlog is None:
        return
    try:
        async with asyncio.timeout(timeout_s):
            LOG_HEAD.set(await eventlog.last_sequence())
            for p in list(_projectors):
                if p.log is eventlog or p.log.stream == eventlog.stream:
                    backlog = await eventlog.pending_count(p.projection.subjects, p.checkpoint + 1)
                    PROJECTION_BACKLOG.labels(p.projection.name, p.schema).set(backlog)
    except Exception as e:  # a slow or absent log must not fail the scrape
        log.debug("metrics refresh incomplete: %r", e)


class MetricsServer:
    """A minimal HTTP/1.1 server answering GET /metrics in the Prometheus text format.

    Plain asyncio rather than aiohttp: a scrape needs one route, and importing aiohttp costs a
    service ~24 MB of memory it otherwise would not use. One request per connection.
    """

    MAX_HEAD = 8192

    def __init__(self, host: str, port: int, eventlog: EventLog | None = None) -> None:
        self.host = host
        self.requested_port = port
        self.port = 0
        self.eventlog = eventlog
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > self.MAX_HEAD:
                raise ValueError("request head too large")
            method, path, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if method in ("GET", "HEAD") and path.split("?", 1)[0] == "/metrics":
                await refresh(self.eventlog)
                body = generate_latest(REGISTRY)
                status, ctype = "200 OK", CONTENT_TYPE_LATEST
            else:
                body, status, ctype = b"not found\n", "404 Not Found", "text/plain; charset=utf-8"
            head_out = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n"
            ).encode()
            writer.write(head_out if method == "HEAD" else head_out + body)
            await writer.drain()
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # a broken or slow client: drop the connection
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def start(self) -> int:
        """Listen; returns the bound port."""
        self._server = await asyncio.start_server(self._handle, self.host, self.requested_port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


async def expose(
    settings: Any, service: str, stop: asyncio.Event, *, eventlog: EventLog | None = None
) -> int | None:
    """Serve /metrics for `service` until `stop` is set; returns the port (None when disabled).

    The one line each service's `serve()` calls. A port already taken is logged, not fatal:
    the service itself matters more than its figures.
    """
    port = metrics_port(service)
    if port is None:
        return None
    server = MetricsServer(getattr(settings, "bind_host", "127.0.0.1"), port, eventlog)
    try:
        bound = await server.start()
    except OSError as e:
        log.warning("%s: /metrics not served on port %d: %s", service, port, e)
        return None
    bound_ports[service] = bound
    log.info("%s: Prometheus metrics on http://%s:%d/metrics", service, server.host, bound)

    async def until_stopped() -> None:
        try:
            await stop.wait()
        finally:
            await server.stop()

    task = asyncio.create_task(until_stopped(), name=f"{service}-metrics-http")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return bound


@contextlib.asynccontextmanager
async def serving(
    host: str = "127.0.0.1", port: int = 0, eventlog: EventLog | None = None
) -> AsyncIterator[int]:
    """A /metrics server for the block's duration (for tests and tools); yields its port."""
    server = MetricsServer(host, port, eventlog)
    try:
        yield await server.start()
    finally:
        await server.stop()
