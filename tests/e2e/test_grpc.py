"""The same flow over the gateway's public gRPC port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from labs.agents.v1 import agent_service_pb2 as pb
from labs.agents.v1 import agent_service_pb2_grpc as pb_grpc

from deploy.local.testing import Launched
from labs_core.structs import dict_to_struct
from tests.e2e.conftest import auth_channel


@pytest.fixture
async def stub(stack: Launched) -> AsyncIterator[pb_grpc.AgentServiceStub]:
    async with auth_channel(stack.addrs["gateway"]) as ch:
        yield pb_grpc.AgentServiceStub(ch)


async def test_execute_and_follow_over_grpc(stub: pb_grpc.AgentServiceStub) -> None:
    req = pb.ExecuteRequest(type="MARKET", action="analyze_market")
    dict_to_struct({"category": "furniture"}, req.input)
    r = await stub.Execute(req, timeout=10)
    assert r.status == pb.QUEUED
    first = await stub.GetExecution(pb.GetExecutionRequest(execution_id=r.execution_id), timeout=10)
    assert first.execution.execution_id == r.execution_id
    async with asyncio.timeout(30):
        while True:
            e = (
                await stub.GetExecution(pb.GetExecutionRequest(execution_id=r.execution_id), timeout=10)
            ).execution
            if e.status not in (pb.QUEUED, pb.RUNNING, pb.RETRYING):
                break
            await asyncio.sleep(0.05)
    assert e.status == pb.COMPLETED, e.error
    assert {"get_listings", "analyze_market_price"} <= {t.tool for t in e.tool_calls}
    assert e.output["category"] == "furniture"


async def test_grpc_errors_pass_through(stub: pb_grpc.AgentServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await stub.GetExecution(
            pb.GetExecutionRequest(execution_id="00000000-0000-7000-8000-000000000000"), timeout=10
        )
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await stub.Execute(pb.ExecuteRequest(type="NOPE", action="x"), timeout=10)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await stub.GetMetrics(pb.GetMetricsRequest(period="5m"), timeout=10)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
