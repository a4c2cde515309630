"""LlmService end to end: bootstrap.serve() on port 0, the generated stub, real SDKs, fake providers."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from labs.llm.v1 import llm_service_pb2 as pb
from labs.llm.v1 import llm_service_pb2_grpc

from labs_core.eventlog import EventLog
from labs_core.testing import OPERATOR, internal_channel
from services.llm.bootstrap import serve
from services.llm.config import Settings
from services.llm.tests.conftest import SettingsFactory
from services.llm.tests.fakes import FakeGemini, FakeOpenAI, Reply

pytestmark = [
    pytest.mark.timeout(20),
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

REPO = Path(__file__).resolve().parents[3]
M = TypeVar("M", bound=Message)


def log_settings(eventlog: EventLog) -> dict[str, str]:
    """Settings pointing the service at the test's own stream."""
    return {"nats_url": eventlog.url, "stream_name": eventlog.stream, "subject_prefix": eventlog.prefix}


async def _serving(settings: Settings) -> AsyncIterator[llm_service_pb2_grpc.LlmServiceStub]:
    stop = asyncio.Event()
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(settings, stop, on_listening=port.set_result))
    try:
        bound = await asyncio.wait_for(asyncio.shield(port), 10)
        async with internal_channel(f"127.0.0.1:{bound}", OPERATOR) as ch:
            yield llm_service_pb2_grpc.LlmServiceStub(ch)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def stub(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI, eventlog: EventLog
) -> AsyncIterator[llm_service_pb2_grpc.LlmServiceStub]:
    """A stub of an llm service with both providers configured against the fakes."""
    settings = make_settings(
        gemini=gemini_server, openai=openai_server, shutdown_grace_s=0.5, **log_settings(eventlog)
    )
    async for s in _serving(settings):
        yield s


async def test_generate_round_trip(
    stub: llm_service_pb2_grpc.LlmServiceStub, openai_server: FakeOpenAI
) -> None:
    r = await stub.Generate(
        pb.GenerateRequest(
            model="gpt-4.1-mini",
            prompt="Summarise Q3.",
            system="Be brief.",
            temperature=0.0,
            max_output_tokens=64,
            stop=["END"],
            execution_id="exec-1",
        ),
        timeout=10,
    )
    assert (r.text, r.provider, r.model, r.finish_reason) == ("fake answer", "openai", "gpt-4.1-mini", "stop")
    assert (r.usage.input_tokens, r.usage.output_tokens, r.usage.estimated) == (11, 7, False)
    assert r.cost_usd == 0.0000156  # 11 x 0.40 + 7 x 1.60 per million
    assert list(r.fallbacks) == [] and r.latency_us > 0
    body = openai_server.seen[0].body
    # A temperature set to 0.0 is sent (proto3 `optional`), not mistaken for "unset".
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.0, 64, ["END"])


async def test_fallbacks_travel_in_the_response(
    stub: llm_service_pb2_grpc.LlmServiceStub, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    gemini_server.default = Reply(status=500)
    openai_server.default = Reply(status=429, headers={"Retry-After": "60"})
    r = await stub.Generate(pb.GenerateRequest(prompt="Sales rose 12% in Q3."), timeout=10)
    assert r.provider == "offline" and r.model == "offline"
    assert list(r.fallbacks) == ["gemini: 500", "openai: 429"]
    assert r.text.startswith("[offline provider]") and r.usage.estimated


async def test_list_models(stub: llm_service_pb2_grpc.LlmServiceStub) -> None:
    r = await stub.ListModels(pb.ListModelsRequest(), timeout=10)
    assert r.default_model == "gemini-2.0-flash"
    models = {m.name: m for m in r.models}
    flash = models["gemini-2.0-flash"]
    assert (flash.provider, flash.available, flash.input_price_per_mtok, flash.output_price_per_mtok) == (
        "gemini",
        True,
        0.10,
        0.40,
    )
    assert models["gpt-4o-mini"].provider == "openai" and models["gpt-4o-mini"].available
    assert models["offline"].available and models["offline"].input_price_per_mtok == 0.0


async def test_unknown_model_is_invalid_argument_naming_model(
    stub: llm_service_pb2_grpc.LlmServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.Generate(pb.GenerateRequest(model="gpt-17", prompt="hi"), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "gpt-17" in (e.value.details() or "")
    [violation] = _details(e.value, error_details_pb2.BadRequest)[0].field_violations
    assert violation.field == "model"


async def test_empty_prompt_is_invalid_argument(stub: llm_service_pb2_grpc.LlmServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.Generate(pb.GenerateRequest(prompt="  "), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _details(e.value, error_details_pb2.BadRequest)[0].field_violations[0].field == "prompt"


async def test_all_failed_is_unavailable_listing_each_reason(
    make_settings: SettingsFactory, eventlog: EventLog
) -> None:
    settings = make_settings(allow_offline_fallback=False, shutdown_grace_s=0.5, **log_settings(eventlog))
    async for stub in _serving(settings):
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.Generate(pb.GenerateRequest(prompt="hi"), timeout=10)
        assert e.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "gemini: unconfigured; openai: unconfigured" in (e.value.details() or "")
        [info] = _details(e.value, error_details_pb2.ErrorInfo)
        assert info.reason == "ALL_PROVIDERS_FAILED"
        assert dict(info.metadata) == {"gemini": "unconfigured", "openai": "unconfigured"}
        listed = await stub.ListModels(pb.ListModelsRequest(), timeout=10)
        assert not any(m.available for m in listed.models if m.provider != "offline")


async def test_python_m_services_llm_serves_and_stops_on_sigterm(eventlog: EventLog) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE", "OPENAI", "GEMINI"))}
    env.update({"LLM_ADDR": "127.0.0.1:0", "LOG_LEVEL": "INFO", "SHUTDOWN_GRACE_S": "0.5"})
    env.update({"NATS_URL": eventlog.url, "STREAM_NAME": eventlog.stream, "SUBJECT_PREFIX": eventlog.prefix})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.llm", cwd=REPO, env=env, stderr=subprocess.PIPE
    )
    try:
        assert proc.stderr is not None
        port = 0
        while not port:
            line = (await asyncio.wait_for(proc.stderr.readline(), 15)).decode()
            assert line, "the service exited before serving"
            m = re.search(r"serving on 127\.0\.0\.1:(\d+)", line)
            port = int(m.group(1)) if m else 0
        async with internal_channel(f"127.0.0.1:{port}", OPERATOR) as ch:
            health = await health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service="labs.llm.v1.LlmService"), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            r = await llm_service_pb2_grpc.LlmServiceStub(ch).Generate(
                pb.GenerateRequest(prompt="Ship 40 units to Berlin by Friday."), timeout=5
            )
            assert r.provider == "offline" and "40" in r.text
            [recorded] = await eventlog.read_aggregate("llmcall", r.call_id)
            assert recorded.event.model_call_recorded.outcome == "ok"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def _details(e: grpc.aio.AioRpcError, kind: type[M]) -> list[M]:
    status = rpc_status.from_call(e)
    assert status is not None
    found: list[M] = []
    for d in status.details:
        if d.Is(kind.DESCRIPTOR):
            msg = kind()
            d.Unpack(msg)
            found.append(msg)
    return found


async def test_function_calling_round_trip(
    stub: llm_service_pb2_grpc.LlmServiceStub, openai_server: FakeOpenAI
) -> None:
    from google.protobuf import struct_pb2

    params = struct_pb2.Struct()
    params.update(
        {"type": "object", "required": ["category"], "properties": {"category": {"type": "string"}}}
    )
    openai_server.script(Reply(text="", tool_calls=[("call_7", "get_listings", {"category": "books"})]))
    r = await stub.Generate(
        pb.GenerateRequest(
            model="gpt-4o-mini",
            prompt="Find books",
            tools=[pb.Tool(name="get_listings", description="List listings", parameters=params)],
        ),
        timeout=10,
    )
    assert r.finish_reason == "tool_calls"
    [call] = r.tool_calls
    assert (call.id, call.name, dict(call.arguments)) == ("call_7", "get_listings", {"category": "books"})
    # The result goes back as a tool message.
    result = struct_pb2.Struct()
    result.update({"count": 2})
    openai_server.script(Reply(text="Two books."))
    r2 = await stub.Generate(
        pb.GenerateRequest(
            model="gpt-4o-mini",
            messages=[
                pb.Message(role="user", text="Find books"),
                pb.Message(role="assistant", tool_calls=[call]),
                pb.Message(role="tool", tool_call_id="call_7", tool_result=result),
            ],
            tools=[pb.Tool(name="get_listings", description="List listings", parameters=params)],
        ),
        timeout=10,
    )
    assert (r2.text, r2.finish_reason, len(r2.tool_calls)) == ("Two books.", "stop", 0)
    assert openai_server.seen[-1].body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_7",
        "content": '{"count":2}',
    }


async def test_bad_tool_is_invalid_argument_naming_the_field(
    stub: llm_service_pb2_grpc.LlmServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.Generate(pb.GenerateRequest(prompt="x", tools=[pb.Tool(name="no spaces")]), timeout=10)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tools[0].name" in (e.value.details() or "")
