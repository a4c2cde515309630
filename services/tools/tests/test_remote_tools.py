"""RegisterTool: a tool served by another gRPC endpoint is invoked over the network, validated like any
other, survives a restart (events), and is retired when its endpoint fails its health checks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from labs.tools.v1 import tool_service_pb2 as tpb
from labs.tools.v1 import tool_service_pb2_grpc as tpb_grpc

from labs_core.eventlog import EventLog
from labs_core.structs import dict_to_struct, struct_to_dict
from labs_core.testing import ADMIN, internal_auth, internal_channel
from services.tools.domain.registry import Registry, ToolContext
from services.tools.entrypoints.grpc_servicer import ToolServicer
from services.tools.service_layer.invoker import Invoker
from services.tools.service_layer.remote_tools import RemoteTools
from services.tools.tests.ops_fixtures import OpsStack, ops_stack

pytestmark = pytest.mark.timeout(60)


class WordCount(tpb_grpc.ToolServiceServicer):
    """The remote endpoint: implements InvokeTool for `word_count`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.metadata_keys: set[str] = set()

    async def InvokeTool(self, request: Any, context: grpc.aio.ServicerContext) -> tpb.InvokeToolResponse:
        args = struct_to_dict(request.arguments)
        self.calls.append((request.agent_type, request.idempotency_key))
        self.metadata_keys |= {k for k, _ in context.invocation_metadata() or ()}
        resp = tpb.InvokeToolResponse(duration_us=1)
        dict_to_struct({"words": len(args["text"].split()), "served_by": "remote"}, resp.result)
        return resp


async def start_remote() -> tuple[grpc.aio.Server, int, WordCount]:
    server = grpc.aio.server()
    impl = WordCount()
    tpb_grpc.add_ToolServiceServicer_to_server(impl, server)
    hs = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(hs, server)
    await hs.set("", health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port, impl


@pytest_asyncio.fixture(loop_scope="session")
async def stack(eventlog: EventLog, database_url: str, schema: str) -> AsyncIterator[tuple[OpsStack, Any]]:
    async with ops_stack(
        eventlog, database_url, schema, size=0, remote_tool_check_s=0.1, remote_tool_failures=2
    ) as s:
        server = grpc.aio.server(interceptors=[internal_auth().server_interceptor()])
        servicer = ToolServicer(s.registry, s.invoker)
        servicer.remote_tools = s.ops.remote
        tpb_grpc.add_ToolServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = internal_channel(f"127.0.0.1:{port}", ADMIN)
        try:
            yield s, tpb_grpc.ToolServiceStub(channel)
        finally:
            await channel.close()
            await server.stop(0)


def _request(port: int, **tool: Any) -> tpb.RegisterToolRequest:
    req = tpb.RegisterToolRequest(address=f"127.0.0.1:{port}", timeout_s=2)
    req.tool.name = tool.get("name", "word_count")
    req.tool.version = "1.0.0"
    req.tool.description = "Count the words of a text"
    req.tool.category = tool.get("category", "content")
    req.tool.agent_types.extend(["ANALYTICS"])
    dict_to_struct(
        tool.get(
            "parameters",
            {
                "type": "object",
                "required": ["text"],
                "additionalProperties": False,
                "properties": {"text": {"type": "string", "minLength": 1}},
            },
        ),
        req.tool.parameters,
    )
    dict_to_struct(
        {"type": "object", "required": ["words"], "properties": {"words": {"type": "number"}}},
        req.tool.result,
    )
    return req


def _invoke(name: str, args: dict[str, Any], agent: str = "CONTENT") -> tpb.InvokeToolRequest:
    req = tpb.InvokeToolRequest(name=name, agent_type=agent, execution_id="e1")
    dict_to_struct(args, req.arguments)
    return req


async def test_register_invoke_restart_and_retire(stack: tuple[OpsStack, Any], eventlog: EventLog) -> None:
    s, stub = stack
    remote, port, impl = await start_remote()
    stopped = False
    try:
        reg = await stub.RegisterTool(_request(port))
        assert reg.created is True and reg.tool.agent_types == ["ANALYTICS", "CONTENT"]
        again = await stub.RegisterTool(_request(port))
        assert again.created is False
        listed = await stub.ListTools(tpb.ListToolsRequest(category="content"))
        assert "word_count" in [t.name for t in listed.tools]

        out = await stub.InvokeTool(_invoke("word_count", {"text": "one two three"}))
        assert struct_to_dict(out.result) == {"words": 3, "served_by": "remote"}
        assert impl.calls == [("CONTENT", "")]
        # An endpoint outside the system never learns the services' secret.
        assert not any(k.startswith("x-labs-") for k in impl.metadata_keys), impl.metadata_keys
        # Validated before the network: the remote never sees bad arguments or a caller outside its map.
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stub.InvokeTool(_invoke("word_count", {"text": ""}))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "arguments.text" in (
            bad.value.details() or ""
        )
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await stub.InvokeTool(_invoke("word_count", {"text": "a"}, agent="MARKET"))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert len(impl.calls) == 1

        # A restarted service (fresh registry) loads the registration from the read model.
        fresh = Registry()
        restarted = RemoteTools(eventlog, s.pool, s.ops.remote.projector, fresh)
        await restarted.sync()
        assert "word_count" in fresh
        inv = await Invoker(fresh).invoke(
            "word_count", {"text": "a b"}, ToolContext("ANALYTICS", role="operator")
        )
        assert inv.result["words"] == 2
        await restarted.close()

        # The endpoint goes away: retired after two failed checks, gone from the registry.
        await remote.stop(0)
        stopped = True
        async with asyncio.timeout(10):
            while "word_count" in s.registry:
                await asyncio.sleep(0.05)
        history = await eventlog.read_aggregate("tool", "word_count")
        kinds = [h.event.WhichOneof("payload") for h in history]
        assert kinds == ["tool_registered", "tool_retired"]
        assert "health check failed" in history[-1].event.tool_retired.reason
        with pytest.raises(grpc.aio.AioRpcError) as gone:
            await stub.InvokeTool(_invoke("word_count", {"text": "a"}))
        assert gone.value.code() == grpc.StatusCode.NOT_FOUND
        listed = await stub.ListTools(tpb.ListToolsRequest())
        assert "word_count" not in [t.name for t in listed.tools]
    finally:
        if not stopped:
            await remote.stop(0)


async def test_registration_errors_name_the_field(stack: tuple[OpsStack, Any]) -> None:
    _, stub = stack
    remote, port, _ = await start_remote()
    try:
        cases = [
            (_request(port, category="magic"), grpc.StatusCode.INVALID_ARGUMENT, "tool.category"),
            (
                _request(port, parameters={"type": "array"}),
                grpc.StatusCode.INVALID_ARGUMENT,
                "tool.parameters",
            ),
            (_request(port, name="Bad Name"), grpc.StatusCode.INVALID_ARGUMENT, "tool.name"),
            (_request(port, name="schedule_task"), grpc.StatusCode.ALREADY_EXISTS, "schedule_task"),
        ]
        no_addr = _request(port)
        no_addr.address = ""
        cases.append((no_addr, grpc.StatusCode.INVALID_ARGUMENT, "address"))
        dead = _request(port)
        dead.address = "127.0.0.1:1"
        cases.append((dead, grpc.StatusCode.FAILED_PRECONDITION, "not serving"))
        for req, code, word in cases:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.RegisterTool(req)
            assert info.value.code() == code, (word, info.value.details())
            assert word in (info.value.details() or ""), info.value.details()
    finally:
        await remote.stop(0)
