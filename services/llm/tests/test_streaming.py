"""GenerateStream through the real SDKs: pieces, usage in the stream, fallback before the first piece."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.llm.adapters.call_events import MemoryRecorder
from services.llm.bootstrap import build_proxy
from services.llm.domain.errors import StreamInterrupted
from services.llm.domain.model import GenerateRequest, Generation, Tool, ToolCall, Usage
from services.llm.handlers.proxy import ModelProxy
from services.llm.tests.conftest import SettingsFactory
from services.llm.tests.fakes import FakeGemini, FakeOpenAI, Reply

pytestmark = [
    pytest.mark.timeout(15),
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]


@pytest.fixture
async def recorder() -> MemoryRecorder:
    """The proxy's records."""
    return MemoryRecorder()


@pytest.fixture
async def proxy(
    make_settings: SettingsFactory,
    gemini_server: FakeGemini,
    openai_server: FakeOpenAI,
    recorder: MemoryRecorder,
) -> AsyncIterator[ModelProxy]:
    """A proxy with both providers configured against the fakes."""
    p = build_proxy(make_settings(gemini=gemini_server, openai=openai_server), recorder)
    try:
        yield p
    finally:
        await p.aclose()


async def _collect(proxy: ModelProxy, request: GenerateRequest) -> tuple[list[str], Generation]:
    pieces: list[str] = []
    final: Generation | None = None
    async for item in proxy.generate_stream(request):
        if isinstance(item, str):
            assert final is None
            pieces.append(item)
        else:
            final = item
    assert final is not None
    return pieces, final


async def test_openai_stream_pieces_then_usage_and_cost(
    proxy: ModelProxy, openai_server: FakeOpenAI, recorder: MemoryRecorder
) -> None:
    openai_server.script(Reply(text="Paris is the capital.", input_tokens=1200, output_tokens=300))
    pieces, g = await _collect(proxy, GenerateRequest(prompt="Capital of France?", model="gpt-4o-mini"))
    assert pieces == ["Paris ", "is ", "the ", "capital."]
    assert (g.text, g.provider, g.model, g.finish_reason) == (
        "Paris is the capital.",
        "openai",
        "gpt-4o-mini",
        "stop",
    )
    assert g.usage == Usage(1200, 300) and g.cost_usd == 0.00036
    body = openai_server.seen[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    [rec] = recorder.calls
    assert (rec.outcome, rec.streamed, rec.usage, rec.cost_usd, rec.call_id) == (
        "ok",
        True,
        g.usage,
        0.00036,
        g.call_id,
    )


async def test_gemini_stream_usage_from_the_last_chunk(proxy: ModelProxy, gemini_server: FakeGemini) -> None:
    gemini_server.script(
        Reply(text="Bonjour tout le monde", input_tokens=1000, output_tokens=500, finish="MAX_TOKENS")
    )
    pieces, g = await _collect(proxy, GenerateRequest(prompt="Say hello in French"))
    assert "".join(pieces) == g.text == "Bonjour tout le monde" and len(pieces) == 4
    assert (g.usage, g.cost_usd, g.finish_reason) == (Usage(1000, 500), 0.0003, "length")
    assert gemini_server.seen[0].path == "/v1/models/gemini-2.0-flash:streamGenerateContent"


async def test_stream_without_usage_is_estimated(
    proxy: ModelProxy, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    gemini_server.script(Reply(text="two words", stream_usage=False))
    openai_server.script(Reply(text="two words", stream_usage=False))
    for model in ("gemini-2.0-flash", "gpt-4o-mini"):
        _, g = await _collect(proxy, GenerateRequest(prompt="Say two words.", model=model))
        assert g.usage == Usage(4, 2, estimated=True)


async def test_stream_falls_back_before_the_first_piece(
    proxy: ModelProxy, gemini_server: FakeGemini, openai_server: FakeOpenAI, recorder: MemoryRecorder
) -> None:
    gemini_server.script(Reply(status=500), Reply(status=503))
    openai_server.script(Reply(text="from openai"))
    pieces, g = await _collect(proxy, GenerateRequest(prompt="hi", execution_id="exec-9"))
    assert "".join(pieces) == "from openai"
    assert (g.provider, g.model, g.fallbacks) == ("openai", "gpt-4o-mini", ("gemini: 503",))
    [rec] = recorder.calls
    assert (rec.provider, rec.fallbacks, rec.execution_id, rec.requested_model) == (
        "openai",
        ("gemini: 503",),
        "exec-9",
        "",
    )


async def test_stream_tool_calls_are_joined(
    proxy: ModelProxy, openai_server: FakeOpenAI, gemini_server: FakeGemini
) -> None:
    tool = Tool(
        "get_listings", "List listings", {"type": "object", "properties": {"category": {"type": "string"}}}
    )
    openai_server.script(Reply(text="", tool_calls=[("call_1", "get_listings", {"category": "books"})]))
    gemini_server.script(Reply(text="", tool_calls=[("fc-1", "get_listings", {"category": "toys"})]))
    _, g = await _collect(proxy, GenerateRequest(prompt="books", model="gpt-4o-mini", tools=(tool,)))
    assert (g.tool_calls, g.finish_reason) == (
        (ToolCall("call_1", "get_listings", {"category": "books"}),),
        "tool_calls",
    )
    _, g = await _collect(proxy, GenerateRequest(prompt="toys", tools=(tool,)))
    assert (g.tool_calls, g.finish_reason) == (
        (ToolCall("fc-1", "get_listings", {"category": "toys"}),),
        "tool_calls",
    )


async def test_offline_streams_line_by_line(make_settings: SettingsFactory) -> None:
    p = build_proxy(make_settings())
    try:
        pieces, g = await _collect(p, GenerateRequest(prompt="Ship 40 units to Berlin.", model="offline"))
    finally:
        await p.aclose()
    assert len(pieces) > 1 and "".join(pieces) == g.text and g.provider == "offline" and g.usage.estimated


async def test_closing_the_stream_early_records_a_cancelled_call_with_estimated_usage(
    proxy: ModelProxy, openai_server: FakeOpenAI, recorder: MemoryRecorder
) -> None:
    text = " ".join(f"word{i}" for i in range(40))
    openai_server.script(Reply(text=text, chunk_delay_s=0.2, input_tokens=900, output_tokens=900))
    stream = proxy.generate_stream(GenerateRequest(prompt="Count.", model="gpt-4o-mini", execution_id="e-1"))
    got = [await anext(stream), await anext(stream)]
    await stream.aclose()
    await proxy.aclose()  # waits for the recording
    assert got == ["word0 ", "word1 "]
    [rec] = recorder.calls
    assert rec.outcome == "cancelled" and rec.usage == Usage(2, 2, estimated=True)
    assert rec.cost_usd == 0.0000015  # 2 x 0.15 + 2 x 0.60 per million
    # The provider's stream was closed: it did not send the rest.
    assert openai_server.sent_chunks < 40


async def test_a_provider_failing_after_the_first_piece_ends_the_stream(
    proxy: ModelProxy, openai_server: FakeOpenAI, recorder: MemoryRecorder, make_settings: SettingsFactory
) -> None:
    # A stall longer than the provider's timeout (2 s here) after the first piece: no fallback.
    openai_server.script(Reply(text="slow answer", chunk_delay_s=3.0))
    stream = proxy.generate_stream(GenerateRequest(prompt="hi", model="gpt-4o-mini"))
    assert await anext(stream) == "slow "
    with pytest.raises(StreamInterrupted):
        await anext(stream)
    [rec] = recorder.calls
    assert rec.outcome == "error" and rec.usage.estimated and "timeout" in rec.error
