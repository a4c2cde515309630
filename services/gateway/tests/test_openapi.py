"""The OpenAPI document: valid OpenAPI 3.1, in step with the protos, and served with its page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from labs_core.auth import policy_of
from services.gateway.bootstrap import Gateway
from services.gateway.config import PUBLIC_PROTO_MODULES
from services.gateway.openapi.document import build_document, openapi_path
from services.gateway.openapi.page import render_page
from services.gateway.tests.conftest import gateway_settings
from services.gateway.tests.edge_service import register
from services.gateway.transcoding.routes import load_routes

MODULES = (*PUBLIC_PROTO_MODULES, register())


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    """The document of the public protos plus a service built in the test."""
    _, routes = load_routes(MODULES)
    return build_document(routes)


def test_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # the OpenAPI 3.1 meta-schema, and $refs resolve


def test_validator_rejects_a_broken_document(doc: dict[str, Any]) -> None:
    broken = {
        **doc,
        "paths": {"/x": {"get": {"responses": {"200": {"content": {"a": {"schema": {"$ref": 5}}}}}}}},
    }
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_annotated_rpc_is_documented_even_a_new_one(doc: dict[str, Any]) -> None:
    _, routes = load_routes(MODULES)
    for route in routes:
        op = doc["paths"][openapi_path(route.template.source)][route.http_method.lower()]
        assert op["x-labs-permission"] == policy_of(route.method).permission
        assert route.method.full_name in op["description"]
    # The service built in the test: its routes appear with no edit anywhere.
    assert "get" in doc["paths"]["/api/edge/{execution_id}/events:follow"]
    assert doc["paths"]["/api/edge/echo"]["post"]["operationId"] == "EdgeService_Echo"


def test_proto3_json_shapes(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    ex = schemas["labs.agents.v1.Execution"]["properties"]
    assert ex["version"]["type"] == "string"  # uint64 as string
    assert ex["status"] == {"$ref": "#/components/schemas/labs.agents.v1.ExecutionStatus"}
    assert "QUEUED" in schemas["labs.agents.v1.ExecutionStatus"]["enum"]
    assert ex["input"]["type"] == "object"  # Struct
    assert ex["queuedAt"] == {"type": "string", "format": "date-time"}
    assert ex["toolCalls"]["type"] == "array"
    metrics = schemas["labs.agents.v1.AgentMetrics"]["properties"]
    assert metrics["executionsByStatus"]["additionalProperties"]["type"] == "string"  # map<string, uint64>
    assert "google.rpc.Status" in schemas


def test_parameters_body_errors_and_security(doc: dict[str, Any]) -> None:
    get = doc["paths"]["/api/agents/{execution_id}"]["get"]
    assert {"name": "execution_id", "in": "path", "required": True, "schema": {"type": "string"}} in get[
        "parameters"
    ]
    assert get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(".Execution")
    assert get["responses"]["403"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "google.rpc.Status"
    )
    assert get["security"] == [{"bearerAuth": []}]
    history = doc["paths"]["/api/agents/{agent}/history"]["get"]
    names = {p["name"] for p in history["parameters"] if p["in"] == "query"}
    assert {"pageSize", "pageToken", "status", "limit", "offset"} <= names
    execute = doc["paths"]["/api/agents/execute"]["post"]
    assert execute["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(".ExecuteRequest")
    assert doc["paths"]["/api/health"]["get"]["security"] == []
    follow = doc["paths"]["/api/edge/{execution_id}/events:follow"]["get"]["responses"]["200"]["content"]
    assert {"application/x-ndjson", "text/event-stream"} <= set(follow)
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_page_names_every_operation_and_fetches_nothing(doc: dict[str, Any]) -> None:
    html = render_page(doc).decode()
    for item in doc["paths"].values():
        for op in item.values():
            assert f'id="{op["operationId"]}"' in html
    assert "<script" not in html and "http://" not in html and "https://" not in html


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[Gateway]:
    """A gateway with keys required (the documents stay open)."""
    async with Gateway(
        gateway_settings("127.0.0.1:1", labs_auth_disabled=False), http_port=0, grpc_port=0
    ) as gw:
        yield gw


async def test_served_at_openapi_json_and_docs(gateway: Gateway) -> None:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gateway.http_port}") as http:
        async with http.get("/openapi.json") as r:
            assert r.status == 200
            served = await r.json()
        async with http.get("/docs") as r:
            assert r.status == 200
            assert r.content_type == "text/html"
            assert "/api/agents/execute" in await r.text()
    validate(served)
    assert served == gateway.openapi
