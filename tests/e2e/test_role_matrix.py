"""The role matrix (issue 12, "In the suite"): every annotated RPC, every caller, every door.

For each RPC of the public services (their `(labs.api.v1.permission)` options), each request
variant (the default request and, per content rule, every spelling of its privileged values),
and each caller — no key, a bad key, viewer, operator, admin — the outcome must be the one the
role table (`labs_core.auth`) gives:

- over HTTP through the gateway, and over gRPC through the gateway, every call also carrying
  spoofed `x-labs-actor` / `x-labs-role` and even the services' real internal secret as client
  metadata (the gateway must drop them all);
- over gRPC straight to the backend that serves the RPC, without the secret (spoofed identity),
  with a wrong secret, and with the secret and each role's identity.

Then every registered tool, for every agent type allowed to call it, for every role, at the
gateway and at the tools service: the role decides, never the claimed agent type.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from labs.tools.v1 import tool_service_pb2, tool_service_pb2_grpc

from deploy.local.testing import Launched
from labs_core.auth import (
    TOKEN_KEY,
    Identity,
    InternalAuth,
    MethodPolicy,
    channel_as,
    granted,
    may_run,
    policy_of,
)
from labs_core.testing import INTERNAL_TOKEN, internal_channel
from services.gateway.config import PUBLIC_PROTO_MODULES
from services.gateway.transcoding.routes import backend_of, grpc_path, load_routes
from services.tools.domain.registry import CATEGORY_PERMISSIONS
from tests.e2e.conftest import E2E_KEYS

pytestmark = pytest.mark.timeout(300)

ROLES = ("viewer", "operator", "admin")
CALLERS = ("no key", "bad key", *ROLES)
OK, UNAUTHENTICATED, DENIED = "ok", "UNAUTHENTICATED", "PERMISSION_DENIED"
#: What a client might send to pass for someone else: the gateway must drop every one of them.
SPOOFED = (("x-labs-actor", "e2e-admin"), ("x-labs-role", "admin"), (TOKEN_KEY, INTERNAL_TOKEN))
#: A well-formed id nobody issued (so an allowed call is a 404, not a 400, where ids matter).
UNKNOWN_ID = "00000000-0000-7000-8000-000000000000"


def spellings(value: str) -> list[str]:
    """The value and the spellings a layer might fold into it."""
    full = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)
    return [value, value.lower(), f" {value}", f"{value}\t", f"{value}\u00a0", f"\u3000{value.lower()}", full]


@dataclass(frozen=True)
class Case:
    """One request of one RPC."""

    method: MethodDescriptor
    policy: MethodPolicy
    request: Message
    label: str

    def __str__(self) -> str:
        return f"{self.method.full_name}[{self.label}]"


def cases() -> Iterator[Case]:
    """Every public RPC with its default request and its content rules' spellings."""
    services, _ = load_routes(PUBLIC_PROTO_MODULES)
    for service in services:
        for method in service.methods:
            policy = policy_of(method)
            cls = message_factory.GetMessageClass(method.input_type)
            yield Case(method, policy, cls(), "default")
            for rule in policy.rules:
                for v in rule.values:
                    for s in spellings(v):
                        yield Case(method, policy, cls(**{rule.field: s}), f"{rule.field}={s!r}")


def expected_at_gateway(case: Case, caller: str) -> str:
    """What the gateway must answer this caller."""
    if caller in ("no key", "bad key"):
        return OK if case.policy.public else UNAUTHENTICATED
    return DENIED if case.policy.missing(caller, case.request) else OK


def expected_at_backend(case: Case, caller: str) -> str:
    """What the backend must answer: nothing without the secret, then the same role table."""
    if caller in ("no key", "bad key"):
        return UNAUTHENTICATED
    return DENIED if case.policy.missing(caller, case.request) else OK


def _outcome(code: grpc.StatusCode) -> str:
    return code.name if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED) else OK


async def _grpc(ch: grpc.aio.Channel, case: Case, metadata: tuple[tuple[str, str], ...]) -> str:
    """Call the RPC with raw bytes; its outcome (retrying a rate-limited call)."""
    path = grpc_path(case.method)
    body = case.request.SerializeToString()
    for _ in range(10):
        try:
            if case.method.server_streaming:
                call = ch.unary_stream(path)(body, metadata=metadata, timeout=10)
                async for _item in call:
                    break
                call.cancel()
            else:
                await ch.unary_unary(path)(body, metadata=metadata, timeout=10)
            return OK
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "rate limit" in (e.details() or ""):
                await asyncio.sleep(1.0)
                continue
            return _outcome(e.code())
    raise AssertionError(f"{case}: still rate limited")


def _gateway_metadata(caller: str) -> tuple[tuple[str, str], ...]:
    if caller == "no key":
        return SPOOFED
    key = "not-a-key" if caller == "bad key" else E2E_KEYS[caller]
    return (*SPOOFED, ("authorization", f"Bearer {key}"))


def _report(mismatches: list[str], checked: int) -> None:
    print(f"role matrix: {checked} outcomes checked, {len(mismatches)} differ")
    assert checked > 0
    assert not mismatches, (
        f"{len(mismatches)} of {checked} outcomes differ from the role table:\n" + "\n".join(mismatches[:60])
    )


async def test_grpc_through_the_gateway(stack: Launched) -> None:
    mismatches: list[str] = []
    checked = 0
    async with grpc.aio.insecure_channel(stack.addrs["gateway"]) as ch:
        for case in cases():
            for caller in CALLERS:
                got = await _grpc(ch, case, _gateway_metadata(caller))
                want = expected_at_gateway(case, caller)
                checked += 1
                if got != want:
                    mismatches.append(f"gateway gRPC {case} as {caller}: {got}, expected {want}")
    _report(mismatches, checked)


async def test_grpc_straight_to_each_backend(stack: Launched) -> None:
    """A backend is not protected by the gateway in front of it: it checks the secret and the role."""
    mismatches: list[str] = []
    checked = 0
    wrong = InternalAuth("w" * 32)
    for case in cases():
        addr = stack.addrs[backend_of(case.method)]
        for caller in CALLERS:
            if caller == "no key":
                ch = grpc.aio.insecure_channel(addr)
                metadata: tuple[tuple[str, str], ...] = SPOOFED[:2]
            elif caller == "bad key":
                ch = channel_as(addr, Identity("e2e-admin", "admin"), wrong)
                metadata = ()
            else:
                ch = internal_channel(addr, Identity(f"e2e-{caller}", caller))
                metadata = ()
            async with ch:
                got = await _grpc(ch, case, metadata)
            want = expected_at_backend(case, caller)
            checked += 1
            if got != want:
                mismatches.append(
                    f"{backend_of(case.method)} gRPC {case} as {caller}: {got}, expected {want}"
                )
    _report(mismatches, checked)


def _http_request(route: Any, msg: Message) -> tuple[str, str, dict[str, str], Any]:
    """(method, path, query, json body) for a route and a request message."""
    fields = json_format.MessageToDict(msg, preserving_proto_field_name=True)

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        fields.pop(name, None)
        return "get_listings" if name == "name" else UNKNOWN_ID

    path = re.sub(r"\{([a-z_.]+)(?:=[^}]*)?\}", fill, route.template.source)
    if route.body == "*":
        return route.http_method, path, {}, fields
    return route.http_method, path, {k: str(v) for k, v in fields.items()}, None


async def test_http_through_the_gateway(stack: Launched) -> None:
    mismatches: list[str] = []
    checked = 0
    _, routes = load_routes(PUBLIC_PROTO_MODULES)
    by_method = {c.method.full_name: [] for c in cases()}  # type: dict[str, list[Case]]
    for c in cases():
        by_method[c.method.full_name].append(c)
    spoofed = {k: v for k, v in SPOOFED}
    async with aiohttp.ClientSession(stack.http) as http:
        for route in routes:
            for case in by_method[route.method.full_name]:
                verb, path, query, body = _http_request(route, case.request)
                for caller in CALLERS:
                    headers = dict(spoofed)
                    if caller != "no key":
                        headers["Authorization"] = (
                            f"Bearer {'not-a-key' if caller == 'bad key' else E2E_KEYS[caller]}"
                        )
                    for _ in range(10):
                        async with http.request(
                            verb,
                            path,
                            params=query,
                            json=body,
                            headers=headers,
                            timeout=aiohttp.ClientTimeout(total=10),
                        ) as r:
                            status = r.status
                        if status != 429:
                            break
                        await asyncio.sleep(1.0)
                    got = {401: UNAUTHENTICATED, 403: DENIED}.get(status, OK)
                    want = expected_at_gateway(case, caller)
                    checked += 1
                    if got != want:
                        mismatches.append(
                            f"HTTP {verb} {path} {case.label} as {caller}: {status}, expected {want}"
                        )
    _report(mismatches, checked)


async def test_every_tool_is_decided_by_the_callers_role_not_the_agent_type_it_claims(
    stack: Launched,
) -> None:
    """Issue 12 finding 3: an operator claiming agent_type ADMIN ran system tools."""
    async with internal_channel(stack.addrs["tools"], Identity("e2e-admin", "admin")) as ch:
        tools = (
            await tool_service_pb2_grpc.ToolServiceStub(ch).ListTools(tool_service_pb2.ListToolsRequest())
        ).tools
    assert {"get_system_health", "send_notification", "schedule_task", "batch_process_items"} <= {
        t.name for t in tools
    }
    invoke = tool_service_pb2.InvokeToolRequest
    method = tool_service_pb2.DESCRIPTOR.services_by_name["ToolService"].methods_by_name["InvokeTool"]
    policy = policy_of(method)
    mismatches: list[str] = []
    checked = 0
    async with grpc.aio.insecure_channel(stack.addrs["gateway"]) as gateway:
        for tool in tools:
            for agent_type in tool.agent_types:
                # No idempotency key and no arguments: an allowed call is refused as incomplete
                # (INVALID_ARGUMENT) or runs a read-only tool; nothing is changed.
                case = Case(
                    method,
                    policy,
                    invoke(name=tool.name, agent_type=agent_type),
                    f"{tool.name} as {agent_type}",
                )
                for role in ROLES:
                    allowed = (
                        may_run(role, agent_type) is None
                        and granted(role, CATEGORY_PERMISSIONS[tool.category])
                        and policy.missing(role, case.request) is None
                    )
                    want = OK if allowed else DENIED
                    async with internal_channel(
                        stack.addrs["tools"], Identity(f"e2e-{role}", role)
                    ) as direct:
                        got_direct = await _grpc(direct, case, ())
                    got_gateway = await _grpc(gateway, case, _gateway_metadata(role))
                    checked += 2
                    for door, got in (("tools", got_direct), ("gateway", got_gateway)):
                        if got != want:
                            mismatches.append(f"{door}: {case} as {role}: {got}, expected {want}")
    _report(mismatches, checked)
    # A schedule runs as its creator: only whom may run ADMIN may schedule it, or cancel it.
    for role, target in (("operator", "ADMIN"), ("operator", "admin"), ("admin", "ADMIN")):
        req = invoke(name="schedule_task", agent_type="SCHEDULER", idempotency_key=f"matrix-{role}-{target}")
        req.arguments.update(
            {"cron": "0 0 1 1 *", "agent_type": target, "action": "query", "input": {"sql": "SELECT 1"}}
        )
        async with internal_channel(stack.addrs["tools"], Identity(f"e2e-{role}", role)) as direct:
            if role != "admin":
                assert await _grpc(direct, Case(method, policy, req, "schedule ADMIN"), ()) == DENIED, target
                continue
            made = await tool_service_pb2_grpc.ToolServiceStub(direct).InvokeTool(req, timeout=10)
        sid = made.result["schedule"]["schedule_id"]
        cancel = invoke(
            name="cancel_scheduled_task", agent_type="SCHEDULER", idempotency_key=f"matrix-c-{sid}"
        )
        cancel.arguments.update({"schedule_id": sid})
        async with internal_channel(stack.addrs["tools"], Identity("e2e-operator", "operator")) as ch:
            assert await _grpc(ch, Case(method, policy, cancel, "cancel ADMIN"), ()) == DENIED
        async with internal_channel(stack.addrs["tools"], Identity("e2e-admin", "admin")) as ch:
            await tool_service_pb2_grpc.ToolServiceStub(ch).InvokeTool(cancel, timeout=10)
