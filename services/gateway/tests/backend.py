"""A real grpc.aio backend for the gateway's tests: small AgentService and ToolService servicers.

They answer with real messages, record what they received (request, metadata, deadline), and
fail on demand: execution id "notfound" -> NOT_FOUND, "bad" -> INVALID_ARGUMENT with a
BadRequest, "code-<NAME>" -> that status code, "slow" -> sleeps past any short deadline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message
from labs.agents.v1 import agent_service_pb2 as pb
from labs.agents.v1 import agent_service_pb2_grpc as pb_grpc
from labs.tools.v1 import tool_service_pb2 as tpb
from labs.tools.v1 import tool_service_pb2_grpc as tpb_grpc

from labs_core.grpcutil import abort_with, bad_request

QUEUED_AT = timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=500_000_000)


@dataclass
class Seen:
    """What the backend received last."""

    method: str = ""
    request: Message | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    time_remaining: float | None = None


class Recorder:
    """Shared by the servicers: records each call."""

    def __init__(self) -> None:
        self.last = Seen()
        self.calls = 0

    def record(self, method: str, request: Message, context: grpc.aio.ServicerContext) -> None:
        self.calls += 1
        md = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        self.last = Seen(method, request, md, context.time_remaining())


async def fail_on_demand(execution_id: str, context: grpc.aio.ServicerContext) -> None:
    """Abort as the id asks, or return to answer normally."""
    if execution_id == "notfound":
        await abort_with(context, grpc.StatusCode.NOT_FOUND, f"execution {execution_id} not found")
    if execution_id == "bad":
        await abort_with(
            context,
            grpc.StatusCode.INVALID_ARGUMENT,
            "execution_id: not a valid id",
            [bad_request("execution_id", "not a valid id")],
        )
    if execution_id == "typed":
        await abort_with(
            context,
            grpc.StatusCode.FAILED_PRECONDITION,
            "execution already finished",
            [pb.ExecutionError(category="STATE", message="finished", attempt=2)],
        )
    if execution_id == "opaque":
        from google.rpc import status_pb2
        from grpc_status import rpc_status

        st = status_pb2.Status(code=grpc.StatusCode.ABORTED.value[0], message="opaque detail")
        st.details.append(any_pb2.Any(type_url="type.googleapis.com/not.a.Known", value=b"\x08\x01"))
        await context.abort_with_status(rpc_status.to_status(st))
    if execution_id.startswith("code-"):
        code = grpc.StatusCode[execution_id.removeprefix("code-")]
        await context.abort(code, f"asked for {code.name}")
    if execution_id == "slow":
        await asyncio.sleep(10)


class AgentServicer(pb_grpc.AgentServiceServicer):
    """AgentService answering from memory."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    async def Execute(self, request: pb.ExecuteRequest, context: Any) -> pb.ExecuteResponse:
        self.rec.record("Execute", request, context)
        await fail_on_demand(request.action, context)
        return pb.ExecuteResponse(
            execution_id=f"exec-{request.type.lower()}", task_id=request.request_id, status=pb.QUEUED
        )

    async def GetExecution(self, request: pb.GetExecutionRequest, context: Any) -> pb.GetExecutionResponse:
        self.rec.record("GetExecution", request, context)
        await fail_on_demand(request.execution_id, context)
        auth = dict(self.rec.last.metadata).get("authorization", "")
        await context.send_initial_metadata((("x-backend", "test"),))
        context.set_trailing_metadata((("x-echo-authorization", auth),))
        return pb.GetExecutionResponse(
            execution=pb.Execution(
                execution_id=request.execution_id,
                agent_type="MARKET",
                status=pb.RUNNING,
                queued_at=QUEUED_AT,
                token_usage=pb.TokenUsage(input=3, output=4, total=7),
            )
        )

    async def CancelExecution(
        self, request: pb.CancelExecutionRequest, context: Any
    ) -> pb.CancelExecutionResponse:
        self.rec.record("CancelExecution", request, context)
        await fail_on_demand(request.execution_id, context)
        return pb.CancelExecutionResponse(
            execution_id=request.execution_id, status=pb.CANCELLED, cancellation_requested=True
        )

    async def ListExecutionHistory(
        self, request: pb.ListExecutionHistoryRequest, context: Any
    ) -> pb.ListExecutionHistoryResponse:
        self.rec.record("ListExecutionHistory", request, context)
        return pb.ListExecutionHistoryResponse(
            executions=[pb.ExecutionSummary(execution_id="e1", status=pb.COMPLETED)],
            next_page_token=request.page_token + "+",
            total_size=1,
        )

    async def GetMetrics(self, request: pb.GetMetricsRequest, context: Any) -> pb.GetMetricsResponse:
        self.rec.record("GetMetrics", request, context)
        return pb.GetMetricsResponse(period=request.period or "24h", total=pb.AgentMetrics(executions=2))

    async def ListAgents(self, request: pb.ListAgentsRequest, context: Any) -> pb.ListAgentsResponse:
        self.rec.record("ListAgents", request, context)
        return pb.ListAgentsResponse(agents=[pb.Agent(type="MARKET", version=1, actions=["analyze"])])

    async def Health(self, request: pb.HealthRequest, context: Any) -> pb.HealthResponse:
        self.rec.record("Health", request, context)
        name = request.component or "all"
        return pb.HealthResponse(status="ok", components=[pb.ComponentHealth(name=name, status="ok")])


class ToolServicer(tpb_grpc.ToolServiceServicer):
    """ToolService answering from memory."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec

    async def ListTools(self, request: tpb.ListToolsRequest, context: Any) -> tpb.ListToolsResponse:
        self.rec.record("ListTools", request, context)
        return tpb.ListToolsResponse(tools=[tpb.Tool(name="get_listings", category=request.category)])

    async def GetTool(self, request: tpb.GetToolRequest, context: Any) -> tpb.GetToolResponse:
        self.rec.record("GetTool", request, context)
        await fail_on_demand(request.name, context)
        tool = tpb.Tool(name=request.name, version="1", side_effects=False, agent_types=["MARKET"])
        tool.parameters.update({"type": "object"})
        return tpb.GetToolResponse(tool=tool)

    async def InvokeTool(self, request: tpb.InvokeToolRequest, context: Any) -> tpb.InvokeToolResponse:
        self.rec.record("InvokeTool", request, context)
        await fail_on_demand(request.name, context)
        resp = tpb.InvokeToolResponse(duration_us=12)
        resp.result.update({"echo": request.name})
        return resp


class Backend:
    """A real grpc.aio server on a free loopback port serving both test servicers."""

    def __init__(self) -> None:
        self.rec = Recorder()
        self.server = grpc.aio.server()
        pb_grpc.add_AgentServiceServicer_to_server(AgentServicer(self.rec), self.server)
        tpb_grpc.add_ToolServiceServicer_to_server(ToolServicer(self.rec), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.addr = f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop(0)
