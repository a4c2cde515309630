"""The servicer and handler with fake ports: degraded queue, unavailable store, UNIMPLEMENTED rest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest
from labs.agents.v1 import agent_service_pb2 as pb
from labs.agents.v1 import agent_service_pb2_grpc

from services.metrics.adapters.rollup_reader import MetricsStoreUnavailable
from services.metrics.domain.periods import Period, Window
from services.metrics.domain.report import QueueDepth, RollupRows
from services.metrics.entrypoints.grpc_servicer import MetricsServicer
from services.metrics.handlers.queries import GetMetrics

pytestmark = pytest.mark.timeout(20)

NOW = datetime(2031, 1, 1, 0, 0, 30, tzinfo=UTC)


class FakeRollups:
    """Answers nothing, or fails like a database that is down."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.asked: list[tuple[str, Window, str]] = []

    async def read(self, period: Period, window: Window, agent_type: str, *, timeout: float) -> RollupRows:
        self.asked.append((period.name, window, agent_type))
        if self.fail:
            raise MetricsStoreUnavailable("connection refused")
        return RollupRows()


class FakeQueue:
    """A queue whose depth is known or not."""

    def __init__(self, depth: QueueDepth | None) -> None:
        self.value = depth

    async def depth(self, timeout: float | None = None) -> QueueDepth | None:
        return self.value


async def _serve(handler: GetMetrics) -> AsyncIterator[agent_service_pb2_grpc.AgentServiceStub]:
    server = grpc.aio.server()
    agent_service_pb2_grpc.add_AgentServiceServicer_to_server(MetricsServicer(handler), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            yield agent_service_pb2_grpc.AgentServiceStub(ch)
    finally:
        await server.stop(0)


@pytest.fixture
async def healthy() -> AsyncIterator[tuple[agent_service_pb2_grpc.AgentServiceStub, FakeRollups]]:
    rollups = FakeRollups()
    async for stub in _serve(GetMetrics(rollups, FakeQueue(None), lambda: NOW)):
        yield stub, rollups


async def test_unknown_queue_is_left_out_and_agent_type_normalised(healthy) -> None:
    stub, rollups = healthy
    resp = await stub.GetMetrics(pb.GetMetricsRequest(period="30d", agent_type=" content "), timeout=5)
    assert not resp.HasField("queue")
    assert [a.agent_type for a in resp.agents] == ["CONTENT"]
    assert len(resp.total.series) == 30 and resp.bucket_seconds == 86400
    assert rollups.asked == [
        ("30d", Window(datetime(2030, 12, 2, 1, tzinfo=UTC), datetime(2031, 1, 1, 1, tzinfo=UTC)), "CONTENT")
    ]


async def test_execute_is_unimplemented_here(healthy) -> None:
    stub, _ = healthy
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.Execute(pb.ExecuteRequest(type="MARKET"), timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_store_down_is_unavailable() -> None:
    async for stub in _serve(GetMetrics(FakeRollups(fail=True), FakeQueue(QueueDepth(1, 2)), lambda: NOW)):
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.GetMetrics(pb.GetMetricsRequest(), timeout=5)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "connection refused" in (e.value.details() or "")
