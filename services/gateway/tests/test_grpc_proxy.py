"""The public gRPC door: raw-bytes passthrough to a real backend, status, details, metadata, deadlines."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from labs.agents.v1 import agent_service_pb2 as pb
from labs.agents.v1 import agent_service_pb2_grpc as pb_grpc
from labs.tools.v1 import tool_service_pb2 as tpb
from labs.tools.v1 import tool_service_pb2_grpc as tpb_grpc

from services.gateway.bootstrap import Gateway
from services.gateway.tests.backend import Backend


@pytest.fixture
async def channel(gateway: Gateway) -> AsyncIterator[grpc.aio.Channel]:
    """A client channel to the gateway's gRPC door."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as ch:
        yield ch


async def test_unary_passthrough(channel: grpc.aio.Channel, backend: Backend) -> None:
    stub = pb_grpc.AgentServiceStub(channel)
    reply = await stub.Execute(pb.ExecuteRequest(type="MARKET", action="a", request_id="g-1"), timeout=5)
    assert reply == pb.ExecuteResponse(execution_id="exec-market", task_id="g-1", status=pb.QUEUED)
    assert backend.rec.last.request == pb.ExecuteRequest(type="MARKET", action="a", request_id="g-1")


async def test_metadata_goes_both_ways(channel: grpc.aio.Channel, backend: Backend) -> None:
    stub = pb_grpc.AgentServiceStub(channel)
    call = stub.GetExecution(
        pb.GetExecutionRequest(execution_id="e-1"),
        metadata=(("authorization", "Bearer g"), ("traceparent", "00-abc-def-01"), ("x-custom", "1")),
        timeout=5,
    )
    reply = await call
    assert reply.execution.execution_id == "e-1"
    md = backend.rec.last.metadata
    assert md["authorization"] == "Bearer g"
    assert md["traceparent"] == "00-abc-def-01"
    assert md["x-custom"] == "1"
    assert len(md["x-request-id"]) == 32  # generated when the caller sent none
    assert ("x-backend", "test") in tuple(await call.initial_metadata())
    assert ("x-echo-authorization", "Bearer g") in tuple(await call.trailing_metadata())


async def test_status_and_details_pass_through(channel: grpc.aio.Channel) -> None:
    stub = pb_grpc.AgentServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetExecution(pb.GetExecutionRequest(execution_id="bad"), timeout=5)
    err = info.value
    assert err.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "execution_id: not a valid id"
    st = rpc_status.from_call(err)
    assert st is not None
    br = error_details_pb2.BadRequest()
    assert st.details[0].Unpack(br)
    assert br.field_violations[0].field == "execution_id"


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.ABORTED]
)
async def test_plain_status_passes_through(channel: grpc.aio.Channel, code: grpc.StatusCode) -> None:
    stub = pb_grpc.AgentServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetExecution(pb.GetExecutionRequest(execution_id=f"code-{code.name}"), timeout=5)
    assert info.value.code() is code
    assert info.value.details() == f"asked for {code.name}"


async def test_deadline_propagates(channel: grpc.aio.Channel, backend: Backend) -> None:
    stub = pb_grpc.AgentServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.GetExecution(pb.GetExecutionRequest(execution_id="slow"), timeout=0.4)
    assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    remaining = backend.rec.last.time_remaining
    assert remaining is not None and remaining <= 0.45


async def test_method_without_http_route_is_proxied(channel: grpc.aio.Channel, backend: Backend) -> None:
    stub = tpb_grpc.ToolServiceStub(channel)
    reply = await stub.InvokeTool(tpb.InvokeToolRequest(name="get_listings", agent_type="MARKET"), timeout=5)
    assert reply.result["echo"] == "get_listings"
    assert backend.rec.last.method == "InvokeTool"


async def test_backend_down_is_unavailable_naming_it(channel: grpc.aio.Channel) -> None:
    from labs.llm.v1 import llm_service_pb2 as lpb
    from labs.llm.v1 import llm_service_pb2_grpc as lpb_grpc

    with pytest.raises(grpc.aio.AioRpcError) as info:
        await lpb_grpc.LlmServiceStub(channel).ListModels(lpb.ListModelsRequest(), timeout=5)
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "backend llm" in (info.value.details() or "")


async def test_unknown_method_is_unimplemented(channel: grpc.aio.Channel) -> None:
    call = channel.unary_unary("/labs.agents.v1.AgentService/NoSuchMethod")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call(b"", timeout=5)
    assert info.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_health_checking(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", "labs.agents.v1.AgentService", "labs.tools.v1.ToolService", "labs.llm.v1.LlmService"):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_public_services(channel: grpc.aio.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = stub.ServerReflectionInfo(timeout=5)
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    reply = await call.read()
    await call.done_writing()
    names = {s.name for s in reply.list_services_response.service}
    assert {"labs.agents.v1.AgentService", "labs.tools.v1.ToolService", "labs.llm.v1.LlmService"} <= names
