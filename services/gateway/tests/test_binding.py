"""Unit tests of request binding and response rendering (no network)."""

from __future__ import annotations

import json

import pytest
from google.protobuf.descriptor import Descriptor
from labs.agents.v1 import agent_service_pb2 as pb
from labs.llm.v1 import llm_service_pb2 as lpb
from multidict import MultiDict

from services.gateway.transcoding.binding import QueryBinder, RequestBinder
from services.gateway.transcoding.errors import GatewayError
from services.gateway.transcoding.path_template import TemplateError, parse_template
from services.gateway.transcoding.rendering import ResponseRenderer


def desc(cls: type) -> Descriptor:
    d: Descriptor = cls.DESCRIPTOR  # type: ignore[attr-defined]
    return d


def test_query_keys_cover_both_spellings_and_nesting() -> None:
    keys = QueryBinder(desc(pb.AgentMetrics), set()).keys
    assert {"agentType", "agent_type", "successRate", "latency.p50Ms", "latency.p50_ms", "tokens_in"} <= keys
    # Maps, repeated messages and Structs cannot be written in a query string.
    assert not {"executionsByStatus", "topErrors", "series", "customMetrics"} & keys
    assert "input" not in QueryBinder(desc(pb.ExecuteRequest), set()).keys


def test_query_skips_fields_bound_elsewhere() -> None:
    keys = QueryBinder(desc(pb.Execution), {("execution_id",), ("token_usage",)}).keys
    assert "executionId" not in keys
    assert not any(k.startswith(("tokenUsage", "token_usage")) for k in keys)
    assert "phases.initializeMs" in keys


def bind_query(cls: type, **query: str | list[str]) -> object:
    md: MultiDict[str] = MultiDict()
    for k, v in query.items():
        for item in v if isinstance(v, list) else [v]:
            md.add(k, item)
    binder = RequestBinder(cls, parse_template("/x"), "")
    return binder.bind([], md, b"")


def test_query_scalars() -> None:
    msg = bind_query(
        lpb.GenerateRequest,
        temperature="0.5",
        maxOutputTokens="64",
        stop=["a,b", "c"],
        json_mode="TRUE",
    )
    assert msg == lpb.GenerateRequest(
        temperature=0.5, max_output_tokens=64, stop=["a,b", "c"], json_mode=True
    )
    assert msg.HasField("temperature")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("maxOutputTokens", "-1"),
        ("maxOutputTokens", "5000000000"),
        ("maxOutputTokens", "1.5"),
        ("temperature", "warm"),
        ("jsonMode", "yes"),
    ],
)
def test_query_values_that_do_not_fit(key: str, value: str) -> None:
    with pytest.raises(GatewayError) as info:
        bind_query(lpb.GenerateRequest, **{key: value})
    assert info.value.http_status == 400
    assert key in info.value.message


def test_query_enum_by_name_and_number() -> None:
    msg = bind_query(pb.ListExecutionHistoryRequest, status=["QUEUED", "2", "timed_out"])
    assert list(msg.status) == [pb.QUEUED, pb.RUNNING, pb.TIMED_OUT]  # type: ignore[attr-defined]


def test_body_star_then_path_then_query() -> None:
    binder = RequestBinder(pb.CancelExecutionRequest, parse_template("/x/{execution_id}"), "*")
    msg = binder.bind(
        ["x", "from-path"], MultiDict({"reason": "ignored"}), b'{"executionId": "from-body", "reason": "r"}'
    )
    # The path wins over the body; with body "*" the query string binds nothing.
    assert msg == pb.CancelExecutionRequest(execution_id="from-path", reason="r")


def test_body_field() -> None:
    binder = RequestBinder(pb.ExecuteRequest, parse_template("/x/{type}"), "input")
    msg = binder.bind(["x", "MARKET"], MultiDict({"action": "a"}), b'{"q": 1}')
    assert msg.type == "MARKET" and msg.action == "a"  # type: ignore[attr-defined]
    assert dict(msg.input) == {"q": 1}  # type: ignore[attr-defined]
    with pytest.raises(GatewayError, match="unknown query parameter"):
        binder.bind(["x", "MARKET"], MultiDict({"input": "{}"}), b"")


def test_whitespace_body_is_empty() -> None:
    binder = RequestBinder(pb.ExecuteRequest, parse_template("/x"), "*")
    assert binder.bind([], MultiDict(), b" \n ") == pb.ExecuteRequest()


@pytest.mark.parametrize(
    ("source", "body"),
    [("/x/{nope}", ""), ("/x/{input}", ""), ("/x", "nope"), ("/x/{input.fields}", "")],
)
def test_bad_bindings_fail_at_start_up(source: str, body: str) -> None:
    with pytest.raises(TemplateError):
        RequestBinder(pb.ExecuteRequest, parse_template(source), body)


def test_render_whole_message_prints_defaults() -> None:
    out = json.loads(
        ResponseRenderer(desc(pb.ExecuteResponse), "").render(pb.ExecuteResponse(execution_id="e"))
    )
    assert out == {"executionId": "e", "taskId": "", "status": "EXECUTION_STATUS_UNSPECIFIED"}


def test_render_response_body_fields() -> None:
    resp = pb.ListAgentsResponse(agents=[pb.Agent(type="MARKET")])
    out = json.loads(ResponseRenderer(desc(pb.ListAgentsResponse), "agents").render(resp))
    assert isinstance(out, list) and out[0]["type"] == "MARKET"
    scalar = ResponseRenderer(desc(pb.GetMetricsResponse), "period").render(
        pb.GetMetricsResponse(period="7d")
    )
    assert scalar == b'"7d"'
    with pytest.raises(TemplateError):
        ResponseRenderer(desc(pb.GetMetricsResponse), "nope")
