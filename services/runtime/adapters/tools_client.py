"""gRPC client of the tools service; turns status codes into the runtime's error categories."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import struct_pb2
from labs.tools.v1 import tool_service_pb2, tool_service_pb2_grpc

from labs_core.auth import InternalAuth
from labs_core.grpcutil import channel
from labs_core.structs import dict_to_struct, struct_to_dict
from services.runtime.domain.calls import ToolSpec
from services.runtime.domain.errors import AgentError, InputInvalid, NotAllowed, ToolFailed, ToolUnavailable

_RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
}


def tool_error(name: str, e: grpc.aio.AioRpcError) -> AgentError:
    """The runtime error for a failed tool call."""
    code, detail = e.code(), e.details() or ""
    msg = f"tool {name}: {code.name}: {detail}"
    if code in _RETRYABLE:
        return ToolUnavailable(msg)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return InputInvalid(msg, field=f"tool.{name}")
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return NotAllowed(msg)
    return ToolFailed(msg)


class ToolsClient:
    """Invokes tools on the tools service."""

    def __init__(self, addr: str, auth: InternalAuth) -> None:
        self._channel = channel(addr, auth=auth)
        self._stub = tool_service_pb2_grpc.ToolServiceStub(self._channel)

    async def invoke(
        self,
        name: str,
        args: dict[str, Any],
        *,
        agent_type: str,
        execution_id: str,
        idempotency_key: str,
        timeout: float,
    ) -> dict[str, Any]:
        """Run a tool; returns its result."""
        result, _ = await self.invoke_struct(
            name,
            dict_to_struct(args),
            agent_type=agent_type,
            execution_id=execution_id,
            idempotency_key=idempotency_key,
            timeout=timeout,
        )
        return result

    async def invoke_struct(
        self,
        name: str,
        arguments: struct_pb2.Struct,
        *,
        agent_type: str,
        execution_id: str,
        idempotency_key: str,
        timeout: float,
    ) -> tuple[dict[str, Any], struct_pb2.Struct]:
        """Run a tool with arguments already as a Struct; returns the result as a dict and as sent."""
        req = tool_service_pb2.InvokeToolRequest(
            name=name,
            agent_type=agent_type,
            execution_id=execution_id,
            idempotency_key=idempotency_key,
            arguments=arguments,
        )
        try:
            resp = await self._stub.InvokeTool(req, timeout=timeout)
        except grpc.aio.AioRpcError as e:
            raise tool_error(name, e) from e
        return struct_to_dict(resp.result), resp.result

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def describe(
        self, agent_type: str, names: tuple[str, ...], *, timeout: float
    ) -> tuple[ToolSpec, ...]:
        """The named tools as a model should see them (those the registry knows)."""
        try:
            resp = await self._stub.ListTools(
                tool_service_pb2.ListToolsRequest(agent_type=agent_type), timeout=timeout
            )
        except grpc.aio.AioRpcError as e:
            raise tool_error("ListTools", e) from e
        wanted = set(names)
        return tuple(
            ToolSpec(t.name, t.description, struct_to_dict(t.parameters))
            for t in resp.tools
            if t.name in wanted
        )
