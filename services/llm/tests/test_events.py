"""Every call recorded once as ModelCallRecorded on a real stream: unary, fallback, failed, streamed, cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from labs.events.v1 import llm_pb2
from labs.llm.v1 import llm_service_pb2 as pb
from labs.llm.v1 import llm_service_pb2_grpc

from labs_core.eventlog import EventLog, StoredEvent
from services.llm.tests.conftest import SettingsFactory
from services.llm.tests.fakes import FakeGemini, FakeOpenAI, Reply
from services.llm.tests.test_grpc import _serving, log_settings

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]


@pytest.fixture
async def stub(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI, eventlog: EventLog
) -> AsyncIterator[llm_service_pb2_grpc.LlmServiceStub]:
    """An llm service recording on the test's stream, both providers against the fakes."""
    settings = make_settings(
        gemini=gemini_server,
        openai=openai_server,
        shutdown_grace_s=0.5,
        allow_offline_fallback=False,
        **log_settings(eventlog),
    )
    async for s in _serving(settings):
        yield s


async def llm_events(eventlog: EventLog, count: int, *, settle_s: float = 0.3) -> list[StoredEvent]:
    """The stream's llmcall events once there are `count`, checking no further one arrives."""
    subjects = [f"{eventlog.prefix}.llmcall.>"]
    while await eventlog.pending_count(subjects) < count:
        await asyncio.sleep(0.05)
    await asyncio.sleep(settle_s)
    assert await eventlog.pending_count(subjects) == count, "more events than calls"
    out: list[StoredEvent] = []
    async for batch in eventlog.subscribe(subjects, 1):
        out.extend(batch)
        if len(out) >= count:
            return out
    raise AssertionError("subscription ended")


def payload(e: StoredEvent) -> llm_pb2.ModelCallRecorded:
    """The event's ModelCallRecorded."""
    assert e.event.WhichOneof("payload") == "model_call_recorded"
    return e.event.model_call_recorded


async def test_unary_calls_ok_fallback_and_failed_each_recorded_once(
    stub: llm_service_pb2_grpc.LlmServiceStub,
    gemini_server: FakeGemini,
    openai_server: FakeOpenAI,
    eventlog: EventLog,
) -> None:
    gemini_server.script(Reply(input_tokens=1000, output_tokens=500))
    ok = await stub.Generate(pb.GenerateRequest(prompt="hi", execution_id="exec-1"), timeout=10)
    # Gemini rate-limited (twice, with a hint), OpenAI answers: one call, one event, the skip noted.
    gemini_server.script(Reply(status=429, retry_delay="0.01s"), Reply(status=429, retry_delay="0.01s"))
    fell = await stub.Generate(pb.GenerateRequest(prompt="hi", execution_id="exec-2"), timeout=10)
    assert fell.provider == "openai"
    # Nothing answers.
    gemini_server.script(Reply(status=500), Reply(status=500))
    openai_server.script(Reply(status=503), Reply(status=503))
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.Generate(pb.GenerateRequest(prompt="hi", execution_id="exec-3"), timeout=10)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    # A rejected request reaches no model and is not a call.
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.Generate(pb.GenerateRequest(prompt=" "), timeout=10)

    first, second, third = await llm_events(eventlog, 3)
    assert first.event.aggregate_type == "llmcall" and first.event.aggregate_id == ok.call_id
    assert first.subject == f"{eventlog.prefix}.llmcall.{ok.call_id}.model_call_recorded"
    assert first.event.correlation_id == "exec-1" and first.event.actor == "llm"
    p = payload(first)
    assert (p.provider, p.model, p.outcome, p.input_tokens, p.output_tokens, p.estimated) == (
        "gemini",
        "gemini-2.0-flash",
        "ok",
        1000,
        500,
        False,
    )
    assert p.cost_usd == ok.cost_usd == 0.0003 and p.latency_us > 0 and not p.streamed
    assert p.finish_reason == "stop"
    p2 = payload(second)
    assert second.event.aggregate_id == fell.call_id and second.event.correlation_id == "exec-2"
    assert (p2.provider, p2.outcome, list(p2.fallbacks)) == ("openai", "ok", ["gemini: 429"])
    p3 = payload(third)
    assert third.event.correlation_id == "exec-3"
    assert (p3.outcome, p3.input_tokens, p3.cost_usd) == ("error", 0, 0.0)
    assert "gemini: 500" in p3.error and "openai: 503" in p3.error
    assert list(p3.fallbacks) == ["gemini: 500", "openai: 503"]


async def test_streamed_call_recorded_once_with_the_providers_usage(
    stub: llm_service_pb2_grpc.LlmServiceStub, openai_server: FakeOpenAI, eventlog: EventLog
) -> None:
    openai_server.script(Reply(text="one two three", input_tokens=40, output_tokens=3))
    call = stub.GenerateStream(
        pb.GenerateRequest(model="gpt-4o-mini", prompt="count", execution_id="exec-s"), timeout=10
    )
    messages = [m async for m in call]
    assert [m.text for m in messages[:-1]] == ["one ", "two ", "three"]
    done = messages[-1].done
    assert (done.text, done.usage.input_tokens, done.usage.output_tokens, done.usage.estimated) == (
        "one two three",
        40,
        3,
        False,
    )
    assert done.cost_usd == 0.0000078  # 40 x 0.15 + 3 x 0.60 per million
    [event] = await llm_events(eventlog, 1)
    p = payload(event)
    assert event.event.aggregate_id == done.call_id and event.event.correlation_id == "exec-s"
    assert (p.outcome, p.streamed, p.input_tokens, p.output_tokens, p.estimated, p.cost_usd) == (
        "ok",
        True,
        40,
        3,
        False,
        0.0000078,
    )


async def test_stream_cancelled_half_way_is_recorded_with_estimated_usage(
    stub: llm_service_pb2_grpc.LlmServiceStub, openai_server: FakeOpenAI, eventlog: EventLog
) -> None:
    text = " ".join(f"w{i}" for i in range(50))
    openai_server.script(Reply(text=text, chunk_delay_s=0.3, input_tokens=5000, output_tokens=5000))
    call = stub.GenerateStream(
        pb.GenerateRequest(model="gpt-4o-mini", prompt="Count to fifty.", execution_id="exec-c"), timeout=10
    )
    first = await call.read()
    second = await call.read()
    assert (first.text, second.text) == ("w0 ", "w1 ")
    call.cancel()
    [event] = await llm_events(eventlog, 1)
    p = payload(event)
    assert event.event.correlation_id == "exec-c"
    assert (p.outcome, p.streamed, p.estimated, p.provider) == ("cancelled", True, True, "openai")
    # Input estimated locally ("Count to fifty." = 4), output: the pieces received so far, at
    # least the two the client read and far fewer than the whole answer.
    assert p.input_tokens == 4
    assert 2 <= p.output_tokens < 20
    assert p.cost_usd > 0
    assert openai_server.sent_chunks < 50


async def test_stream_falls_back_before_the_first_chunk_and_records_it(
    stub: llm_service_pb2_grpc.LlmServiceStub,
    gemini_server: FakeGemini,
    openai_server: FakeOpenAI,
    eventlog: EventLog,
) -> None:
    gemini_server.script(Reply(status=500), Reply(status=500))
    messages = [m async for m in stub.GenerateStream(pb.GenerateRequest(prompt="hi"), timeout=10)]
    done = messages[-1].done
    assert done.provider == "openai" and list(done.fallbacks) == ["gemini: 500"]
    [event] = await llm_events(eventlog, 1)
    assert list(payload(event).fallbacks) == ["gemini: 500"] and payload(event).outcome == "ok"
    assert event.event.correlation_id == ""


async def test_unary_call_cancelled_by_the_client_is_recorded(
    stub: llm_service_pb2_grpc.LlmServiceStub, gemini_server: FakeGemini, eventlog: EventLog
) -> None:
    gemini_server.script(Reply(delay_s=5.0))
    call = stub.Generate(pb.GenerateRequest(prompt="Slow question here", execution_id="exec-u"), timeout=10)
    while not gemini_server.seen:
        await asyncio.sleep(0.02)
    call.cancel()
    [event] = await llm_events(eventlog, 1)
    p = payload(event)
    assert event.event.correlation_id == "exec-u"
    assert (p.outcome, p.provider, p.input_tokens, p.output_tokens, p.estimated) == (
        "cancelled",
        "gemini",
        3,
        0,
        True,
    )
