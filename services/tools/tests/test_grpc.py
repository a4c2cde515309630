"""ToolService through a real grpc.aio server on port 0 and a client stub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2, status_pb2
from labs.tools.v1 import tool_service_pb2 as pb
from labs.tools.v1 import tool_service_pb2_grpc

from labs_core.eventlog import EventLog
from labs_core.grpcutil import GrpcServer
from labs_core.structs import struct_to_dict
from services.tools.bootstrap import SERVICE_NAME, ToolsService, serve
from services.tools.config import Settings
from services.tools.domain.registry import Registry, ToolContext
from services.tools.entrypoints.grpc_servicer import ToolServicer
from services.tools.service_layer.invoker import Invoker, LimitPolicy


def field_violations(e: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    """The BadRequest field violations in an error's rich status."""
    raw = dict(e.trailing_metadata() or ()).get("grpc-status-details-bin")
    assert raw is not None, "no rich status"
    st = status_pb2.Status.FromString(raw)
    out = []
    for d in st.details:
        br = error_details_pb2.BadRequest()
        if d.Unpack(br):
            out += [(v.field, v.description) for v in br.field_violations]
    return out


def args(d: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


@pytest_asyncio.fixture(loop_scope="session")
async def service(
    eventlog: EventLog, nats_url: str, database_url: str, schema: str
) -> AsyncIterator[tuple[ToolsService, tool_service_pb2_grpc.ToolServiceStub]]:
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        stream_name=eventlog.stream,
        subject_prefix=eventlog.prefix,
        tools_schema=schema,
        tools_addr="127.0.0.1:0",
        catalogue_size=120,
        shutdown_grace_s=0.5,
    )
    async with ToolsService(settings) as svc, grpc.aio.insecure_channel(f"127.0.0.1:{svc.port}") as ch:
        yield svc, tool_service_pb2_grpc.ToolServiceStub(ch)


async def test_list_get_and_invoke(
    service: tuple[ToolsService, tool_service_pb2_grpc.ToolServiceStub],
) -> None:
    svc, stub = service
    assert svc.seed_report is not None and svc.seed_report.listings == 120
    tools = (await stub.ListTools(pb.ListToolsRequest(), timeout=5)).tools
    names = [t.name for t in tools]
    assert names == sorted(names)
    assert {"analyze_market_price", "create_listing", "get_listings"} <= set(names)
    analytics = (await stub.ListTools(pb.ListToolsRequest(agent_type="ANALYTICS"), timeout=5)).tools
    assert {"analyze_market_price", "get_listings", "get_user_metrics", "generate_report"} <= {
        t.name for t in analytics
    }
    assert "create_listing" not in {t.name for t in analytics}
    content = (await stub.ListTools(pb.ListToolsRequest(category="content"), timeout=5)).tools
    assert [t.name for t in content] == ["curate_content", "generate_content"]

    tool = (await stub.GetTool(pb.GetToolRequest(name="create_listing"), timeout=5)).tool
    assert tool.side_effects and list(tool.agent_types) == ["MARKET"]
    params = struct_to_dict(tool.parameters)
    assert params["required"] == ["title", "category", "price"]
    assert struct_to_dict(tool.result)["required"] == ["listing", "created"]

    resp = await stub.InvokeTool(
        pb.InvokeToolRequest(
            name="get_listings",
            agent_type="MARKET",
            execution_id="e1",
            arguments=args({"sort": "price_desc", "limit": 5}),
        ),
        timeout=5,
    )
    result = struct_to_dict(resp.result)
    assert result["total"] == 120 and len(result["listings"]) == 5
    prices = [x["price_cents"] for x in result["listings"]]
    assert prices == sorted(prices, reverse=True) and isinstance(prices[0], int)
    assert resp.duration_us > 0


async def test_create_then_read_through_grpc(
    service: tuple[ToolsService, tool_service_pb2_grpc.ToolServiceStub],
) -> None:
    _, stub = service
    req = pb.InvokeToolRequest(
        name="create_listing",
        agent_type="MARKET",
        execution_id="e2",
        idempotency_key="e2:1",
        arguments=args({"title": "Brass Telescope", "category": "home", "price": 250, "seller": "optics_co"}),
    )
    first = struct_to_dict((await stub.InvokeTool(req, timeout=10)).result)
    second = struct_to_dict((await stub.InvokeTool(req, timeout=10)).result)
    assert first["created"] and not second["created"]
    assert first["listing"]["id"] == second["listing"]["id"]
    found = await stub.InvokeTool(
        pb.InvokeToolRequest(
            name="get_listings", agent_type="MARKET", arguments=args({"seller": "optics_co"})
        ),
        timeout=5,
    )
    assert struct_to_dict(found.result)["total"] == 1


async def test_errors_map_to_status_codes(
    service: tuple[ToolsService, tool_service_pb2_grpc.ToolServiceStub],
) -> None:
    _, stub = service
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.InvokeTool(
            pb.InvokeToolRequest(
                name="get_listings",
                agent_type="MARKET",
                arguments=args({"limit": 500, "category": "spaceships", "sort": "random"}),
            ),
            timeout=5,
        )
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in field_violations(e.value)] == [
        "arguments.category",
        "arguments.limit",
        "arguments.sort",
    ]
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.InvokeTool(pb.InvokeToolRequest(name="get_listings", agent_type="CONTENT"), timeout=5)
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "get_listings" in (e.value.details() or "") and "CONTENT" in (e.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.InvokeTool(pb.InvokeToolRequest(name="teleport", agent_type="ADMIN"), timeout=5)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.GetTool(pb.GetToolRequest(name="teleport"), timeout=5)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.InvokeTool(
            pb.InvokeToolRequest(
                name="create_listing",
                agent_type="MARKET",
                arguments=args({"title": "Lamp", "category": "home", "price": 10}),
            ),
            timeout=5,
        )
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(e.value)[0][0] == "idempotency_key"


async def test_limits_over_grpc() -> None:
    """RESOURCE_EXHAUSTED when a tool is full, DEADLINE_EXCEEDED on its timeout, INTERNAL on a bad result."""
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(a: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        entered.set()
        await release.wait()
        return {"ok": True}

    async def bad(a: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        return {"ok": "yes"}

    obj = {"type": "object"}
    ok_schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    reg = Registry()
    reg.register_tool(
        name="slow", version="1", description="", category="system", parameters=obj, execute=slow
    )
    reg.register_tool(
        name="bad",
        version="1",
        description="",
        category="system",
        parameters=obj,
        result=ok_schema,
        execute=bad,
    )
    reg.register_tool(
        name="sleepy", version="1", description="", category="system", parameters=obj, execute=slow
    )
    policy = LimitPolicy(
        timeout_s=5,
        max_concurrency=1,
        overrides={"bad": {"max_concurrency": 4}, "sleepy": {"timeout_s": 0.1}},
    )
    server = GrpcServer("127.0.0.1:0", [SERVICE_NAME], grace_s=0.5)
    tool_service_pb2_grpc.add_ToolServiceServicer_to_server(
        ToolServicer(reg, Invoker(reg, policy)), server.server
    )
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            stub = tool_service_pb2_grpc.ToolServiceStub(ch)
            first = asyncio.ensure_future(
                stub.InvokeTool(pb.InvokeToolRequest(name="slow", agent_type="ADMIN"))
            )
            await asyncio.wait_for(entered.wait(), 5)
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.InvokeTool(pb.InvokeToolRequest(name="slow", agent_type="ADMIN"), timeout=5)
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            release.set()
            assert struct_to_dict((await first).result) == {"ok": True}
            release.clear()
            # The caller's deadline is shorter than the tool's timeout: it wins.
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.InvokeTool(pb.InvokeToolRequest(name="slow", agent_type="ADMIN"), timeout=0.3)
            assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            # The tool's own timeout, well within the caller's deadline.
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.InvokeTool(pb.InvokeToolRequest(name="sleepy", agent_type="ADMIN"), timeout=5)
            assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "did not finish within 0.1s" in (e.value.details() or "")
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.InvokeTool(pb.InvokeToolRequest(name="bad", agent_type="ADMIN"), timeout=5)
            assert e.value.code() == grpc.StatusCode.INTERNAL
            assert "result.ok" in (e.value.details() or "")
    finally:
        release.set()
        await server.stop()


async def test_serve_stops_on_the_event(
    eventlog: EventLog, nats_url: str, database_url: str, schema: str
) -> None:
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        stream_name=eventlog.stream,
        subject_prefix=eventlog.prefix,
        tools_schema=schema,
        tools_addr="127.0.0.1:0",
        catalogue_seed_enabled=False,
        shutdown_grace_s=0.2,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    await asyncio.sleep(0.5)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 10)
    assert await eventlog.last_sequence() == 0  # seeding disabled: nothing appended
