"""ToolService over gRPC: protobuf in, a call to the registry or the invoker, protobuf out."""

from __future__ import annotations

import grpc
from labs.tools.v1 import tool_service_pb2, tool_service_pb2_grpc

from labs_core import auth
from labs_core.errors import InvalidArgument
from labs_core.grpcutil import domain_errors
from labs_core.structs import dict_to_struct, struct_to_dict
from services.tools.domain import errors
from services.tools.domain.registry import CATEGORIES, Registry, ToolContext
from services.tools.entrypoints.mapper import notification_to_proto, tool_to_proto
from services.tools.entrypoints.registration import register_tool
from services.tools.service_layer.invoker import Invoker
from services.tools.service_layer.notifications import NotificationService, visible_recipient
from services.tools.service_layer.remote_tools import RemoteTools


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

    @domain_errors
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

    @domain_errors
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

    @domain_errors
    async def InvokeTool(
        self, request: tool_service_pb2.InvokeToolRequest, context: grpc.aio.ServicerContext
    ) -> tool_service_pb2.InvokeToolResponse:
        """Run a tool for an agent."""
        if not request.name:
            raise InvalidArgument("name", "is required")
        caller = auth.caller()
        ctx = ToolContext(
            agent_type=request.agent_type.upper(),
            execution_id=request.execution_id,
            idempotency_key=request.idempotency_key,
            actor=caller.actor if caller else "",
            role=caller.role if caller else "",
        )
        out = await self.invoker.invoke(
            request.name, struct_to_dict(request.arguments), ctx, deadline_s=context.time_remaining()
        )
        resp = tool_service_pb2.InvokeToolResponse(duration_us=out.duration_us)
        if out.result_struct is not None:
            resp.result.CopyFrom(out.result_struct)  # a memoised answer, converted once
        else:
            dict_to_struct(out.result, resp.result)
        return resp

    @domain_errors
    async def ListNotifications(
        self, request: tool_service_pb2.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> tool_service_pb2.ListNotificationsResponse:
        """A recipient's notifications, newest first, paged; a non-admin caller sees only its own."""
        if self.notifications is None:
            raise errors.ReadModelUnavailable("notifications are not served by this instance")
        caller = auth.caller()
        recipient = visible_recipient(
            request.recipient.strip(), caller.actor if caller else "", caller.role if caller else ""
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

    @domain_errors
    async def RegisterTool(
        self, request: tool_service_pb2.RegisterToolRequest, context: grpc.aio.ServicerContext
    ) -> tool_service_pb2.RegisterToolResponse:
        """Register a tool served by another gRPC endpoint."""
        return await register_tool(self.remote_tools, request)
