"""The composition root: route table, backend channels, the HTTP door and the gRPC door."""

from __future__ import annotations

import asyncio
import importlib
import logging
from pathlib import Path
from types import TracebackType

from labs_core import telemetry
from labs_core.grpcutil import GrpcServer
from services.gateway.adapters.backends import Backends
from services.gateway.config import DETAIL_PROTO_MODULES, Settings
from services.gateway.entrypoints.endpoints import build_router
from services.gateway.entrypoints.grpc_proxy import proxy_handlers
from services.gateway.entrypoints.http_app import HttpServer, HttpTranscoder
from services.gateway.openapi.document import build_document
from services.gateway.openapi.page import render_page
from services.gateway.security.guard import Guard
from services.gateway.security.keys import KeyStore
from services.gateway.security.ratelimit import RateLimiter, parse_rates
from services.gateway.transcoding.rendering import dumps
from services.gateway.transcoding.routes import load_routes

log = logging.getLogger(__name__)


def build_guard(s: Settings) -> Guard:
    """Keys from LABS_API_KEYS_FILE and LABS_API_KEYS, rate limits, or the loud local-dev switch."""
    limiter = RateLimiter(parse_rates(s.rate_limits))
    internal = s.internal_auth()
    if s.labs_auth_disabled:
        log.warning(
            "!!! LABS_AUTH_DISABLED=true: API keys are NOT checked; every caller acts as admin. "
            "For local development on loopback only. !!!"
        )
        return Guard(KeyStore(), limiter, internal, enabled=False)
    keys = KeyStore()
    if s.labs_api_keys_file:
        KeyStore.from_file(Path(s.labs_api_keys_file), keys)
    if s.labs_api_keys:
        KeyStore.from_env_value(s.labs_api_keys, keys)
    if not len(keys):
        log.warning("no API keys configured (LABS_API_KEYS / LABS_API_KEYS_FILE): only public routes answer")
    else:
        log.info("gateway: %d API key(s) loaded", len(keys))
    return Guard(keys, limiter, internal)


async def migrate_schema(database_url: str) -> None:
    """The gateway has no database: nothing to migrate."""
    del database_url


class Gateway:
    """The running gateway; `start()` binds both doors, `stop()` (idempotent) closes everything."""

    def __init__(
        self, settings: Settings, *, http_port: int | None = None, grpc_port: int | None = None
    ) -> None:
        self.settings = settings
        self._http_port = settings.http_port if http_port is None else http_port
        self._grpc_port = settings.port_of(settings.gateway_grpc_addr) if grpc_port is None else grpc_port
        self.http_port = 0
        self.grpc_port = 0
        self.openapi: dict[str, object] = {}
        self._backends: Backends | None = None
        self._http: HttpServer | None = None
        self._grpc: GrpcServer | None = None

    async def start(self) -> None:
        """Build the route table from the annotations and start serving HTTP and gRPC."""
        s = self.settings
        for name in DETAIL_PROTO_MODULES:  # so their messages render as typed error details
            importlib.import_module(name)
        services, routes = load_routes(s.public_proto_modules)
        guard = build_guard(s)
        self.openapi = build_document(routes)
        documents = {
            "/openapi.json": ("application/json", dumps(self.openapi)),
            "/docs": ("text/html; charset=utf-8", render_page(self.openapi)),
        }
        self._backends = Backends(s.backend_addresses())
        try:
            router = build_router(routes, self._backends)
            self._grpc = GrpcServer(
                f"{s.bind_host}:{self._grpc_port}",
                [svc.full_name for svc in services],
                grace_s=s.shutdown_grace_s,
            )
            self._grpc.server.add_generic_rpc_handlers(
                proxy_handlers(services, self._backends, s.forward_timeout_s, guard)
            )
            self.grpc_port = self._grpc.port
            self._http = HttpServer(HttpTranscoder(router, s, guard, documents), access_log=s.access_log)
            self.http_port = await self._http.start(s.bind_host, self._http_port)
            # Last, so that SERVING on gRPC health means both doors are open.
            await self._grpc.start()
        except BaseException:
            await self.stop()
            raise
        log.info(
            "gateway: %d HTTP routes on http://%s:%d, gRPC on %s:%d (%s)",
            len(routes),
            s.bind_host,
            self.http_port,
            s.bind_host,
            self.grpc_port,
            ", ".join(svc.full_name for svc in services),
        )

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, close the backend channels."""
        http, self._http = self._http, None
        grpc_server, self._grpc = self._grpc, None
        backends, self._backends = self._backends, None
        if http is not None:
            await http.stop()
        if grpc_server is not None:
            await grpc_server.stop()
        if backends is not None:
            await backends.close()
            log.info("gateway stopped")

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def serve(settings: Settings, stop_event: asyncio.Event) -> None:
    """Run the gateway until `stop_event` is set."""
    async with Gateway(settings):
        await telemetry.expose(settings, "gateway", stop_event)
        await stop_event.wait()
