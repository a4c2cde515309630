"""RegisterTool: protobuf in, a ToolDefinition to RemoteTools, protobuf out."""

from __future__ import annotations

from labs.tools.v1 import tool_service_pb2

from labs_core.errors import FailedPrecondition, InvalidArgument
from labs_core.structs import struct_to_dict
from services.tools.domain.registry import ANY_OBJECT, ToolDefinition
from services.tools.entrypoints.mapper import tool_to_proto
from services.tools.service_layer.remote_tools import RemoteTools


def definition_from_request(request: tool_service_pb2.RegisterToolRequest) -> ToolDefinition:
    """The definition a RegisterTool request describes; InvalidArgument naming the field when it is wrong."""
    t = request.tool
    if not t.name:
        raise InvalidArgument("tool.name", "is required")
    if not t.version:
        raise InvalidArgument("tool.version", "is required")
    if request.timeout_s < 0:
        raise InvalidArgument("timeout_s", "must not be negative")
    try:
        return ToolDefinition(
            name=t.name,
            version=t.version,
            description=t.description,
            category=t.category,
            parameters=struct_to_dict(t.parameters) if t.HasField("parameters") else {"type": "object"},
            result=struct_to_dict(t.result) if t.HasField("result") else dict(ANY_OBJECT),
            side_effects=t.side_effects,
            extra_agent_types=frozenset(t.agent_types),
            timeout_s=request.timeout_s or None,
            max_concurrency=request.max_concurrency or None,
        )
    except ValueError as e:
        text = str(e)
        field = next(
            (
                f"tool.{f}"
                for f in ("parameters", "result", "category", "name")
                if f in text.split(":", 1)[-1][:40]
            ),
            "tool",
        )
        raise InvalidArgument(field, text) from e


async def register_tool(
    remote: RemoteTools | None, request: tool_service_pb2.RegisterToolRequest
) -> tool_service_pb2.RegisterToolResponse:
    """Validate, record and serve a remote tool."""
    if remote is None:
        raise FailedPrecondition("this tools service does not accept remote tools")
    if not request.address:
        raise InvalidArgument("address", "is required (host:port of the endpoint serving the tool)")
    definition, created = await remote.register(definition_from_request(request), request.address)
    resp = tool_service_pb2.RegisterToolResponse(created=created, address=request.address)
    tool_to_proto(definition, resp.tool)
    return resp
