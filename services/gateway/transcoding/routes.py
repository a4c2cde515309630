"""The route table: walks the public services' descriptors and reads their annotations.

Each method's `google.api.http` rule (and its additional_bindings) becomes one Route per
binding; `(labs.api.v1.backend)` or the service's `(labs.api.v1.default_backend)` names the
backend that answers. Adding an annotated RPC to a listed service needs no gateway code.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from google.api import annotations_pb2, http_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from labs.api.v1 import routing_pb2

from services.gateway.transcoding.path_template import PathTemplate, TemplateError, parse_template

log = logging.getLogger(__name__)

_VERBS = ("get", "put", "post", "delete", "patch")
# The generated stubs type these extensions as plain FieldDescriptors.
_BACKEND: Any = routing_pb2.backend
_DEFAULT_BACKEND: Any = routing_pb2.default_backend


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP binding of one RPC."""

    http_method: str
    template: PathTemplate
    method: MethodDescriptor
    backend: str
    body: str
    response_body: str

    @property
    def grpc_path(self) -> str:
        """The RPC's wire path, `/package.Service/Method`."""
        return grpc_path(self.method)

    @property
    def request_class(self) -> type[Message]:
        """The generated request class."""
        return message_factory.GetMessageClass(self.method.input_type)

    @property
    def response_class(self) -> type[Message]:
        """The generated response class."""
        return message_factory.GetMessageClass(self.method.output_type)

    @property
    def server_streaming(self) -> bool:
        """Whether the RPC streams its responses."""
        return bool(self.method.server_streaming)

    def __str__(self) -> str:
        return f"{self.http_method} {self.template.source} -> {self.method.full_name} @ {self.backend}"


def grpc_path(method: MethodDescriptor) -> str:
    """The wire path of a method."""
    return f"/{method.containing_service.full_name}/{method.name}"


def load_services(modules: Iterable[str]) -> list[ServiceDescriptor]:
    """Import the generated modules (registering their types) and list the services they define."""
    services: list[ServiceDescriptor] = []
    for name in modules:
        module = importlib.import_module(name)
        services.extend(module.DESCRIPTOR.services_by_name.values())
    return services


def backend_of(method: MethodDescriptor) -> str:
    """The backend of a method: its own routing option, else its service's default."""
    opts = method.GetOptions()
    if opts.HasExtension(_BACKEND) and opts.Extensions[_BACKEND]:
        return str(opts.Extensions[_BACKEND])
    default = method.containing_service.GetOptions().Extensions[_DEFAULT_BACKEND]
    if not default:
        raise TemplateError(f"{method.full_name} names no backend and its service has no default_backend")
    return str(default)


def _bindings(rule: http_pb2.HttpRule) -> Iterator[http_pb2.HttpRule]:
    yield rule
    yield from rule.additional_bindings


def _verb_and_path(rule: http_pb2.HttpRule) -> tuple[str, str] | None:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        return None
    if kind == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    assert kind in _VERBS
    return kind.upper(), str(getattr(rule, kind))


def routes_of(service: ServiceDescriptor) -> list[Route]:
    """The HTTP routes of one service's annotated methods."""
    routes: list[Route] = []
    for method in service.methods:
        opts = method.GetOptions()
        if not opts.HasExtension(annotations_pb2.http):
            continue
        if method.client_streaming:
            log.warning("%s is client-streaming: served over gRPC only", method.full_name)
            continue
        backend = backend_of(method)
        for rule in _bindings(opts.Extensions[annotations_pb2.http]):
            vp = _verb_and_path(rule)
            if vp is None:
                raise TemplateError(f"{method.full_name}: an http rule without a pattern")
            try:
                template = parse_template(vp[1])
            except TemplateError as e:
                raise TemplateError(f"{method.full_name}: {e}") from None
            routes.append(Route(vp[0], template, method, backend, rule.body, rule.response_body))
    return routes


def load_routes(modules: Iterable[str]) -> tuple[list[ServiceDescriptor], list[Route]]:
    """The public services of the modules and all their HTTP routes."""
    services = load_services(modules)
    return services, [r for s in services for r in routes_of(s)]
