"""ToolService over gRPC: protobuf in, a call to the registry or the invoker, protobuf out."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from labs.tools.v1 import tool_service_pb2, tool_service_pb2_grpc

from labs_core.errors import InvalidArgument, LabsError
from labs_core.grpcutil import abort_with, bad_request, status_code_for
from labs_core.structs import dict_to_struct, struct_to_dict
from services.tools.adapters.llm_client import ModelUnavailable
from services.tools.domain import errors
from services.tools.domain.registry import CATEGORIES, Registry, ToolContext
from services.tools.entrypoints.mapper import notification_to_proto, tool_to_proto
from services.tools.entrypoints.registration import register_tool
from services.tools.service_layer.invoker import Invoker
from services.tools.service_layer.notifications import NotificationService, visible_recipient
from services.tools.service_layer.remote_tools import RemoteTools, RemoteToolUnavailable

_CODES: list[tuple[type[Exception], grpc.StatusCode]] = [
    (errors.ToolBusy, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.ToolTimedOut, grpc.StatusCode.DEADLINE_EXCEEDED),
    (errors.ToolFailed, grpc.StatusCode.INTERNAL),
    (errors.ReadModelUnavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.ProjectionLagging, grpc.StatusCode.UNAVAILABLE),
    (RemoteToolUnavailable, grpc.StatusCode.UNAVAILABLE),
    (ModelUnavailable, grpc.StatusCode.UNAVAILABLE),
]

R = TypeVar("R")

# The caller as the gateway states it (clients cannot set these: the gateway drops them).
ACTOR = "x-labs-actor"
ROLE = "x-labs-role"
_CALLER_KEYS = frozenset({ACTOR, ROLE})


def code_for(exc: LabsError) -> grpc.StatusCode:
    """The status code of a domain error: the tools' own first, then the shared mapping."""
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return status_code_for(exc)


def details_for(exc: LabsError) -> list[Message]:
    """google.rpc details: a BadRequest naming every failing field."""
    if isinstance(exc, InvalidArgument):
        return [bad_request("", "", exc.violations)]
    return []


def tool_errors(
    fn: Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[R]],
) -> Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[R]]:
    """Decorate a servicer method: domain errors become their status code with typed details."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            return await fn(self, request, context)
        except LabsError as e:
            await abort_with(context, code_for(e), str(e), details_for(e))
            raise AssertionError("abort returned") from e  # abort always raises

    return wrapper


class ToolServicer(tool_service_pb2_grpc.ToolServiceServicer):
    """The gRPC face of the registry and the invoker."""

    #: Set by the composition root when the service accepts remote tools (RegisterTool).
    remote_tools: RemoteTools | None = None

    def __init__(
        self, registry: Registry, invoker: Invoker, *, notifications: NotificationService | None = None
    ) -> None:
        self.registry = registry
        self.invoker = invoker
        self.notifications = notifications

    @tool_errors
    async def ListTools(
        self, request: tool_service_pb2.ListToolsRequest, context: grpc.aio.ServicerContext
    ) -> tool_service_pb2.ListToolsResponse:
        """The tools, optionally only one category's or one agent type's."""
        if request.category and request.category not in CATEGORIES:
            raise InvalidArgument("category", f"must be one of {', '.join(CATEGORIES)}")
        resp = tool_service_pb2.ListToolsResponse()
        for d in self.registry.list(category=request.category, agent_type=request.agent_type):
            tool_to_proto(d, resp.tools.add())
        return resp

    @tool_errors
    async def GetTool(
        self, request: tool_service_pb2.GetToolRequest, context: grpc.aio.ServicerContext
    ) -> tool_service_pb2.GetToolResponse:
        """One tool with the JSON Schemas of its parameters and result."""
        tool = self.registry.get(request.name)
        if tool is None:
            raise errors.ToolNotFound(request.name)
        resp = tool_service_pb2.GetToolResponse()
        tool_to_proto(tool.definition, resp.tool)
        return resp

    @tool_errors
    async def InvokeTool(
        self, request: tool_service_pb2.InvokeToolRequest, context: grpc.aio.ServicerContext
    ) -> tool_service_pb2.InvokeToolResponse:
        """Run a tool for an agent."""
        if not request.name:
            raise InvalidArgument("name", "is required")
        ctx = ToolContext(
            agent_type=request.agent_type.upper(),
            execution_id=request.execution_id,
            idempotency_key=request.idempotency_key,
        )
        out = await self.invoker.invoke(
            request.name, struct_to_dict(request.arguments), ctx, deadline_s=context.time_remaining()
        )
        resp = tool_service_pb2.InvokeToolResponse(duration_us=out.duration_us)
        dict_to_struct(out.result, resp.result)
        return resp

    @tool_errors
    async def ListNotifications(
        self, request: tool_service_pb2.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> tool_service_pb2.ListNotificationsResponse:
        """A recipient's notifications, newest first, paged; a non-admin caller sees only its own."""
        if self.notifications is None:
            raise errors.ReadModelUnavailable("notifications are not served by this instance")
        caller = {k: v for k, v in context.invocation_metadata() or () if k in _CALLER_KEYS}
        recipient = visible_recipient(
            request.recipient.strip(), str(caller.get(ACTOR, "")), str(caller.get(ROLE, ""))
        )
        rows, token, total = await self.notifications.inbox(
            recipient,
            channel=request.channel,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        resp = tool_service_pb2.ListNotificationsResponse(next_page_token=token, total=total)
        for r in rows:
            notification_to_proto(r, resp.notifications.add())
        return resp

    @tool_errors
    async def RegisterTool(
        self, request: tool_service_pb2.RegisterToolRequest, context: grpc.aio.ServicerContext
    ) -> tool_service_pb2.RegisterToolResponse:
        """Register a tool served by another gRPC endpoint."""
        return await register_tool(self.remote_tools, request)
