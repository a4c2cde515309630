"""The HTTP/JSON door: one aiohttp handler that routes, binds, forwards over gRPC and renders.

There is no code per route: the route table (built from the annotations at start-up) gives
each request its Endpoint, which holds everything precomputed for that binding.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from typing import Any

import grpc
from aiohttp import web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from services.gateway.config import Settings
from services.gateway.entrypoints.endpoints import Endpoint, sequence_of
from services.gateway.security.guard import INTERNAL_PREFIX, Guard
from services.gateway.transcoding import errors
from services.gateway.transcoding.path_template import PathRouter
from services.gateway.transcoding.rendering import dumps

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"
NDJSON_TYPE = "application/x-ndjson"
SSE_TYPE = "text/event-stream"
REQUEST_ID = "x-request-id"
_NO_QUERY: MultiMapping[str] = MultiDictProxy(MultiDict())
_GRPC_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


class HttpTranscoder:
    """The request handler: HTTP/JSON in, a unary gRPC call to the backend, HTTP/JSON out."""

    def __init__(
        self,
        router: PathRouter[Endpoint],
        settings: Settings,
        guard: Guard,
        documents: dict[str, tuple[str, bytes]] | None = None,
    ) -> None:
        self._router = router
        self._guard = guard
        self._limit = settings.body_limit_bytes
        self._default_timeout = settings.forward_timeout_s
        self._max_timeout = settings.max_forward_timeout_s
        # The key stays at the edge when the gateway checks it; backends learn x-labs-actor.
        skip = {REQUEST_ID, "authorization"} if guard.enabled else {REQUEST_ID}
        self._forwarded = tuple(
            h.lower()
            for h in settings.forwarded_headers
            if h.lower() not in skip and not h.lower().startswith(INTERNAL_PREFIX)
        )
        # Static documents (path -> content type, body): /openapi.json and /docs.
        self._documents = documents or {}
        self._cors = Cors(settings.cors_origins())

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        """Serve one request; every failure is a google.rpc.Status JSON body."""
        headers = request.headers
        rid = headers.get(REQUEST_ID) or os.urandom(16).hex()
        path = request.raw_path
        q = path.find("?")
        query: MultiMapping[str] = _NO_QUERY
        if q >= 0:
            path = path[:q]
            query = request.query
        cors: dict[str, str] | None = None
        origin = headers.get("origin")
        if origin is not None and self._cors.enabled:
            allowed = self._cors.allows(origin)
            if request.method == "OPTIONS" and "access-control-request-method" in headers:
                return self._preflight(origin, allowed, rid)
            if allowed:
                cors = self._cors.response_headers(origin)
        doc = self._documents.get(path)
        if doc is not None and request.method in ("GET", "HEAD"):
            resp = web.Response(body=doc[1], headers={"Content-Type": doc[0], "X-Request-Id": rid})
            if cors:
                resp.headers.update(cors)
            return resp
        endpoint: Endpoint | None = None
        try:
            if not _valid_metadata(rid):
                rid = os.urandom(16).hex()
                raise errors.invalid_header("X-Request-Id", "expected printable ASCII")
            endpoint, segments = self._router.match(request.method, path)
            guard = self._guard
            principal = guard.authenticate(endpoint.policy, headers.get("authorization"))
            body = await self._read_body(request) if endpoint.binder.reads_body else b""
            msg = endpoint.binder.bind(segments, query, body)
            guard.authorize(endpoint.policy, principal, msg)
            endpoint.validator.validate(msg)
            timeout = self._timeout(headers)
            metadata = [(REQUEST_ID, rid), *guard.metadata(principal)]
            for name in self._forwarded:
                value = headers.get(name)
                if value is not None:
                    if not _valid_metadata(value):
                        raise errors.invalid_header(name, "expected printable ASCII")
                    metadata.append((name, value))
            if endpoint.streaming:
                if SSE_TYPE in headers.get("accept", ""):
                    return await self._sse(request, endpoint, msg, timeout, metadata, rid, cors)
                return await self._stream(request, endpoint, msg, timeout, metadata, rid, cors)
            reply = await endpoint.call(msg, timeout=timeout, metadata=metadata)
            return _response(200, endpoint.renderer.render(reply), rid, cors)
        except errors.GatewayError as e:
            resp = _response(e.http_status, e.body(), rid, cors)
            resp.headers.update(e.headers)
            return resp
        except grpc.aio.AioRpcError as e:
            assert endpoint is not None
            st = errors.backend_status(e, endpoint.backend, endpoint.address)
            return _response(errors.http_status(st.code), errors.status_json(st), rid, cors)
        except Exception:
            log.exception("request %s %s failed", request.method, path)
            st = errors.GatewayError(grpc.StatusCode.INTERNAL, "internal gateway error").to_status()
            return _response(500, errors.status_json(st), rid, cors)

    async def _read_body(self, request: web.BaseRequest) -> bytes:
        if not request.body_exists:
            return b""
        length = request.content_length
        if length is not None and length > self._limit:
            raise errors.body_too_large(self._limit)
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > self._limit:
                raise errors.body_too_large(self._limit)
            chunks.append(chunk)
        return b"".join(chunks)

    def _timeout(self, headers: Any) -> float:
        raw = headers.get("grpc-timeout")
        if raw is not None:
            value = _grpc_timeout(raw)
        else:
            raw = headers.get("x-request-timeout")
            if raw is None:
                return self._default_timeout
            try:
                value = float(raw)
            except ValueError:
                value = -1.0
            if not value > 0:
                raise errors.invalid_header("X-Request-Timeout", f"expected seconds > 0, got {raw!r}")
        return min(value, self._max_timeout)

    async def _stream(
        self,
        request: web.BaseRequest,
        endpoint: Endpoint,
        msg: Any,
        timeout: float,
        metadata: list[tuple[str, str]],
        rid: str,
        cors: dict[str, str] | None,
    ) -> web.StreamResponse:
        """A server-streaming RPC as newline-delimited JSON: {"result": ...} or a final {"error": ...}."""
        call = endpoint.call(msg, timeout=timeout, metadata=metadata)
        # CORS headers go in before prepare(): once the stream has started they cannot be added.
        head = {"Content-Type": NDJSON_TYPE, "X-Request-Id": rid, **(cors or {})}
        response: web.StreamResponse | None = None
        try:
            async for item in call:
                if response is None:
                    response = web.StreamResponse(headers=head)
                    await response.prepare(request)
                await response.write(dumps({"result": endpoint.renderer.to_obj(item)}) + b"\n")
        except grpc.aio.AioRpcError as e:
            if response is None:
                raise
            st = errors.backend_status(e, endpoint.backend, endpoint.address)
            await response.write(dumps({"error": errors.status_obj(st)}) + b"\n")
        except ConnectionResetError:  # the client went away: stop the backend stream too
            call.cancel()
            assert response is not None
            return response
        if response is None:
            response = web.StreamResponse(headers=head)
            await response.prepare(request)
        await response.write_eof()
        return response

    def _preflight(self, origin: str, allowed: bool, rid: str) -> web.Response:
        """A CORS preflight, answered here: 204 with the allowed methods and headers, or 403."""
        if not allowed:
            st = errors.GatewayError(
                grpc.StatusCode.PERMISSION_DENIED, f"origin {origin} is not allowed"
            ).to_status()
            return _response(403, errors.status_json(st), rid)
        resp = web.Response(status=204, headers={"X-Request-Id": rid})
        resp.headers.update(self._cors.preflight_headers(origin))
        return resp

    async def _sse(
        self,
        request: web.BaseRequest,
        endpoint: Endpoint,
        msg: Any,
        timeout: float,
        metadata: list[tuple[str, str]],
        rid: str,
        cors: dict[str, str] | None,
    ) -> web.StreamResponse:
        """A server-streaming RPC as server-sent events; `id:` is the item's sequence if it has one."""
        last = request.headers.get("last-event-id")
        if last and endpoint.resume_field:
            if not last.isdigit():
                raise errors.invalid_header("Last-Event-ID", f"expected a sequence number, got {last!r}")
            field = endpoint.resume_field
            setattr(msg, field, int(last) + (0 if field == "after_sequence" else 1))
        call = endpoint.call(msg, timeout=timeout, metadata=metadata)
        response = web.StreamResponse(
            headers={
                "Content-Type": SSE_TYPE,
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "X-Request-Id": rid,
                **(cors or {}),
            }
        )
        seq_path = endpoint.sequence_path
        try:
            async for item in call:
                if not response.prepared:
                    await response.prepare(request)
                head = f"id: {sequence_of(item, seq_path)}\n".encode() if seq_path else b""
                data = dumps(endpoint.renderer.to_obj(item))
                await response.write(head + b"event: result\ndata: " + data + b"\n\n")
        except grpc.aio.AioRpcError as e:
            if not response.prepared:
                raise
            st = errors.backend_status(e, endpoint.backend, endpoint.address)
            await response.write(b"event: error\ndata: " + dumps(errors.status_obj(st)) + b"\n\n")
        except ConnectionResetError:
            call.cancel()
            return response
        if not response.prepared:
            await response.prepare(request)
        await response.write(b"event: end\ndata: {}\n\n")
        await response.write_eof()
        return response


class Cors:
    """Cross-origin access: closed unless origins are configured ("*" allows any)."""

    __slots__ = ("_any", "_origins")
    METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
    HEADERS = "Authorization, Content-Type, X-Request-Id, X-Request-Timeout, Grpc-Timeout, Last-Event-ID"
    EXPOSED = "X-Request-Id, Retry-After, WWW-Authenticate"

    def __init__(self, origins: tuple[str, ...]) -> None:
        self._origins = frozenset(o.rstrip("/") for o in origins if o != "*")
        self._any = "*" in origins

    @property
    def enabled(self) -> bool:
        """Whether any origin is allowed."""
        return self._any or bool(self._origins)

    def allows(self, origin: str) -> bool:
        """Whether this origin may call."""
        return self._any or origin in self._origins

    def response_headers(self, origin: str) -> dict[str, str]:
        """Headers of an allowed cross-origin response."""
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": self.EXPOSED,
            "Vary": "Origin",
        }

    def preflight_headers(self, origin: str) -> dict[str, str]:
        """Headers of an allowed preflight."""
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": self.METHODS,
            "Access-Control-Allow-Headers": self.HEADERS,
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }


def _response(status: int, body: bytes, rid: str, cors: dict[str, str] | None = None) -> web.Response:
    headers = {"Content-Type": JSON_TYPE, "X-Request-Id": rid}
    if cors:
        headers.update(cors)
    return web.Response(status=status, body=body, headers=headers)


def _valid_metadata(value: str) -> bool:
    # gRPC metadata values (of non -bin keys) are printable ASCII.
    return value.isascii() and value.isprintable()


def _grpc_timeout(raw: str) -> float:
    unit = _GRPC_TIMEOUT_UNITS.get(raw[-1:])
    digits = raw[:-1]
    if unit is None or not digits.isdigit() or len(digits) > 8 or int(digits) == 0:
        raise errors.invalid_header(
            "Grpc-Timeout", f"expected 1-8 digits and a unit (H M S m u n), got {raw!r}"
        )
    return int(digits) * unit


class HttpServer:
    """The aiohttp low-level server hosting the transcoder on one listening socket."""

    def __init__(self, transcoder: HttpTranscoder, *, access_log: bool = False) -> None:
        kwargs: dict[str, Any] = {} if access_log else {"access_log": None}
        self._server = web.Server(transcoder.handle, **kwargs)
        self._runner = web.ServerRunner(self._server, shutdown_timeout=5.0)
        self.port = 0
        self._started = False

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: any free port) and return the port."""
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError as e:
            sock.close()
            raise OSError(e.errno, f"cannot bind the HTTP server to {host}:{port}: {e.strerror}") from e
        await self._runner.setup()
        self._started = True
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.port = sock.getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening and finish in-flight requests (idempotent)."""
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                await self._runner.cleanup()
