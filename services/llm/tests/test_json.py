"""JSON answers parsed despite fences and prose; parameter extraction with one repair."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from labs.llm.v1 import llm_service_pb2 as pb
from labs.llm.v1 import llm_service_pb2_grpc

from labs_core.eventlog import EventLog
from services.llm.adapters.call_events import MemoryRecorder
from services.llm.bootstrap import build_proxy
from services.llm.domain.errors import BadRequest, ExtractionFailed
from services.llm.domain.jsonmode import parse_json_answer
from services.llm.domain.model import GenerateRequest, Usage
from services.llm.handlers.proxy import ModelProxy
from services.llm.tests.conftest import SettingsFactory
from services.llm.tests.fakes import FakeGemini, FakeOpenAI, Reply
from services.llm.tests.test_events import llm_events, payload
from services.llm.tests.test_grpc import _serving, log_settings

pytestmark = [
    pytest.mark.timeout(20),
    pytest.mark.filterwarnings("ignore:Inheritance class AiohttpClientSession:DeprecationWarning"),
]

CITY = {
    "type": "object",
    "required": ["city", "population"],
    "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 0}},
}


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


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Sure! Here it is:\n```json\n{"a": [1, 2]}\n```\nAnything else?', {"a": [1, 2]}),
        ('The answer is {"a": {"b": "}"}} as asked.', {"a": {"b": "}"}}),
        ("Items: [1, 2, 3].", [1, 2, 3]),
        ('first {not json} then {"x": 2}', {"x": 2}),
        ("42", 42),
    ],
)
def test_parse_json_answer_tolerates_fences_and_prose(text: str, value: object) -> None:
    assert parse_json_answer(text) == (True, value)


def test_parse_json_answer_without_json() -> None:
    assert parse_json_answer("no JSON here {at all") == (False, None)


async def test_json_mode_answer_is_parsed(proxy: ModelProxy, openai_server: FakeOpenAI) -> None:
    openai_server.script(Reply(text='Sure:\n```json\n{"city": "Paris"}\n```\nDone.'))
    g = await proxy.generate(
        GenerateRequest(prompt="Capital of France as JSON", model="gpt-4o", json_mode=True)
    )
    assert (g.has_json, g.json) == (True, {"city": "Paris"})


async def test_extraction_repairs_once_with_the_validation_error(
    proxy: ModelProxy, openai_server: FakeOpenAI, recorder: MemoryRecorder
) -> None:
    openai_server.script(
        Reply(text='{"city": "Paris"}', input_tokens=100, output_tokens=10),
        Reply(text='{"city": "Paris", "population": 2100000}', input_tokens=150, output_tokens=12),
    )
    g = await proxy.generate(
        GenerateRequest(prompt="Paris has 2.1 million people.", model="gpt-4o-mini", json_schema=CITY)
    )
    assert g.json == {"city": "Paris", "population": 2100000} and g.attempts == 2
    # Both requests are paid for.
    assert g.usage == Usage(250, 22) and g.cost_usd == 0.0000507  # 250 x 0.15 + 22 x 0.60 per million
    first, second = (s.body for s in openai_server.seen)
    assert first["response_format"] == {"type": "json_object"}
    assert second["messages"][-2:] == [
        {"role": "assistant", "content": '{"city": "Paris"}'},
        {
            "role": "user",
            "content": "Your answer is not valid against the required JSON Schema: "
            "'population' is a required property. Answer again with only the corrected JSON value.",
        },
    ]
    [rec] = recorder.calls
    assert (rec.outcome, rec.attempts, rec.usage) == ("ok", 2, Usage(250, 22))


async def test_extraction_gives_up_after_one_repair(
    proxy: ModelProxy, gemini_server: FakeGemini, recorder: MemoryRecorder
) -> None:
    gemini_server.script(
        Reply(text='{"city": "Paris", "population": -1}'), Reply(text="Sorry, I cannot answer that.")
    )
    with pytest.raises(ExtractionFailed) as e:
        await proxy.generate(GenerateRequest(prompt="Paris?", json_schema=CITY))
    assert e.value.error == "the answer holds no JSON value"
    repair = gemini_server.seen[1].body["contents"][-1]["parts"][0]["text"]
    assert "at /population: -1 is less than the minimum of 0" in repair
    assert gemini_server.seen[0].body["generationConfig"] == {"responseMimeType": "application/json"}
    [rec] = recorder.calls
    assert (rec.outcome, rec.attempts, rec.usage) == ("error", 2, Usage(22, 14))
    assert "not valid after one repair" in rec.error


async def test_offline_extraction_fills_the_schema(make_settings: SettingsFactory) -> None:
    p = build_proxy(make_settings())
    try:
        g = await p.generate(
            GenerateRequest(prompt="city: Lyon, population 522000", model="offline", json_schema=CITY)
        )
    finally:
        await p.aclose()
    assert g.json == {"offline_provider": True, "city": "Lyon", "population": 522000}


async def test_bad_schema_names_the_field(proxy: ModelProxy) -> None:
    with pytest.raises(BadRequest) as e:
        await proxy.generate(GenerateRequest(prompt="x", json_schema={"type": "no-such-type"}))
    assert e.value.violations[0][0] == "json_schema"


async def test_extraction_over_grpc_failed_precondition_and_recorded(
    make_settings: SettingsFactory, openai_server: FakeOpenAI, eventlog: EventLog
) -> None:
    settings = make_settings(openai=openai_server, shutdown_grace_s=0.5, **log_settings(eventlog))
    schema = json_format.ParseDict(CITY, struct_pb2.Struct())
    async for stub in _serving(settings):
        stub_: llm_service_pb2_grpc.LlmServiceStub = stub
        openai_server.script(Reply(text='{"city": "Rome", "population": 2800000}'))
        ok = await stub_.Generate(
            pb.GenerateRequest(model="gpt-4o-mini", prompt="Rome?", json_schema=schema, execution_id="e"),
            timeout=10,
        )
        assert json_format.MessageToDict(ok.json) == {"city": "Rome", "population": 2800000}
        openai_server.script(Reply(text="{}"), Reply(text="{}"))
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub_.Generate(
                pb.GenerateRequest(model="gpt-4o-mini", prompt="Rome?", json_schema=schema), timeout=10
            )
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "'city' is a required property" in (e.value.details() or "")
        first, second = await llm_events(eventlog, 2)
        assert (payload(first).outcome, payload(first).attempts) == ("ok", 1)
        assert (payload(second).outcome, payload(second).attempts) == ("error", 2)
