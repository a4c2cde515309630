"""Each provider through its real SDK, against loopback servers that speak its protocol."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from services.llm.bootstrap import build_proxy
from services.llm.domain.model import GenerateRequest, Usage
from services.llm.handlers.proxy import ModelProxy
from services.llm.tests.conftest import SettingsFactory
from services.llm.tests.fakes import FakeGemini, FakeOpenAI, Reply

pytestmark = [
    pytest.mark.timeout(15),
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]


@pytest.fixture
async def proxy(
    make_settings: SettingsFactory, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> AsyncIterator[ModelProxy]:
    """A proxy with both providers configured against the fakes."""
    p = build_proxy(make_settings(gemini=gemini_server, openai=openai_server))
    try:
        yield p
    finally:
        await p.aclose()


async def test_openai_text_tokens_and_cost(proxy: ModelProxy, openai_server: FakeOpenAI) -> None:
    openai_server.script(Reply(text="Paris.", input_tokens=1200, output_tokens=300))
    g = await proxy.generate(
        GenerateRequest(
            prompt="Capital of France?",
            model="gpt-4o-mini",
            system="Answer in one word.",
            temperature=0.2,
            max_output_tokens=50,
            stop=("\n\n",),
        )
    )
    assert (g.text, g.provider, g.model, g.fallbacks) == ("Paris.", "openai", "gpt-4o-mini", ())
    assert g.usage == Usage(1200, 300, estimated=False)
    assert g.cost_usd == 0.00036  # 1200 x 0.15 + 300 x 0.60 per million
    assert g.finish_reason == "stop" and g.latency_us > 0
    [seen] = openai_server.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == "Bearer test-openai-key"
    assert seen.body == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "Capital of France?"},
        ],
        "temperature": 0.2,
        # A compatible endpoint (custom base URL) gets max_tokens.
        "max_tokens": 50,
        "stop": ["\n\n"],
    }


async def test_gemini_text_tokens_and_cost(proxy: ModelProxy, gemini_server: FakeGemini) -> None:
    gemini_server.script(Reply(text="Bonjour", input_tokens=1000, output_tokens=500, finish="MAX_TOKENS"))
    g = await proxy.generate(
        GenerateRequest(
            prompt="Say hello in French", system="Be brief.", temperature=0.5, max_output_tokens=8
        )
    )
    assert (g.text, g.provider, g.model, g.fallbacks) == ("Bonjour", "gemini", "gemini-2.0-flash", ())
    assert g.usage == Usage(1000, 500)
    assert g.cost_usd == 0.0003  # 1000 x 0.10 + 500 x 0.40 per million
    assert g.finish_reason == "length"
    [seen] = gemini_server.seen
    # google-genai 3.x calls the v1 API by default (older releases called v1beta).
    assert seen.path == "/v1/models/gemini-2.0-flash:generateContent"
    assert seen.headers["x-goog-api-key"] == "test-gemini-key"
    assert seen.body["contents"] == [{"role": "user", "parts": [{"text": "Say hello in French"}]}]
    assert seen.body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert seen.body["generationConfig"] == {"temperature": 0.5, "maxOutputTokens": 8}


async def test_gemini_thinking_tokens_are_billed_as_output(
    proxy: ModelProxy, gemini_server: FakeGemini
) -> None:
    gemini_server.script(Reply(text="42", input_tokens=100, output_tokens=20, thoughts_tokens=30))
    g = await proxy.generate(GenerateRequest(prompt="6 x 7?", model="gemini-2.5-flash"))
    assert g.usage == Usage(100, 50)
    assert g.cost_usd == 0.000155  # 100 x 0.30 + 50 x 2.50 per million


async def test_missing_usage_is_estimated(
    proxy: ModelProxy, gemini_server: FakeGemini, openai_server: FakeOpenAI
) -> None:
    gemini_server.script(Reply(text="two words", input_tokens=None, output_tokens=None))
    openai_server.script(Reply(text="two words", input_tokens=None, output_tokens=None))
    for model in ("gemini-2.0-flash", "gpt-4o-mini"):
        g = await proxy.generate(GenerateRequest(prompt="Say two words.", model=model))
        assert g.usage == Usage(4, 2, estimated=True)


async def test_json_mode_gemini(proxy: ModelProxy, gemini_server: FakeGemini) -> None:
    gemini_server.script(Reply(text='{"city": "Paris"}'))
    g = await proxy.generate(GenerateRequest(prompt="Capital of France?", json_mode=True))
    assert json.loads(g.text) == {"city": "Paris"}
    assert gemini_server.seen[0].body["generationConfig"] == {"responseMimeType": "application/json"}


async def test_json_mode_openai(proxy: ModelProxy, openai_server: FakeOpenAI) -> None:
    # A compatible server that wraps the object in a Markdown fence anyway.
    openai_server.script(Reply(text='```json\n{"city": "Paris"}\n```'))
    g = await proxy.generate(GenerateRequest(prompt="Capital of France?", model="gpt-4o", json_mode=True))
    assert g.text == '{"city": "Paris"}'
    body = openai_server.seen[0].body
    assert body["response_format"] == {"type": "json_object"}
    # json_object mode wants "JSON" in a message; the proxy adds it when the prompt lacks it.
    assert body["messages"][0] == {"role": "system", "content": "Answer with a single JSON object."}


async def test_max_output_tokens_goes_as_max_completion_tokens_to_api_openai_com() -> None:
    from services.llm.adapters.openai_chat import OpenAIProvider

    official = OpenAIProvider("k")
    compatible = OpenAIProvider("k", base_url="http://127.0.0.1:1/v1")
    try:
        assert official._official and not compatible._official
    finally:
        await official.aclose()
        await compatible.aclose()
