"""Fixtures of the activity tools' tests: a fake model server (real gRPC), a webhook receiver
(real HTTP on 127.0.0.1) verifying signatures, and the tools wired on real NATS and Postgres."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest_asyncio
from aiohttp import web
from labs.llm.v1 import llm_service_pb2, llm_service_pb2_grpc
from pydantic import SecretStr

from labs_core.eventlog import EventLog
from labs_core.grpcutil import GrpcServer
from labs_core.testing import internal_auth
from services.tools.activity import ActivityTools, start_activity_tools
from services.tools.config import Settings, WebhookEndpoint
from services.tools.domain.notifications import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from services.tools.domain.registry import JSONObject, ToolContext
from services.tools.service_layer.invoker import Invoker
from services.tools.tests.conftest import Catalogue, open_catalogue

SECRET = "s3cret-for-tests-0123456789"
LONG_WORDS = " ".join(f"word{i}" for i in range(400))


class FakeModel(llm_service_pb2_grpc.LlmServiceServicer):
    """Answers with a text chosen by the prompt; over-long on purpose for some kinds."""

    def __init__(self) -> None:
        self.requests: list[llm_service_pb2.GenerateRequest] = []

    async def Generate(
        self, request: llm_service_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> llm_service_pb2.GenerateResponse:
        self.requests.append(request)
        p = request.prompt
        if "title" in p:
            text = '"' + LONG_WORDS[:150] + '"'
        elif "social media" in p:
            text = LONG_WORDS[:600]
        elif "email" in p.lower():
            text = "Subject: Spring sale on bikes\n\nHello,\nour spring sale starts Monday.\nBest"
        else:
            text = "A sturdy oak table for family dinners."
        return llm_service_pb2.GenerateResponse(
            text=text,
            provider="fake",
            model="fake-1",
            usage=llm_service_pb2.Usage(input_tokens=len(p.split()), output_tokens=len(text.split())),
            cost_usd=0.00042,
            finish_reason="stop",
        )


@dataclass
class Receiver:
    """A webhook endpoint: `ok` answers 200 after one 503, `broken` always 500, `reject` 400."""

    runner: web.AppRunner | None = None
    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        name = request.match_info["name"]
        self.calls[name] = self.calls.get(name, 0) + 1
        ts, sig = request.headers.get(TIMESTAMP_HEADER, ""), request.headers.get(SIGNATURE_HEADER, "")
        if not verify(SECRET.encode(), ts, raw, sig) or abs(time.time() - int(ts)) > 300:
            return web.Response(status=401, text="bad signature")
        if name == "broken":
            return web.Response(status=500)
        if name == "reject":
            return web.Response(status=400)
        if self.calls[name] == 1:
            return web.Response(status=503)
        self.received.append({"headers": dict(request.headers), "body": json.loads(raw), "raw": raw})
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/{name}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@dataclass
class Rig:
    """Everything a test needs."""

    cat: Catalogue
    tools: ActivityTools
    invoker: Invoker
    model: FakeModel
    receiver: Receiver
    llm_port: int

    async def call(
        self, name: str, args: JSONObject, agent: str, key: str = "", role: str = "admin"
    ) -> JSONObject:
        """Invoke a tool as an agent type, called with `role` (these tests are about the tools)."""
        ctx = ToolContext(agent, execution_id="", idempotency_key=key, actor=f"test-{role}", role=role)
        out = await self.invoker.invoke(name, args, ctx)
        return out.result


@pytest_asyncio.fixture(loop_scope="session")
async def rig(eventlog: EventLog, database_url: str, schema: str) -> AsyncIterator[Rig]:
    model = FakeModel()
    server = GrpcServer("127.0.0.1:0", ["labs.llm.v1.LlmService"], grace_s=0.1)
    llm_service_pb2_grpc.add_LlmServiceServicer_to_server(model, server.server)
    await server.start()
    receiver = Receiver()
    await receiver.start()
    base = f"http://127.0.0.1:{receiver.port}/hooks"
    settings = Settings(
        nats_url=eventlog.url,
        database_url=database_url,
        stream_name=eventlog.stream,
        subject_prefix=eventlog.prefix,
        tools_schema=schema,
        llm_addr=f"127.0.0.1:{server.port}",
        webhook_endpoints={
            n: WebhookEndpoint(url=f"{base}/{n}", secret=SecretStr(SECRET))
            for n in ("ok", "broken", "reject")
        },
        webhook_backoff_s=0.01,
        webhook_max_attempts=3,
    )
    cat = await open_catalogue(eventlog, database_url, schema, size=0)
    addrs = {"llm": f"127.0.0.1:{server.port}", "nowhere": "127.0.0.1:1"}
    tools = await start_activity_tools(
        settings, eventlog, cat.pool, cat.invoker.registry, internal_auth(), addrs=addrs
    )
    try:
        yield Rig(cat, tools, cat.invoker, model, receiver, server.port)
    finally:
        await tools.stop()
        await cat.close()
        await receiver.stop()
        await server.stop()
        await asyncio.sleep(0)
