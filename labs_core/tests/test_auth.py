"""Internal authentication and the caller's identity, over real gRPC servers.

A backend refuses a caller without the services' secret, believes x-labs-actor/x-labs-role only
next to it, checks each RPC's proto permission against the role, and a call it makes while
serving carries the same caller on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from labs.llm.v1 import llm_service_pb2 as pb
from labs.llm.v1 import llm_service_pb2_grpc
from pydantic import SecretStr

from labs_core import auth
from labs_core.auth import AuthConfigError, Identity, InternalAuth, granted, may_run
from labs_core.grpcutil import GrpcServer, channel
from labs_core.settings import CommonSettings
from labs_core.testing import ADMIN, OPERATOR, VIEWER, internal_auth, internal_channel

pytestmark = pytest.mark.timeout(30)


class Echo(llm_service_pb2_grpc.LlmServiceServicer):
    """Answers with who called it; with `onward`, asks that server and answers with its answer."""

    def __init__(self, onward: str = "") -> None:
        self.onward = onward

    async def Generate(self, request: pb.GenerateRequest, context: grpc.aio.ServicerContext) -> Any:
        if self.onward:
            async with channel(self.onward, auth=internal_auth()) as ch:
                return await llm_service_pb2_grpc.LlmServiceStub(ch).Generate(request, timeout=5)
        who = auth.caller()
        return pb.GenerateResponse(text=f"{who.actor}/{who.role}" if who else "nobody")

    async def ListModels(self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext) -> Any:
        return pb.ListModelsResponse(default_model="m")


async def _server(servicer: Echo) -> GrpcServer:
    server = GrpcServer("127.0.0.1:0", ["labs.llm.v1.LlmService"], grace_s=0.1, auth=internal_auth())
    llm_service_pb2_grpc.add_LlmServiceServicer_to_server(servicer, server.server)
    await server.start()
    return server


@pytest.fixture
async def backend() -> AsyncIterator[str]:
    server = await _server(Echo())
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        await server.stop()


async def _code(call: Any) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as e:
        return e.code()
    return grpc.StatusCode.OK


async def test_no_secret_or_a_wrong_one_is_unauthenticated_whatever_identity_it_claims(backend: str) -> None:
    spoofed = (("x-labs-actor", "root"), ("x-labs-role", "admin"))
    wrong = (*spoofed, (auth.TOKEN_KEY, "x" * 40))
    async with grpc.aio.insecure_channel(backend) as ch:
        stub = llm_service_pb2_grpc.LlmServiceStub(ch)
        for md in ((), spoofed, wrong):
            assert await _code(stub.Generate(pb.GenerateRequest(prompt="p"), metadata=md, timeout=5)) == (
                grpc.StatusCode.UNAUTHENTICATED
            )
            assert await _code(stub.ListModels(pb.ListModelsRequest(), metadata=md, timeout=5)) == (
                grpc.StatusCode.UNAUTHENTICATED
            )
    # A second caller or secret beside the real one (smuggled past a proxy) is refused, not picked.
    real = internal_auth().metadata(VIEWER)
    for extra in (("x-labs-role", "admin"), ("x-labs-actor", "root"), (auth.TOKEN_KEY, "t" * 20)):
        async with grpc.aio.insecure_channel(backend) as ch:
            stub = llm_service_pb2_grpc.LlmServiceStub(ch)
            for twice in ((extra, *real), (*real, extra)):
                assert await _code(stub.ListModels(pb.ListModelsRequest(), metadata=twice, timeout=5)) == (
                    grpc.StatusCode.UNAUTHENTICATED
                ), twice
    async with grpc.aio.insecure_channel(backend) as ch:
        # Health probes carry no metadata: they are answered.
        r = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert r.status == health_pb2.HealthCheckResponse.SERVING


async def test_the_role_is_checked_against_the_rpcs_permission(backend: str) -> None:
    cases = [(None, "none"), (VIEWER, "viewer"), (OPERATOR, "operator"), (ADMIN, "admin")]
    for identity, role in cases:
        async with internal_channel(backend, identity) as ch:
            stub = llm_service_pb2_grpc.LlmServiceStub(ch)
            generate = await _code(stub.Generate(pb.GenerateRequest(prompt="p"), timeout=5))
            models = await _code(stub.ListModels(pb.ListModelsRequest(), timeout=5))
        allowed = identity is not None and granted(identity.role, "llm.generate")
        assert generate == (grpc.StatusCode.OK if allowed else grpc.StatusCode.PERMISSION_DENIED), role
        readable = identity is not None and granted(identity.role, "llm.read")
        assert models == (grpc.StatusCode.OK if readable else grpc.StatusCode.PERMISSION_DENIED), role


async def test_the_handler_sees_the_caller_and_its_own_calls_carry_it_on(backend: str) -> None:
    front = await _server(Echo(onward=backend))
    try:
        async with internal_channel(f"127.0.0.1:{front.port}", Identity("dana", "operator")) as ch:
            r = await llm_service_pb2_grpc.LlmServiceStub(ch).Generate(
                pb.GenerateRequest(prompt="p"), timeout=5
            )
        assert r.text == "dana/operator"
        # Explicit identity for work not started by a call (a schedule's occurrence).
        with auth.acting_as(Identity("erin via scheduler", "admin")):
            async with channel(backend, auth=internal_auth()) as ch:
                r = await llm_service_pb2_grpc.LlmServiceStub(ch).Generate(
                    pb.GenerateRequest(prompt="p"), timeout=5
                )
        assert r.text == "erin via scheduler/admin"
    finally:
        await front.stop()


def test_a_service_without_the_secret_does_not_start() -> None:
    for value in ("", "short"):
        with pytest.raises(AuthConfigError, match="LABS_INTERNAL_TOKEN"):
            CommonSettings(labs_internal_token=SecretStr(value)).internal_auth()
    ok = CommonSettings(labs_internal_token=SecretStr("s" * 20))
    assert "s" * 20 not in repr(ok) and "s" * 20 not in repr(ok.internal_auth())
    assert InternalAuth("s" * 20).accepts("s" * 20) and not InternalAuth("s" * 20).accepts("s" * 19 + "t")


def test_acting_as_admin_follows_execute_s_own_rule() -> None:
    assert may_run("operator", "MARKET") is None
    for spelling in ("ADMIN", "admin", " ADMIN", "\uff21\uff24\uff2d\uff29\uff2e"):
        assert may_run("operator", spelling) == "executions.admin"
    assert may_run("admin", "ADMIN") is None
    assert may_run("viewer", "MARKET") == "executions.write"
    assert may_run("", "MARKET") == "executions.write"
