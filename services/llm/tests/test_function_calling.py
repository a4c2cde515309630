"""Function calling, normalised: tools out in each provider's format, tool calls back in one form."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.llm.bootstrap import build_proxy
from services.llm.domain.errors import BadRequest
from services.llm.domain.model import GenerateRequest, Message, Tool, ToolCall
from services.llm.handlers.proxy import ModelProxy
from services.llm.tests.conftest import SettingsFactory
from services.llm.tests.fakes import FakeGemini, FakeOpenAI, Reply

pytestmark = [
    pytest.mark.timeout(15),
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

LISTINGS = Tool(
    "get_listings",
    "List marketplace listings of a category",
    {
        "type": "object",
        "required": ["category"],
        "properties": {"category": {"type": "string"}, "limit": {"type": "integer"}},
    },
)
NOTIFY = Tool("send_notification", "Send a notification to a user", {"type": "object", "properties": {}})
CALL = ToolCall("call_1", "get_listings", {"category": "electronics", "limit": 5})
# The second turn: the assistant's call and the tool's result.
HISTORY = (
    Message("user", "Find electronics listings"),
    Message("assistant", tool_calls=(CALL,)),
    Message("tool", tool_call_id="call_1", tool_result={"items": [{"id": "l1", "price": 120}]}),
)


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


async def test_openai_tools_and_tool_calls(proxy: ModelProxy, openai_server: FakeOpenAI) -> None:
    openai_server.script(Reply(text="", tool_calls=[("call_abc", "get_listings", {"category": "books"})]))
    g = await proxy.generate(
        GenerateRequest(
            prompt="Find books", model="gpt-4o-mini", tools=(LISTINGS, NOTIFY), tool_choice="required"
        )
    )
    assert g.tool_calls == (ToolCall("call_abc", "get_listings", {"category": "books"}),)
    assert (g.finish_reason, g.text) == ("tool_calls", "")
    body = openai_server.seen[0].body
    assert body["tools"][0] == {
        "type": "function",
        "function": {
            "name": "get_listings",
            "description": "List marketplace listings of a category",
            "parameters": LISTINGS.parameters,
        },
    }
    assert body["tool_choice"] == "required"


async def test_openai_tool_results_go_back_as_tool_messages(
    proxy: ModelProxy, openai_server: FakeOpenAI
) -> None:
    openai_server.script(Reply(text="One listing at 120."))
    g = await proxy.generate(
        GenerateRequest(prompt="", model="gpt-4o-mini", messages=HISTORY, tools=(LISTINGS,))
    )
    assert (g.text, g.finish_reason, g.tool_calls) == ("One listing at 120.", "stop", ())
    assert openai_server.seen[0].body["messages"] == [
        {"role": "user", "content": "Find electronics listings"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_listings", "arguments": '{"category":"electronics","limit":5}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"items":[{"id":"l1","price":120}]}'},
    ]


async def test_openai_malformed_arguments_fall_back(proxy: ModelProxy, openai_server: FakeOpenAI) -> None:
    # Arguments that are not JSON are the provider's fault: retried, then the next provider.
    bad = Reply(text="", tool_calls=[("c", "get_listings", '{"category": "bo')])
    openai_server.script(bad, bad)
    g = await proxy.generate(GenerateRequest(prompt="Find books", model="gpt-4o-mini", tools=(LISTINGS,)))
    assert (g.provider, g.text) == ("gemini", "fake answer")
    assert g.fallbacks == ("openai: malformed tool call arguments",)
    assert len(openai_server.seen) == 2


async def test_gemini_function_declarations_and_calls(proxy: ModelProxy, gemini_server: FakeGemini) -> None:
    gemini_server.script(
        Reply(text="", tool_calls=[("", "get_listings", {"category": "books", "limit": 3})]),
    )
    g = await proxy.generate(
        GenerateRequest(prompt="Find books", tools=(LISTINGS, NOTIFY), tool_choice="required")
    )
    [call] = g.tool_calls
    # Gemini often gives no id: the proxy makes one up.
    assert call.id.startswith("call_") and len(call.id) > 8
    assert (call.name, call.arguments) == ("get_listings", {"category": "books", "limit": 3})
    assert g.finish_reason == "tool_calls"
    body = gemini_server.seen[0].body
    [tools] = body["tools"]
    # google-genai sends the raw schema under its snake_case name (the API's JSON parser accepts
    # both spellings), so the key is read either way.
    declared = [
        (d["name"], d["description"], d.get("parametersJsonSchema", d.get("parameters_json_schema")))
        for d in tools["functionDeclarations"]
    ]
    assert declared == [
        ("get_listings", "List marketplace listings of a category", LISTINGS.parameters),
        ("send_notification", "Send a notification to a user", {"type": "object", "properties": {}}),
    ]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


async def test_gemini_keeps_the_providers_call_id(proxy: ModelProxy, gemini_server: FakeGemini) -> None:
    gemini_server.script(Reply(text="Let me look.", tool_calls=[("fc-9", "get_listings", {"category": "x"})]))
    g = await proxy.generate(GenerateRequest(prompt="Find x", tools=(LISTINGS,)))
    assert g.tool_calls == (ToolCall("fc-9", "get_listings", {"category": "x"}),)
    assert g.text == "Let me look."


async def test_gemini_tool_results_go_back_as_function_responses(
    proxy: ModelProxy, gemini_server: FakeGemini
) -> None:
    gemini_server.script(Reply(text="One listing at 120."))
    second = ToolCall("call_2", "send_notification", {})
    history = (
        HISTORY[0],
        Message("assistant", text="Looking.", tool_calls=(CALL, second)),
        HISTORY[2],
        Message("tool", tool_call_id="call_2", tool_result={"sent": True}),
    )
    g = await proxy.generate(GenerateRequest(prompt="Summarise.", messages=history, tools=(LISTINGS, NOTIFY)))
    assert g.text == "One listing at 120."
    assert gemini_server.seen[0].body["contents"] == [
        {"role": "user", "parts": [{"text": "Find electronics listings"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Looking."},
                {
                    "functionCall": {
                        "id": "call_1",
                        "name": "get_listings",
                        "args": {"category": "electronics", "limit": 5},
                    }
                },
                {"functionCall": {"id": "call_2", "name": "send_notification", "args": {}}},
            ],
        },
        # Both results in one user turn, each named after its call's tool.
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "id": "call_1",
                        "name": "get_listings",
                        "response": {"items": [{"id": "l1", "price": 120}]},
                    }
                },
                {
                    "functionResponse": {
                        "id": "call_2",
                        "name": "send_notification",
                        "response": {"sent": True},
                    }
                },
            ],
        },
        {"role": "user", "parts": [{"text": "Summarise."}]},
    ]


async def test_offline_calls_the_matching_tool_then_answers() -> None:
    from services.llm.adapters.offline import answer

    first = GenerateRequest(prompt="Show listings, category: electronics, limit 5", tools=(NOTIFY, LISTINGS))
    c = answer(first)
    assert c.finish_reason == "tool_calls" and c.text == ""
    [call] = c.tool_calls
    assert (call.name, call.arguments) == ("get_listings", {"category": "electronics"})
    assert answer(first).tool_calls == c.tool_calls  # deterministic, id included
    # No word of the message matches a tool: it answers.
    assert answer(GenerateRequest(prompt="Hello there", tools=(LISTINGS,))).tool_calls == ()
    # tool_choice none: never calls; required: calls the first tool even without a match.
    assert (
        answer(GenerateRequest(prompt="Show listings", tools=(LISTINGS,), tool_choice="none")).tool_calls
        == ()
    )
    forced = answer(GenerateRequest(prompt="Hello there", tools=(NOTIFY, LISTINGS), tool_choice="required"))
    assert [t.name for t in forced.tool_calls] == ["send_notification"]
    # With a tool result in the messages it answers, digesting the result.
    done = answer(
        GenerateRequest(
            prompt="",
            messages=(
                Message("user", "Show listings"),
                Message("assistant", tool_calls=(call,)),
                Message("tool", tool_call_id=call.id, tool_result={"count": 42}),
            ),
            tools=(LISTINGS,),
        )
    )
    assert done.finish_reason == "stop" and "[offline provider]" in done.text and "42" in done.text


async def test_offline_fills_enums_numbers_and_defaults() -> None:
    from services.llm.adapters.offline import answer

    tool = Tool(
        "schedule_task",
        "Schedule a report task",
        {
            "type": "object",
            "required": ["kind", "every_minutes", "notify"],
            "properties": {
                "kind": {"type": "string", "enum": ["daily_report", "cleanup"]},
                "every_minutes": {"type": "integer"},
                "notify": {"type": "boolean", "default": False},
            },
        },
    )
    [call] = answer(
        GenerateRequest(prompt="Schedule a cleanup task every 30 minutes", tools=(tool,))
    ).tool_calls
    assert call.arguments == {"kind": "cleanup", "every_minutes": 30, "notify": False}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (GenerateRequest(prompt=""), "prompt"),
        (GenerateRequest(prompt="x", tools=(Tool("bad name"),)), "tools[0].name"),
        (GenerateRequest(prompt="x", tools=(LISTINGS, LISTINGS)), "tools[1].name"),
        (GenerateRequest(prompt="x", tools=(Tool("t", "", {"type": "array"}),)), "tools[0].parameters"),
        (GenerateRequest(prompt="x", tools=(LISTINGS,), tool_choice="always"), "tool_choice"),
        (GenerateRequest(prompt="x", messages=(Message("robot", "hi"),)), "messages[0].role"),
        (
            GenerateRequest(prompt="x", messages=(Message("tool", tool_call_id="nope", tool_result={}),)),
            "messages[0].tool_call_id",
        ),
        (
            GenerateRequest(prompt="x", messages=(Message("user", "hi", tool_calls=(CALL,)),)),
            "messages[0].tool_calls",
        ),
    ],
)
async def test_bad_requests_name_the_field(proxy: ModelProxy, request_: GenerateRequest, field: str) -> None:
    with pytest.raises(BadRequest) as e:
        await proxy.generate(request_)
    assert e.value.violations[0][0] == field
