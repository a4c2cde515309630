"""The runtime's part of the public AgentService: thin — protobuf in, a handler, protobuf out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from labs.agents.v1 import agent_service_pb2 as pb
from labs.agents.v1 import agent_service_pb2_grpc as pb_grpc

from labs_core import auth, tracing
from labs_core.auth import Identity
from labs_core.errors import InvalidArgument, LabsError
from labs_core.grpcutil import abort_with, bad_request, domain_errors, status_code_for
from services.runtime.entrypoints import audit_mapper, mapper
from services.runtime.handlers.audit import AuditLog
from services.runtime.handlers.commands import CancelCommand, Commands
from services.runtime.handlers.queries import Queries


def _meta(context: grpc.aio.ServicerContext, key: str) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v if isinstance(v, str) else v.decode()
    return ""


def caller_of() -> Identity:
    """Who is calling, as the server's auth interceptor verified it (no identity: no role)."""
    return auth.caller() or Identity("anonymous", "")


class RuntimeAgentService(pb_grpc.AgentServiceServicer):
    """Execute, GetExecution, CancelExecution, ListExecutionHistory, ListAgents, Health."""

    def __init__(self, commands: Commands, queries: Queries, audit: AuditLog | None = None) -> None:
        self.commands = commands
        self.queries = queries
        self.audit = audit if audit is not None else AuditLog(queries.log)

    @domain_errors
    async def Execute(
        self, request: pb.ExecuteRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExecuteResponse:
        traceparent = tracing.current_traceparent() or _meta(context, "traceparent")
        cmd = mapper.execute_command(request, caller_of(), traceparent)
        accepted = await self.commands.execute(cmd)
        return pb.ExecuteResponse(
            execution_id=accepted.execution_id,
            task_id=accepted.task_id,
            status=accepted.status,
        )

    @domain_errors
    async def GetExecution(
        self, request: pb.GetExecutionRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetExecutionResponse:
        view = await self.queries.get_execution(request.execution_id)
        return pb.GetExecutionResponse(execution=mapper.execution(view))

    @domain_errors
    async def CancelExecution(
        self, request: pb.CancelExecutionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelExecutionResponse:
        caller = caller_of()
        out = await self.commands.cancel(
            CancelCommand(
                request.execution_id,
                reason=request.reason or "cancelled by request",
                actor=caller.actor,
                role=caller.role,
            )
        )
        return pb.CancelExecutionResponse(
            execution_id=out.execution_id,
            status=out.status,
            cancellation_requested=out.cancellation_requested,
        )

    @domain_errors
    async def ListExecutionHistory(
        self, request: pb.ListExecutionHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListExecutionHistoryResponse:
        page = await self.queries.history(mapper.history_query(request))
        return mapper.history(page)

    @domain_errors
    async def ListAgents(
        self, request: pb.ListAgentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAgentsResponse:
        return mapper.agents(await self.queries.list_agents())

    @domain_errors
    async def Health(self, request: pb.HealthRequest, context: grpc.aio.ServicerContext) -> pb.HealthResponse:
        checks = await self.queries.health(request.component)
        resp = pb.HealthResponse(status="ok" if all(c.ok for c in checks) else "down")
        for c in checks:
            resp.components.add(
                name=c.name,
                status="ok" if c.ok else "down",
                latency_ms=round(c.latency_ms, 3),
                message=c.message,
            )
        down = [c.name for c in checks if not c.ok]
        if down:
            await abort_with(context, grpc.StatusCode.UNAVAILABLE, f"unavailable: {', '.join(down)}", [resp])
        return resp

    @domain_errors
    async def ListExecutionEvents(
        self, request: pb.ListExecutionEventsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListExecutionEventsResponse:
        page = await self.audit.list_events(
            request.execution_id,
            from_sequence=request.from_sequence,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return audit_mapper.event_page(page)

    async def FollowExecutionEvents(
        self, request: pb.FollowExecutionEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.FollowExecutionEventsResponse]:
        try:
            async for stored in self.audit.follow(request.execution_id, from_sequence=request.from_sequence):
                yield pb.FollowExecutionEventsResponse(event=audit_mapper.execution_event(stored))
        except LabsError as e:
            details = [bad_request("", "", e.violations)] if isinstance(e, InvalidArgument) else []
            await abort_with(context, status_code_for(e), str(e), details)
