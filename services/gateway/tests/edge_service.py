"""A test-built public service (a file descriptor registered at test time) and its real backend.

It has what the edge tests need and the public protos may not: a follow stream whose items
carry a sequence (SSE ids, Last-Event-ID), an echo of a Struct, and a method with no permission.
"""

from __future__ import annotations

import sys
import types
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from labs.agents.v1 import agent_service_pb2 as pb
from labs.api.v1 import routing_pb2

MODULE = "labs_gateway_test_edge_pb2"
SERVICE = "labs.gatewaytest.v1.EdgeService"
_DEFAULT_BACKEND: Any = routing_pb2.default_backend
_PERMISSION: Any = routing_pb2.permission
_HTTP: Any = annotations_pb2.http


def register() -> str:
    """Register the service's descriptor as a module; its name."""
    if MODULE in sys.modules:
        return MODULE
    fdp = descriptor_pb2.FileDescriptorProto(
        name="labs/gatewaytest/v1/edge.proto",
        package="labs.gatewaytest.v1",
        syntax="proto3",
        dependency=[
            "labs/agents/v1/agent_service.proto",
            "google/api/annotations.proto",
            "labs/api/v1/routing.proto",
        ],
    )
    svc = fdp.service.add(name="EdgeService")
    svc.options.Extensions[_DEFAULT_BACKEND] = "runtime"

    def method(name: str, inp: str, out: str, perm: str, *, ss: bool = False, **http: str) -> None:
        m = svc.method.add(
            name=name,
            input_type=f".labs.agents.v1.{inp}",
            output_type=f".labs.agents.v1.{out}",
            server_streaming=ss,
        )
        if perm:
            m.options.Extensions[_PERMISSION] = perm
        rule = m.options.Extensions[_HTTP]
        for k, v in http.items():
            setattr(rule, k, v)

    method(
        "Follow",
        "FollowExecutionEventsRequest",
        "FollowExecutionEventsResponse",
        "events.read",
        ss=True,
        get="/api/edge/{execution_id}/events:follow",
        response_body="event",
    )
    method("Echo", "ExecuteRequest", "Execution", "executions.write", post="/api/edge/echo", body="*")
    method("Unmarked", "GetExecutionRequest", "Execution", "", get="/api/edge/unmarked/{execution_id}")
    pool = descriptor_pool.Default()
    pool.AddSerializedFile(fdp.SerializeToString())
    module = types.ModuleType(MODULE)
    module.DESCRIPTOR = pool.FindFileByName(fdp.name)  # type: ignore[attr-defined]
    sys.modules[MODULE] = module
    return MODULE


class EdgeBackend:
    """A real grpc.aio server implementing EdgeService; records the metadata it received."""

    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}
        self.from_sequences: list[int] = []
        handlers = {
            "Follow": grpc.unary_stream_rpc_method_handler(
                self.follow,
                pb.FollowExecutionEventsRequest.FromString,
                pb.FollowExecutionEventsResponse.SerializeToString,
            ),
            "Echo": grpc.unary_unary_rpc_method_handler(
                self.echo, pb.ExecuteRequest.FromString, pb.Execution.SerializeToString
            ),
            "Unmarked": grpc.unary_unary_rpc_method_handler(
                self.unmarked, pb.GetExecutionRequest.FromString, pb.Execution.SerializeToString
            ),
        }
        self.last_unimplemented: dict[str, str] = {}
        self.server = grpc.aio.server(
            handlers=[grpc.method_handlers_generic_handler(SERVICE, handlers), _Unimplemented(self)]
        )
        self.addr = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    def _seen(self, context: Any) -> None:
        self.metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}

    async def follow(
        self, request: pb.FollowExecutionEventsRequest, context: Any
    ) -> AsyncIterator[pb.FollowExecutionEventsResponse]:
        self._seen(context)
        self.from_sequences.append(request.from_sequence)
        start = max(1, request.from_sequence)
        for seq in range(start, 4):
            yield pb.FollowExecutionEventsResponse(event=pb.ExecutionEvent(sequence=seq, type=f"t{seq}"))

    async def echo(self, request: pb.ExecuteRequest, context: Any) -> pb.Execution:
        self._seen(context)
        return pb.Execution(execution_id="echo", input=request.input, duration_ms=12.0)

    async def unmarked(self, request: pb.GetExecutionRequest, context: Any) -> pb.Execution:
        self._seen(context)
        return pb.Execution(execution_id=request.execution_id)


class _Unimplemented(grpc.GenericRpcHandler):
    """Any other method: records the metadata it came with, then gRPC answers UNIMPLEMENTED."""

    def __init__(self, backend: EdgeBackend) -> None:
        self._backend = backend

    def service(self, handler_call_details: Any) -> None:
        md = handler_call_details.invocation_metadata or ()
        self._backend.last_unimplemented = {k: v for k, v in md if isinstance(v, str)}
