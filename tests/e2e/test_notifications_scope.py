"""GET /api/notifications through the gateway and the real tools service, for every role."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import grpc
import pytest
from labs.tools.v1 import tool_service_pb2, tool_service_pb2_grpc

from deploy.local.testing import Launched
from labs_core.structs import dict_to_struct
from labs_core.testing import ADMIN, internal_channel
from tests.e2e.conftest import auth, auth_channel

pytestmark = pytest.mark.timeout(120)


async def _send(stack: Launched, recipients: list[str], tag: str) -> None:
    async with internal_channel(stack.addrs["tools"], ADMIN) as ch:
        stub = tool_service_pb2_grpc.ToolServiceStub(ch)
        for i, recipient in enumerate(recipients):
            req = tool_service_pb2.InvokeToolRequest(
                name="send_notification", agent_type="ADMIN", idempotency_key=f"scope-{tag}-{i}"
            )
            args = {"channel": "in_app", "recipient": recipient, "subject": f"{tag}-{i}", "body": "b"}
            dict_to_struct(args, req.arguments)
            await stub.InvokeTool(req, timeout=10)


async def _list(stack: Launched, role: str, **params: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(stack.http, headers=auth(role)) as http,
        http.get("/api/notifications", params={"pageSize": "100", **params}) as r,
    ):
        return r.status, await r.json()


async def test_every_role_reads_its_own_notifications_and_only_admin_reads_others(
    stack: Launched,
) -> None:
    tag = secrets.token_hex(4)
    outsider = f"outsider-{tag}"
    await _send(stack, ["e2e-viewer", "e2e-viewer", "e2e-operator", outsider], tag)

    for role, mine in (("viewer", 2), ("operator", 1)):
        status, page = await _list(stack, role)
        assert status == 200, page
        assert {n["recipient"] for n in page["notifications"]} == {f"e2e-{role}"}
        assert len([n for n in page["notifications"] if n["subject"].startswith(tag)]) == mine
        assert page["total"] == len(page["notifications"])
        status, same = await _list(stack, role, recipient=f"e2e-{role}")
        assert status == 200 and same["total"] == page["total"]
        for other in (outsider, "e2e-admin", "e2e-viewer" if role == "operator" else "e2e-operator"):
            status, denied = await _list(stack, role, recipient=other)
            assert status == 403, denied
            assert denied["code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]
            assert other in denied["message"]

    status, everyone = await _list(stack, "admin")
    assert status == 200, everyone
    ours = {n["recipient"] for n in everyone["notifications"] if n["subject"].startswith(tag)}
    assert ours == {"e2e-viewer", "e2e-operator", outsider}
    status, theirs = await _list(stack, "admin", recipient=outsider)
    assert status == 200 and [n["subject"] for n in theirs["notifications"]] == [f"{tag}-3"]


async def test_the_scope_holds_over_grpc_and_a_forged_role_is_dropped(stack: Launched) -> None:
    async with auth_channel(stack.addrs["gateway"], "viewer") as ch:
        stub = tool_service_pb2_grpc.ToolServiceStub(ch)
        forged = (("x-labs-role", "admin"), ("x-labs-actor", "e2e-admin"))
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.ListNotifications(
                tool_service_pb2.ListNotificationsRequest(recipient="e2e-admin"), metadata=forged, timeout=10
            )
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        own = await stub.ListNotifications(tool_service_pb2.ListNotificationsRequest(), timeout=10)
        assert {n.recipient for n in own.notifications} <= {"e2e-viewer"}
