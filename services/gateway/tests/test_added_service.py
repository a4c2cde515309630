"""A service the gateway has never seen, added by naming its module in the settings (no gateway code).

The service is built at test time as a file descriptor (registered as a module) so that it can
exercise what the public protos do not use yet: custom verbs, multi-segment and nested path
variables, `body: "field"`, and every streaming shape (NDJSON over HTTP, passthrough over gRPC).
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import Message
from labs.agents.v1 import agent_service_pb2 as pb
from labs.api.v1 import routing_pb2

from services.gateway.bootstrap import Gateway
from services.gateway.config import PUBLIC_PROTO_MODULES
from services.gateway.tests.conftest import gateway_settings

MODULE = "labs_gateway_test_extra_pb2"
SERVICE = "labs.gatewaytest.v1.ExtraService"
_DEFAULT_BACKEND: Any = routing_pb2.default_backend
_HTTP: Any = annotations_pb2.http


def _register() -> None:
    if MODULE in sys.modules:
        return
    fdp = descriptor_pb2.FileDescriptorProto(
        name="labs/gatewaytest/v1/extra.proto",
        package="labs.gatewaytest.v1",
        syntax="proto3",
        dependency=[
            "labs/agents/v1/agent_service.proto",
            "google/api/annotations.proto",
            "labs/api/v1/routing.proto",
        ],
    )
    svc = fdp.service.add(name="ExtraService")
    svc.options.Extensions[_DEFAULT_BACKEND] = "runtime"

    def method(name: str, inp: str, out: str, *, cs: bool = False, ss: bool = False, **http: str) -> None:
        m = svc.method.add(
            name=name,
            input_type=f".labs.agents.v1.{inp}",
            output_type=f".labs.agents.v1.{out}",
            client_streaming=cs,
            server_streaming=ss,
        )
        if http:
            rule = m.options.Extensions[_HTTP]
            for k, v in http.items():
                setattr(rule, k, v)

    method("Watch", "GetExecutionRequest", "Execution", ss=True, get="/api/extra/{execution_id}/watch")
    method("Touch", "ExecuteRequest", "Execution", post="/api/extra/{type}:touch", body="input")
    method("Steps", "GetExecutionRequest", "Execution", get="/api/extra/{execution_id=runs/*/steps/**}")
    method("Nested", "GetExecutionResponse", "Execution", get="/api/extra/nested/{execution.agent_type}")
    method("Collect", "GetExecutionRequest", "Execution", cs=True, post="/api/extra/collect", body="*")
    method("Chat", "GetExecutionRequest", "Execution", cs=True, ss=True)
    pool = descriptor_pool.Default()
    pool.AddSerializedFile(fdp.SerializeToString())
    module = types.ModuleType(MODULE)
    module.DESCRIPTOR = pool.FindFileByName(fdp.name)  # type: ignore[attr-defined]
    sys.modules[MODULE] = module


class ExtraBackend:
    """A real grpc.aio server implementing ExtraService with generic handlers."""

    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}
        req, ex = pb.GetExecutionRequest, pb.Execution
        ser = ex.SerializeToString
        handlers = {
            "Watch": grpc.unary_stream_rpc_method_handler(self.watch, req.FromString, ser),
            "Touch": grpc.unary_unary_rpc_method_handler(self.touch, pb.ExecuteRequest.FromString, ser),
            "Steps": grpc.unary_unary_rpc_method_handler(self.steps, req.FromString, ser),
            "Nested": grpc.unary_unary_rpc_method_handler(
                self.nested, pb.GetExecutionResponse.FromString, ser
            ),
            "Collect": grpc.stream_unary_rpc_method_handler(self.collect, req.FromString, ser),
            "Chat": grpc.stream_stream_rpc_method_handler(self.chat, req.FromString, ser),
        }
        self.server = grpc.aio.server(handlers=[grpc.method_handlers_generic_handler(SERVICE, handlers)])
        self.addr = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    async def watch(self, request: pb.GetExecutionRequest, context: Any) -> AsyncIterator[pb.Execution]:
        self.metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        if request.execution_id == "bad":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad id")
        for version in (1, 2, 3):
            yield pb.Execution(execution_id=request.execution_id, status=pb.RUNNING, version=version)
            if request.execution_id == "breaks":
                await context.abort(grpc.StatusCode.DATA_LOSS, "stream broke")

    async def touch(self, request: pb.ExecuteRequest, context: Any) -> pb.Execution:
        return pb.Execution(execution_id=request.type, input=request.input, action=request.action)

    async def steps(self, request: pb.GetExecutionRequest, context: Any) -> pb.Execution:
        return pb.Execution(execution_id=request.execution_id)

    async def nested(self, request: pb.GetExecutionResponse, context: Any) -> pb.Execution:
        return request.execution

    async def collect(self, requests: AsyncIterator[pb.GetExecutionRequest], context: Any) -> pb.Execution:
        ids = [r.execution_id async for r in requests]
        return pb.Execution(execution_id=",".join(ids))

    async def chat(
        self, requests: AsyncIterator[pb.GetExecutionRequest], context: Any
    ) -> AsyncIterator[pb.Execution]:
        async for r in requests:
            yield pb.Execution(execution_id=r.execution_id.upper())


@pytest.fixture(scope="module")
async def extra() -> AsyncIterator[tuple[ExtraBackend, Gateway]]:
    """The extra backend and a gateway serving the public modules plus the extra one."""
    _register()
    backend = ExtraBackend()
    await backend.server.start()
    try:
        settings = gateway_settings(backend.addr, public_proto_modules=(*PUBLIC_PROTO_MODULES, MODULE))
        async with Gateway(settings, http_port=0, grpc_port=0) as gw:
            yield backend, gw
    finally:
        await backend.server.stop(0)


@pytest.fixture
async def http(extra: tuple[ExtraBackend, Gateway]) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client of the gateway."""
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{extra[1].http_port}") as session:
        yield session


async def ndjson(http: aiohttp.ClientSession, url: str) -> tuple[int, str, list[Any]]:
    """Status, content type and decoded lines of a streamed response."""
    async with http.get(url) as r:
        lines = [json.loads(line) for line in (await r.text()).splitlines() if line]
        return r.status, r.content_type, lines


async def test_server_streaming_over_http_is_ndjson(http: aiohttp.ClientSession) -> None:
    status, ctype, lines = await ndjson(http, "/api/extra/e1/watch")
    assert (status, ctype) == (200, "application/x-ndjson")
    assert [line["result"]["version"] for line in lines] == ["1", "2", "3"]
    assert lines[0]["result"]["executionId"] == "e1"


async def test_stream_error_before_first_message_is_a_plain_error(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/extra/bad/watch") as r:
        assert r.status == 400
        assert (await r.json())["message"] == "bad id"


async def test_stream_error_midway_is_the_last_line(http: aiohttp.ClientSession) -> None:
    status, _, lines = await ndjson(http, "/api/extra/breaks/watch")
    assert status == 200
    assert lines[0]["result"]["version"] == "1"
    assert lines[-1] == {"error": {"code": 15, "message": "stream broke", "details": []}}


async def test_custom_verb_and_body_field(http: aiohttp.ClientSession) -> None:
    async with http.post("/api/extra/MARKET:touch", json={"k": [1, "two"]}, params={"action": "go"}) as r:
        assert r.status == 200
        out = await r.json()
    assert out["executionId"] == "MARKET"
    assert out["input"] == {"k": [1, "two"]}
    assert out["action"] == "go"  # query binds what the path and body do not


async def test_body_field_rejects_the_wrong_json_type(http: aiohttp.ClientSession) -> None:
    async with http.post("/api/extra/MARKET:touch", json=[1]) as r:
        assert r.status == 400
        assert "input" in (await r.json())["message"]


async def test_custom_verb_without_its_verb_is_404(http: aiohttp.ClientSession) -> None:
    async with http.post("/api/extra/MARKET", json={}) as r:
        assert r.status == 404


async def test_multi_segment_variable(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/extra/runs/r1/steps/a/b") as r:
        assert r.status == 200
        assert (await r.json())["executionId"] == "runs/r1/steps/a/b"


async def test_nested_path_variable(http: aiohttp.ClientSession) -> None:
    async with http.get(
        "/api/extra/nested/ADMIN", params={"execution.execution_id": "x1", "execution.costUsd": "0.5"}
    ) as r:
        assert r.status == 200, await r.text()
        out = await r.json()
    assert (out["agentType"], out["executionId"], out["costUsd"]) == ("ADMIN", "x1", 0.5)


async def test_client_streaming_method_has_no_http_route(http: aiohttp.ClientSession) -> None:
    async with http.post("/api/extra/collect", json={}) as r:
        assert r.status == 404


async def _grpc(gw: Gateway, method: str, cardinality: str, request: Any, **kw: Any) -> Any:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as ch:
        factory = getattr(ch, cardinality)
        call = factory(
            f"/{SERVICE}/{method}", pb.GetExecutionRequest.SerializeToString, pb.Execution.FromString
        )
        result = call(request, timeout=5, **kw)
        if cardinality.endswith("stream"):
            return [m async for m in result]
        return await result


def _requests(*ids: str) -> AsyncIterator[Message]:
    async def gen() -> AsyncIterator[Message]:
        for i in ids:
            yield pb.GetExecutionRequest(execution_id=i)

    return gen()


async def test_grpc_server_streaming_passthrough(extra: tuple[ExtraBackend, Gateway]) -> None:
    backend, gw = extra
    out = await _grpc(
        gw,
        "Watch",
        "unary_stream",
        pb.GetExecutionRequest(execution_id="s"),
        metadata=(("authorization", "a"),),
    )
    assert [m.version for m in out] == [1, 2, 3]
    assert backend.metadata["authorization"] == "a"


async def test_grpc_server_streaming_error_midway(extra: tuple[ExtraBackend, Gateway]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await _grpc(extra[1], "Watch", "unary_stream", pb.GetExecutionRequest(execution_id="breaks"))
    assert info.value.code() is grpc.StatusCode.DATA_LOSS


async def test_grpc_client_streaming_passthrough(extra: tuple[ExtraBackend, Gateway]) -> None:
    out = await _grpc(extra[1], "Collect", "stream_unary", _requests("a", "b", "c"))
    assert out.execution_id == "a,b,c"


async def test_grpc_bidi_streaming_passthrough(extra: tuple[ExtraBackend, Gateway]) -> None:
    out = await _grpc(extra[1], "Chat", "stream_stream", _requests("x", "y"))
    assert [m.execution_id for m in out] == ["X", "Y"]
