"""The edge: keys and roles (the whole route x role matrix), rate limits, field rules, SSE, CORS.

A real gateway in front of a real backend serving a test-built service; the matrix is generated
from the route table, so a route added to any public proto is covered without editing this file.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2, status_pb2
from labs.agents.v1 import agent_service_pb2 as pb
from labs.agents.v1 import agent_service_pb2_grpc as pb_grpc
from labs.tools.v1 import tool_service_pb2 as tpb
from labs.tools.v1 import tool_service_pb2_grpc as tpb_grpc

from labs_core.auth import granted, policy_of
from labs_core.testing import INTERNAL_TOKEN
from services.gateway.bootstrap import Gateway, build_guard
from services.gateway.config import PUBLIC_PROTO_MODULES
from services.gateway.security.keys import KeyConfigError, KeyStore, hash_key
from services.gateway.security.ratelimit import Rate, RateLimiter, parse_rates
from services.gateway.tests.conftest import gateway_settings
from services.gateway.tests.edge_service import EdgeBackend, register
from services.gateway.transcoding.routes import Route, load_routes

KEYS = {"viewer": "v-secret", "operator": "o-secret", "admin": "a-secret"}
ENV_KEYS = ",".join(f"{role}-key:{role}:{key}" for role, key in KEYS.items())
CALLERS = ["none", "wrong", *KEYS]
MODULES = (*PUBLIC_PROTO_MODULES, register())
SSE = "text/event-stream"
_VAR = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")


def headers_of(caller: str) -> dict[str, str]:
    """The Authorization header of a caller of the matrix."""
    if caller == "none":
        return {}
    return {"Authorization": f"Bearer {KEYS.get(caller, 'not-a-key')}"}


@pytest.fixture(scope="module")
async def edge() -> AsyncIterator[tuple[EdgeBackend, Gateway]]:
    """A backend of the test-built service, and a gateway with keys for the three roles."""
    backend = EdgeBackend()
    await backend.server.start()
    try:
        settings = gateway_settings(
            backend.addr,
            public_proto_modules=MODULES,
            labs_auth_disabled=False,
            labs_api_keys=ENV_KEYS,
            rate_limits="viewer=1000/1000,operator=1000/1000,admin=1000/1000",
            cors_allowed_origins="https://app.example",
        )
        async with Gateway(settings, http_port=0, grpc_port=0) as gw:
            yield backend, gw
    finally:
        await backend.server.stop(0)


@pytest.fixture
async def http(edge: tuple[EdgeBackend, Gateway]) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client of the gateway."""
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{edge[1].http_port}") as s:
        yield s


def _url(route: Route) -> str:
    return _VAR.sub("x", route.template.source)


def _matrix() -> list[tuple[Route, str]]:
    _, routes = load_routes(MODULES)
    return [(r, c) for r in routes for c in CALLERS]


# --- identity and permissions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "caller"), _matrix(), ids=lambda v: str(v).split(" @")[0] if isinstance(v, Route) else v
)
async def test_role_matrix(http: aiohttp.ClientSession, route: Route, caller: str) -> None:
    policy = policy_of(route.method)
    kw: dict[str, Any] = {"headers": {**headers_of(caller), "X-Request-Timeout": "2"}}
    if route.body:
        kw["json"] = {}
    async with http.request(route.http_method, _url(route), **kw) as r:
        status, text = r.status, await r.text()
        challenge = r.headers.get("WWW-Authenticate", "")
    if policy.public:
        assert status not in (401, 403), text
    elif caller in ("none", "wrong"):
        assert status == 401, text
        assert challenge.startswith("Bearer")
    elif granted(caller, policy.permission):
        assert status not in (401, 403), text
    else:
        assert status == 403, text
        assert policy.permission in json.loads(text)["message"]


def test_role_table_pins_what_each_role_may_read() -> None:
    # The matrix derives its expectations from the table; this pins the table itself.
    for role in ("viewer", "operator", "admin"):
        assert granted(role, "notifications.read") and granted(role, "executions.read")
        assert granted(role, "tools.invoke") == (role != "viewer")
        assert granted(role, "tools.admin") == (role == "admin")


async def test_notifications_reach_the_backend_for_every_role_with_the_caller(
    http: aiohttp.ClientSession, edge: tuple[EdgeBackend, Gateway]
) -> None:
    for role in KEYS:
        async with http.get("/api/notifications", headers=headers_of(role)) as r:
            # The test backend has no ToolService: 501 proves the call was forwarded.
            assert r.status == 501, await r.text()
        md = edge[0].last_unimplemented
        assert (md["x-labs-actor"], md["x-labs-role"]) == (f"{role}-key", role)


@pytest.mark.parametrize(
    "spelling",
    [" ADMIN", "ADMIN\t", "ADMIN\u00a0", "\u3000admin", "\uff21\uff44\uff4d\uff49\uff4e", "AD MIN"],
)
async def test_every_spelling_of_admin_needs_admin(http: aiohttp.ClientSession, spelling: str) -> None:
    body = {"type": spelling, "action": "query"}
    async with http.post("/api/agents/execute", json=body, headers=headers_of("operator")) as r:
        assert r.status == 403, await r.text()
        assert (await r.json())["details"][0]["metadata"]["permission"] == "executions.admin"


async def test_admin_agent_needs_admin(http: aiohttp.ClientSession) -> None:
    body = {"type": "admin", "action": "a"}  # the rule's values match case-insensitively
    async with http.post("/api/agents/execute", json=body, headers=headers_of("operator")) as r:
        assert r.status == 403
        out = await r.json()
        assert "executions.admin" in out["message"]
        assert out["details"][0]["metadata"] == {"permission": "executions.admin", "role": "operator"}
    async with http.post("/api/agents/execute", json=body, headers=headers_of("admin")) as r:
        assert r.status == 501  # allowed: the test backend does not implement AgentService
    async with http.post(
        "/api/agents/execute", json={**body, "type": "MARKET"}, headers=headers_of("operator")
    ) as r:
        assert r.status == 501


async def test_unannotated_method_is_admin_only(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/edge/unmarked/x", headers=headers_of("operator")) as r:
        assert r.status == 403
        assert "unclassified" in (await r.json())["message"]
    async with http.get("/api/edge/unmarked/x", headers=headers_of("admin")) as r:
        assert r.status == 200


async def test_actor_and_role_reach_the_backend_and_client_ones_are_dropped(
    http: aiohttp.ClientSession, edge: tuple[EdgeBackend, Gateway]
) -> None:
    headers = {
        **headers_of("operator"),
        "X-Labs-Actor": "mallory",
        "X-Labs-Role": "admin",
        "X-Labs-Internal-Token": "guessed-guessed-guessed",
    }
    async with http.post("/api/edge/echo", json={"type": "MARKET", "action": "a"}, headers=headers) as r:
        assert r.status == 200
    md = edge[0].metadata
    assert (md["x-labs-actor"], md["x-labs-role"]) == ("operator-key", "operator")
    assert "authorization" not in md
    # The backend is told the services' secret by the gateway, never a client's guess.
    assert md["x-labs-internal-token"] == INTERNAL_TOKEN


async def test_health_is_open(http: aiohttp.ClientSession) -> None:
    async with http.get("/api/health/x") as r:
        assert r.status not in (401, 403)
    async with http.get("/openapi.json") as r:
        assert r.status == 200


async def test_grpc_keys_roles_and_metadata(edge: tuple[EdgeBackend, Gateway]) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{edge[1].grpc_port}") as ch:
        stub = pb_grpc.AgentServiceStub(ch)
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.ListAgents(pb.ListAgentsRequest(), timeout=5)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.ListAgents(
                pb.ListAgentsRequest(), metadata=(("authorization", "Bearer nope"),), timeout=5
            )
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        viewer = (("authorization", f"Bearer {KEYS['viewer']}"),)
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.Execute(pb.ExecuteRequest(type="MARKET", action="a"), metadata=viewer, timeout=5)
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "executions.write" in (e.value.details() or "")
        tools = tpb_grpc.ToolServiceStub(ch)
        operator = (("authorization", f"Bearer {KEYS['operator']}"),)
        with pytest.raises(grpc.aio.AioRpcError) as e:  # acting as the ADMIN agent is executions.admin's
            await tools.InvokeTool(
                tpb.InvokeToolRequest(name="get_system_health", agent_type=" admin"),
                metadata=operator,
                timeout=5,
            )
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "executions.admin" in (e.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await tools.InvokeTool(
                tpb.InvokeToolRequest(name="execute_database_query"), metadata=operator, timeout=5
            )
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "tools.admin" in (e.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as e:  # validated at the edge, every field named
            await stub.Execute(pb.ExecuteRequest(max_cost_usd=-1), metadata=operator, timeout=5)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        trailer = dict(e.value.trailing_metadata() or ())["grpc-status-details-bin"]
        br = error_details_pb2.BadRequest()
        status_pb2.Status.FromString(trailer).details[0].Unpack(br)
        assert [v.field for v in br.field_violations] == ["type", "action", "maxCostUsd"]


# --- rate limits -----------------------------------------------------------------------------


async def test_rate_limit_http_429_with_retry_after_and_grpc_resource_exhausted() -> None:
    backend = EdgeBackend()
    await backend.server.start()
    settings = gateway_settings(
        backend.addr,
        public_proto_modules=MODULES,
        labs_auth_disabled=False,
        labs_api_keys=ENV_KEYS,
        rate_limits="viewer=0.2/2,operator=0,admin=1000/1000",
    )
    try:
        async with (
            Gateway(settings, http_port=0, grpc_port=0) as gw,
            aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gw.http_port}") as http,
            grpc.aio.insecure_channel(f"127.0.0.1:{gw.grpc_port}") as ch,
        ):
            statuses = []
            for _ in range(3):
                async with http.get("/api/edge/x/events:follow", headers=headers_of("viewer")) as r:
                    statuses.append(r.status)
                    retry_after = r.headers.get("Retry-After")
                    body = await r.read()
            assert statuses == [200, 200, 429]
            assert retry_after is not None and 1 <= int(retry_after) <= 5
            assert json.loads(body)["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
            with pytest.raises(grpc.aio.AioRpcError) as e:
                stub = pb_grpc.AgentServiceStub(ch)
                await stub.GetExecution(
                    pb.GetExecutionRequest(execution_id="x"),
                    metadata=(("authorization", f"Bearer {KEYS['viewer']}"),),
                    timeout=5,
                )
            assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert dict(e.value.trailing_metadata() or ())["retry-after"].isdigit()
            for _ in range(20):  # rate 0: unlimited
                async with http.post(
                    "/api/edge/echo", json={"type": "M", "action": "a"}, headers=headers_of("operator")
                ) as r:
                    assert r.status == 200
    finally:
        await backend.server.stop(0)


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter({"viewer": Rate(2.0, 2.0)}, clock=lambda: now[0])
    assert [limiter.acquire("k", "viewer") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("k", "viewer") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.acquire("k", "viewer") == 0.0
    assert limiter.acquire("other", "viewer") == 0.0  # per key
    assert parse_rates("viewer=5/10, admin=0")["viewer"] == Rate(5, 10)
    with pytest.raises(ValueError, match="role=rate/burst"):
        parse_rates("viewer=fast")


# --- keys ------------------------------------------------------------------------------------


def test_keys_from_json_toml_and_env_are_hashes(tmp_path: Path) -> None:
    j = tmp_path / "keys.json"
    j.write_text(json.dumps({"keys": [{"name": "ci", "role": "operator", "sha256": hash_key("k1")}]}))
    t = tmp_path / "keys.toml"
    t.write_text(f'[[keys]]\nname = "ops"\nrole = "admin"\nsha256 = "{hash_key("k2")}"\n')
    store = KeyStore.from_file(j)
    KeyStore.from_file(t, store)
    KeyStore.from_env_value("dash:viewer:k3", store)
    assert [store.lookup(k) for k in ("k1", "k2", "k3")] == [
        p for p in (store.lookup("k1"), store.lookup("k2"), store.lookup("k3"))
    ]
    assert store.lookup("k1").role == "operator"  # type: ignore[union-attr]
    assert store.lookup("k2").name == "ops"  # type: ignore[union-attr]
    assert store.lookup("k3").role == "viewer"  # type: ignore[union-attr]
    assert store.lookup("k4") is None
    assert "k1" not in repr(store._by_hash)
    with pytest.raises(KeyConfigError, match="role 'root'"):
        KeyStore.from_env_value("x:root:k")
    with pytest.raises(KeyConfigError, match="name:role:key"):
        KeyStore.from_env_value("x:viewer")
    bad = tmp_path / "bad.json"
    bad.write_text('{"keys": [{"name": "x"}]}')
    with pytest.raises(KeyConfigError, match=r"keys\[0\]"):
        KeyStore.from_file(bad)


def test_auth_disabled_is_loud(caplog: pytest.LogCaptureFixture) -> None:
    guard = build_guard(gateway_settings("127.0.0.1:1", labs_auth_disabled=True))
    assert not guard.enabled
    assert "LABS_AUTH_DISABLED" in caplog.text


# --- validation, limits ----------------------------------------------------------------------


async def test_validation_lists_every_field(
    http: aiohttp.ClientSession, edge: tuple[EdgeBackend, Gateway]
) -> None:
    body = {"action": "", "requestId": "r" * 200, "maxCostUsd": -2}
    async with http.post("/api/edge/echo", json=body, headers=headers_of("operator")) as r:
        assert r.status == 400
        out = await r.json()
    violations = {v["field"]: v["description"] for v in out["details"][0]["fieldViolations"]}
    assert violations == {
        "type": "is required",
        "action": "is required",
        "requestId": "must have at most 128 characters",
        "maxCostUsd": "must be >= 0",
    }


async def test_oversize_body_is_413(http: aiohttp.ClientSession) -> None:
    big = {"type": "M", "action": "a", "input": {"blob": "x" * (1024 * 1024 + 1)}}
    async with http.post("/api/edge/echo", json=big, headers=headers_of("operator")) as r:
        assert r.status == 413
        assert (await r.json())["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]


async def test_struct_integral_numbers_render_as_integers(http: aiohttp.ClientSession) -> None:
    s = struct_pb2.Struct()
    s.update({"count": 78, "ratio": 0.5, "nested": [1, 2.5, {"n": 3}]})
    body = {"type": "M", "action": "a", "input": {"count": 78, "ratio": 0.5, "nested": [1, 2.5, {"n": 3}]}}
    async with http.post("/api/edge/echo", json=body, headers=headers_of("operator")) as r:
        text = await r.text()
    assert '"count":78' in text and '"ratio":0.5' in text and '"nested":[1,2.5,{"n":3}]' in text
    assert '"durationMs":12' in text and "12.0" not in text


# --- streams ---------------------------------------------------------------------------------


async def test_sse_ids_are_sequences_and_last_event_id_resumes(
    http: aiohttp.ClientSession, edge: tuple[EdgeBackend, Gateway]
) -> None:
    headers = {**headers_of("viewer"), "Accept": "text/event-stream"}
    async with http.get("/api/edge/e1/events:follow", headers=headers) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        text = await r.text()
    events = [e for e in text.split("\n\n") if e]
    assert [e.splitlines()[0] for e in events[:3]] == ["id: 1", "id: 2", "id: 3"]
    assert json.loads(events[0].splitlines()[2].removeprefix("data: "))["type"] == "t1"
    assert events[-1].startswith("event: end")
    async with http.get("/api/edge/e1/events:follow", headers={**headers, "Last-Event-ID": "2"}) as r:
        text = await r.text()
    assert [e.splitlines()[0] for e in text.split("\n\n") if e.startswith("id:")] == ["id: 3"]
    assert edge[0].from_sequences[-1] == 3
    async with http.get("/api/edge/e1/events:follow", headers=headers_of("viewer")) as r:
        assert r.headers["Content-Type"].startswith("application/x-ndjson")
        lines = [json.loads(x) for x in (await r.text()).splitlines()]
    assert [x["result"]["sequence"] for x in lines] == ["1", "2", "3"]


# --- CORS ------------------------------------------------------------------------------------


async def test_cors_allowed_origin_preflight_and_response(http: aiohttp.ClientSession) -> None:
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    async with http.options("/api/edge/echo", headers=pre) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
        assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    async with http.get(
        "/api/agents", headers={"Origin": "https://app.example", **headers_of("viewer")}
    ) as r:
        assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    async with http.options("/api/edge/echo", headers={**pre, "Origin": "https://evil.example"}) as r:
        assert r.status == 403
        assert "Access-Control-Allow-Origin" not in r.headers


async def test_cors_headers_on_streamed_responses(http: aiohttp.ClientSession) -> None:
    # A stream's headers leave with its first item, so CORS must be set before it starts.
    base = {"Origin": "https://app.example", **headers_of("viewer")}
    for accept, kind in (("text/event-stream", "text/event-stream"), ("", "application/x-ndjson")):
        async with http.get("/api/edge/e1/events:follow", headers={**base, "Accept": accept}) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith(kind)
            assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
            assert "X-Request-Id" in r.headers["Access-Control-Expose-Headers"]
            assert r.headers["Vary"] == "Origin"
            assert (await r.text()).count("t3") == 1
        evil = {**base, "Origin": "https://evil.example", "Accept": accept}
        async with http.get("/api/edge/e1/events:follow", headers=evil) as r:
            assert r.status == 200
            assert "Access-Control-Allow-Origin" not in r.headers
            await r.read()
    async with http.get(  # an error before the stream starts carries them too
        "/api/edge/e1/events:follow", headers={**base, "Accept": SSE, "Last-Event-ID": "x"}
    ) as r:
        assert r.status == 400
        assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"


async def test_cors_closed_by_default(edge: tuple[EdgeBackend, Gateway]) -> None:
    settings = gateway_settings(edge[0].addr, public_proto_modules=MODULES)
    async with (
        Gateway(settings, http_port=0, grpc_port=0) as gw,
        aiohttp.ClientSession(base_url=f"http://127.0.0.1:{gw.http_port}") as http,
    ):
        async with http.get("/api/agents", headers={"Origin": "https://app.example"}) as r:
            assert "Access-Control-Allow-Origin" not in r.headers
        stream = {"Origin": "https://app.example", "Accept": SSE}
        async with http.get("/api/edge/e1/events:follow", headers=stream) as r:
            assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers
            await r.read()
        pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
        async with http.options("/api/agents/execute", headers=pre) as r:
            assert "Access-Control-Allow-Origin" not in r.headers
