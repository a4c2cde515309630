"""Endpoints: each HTTP route bound, at start-up, to its binder, renderer and backend call."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from labs_core.auth import MethodPolicy, policy_of
from services.gateway.adapters.backends import Backends
from services.gateway.transcoding.binding import RequestBinder
from services.gateway.transcoding.path_template import PathRouter
from services.gateway.transcoding.rendering import ResponseRenderer
from services.gateway.transcoding.routes import Route
from services.gateway.transcoding.validation import Validator

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
    policy: MethodPolicy
    validator: Validator
    # The field path to the item's stream sequence (SSE `id:`), if it has one.
    sequence_path: tuple[str, ...]
    # The request field Last-Event-ID resumes from, if it has one.
    resume_field: str

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
            policy=policy_of(route.method),
            validator=Validator(cast(Descriptor, req.DESCRIPTOR)),
            sequence_path=_sequence_path(resp.DESCRIPTOR, route.response_body),
            resume_field=_first_field(req.DESCRIPTOR, _RESUME_FIELDS),
        )


_SEQUENCE_FIELDS = ("sequence", "seq", "stream_sequence")
_RESUME_FIELDS = ("after_sequence", "from_sequence", "start_sequence")
_INTEGERS = {
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_INT32,
}


def _first_field(desc: Any, names: tuple[str, ...]) -> str:
    for name in names:
        fd = desc.fields_by_name.get(name)
        if fd is not None and fd.type in _INTEGERS and not fd.is_repeated:
            return str(name)
    return ""


def _sequence_path(desc: Any, response_body: str) -> tuple[str, ...]:
    """The item's own sequence field, else one in its (response_body) message fields."""
    own = _first_field(desc, _SEQUENCE_FIELDS)
    if own:
        return (own,)
    candidates = [desc.fields_by_name[response_body]] if response_body and response_body != "*" else []
    candidates += [fd for fd in desc.fields if fd.message_type is not None and not fd.is_repeated]
    for fd in candidates:
        if fd.message_type is not None:
            inner = _first_field(fd.message_type, _SEQUENCE_FIELDS)
            if inner:
                return (fd.name, inner)
    return ()


def sequence_of(item: Any, path: tuple[str, ...]) -> int:
    """The value at a field path."""
    for name in path:
        item = getattr(item, name)
    return int(item)


def build_router(routes: Sequence[Route], backends: Backends) -> PathRouter[Endpoint]:
    """The route table of the HTTP door."""
    router: PathRouter[Endpoint] = PathRouter()
    for route in routes:
        router.add(route.http_method, route.template, Endpoint.build(route, backends))
        log.debug("route %s", route)
    return router
