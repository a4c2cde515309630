"""The HTTP/JSON door against a real gateway and a real gRPC backend on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import struct_pb2
from labs.agents.v1 import agent_service_pb2 as pb
from labs.tools.v1 import tool_service_pb2 as tpb

from services.gateway.bootstrap import Gateway
from services.gateway.tests.backend import Backend
from services.gateway.tests.conftest import closed_port, gateway_settings
from services.gateway.transcoding.errors import HTTP_STATUS_BY_CODE

BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"


async def call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, Any, Any]:
    """Status, JSON body and headers of one request."""
    async with http.request(method, url, **kw) as r:
        assert r.content_type == "application/json"
        return r.status, await r.json(), r.headers


def field_violation(body: dict[str, Any]) -> str:
    """The field named by the first BadRequest detail of an error body."""
    for d in body["details"]:
        if d["@type"] == BAD_REQUEST_TYPE:
            return str(d["fieldViolations"][0]["field"])
    raise AssertionError(f"no BadRequest in {body}")


# --- body binding -----------------------------------------------------------------------------


async def test_execute_binds_camel_case_body(http: aiohttp.ClientSession, backend: Backend) -> None:
    body = {
        "type": "MARKET",
        "action": "analyze",
        "input": {"region": "eu", "n": 2},
        "requestId": "r-1",
        "timeoutMs": 500,
        "maxTokens": "1000",
        "maxCostUsd": 0.25,
    }
    status, out, _ = await call(http, "POST", "/api/agents/execute", json=body)
    assert status == 200
    assert out == {"executionId": "exec-market", "taskId": "r-1", "status": "QUEUED"}
    req = backend.rec.last.request
    assert isinstance(req, pb.ExecuteRequest)
    assert (req.type, req.action, req.request_id, req.timeout_ms, req.max_tokens) == (
        "MARKET",
        "analyze",
        "r-1",
        500,
        1000,
    )
    assert req.max_cost_usd == 0.25
    assert req.input == struct_pb2.Struct(
        fields={"region": struct_pb2.Value(string_value="eu"), "n": struct_pb2.Value(number_value=2)}
    )


async def test_execute_binds_snake_case_body(http: aiohttp.ClientSession, backend: Backend) -> None:
    body = {"type": "CONTENT", "action": "a", "request_id": "r-2", "timeout_ms": "600", "max_cost_usd": 1}
    status, out, _ = await call(http, "POST", "/api/agents/execute", json=body)
    assert status == 200, out
    req = backend.rec.last.request
    assert isinstance(req, pb.ExecuteRequest)
    assert (req.request_id, req.timeout_ms, req.max_cost_usd) == ("r-2", 600, 1.0)


async def test_empty_body_is_an_empty_message(http: aiohttp.ClientSession, backend: Backend) -> None:
    # An empty body binds to the empty message, which the protos' field rules then refuse.
    before = backend.rec.calls
    status, out, _ = await call(http, "POST", "/api/agents/execute")
    assert status == 400
    fields = [v["field"] for v in out["details"][0]["fieldViolations"]]
    assert fields == ["type", "action"]
    assert backend.rec.calls == before


async def test_malformed_json_is_400_naming_the_position(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(
        http,
        "POST",
        "/api/agents/execute",
        data=b'{"type": "MARKET",',
        headers={"Content-Type": "application/json"},
    )
    assert status == 400
    assert out["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "malformed JSON" in out["message"]
    assert "line 1 column 19 (char 18)" in out["message"]


async def test_unknown_body_field_is_400_naming_it(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(http, "POST", "/api/agents/execute", json={"type": "MARKET", "agentTypo": 1})
    assert status == 400
    assert "agentTypo" in out["message"]
    assert field_violation(out) == "agentTypo"


async def test_wrong_body_value_is_400_naming_the_field(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(http, "POST", "/api/agents/execute", json={"timeoutMs": "soon"})
    assert status == 400
    assert field_violation(out) == "timeoutMs"


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"text"', b"\xff\xfe{"])
async def test_body_that_is_not_an_object_is_400(http: aiohttp.ClientSession, payload: bytes) -> None:
    status, out, _ = await call(http, "POST", "/api/agents/execute", data=payload)
    assert status == 400
    assert out["message"].startswith("invalid request body")


async def test_oversize_body_is_413(http: aiohttp.ClientSession, gateway: Gateway) -> None:
    limit = gateway.settings.body_limit_bytes
    payload = b'{"type": "' + b"x" * limit + b'"}'
    status, out, _ = await call(http, "POST", "/api/agents/execute", data=payload)
    assert status == 413
    assert out["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert str(limit) in out["message"]


async def test_oversize_chunked_body_is_413(http: aiohttp.ClientSession, gateway: Gateway) -> None:
    chunk = b" " * 65536

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(gateway.settings.body_limit_bytes // len(chunk) + 2):
            yield chunk

    status, out, _ = await call(http, "POST", "/api/agents/execute", data=chunks())
    assert status == 413
    assert out["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]


# --- path binding and routing -----------------------------------------------------------------


async def test_get_execution_renders_response_body(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(http, "GET", "/api/agents/e-42")
    assert status == 200
    # response_body: "execution" -> the Execution itself, lowerCamelCase, defaults printed.
    assert out["executionId"] == "e-42"
    assert out["status"] == "RUNNING"
    assert out["agentType"] == "MARKET"
    assert out["queuedAt"] == "2023-11-14T22:13:20.500Z"
    assert out["tokenUsage"] == {"input": "3", "output": "4", "total": "7"}
    assert out["attempts"] == 0
    assert out["toolCalls"] == []
    assert "execution" not in out


async def test_percent_encoded_path_value(http: aiohttp.ClientSession, backend: Backend) -> None:
    status, out, _ = await call(http, "GET", "/api/agents/a%20b%2Fc")
    assert status == 200
    assert out["executionId"] == "a b/c"


async def test_literal_segment_beats_variable(http: aiohttp.ClientSession, backend: Backend) -> None:
    status, out, _ = await call(
        http, "GET", "/api/agents/metrics", params={"period": "7d", "agentType": "MARKET"}
    )
    assert status == 200
    assert backend.rec.last.method == "GetMetrics"
    assert backend.rec.last.request == pb.GetMetricsRequest(period="7d", agent_type="MARKET")
    assert out["period"] == "7d"
    assert out["total"]["executions"] == "2"


async def test_variable_matches_when_literal_branch_does_not(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    status, _, _ = await call(http, "GET", "/api/agents/metrics/history")
    assert status == 200
    assert backend.rec.last.method == "ListExecutionHistory"
    assert backend.rec.last.request == pb.ListExecutionHistoryRequest(agent="metrics")


async def test_query_binding(http: aiohttp.ClientSession, backend: Backend) -> None:
    query = [
        ("status", "COMPLETED"),
        ("status", "failed"),
        ("status", "6"),
        ("startTime", "2024-01-01T00:00:00Z"),
        ("end_time", "2024-02-01T00:00:00.5+01:00"),
        ("pageSize", "10"),
        ("page_token", "abc"),
        ("offset", "20"),
    ]
    status, out, _ = await call(http, "GET", "/api/agents/MARKET/history", params=query)
    assert status == 200, out
    req = backend.rec.last.request
    assert isinstance(req, pb.ListExecutionHistoryRequest)
    assert req.agent == "MARKET"
    assert list(req.status) == [pb.COMPLETED, pb.FAILED, pb.CANCELLED]
    assert req.start_time.seconds == 1_704_067_200
    assert (req.end_time.seconds, req.end_time.nanos) == (1_706_742_000, 500_000_000)
    assert (req.page_size, req.page_token, req.offset) == (10, "abc", 20)
    assert out["nextPageToken"] == "abc+"
    assert out["executions"][0]["status"] == "COMPLETED"


async def test_query_repeated_enum_accepts_commas(http: aiohttp.ClientSession, backend: Backend) -> None:
    status, _, _ = await call(http, "GET", "/api/agents/MARKET/history?status=QUEUED,RUNNING")
    assert status == 200
    req = backend.rec.last.request
    assert isinstance(req, pb.ListExecutionHistoryRequest)
    assert list(req.status) == [pb.QUEUED, pb.RUNNING]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("pageSize=ten", "pageSize"),
        ("page_size=99999999999", "page_size"),
        ("status=DONE", "status"),
        ("startTime=yesterday", "startTime"),
        ("limit=1&limit=2", "limit"),
        ("agent=OTHER", "agent"),  # bound by the path, so not a query parameter
        ("colour=blue", "colour"),
    ],
)
async def test_query_value_that_does_not_fit_is_400_naming_it(
    http: aiohttp.ClientSession, query: str, field: str
) -> None:
    status, out, _ = await call(http, "GET", f"/api/agents/MARKET/history?{query}")
    assert status == 400, out
    assert out["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert field in out["message"]
    assert field_violation(out) == field


async def test_delete_cancels(http: aiohttp.ClientSession, backend: Backend) -> None:
    status, out, _ = await call(http, "DELETE", "/api/agents/e-7", params={"reason": "user asked"})
    assert status == 200
    assert out == {"executionId": "e-7", "status": "CANCELLED", "cancellationRequested": True}
    assert backend.rec.last.request == pb.CancelExecutionRequest(execution_id="e-7", reason="user asked")


async def test_list_agents(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(http, "GET", "/api/agents")
    assert status == 200
    assert out["agents"][0]["type"] == "MARKET"
    assert out["agents"][0]["allowedTools"] == []


@pytest.mark.parametrize(("path", "component"), [("/api/health", "all"), ("/api/health/nats", "nats")])
async def test_additional_bindings(http: aiohttp.ClientSession, path: str, component: str) -> None:
    status, out, _ = await call(http, "GET", path)
    assert status == 200
    assert out["components"][0]["name"] == component


async def test_tool_routes(http: aiohttp.ClientSession, backend: Backend) -> None:
    status, out, _ = await call(
        http, "GET", "/api/tools", params={"category": "market", "agent_type": "MARKET"}
    )
    assert status == 200
    assert backend.rec.last.request == tpb.ListToolsRequest(category="market", agent_type="MARKET")
    assert out["tools"][0]["category"] == "market"
    status, out, _ = await call(http, "GET", "/api/tools/get_listings")
    assert status == 200
    assert out["name"] == "get_listings"
    assert out["parameters"] == {"type": "object"}
    assert out["sideEffects"] is False


@pytest.mark.parametrize("path", ["/api/nope", "/api/agents/e1/nope", "/", "/api//history"])
async def test_unknown_route_is_404(http: aiohttp.ClientSession, path: str) -> None:
    status, out, _ = await call(http, "GET", path)
    assert status == 404
    assert out["code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert "no route" in out["message"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/agents/execute", "POST"),
        ("GET", "/api/agents/execute", "POST"),
        ("POST", "/api/agents/metrics", "GET"),
        ("PATCH", "/api/agents/e1", "DELETE, GET"),
        ("DELETE", "/api/health", "GET"),
    ],
)
async def test_wrong_method_is_405_with_allow(
    http: aiohttp.ClientSession, method: str, path: str, allow: str
) -> None:
    status, out, headers = await call(http, method, path)
    assert status == 405
    assert headers["Allow"] == allow
    assert out["code"] == grpc.StatusCode.UNIMPLEMENTED.value[0]
    assert method in out["message"]


# --- errors from the backend ------------------------------------------------------------------

ERROR_CODES = [c for c in grpc.StatusCode if c is not grpc.StatusCode.OK]


@pytest.mark.parametrize("code", ERROR_CODES, ids=[c.name for c in ERROR_CODES])
async def test_status_code_mapping(http: aiohttp.ClientSession, code: grpc.StatusCode) -> None:
    status, out, _ = await call(http, "GET", f"/api/agents/code-{code.name}")
    assert status == HTTP_STATUS_BY_CODE[code.value[0]]
    assert out["code"] == code.value[0]
    assert f"asked for {code.name}" in out["message"]
    assert isinstance(out["details"], list)


def test_mapping_table_is_the_documented_one() -> None:
    expected = {
        "OK": 200,
        "CANCELLED": 499,
        "UNKNOWN": 500,
        "INVALID_ARGUMENT": 400,
        "DEADLINE_EXCEEDED": 504,
        "NOT_FOUND": 404,
        "ALREADY_EXISTS": 409,
        "PERMISSION_DENIED": 403,
        "RESOURCE_EXHAUSTED": 429,
        "FAILED_PRECONDITION": 400,
        "ABORTED": 409,
        "OUT_OF_RANGE": 400,
        "UNIMPLEMENTED": 501,
        "INTERNAL": 500,
        "UNAVAILABLE": 503,
        "DATA_LOSS": 500,
        "UNAUTHENTICATED": 401,
    }
    assert {c.name: HTTP_STATUS_BY_CODE[c.value[0]] for c in grpc.StatusCode} == expected


async def test_not_found_from_backend(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(http, "GET", "/api/agents/notfound")
    assert status == 404
    assert out == {"code": 5, "message": "execution notfound not found", "details": []}


async def test_bad_request_details_are_rendered(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(http, "GET", "/api/agents/bad")
    assert status == 400
    assert out["message"] == "execution_id: not a valid id"
    assert out["details"] == [
        {
            "@type": BAD_REQUEST_TYPE,
            "fieldViolations": [{"field": "execution_id", "description": "not a valid id"}],
        }
    ]


async def test_project_message_details_are_rendered(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(http, "GET", "/api/agents/typed")
    assert status == 400
    assert out["code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    assert out["details"] == [
        {
            "@type": "type.googleapis.com/labs.agents.v1.ExecutionError",
            "category": "STATE",
            "message": "finished",
            "attempt": 2,
        }
    ]


async def test_unknown_detail_type_is_kept_opaque(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(http, "GET", "/api/agents/opaque")
    assert status == 409
    assert out["details"] == [{"@type": "type.googleapis.com/not.a.Known", "value": "CAE="}]


@pytest.mark.parametrize(
    "headers",
    [{"X-Request-Timeout": "0.3"}, {"Grpc-Timeout": "300m"}],
    ids=["x-request-timeout", "grpc-timeout"],
)
async def test_deadline_is_504(
    http: aiohttp.ClientSession, backend: Backend, headers: dict[str, str]
) -> None:
    status, out, _ = await call(http, "GET", "/api/agents/slow", headers=headers)
    assert status == 504
    assert out["code"] == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
    assert "runtime" in out["message"]
    remaining = backend.rec.last.time_remaining
    # gRPC rounds a deadline up on the wire: allow a little slack.
    assert remaining is not None and 0.1 < remaining <= 0.35


@pytest.mark.parametrize(
    "headers", [{"X-Request-Timeout": "soon"}, {"Grpc-Timeout": "5x"}, {"Grpc-Timeout": "0S"}]
)
async def test_bad_timeout_header_is_400(http: aiohttp.ClientSession, headers: dict[str, str]) -> None:
    status, out, _ = await call(http, "GET", "/api/agents/e1", headers=headers)
    assert status == 400
    assert field_violation(out) == next(iter(headers))


async def test_default_deadline_is_set(
    http: aiohttp.ClientSession, backend: Backend, gateway: Gateway
) -> None:
    await call(http, "GET", "/api/agents/e1")
    remaining = backend.rec.last.time_remaining
    assert remaining is not None and 0 < remaining <= gateway.settings.forward_timeout_s + 0.05


async def test_backend_down_is_503_naming_it(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(http, "GET", "/api/llm/models")
    assert status == 503
    assert out["code"] == grpc.StatusCode.UNAVAILABLE.value[0]
    assert "backend llm" in out["message"]
    assert out["details"][0]["reason"] == "BACKEND_UNAVAILABLE"
    assert out["details"][0]["metadata"]["backend"] == "llm"


async def test_every_backend_down_gateway_still_answers(backend: Backend) -> None:
    settings = gateway_settings(f"127.0.0.1:{closed_port()}")
    async with (
        Gateway(settings, http_port=0, grpc_port=0) as gw,
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gw.http_port}") as http,
    ):
        status, out, _ = await call(
            http, "POST", "/api/agents/execute", json={"type": "MARKET", "action": "a"}
        )
        assert status == 503
        assert "backend runtime" in out["message"]
        status, _, _ = await call(http, "GET", "/api/nope")
        assert status == 404


# --- headers ----------------------------------------------------------------------------------


async def test_request_id_is_generated_forwarded_and_echoed(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    _, _, headers = await call(http, "GET", "/api/agents")
    rid = headers["X-Request-Id"]
    assert len(rid) == 32
    assert backend.rec.last.metadata["x-request-id"] == rid


async def test_selected_headers_are_forwarded(http: aiohttp.ClientSession, backend: Backend) -> None:
    sent = {
        "Authorization": "Bearer t0k",
        "X-Request-Id": "rid-1",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "k=v",
        "X-Not-Forwarded": "no",
    }
    status, _, headers = await call(http, "GET", "/api/agents", headers=sent)
    assert status == 200
    assert headers["X-Request-Id"] == "rid-1"
    md = backend.rec.last.metadata
    assert md["authorization"] == "Bearer t0k"
    assert md["x-request-id"] == "rid-1"
    assert md["traceparent"] == sent["traceparent"]
    assert md["tracestate"] == "k=v"
    assert "x-not-forwarded" not in md


async def test_errors_echo_the_request_id(http: aiohttp.ClientSession) -> None:
    _, _, headers = await call(http, "GET", "/api/nope", headers={"X-Request-Id": "rid-404"})
    assert headers["X-Request-Id"] == "rid-404"


async def test_non_ascii_forwarded_header_is_400(http: aiohttp.ClientSession) -> None:
    status, out, _ = await call(
        http, "GET", "/api/agents", headers={"Authorization": "Bearer é".encode().decode("latin-1")}
    )
    assert status == 400
    assert field_violation(out) == "authorization"
