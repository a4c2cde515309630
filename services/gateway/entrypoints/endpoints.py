"""Endpoints: each HTTP route bound, at start-up, to its binder, renderer and backend call."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf.descriptor import Descriptor

from services.gateway.adapters.backends import Backends
from services.gateway.transcoding.binding import RequestBinder
from services.gateway.transcoding.path_template import PathRouter
from services.gateway.transcoding.rendering import ResponseRenderer
from services.gateway.transcoding.routes import Route

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Everything one route needs per request, computed once at start-up."""

    route: Route
    binder: RequestBinder
    renderer: ResponseRenderer
    call: Any  # a grpc.aio unary-unary or unary-stream multicallable
    backend: str
    address: str
    streaming: bool

    @classmethod
    def build(cls, route: Route, backends: Backends) -> Endpoint:
        """Bind a route to its backend's channel."""
        req, resp = route.request_class, route.response_class
        channel = backends.channel(route.backend)
        factory = channel.unary_stream if route.server_streaming else channel.unary_unary
        call = factory(
            route.grpc_path,
            request_serializer=req.SerializeToString,
            response_deserializer=resp.FromString,
            _registered_method=True,
        )
        return cls(
            route=route,
            binder=RequestBinder(req, route.template, route.body),
            renderer=ResponseRenderer(cast(Descriptor, resp.DESCRIPTOR), route.response_body),
            call=call,
            backend=route.backend,
            address=backends.address(route.backend),
            streaming=route.server_streaming,
        )


def build_router(routes: Sequence[Route], backends: Backends) -> PathRouter[Endpoint]:
    """The route table of the HTTP door."""
    router: PathRouter[Endpoint] = PathRouter()
    for route in routes:
        router.add(route.http_method, route.template, Endpoint.build(route, backends))
        log.debug("route %s", route)
    return router
