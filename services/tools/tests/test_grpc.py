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
from labs_core.testing import ADMIN, OPERATOR, internal_auth, internal_channel, unique
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
    async with ToolsService(settings) as svc, internal_channel(f"127.0.0.1:{svc.port}", ADMIN) as ch:
        yield svc, tool_service_pb2_grpc.ToolServiceStub(ch)


async def _code(call: Any) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as e:
        return e.code()
    return grpc.StatusCode.OK


async def test_the_caller_decides_not_the_agent_type_it_claims(
    service: tuple[ToolsService, tool_service_pb2_grpc.ToolServiceStub],
) -> None:
    """Issue 12 finding 3 at the backend: an operator claiming agent_type ADMIN (or an agent type
    that may use a system tool) gets nothing an operator may not do; no secret, no call at all."""
    svc, _ = service
    addr = f"127.0.0.1:{svc.port}"
    health = pb.InvokeToolRequest(name="get_system_health", agent_type="ADMIN", arguments=args({}))
    notify = pb.InvokeToolRequest(
        name="send_notification",
        agent_type="ANALYTICS",
        idempotency_key=unique("n"),
        arguments=args({"channel": "in_app", "recipient": "ceo", "subject": "s", "body": "b"}),
    )
    schedule = pb.InvokeToolRequest(
        name="schedule_task",
        agent_type="SCHEDULER",
        idempotency_key=unique("s"),
        arguments=args(
            {"cron": "* * * * *", "agent_type": "ADMIN", "action": "query", "input": {"sql": "SELECT 1"}}
        ),
    )
    batch = pb.InvokeToolRequest(
        name="batch_process_items",
        agent_type="ADMIN",
        idempotency_key=unique("b"),
        arguments=args({"batch_key": unique("k"), "operation": "delete", "items": [{"listing_id": "x"}]}),
    )
    listings = pb.InvokeToolRequest(name="get_listings", agent_type="MARKET", arguments=args({"limit": 1}))
    async with internal_channel(addr, OPERATOR) as ch:
        stub = tool_service_pb2_grpc.ToolServiceStub(ch)
        for req in (health, notify, schedule, batch):
            assert await _code(stub.InvokeTool(req, timeout=5)) == grpc.StatusCode.PERMISSION_DENIED, req.name
        assert await _code(stub.InvokeTool(listings, timeout=5)) == grpc.StatusCode.OK
        # Spoofed x-labs-role next to a real secret is what the secret vouches for: only the
        # gateway and our services hold it, and the gateway drops a client's x-labs-*.
    spoofed = (("x-labs-actor", "root"), ("x-labs-role", "admin"))
    async with grpc.aio.insecure_channel(addr) as ch:
        stub = tool_service_pb2_grpc.ToolServiceStub(ch)
        for req in (health, listings):
            assert (
                await _code(stub.InvokeTool(req, timeout=5, metadata=spoofed))
                == grpc.StatusCode.UNAUTHENTICATED
            )
        bad = (*spoofed, ("x-labs-internal-token", "not-the-secret-at-all"))
        assert (
            await _code(stub.InvokeTool(listings, timeout=5, metadata=bad)) == grpc.StatusCode.UNAUTHENTICATED
        )
        assert (
            await _code(stub.ListNotifications(pb.ListNotificationsRequest(), timeout=5, metadata=spoofed))
            == grpc.StatusCode.UNAUTHENTICATED
        )
    async with internal_channel(addr, None) as ch:  # the secret but no caller: no role, no rights
        stub = tool_service_pb2_grpc.ToolServiceStub(ch)
        assert (
            await _code(stub.ListNotifications(pb.ListNotificationsRequest(), timeout=5))
            == grpc.StatusCode.PERMISSION_DENIED
        )
        assert await _code(stub.InvokeTool(listings, timeout=5)) == grpc.StatusCode.PERMISSION_DENIED
    async with internal_channel(addr, ADMIN) as ch:
        stub = tool_service_pb2_grpc.ToolServiceStub(ch)
        assert await _code(stub.InvokeTool(health, timeout=10)) == grpc.StatusCode.OK


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
    server = GrpcServer("127.0.0.1:0", [SERVICE_NAME], grace_s=0.5, auth=internal_auth())
    tool_service_pb2_grpc.add_ToolServiceServicer_to_server(
        ToolServicer(reg, Invoker(reg, policy)), server.server
    )
    await server.start()
    try:
        async with internal_channel(f"127.0.0.1:{server.port}", ADMIN) as ch:
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
