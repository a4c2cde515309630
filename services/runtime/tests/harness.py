"""A runtime on a private stream and schema, with real in-test gRPC tool and model servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from labs.agents.v1 import agent_service_pb2 as pb
from labs.agents.v1 import agent_service_pb2_grpc as pb_grpc
from labs.llm.v1 import llm_service_pb2, llm_service_pb2_grpc
from labs.tools.v1 import tool_service_pb2, tool_service_pb2_grpc

from labs_core.eventlog import EventLog
from labs_core.structs import dict_to_struct, struct_to_dict
from labs_core.testing import ADMIN, INTERNAL_TOKEN, internal_channel
from services.runtime.bootstrap import serve
from services.runtime.config import Settings

LISTINGS: list[dict[str, Any]] = [
    {"id": f"L{i}", "title": f"Phone {i}", "price": 100.0 + 10 * i, "category": "electronics"}
    for i in range(10)
]


@dataclass
class ToolBehaviour:
    """What the test tools do; tests change it."""

    flaky_failures: int = 2
    slow_s: float = 10.0
    calls: Counter[str] = field(default_factory=Counter)
    #: idempotency key -> times the side effect was actually performed (must stay 1).
    side_effects: dict[str, int] = field(default_factory=dict)
    #: idempotency key -> times the tool was invoked with it.
    side_effect_calls: dict[str, int] = field(default_factory=dict)
    in_flight_slow: int = 0
    max_in_flight_slow: int = 0
    slow_cancelled: int = 0
    #: (x-labs-actor, x-labs-role, whether the secret came) of every InvokeTool, in order.
    callers: list[tuple[str, str, bool]] = field(default_factory=list)


class TestTools(tool_service_pb2_grpc.ToolServiceServicer):
    """Real tools with test-controlled behaviour, including market tools over a fixed catalogue."""

    def __init__(self, b: ToolBehaviour) -> None:
        self.b = b

    async def ListTools(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        resp = tool_service_pb2.ListToolsResponse()
        for name, desc in (("echo", "Echo the arguments back"), ("flaky", "Fails at first")):
            t = resp.tools.add(name=name, description=desc, category="system")
            dict_to_struct({"type": "object", "properties": {"n": {"type": "integer"}}}, t.parameters)
        return resp

    async def InvokeTool(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        args = struct_to_dict(request.arguments)
        name = request.name
        self.b.calls[name] += 1
        md = dict(context.invocation_metadata() or ())
        self.b.callers.append(
            (
                str(md.get("x-labs-actor", "")),
                str(md.get("x-labs-role", "")),
                md.get("x-labs-internal-token") == INTERNAL_TOKEN,
            )
        )
        result: dict[str, Any]
        if name == "flaky":
            if self.b.calls[name] <= self.b.flaky_failures:
                await context.abort(grpc.StatusCode.UNAVAILABLE, "flaky tool is down")
            result = {"ok": True, "call": self.b.calls[name]}
        elif name == "slow":
            self.b.in_flight_slow += 1
            self.b.max_in_flight_slow = max(self.b.max_in_flight_slow, self.b.in_flight_slow)
            try:
                await asyncio.sleep(float(args.get("seconds", self.b.slow_s)))
            except asyncio.CancelledError:
                self.b.slow_cancelled += 1
                raise
            finally:
                self.b.in_flight_slow -= 1
            result = {"slept": True}
        elif name == "side_effect":
            # An idempotent side effect: the work happens once per key, then the answer is slow.
            key = request.idempotency_key
            self.b.side_effect_calls[key] = self.b.side_effect_calls.get(key, 0) + 1
            if key not in self.b.side_effects:
                self.b.side_effects[key] = 1
            await asyncio.sleep(float(args.get("seconds", 0)))
            result = {"key": key}
        elif name == "echo":
            result = {"args": args}
        elif name == "get_listings":
            rows = [x for x in LISTINGS if x["category"] == args.get("category", x["category"])]
            rows.sort(key=lambda x: float(x["price"]))
            result = {"listings": rows[: int(args.get("limit", 20))], "total": len(rows)}
        elif name == "analyze_market_price":
            prices = sorted(float(x["price"]) for x in LISTINGS if x["category"] == args["category"])
            result = {
                "count": len(prices),
                "median": prices[len(prices) // 2],
                "p10": prices[1],
                "p90": prices[-2],
                "trend": {"direction": "flat", "slope_per_day": 0.0},
            }
        else:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no tool {name}")
        resp = tool_service_pb2.InvokeToolResponse(duration_us=1)
        dict_to_struct(result, resp.result)
        return resp


class TestModel(llm_service_pb2_grpc.LlmServiceServicer):
    """A model server answering deterministically with known token counts."""

    def __init__(self) -> None:
        self.calls = 0
        self.requests: list[Any] = []

    async def Generate(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self.calls += 1
        self.requests.append(request)
        if request.tools:
            # Native function calling: ask for two tool calls, then answer from their results.
            results = [m for m in request.messages if m.role == "tool"]
            resp = llm_service_pb2.GenerateResponse(
                provider="test",
                model="test-model",
                usage=llm_service_pb2.Usage(input_tokens=5, output_tokens=3),
            )
            if not results:
                resp.finish_reason = "tool_calls"
                for i in (1, 2):
                    dict_to_struct({"n": i}, resp.tool_calls.add(id=f"call-{i}", name="echo").arguments)
            else:
                total = sum(int(struct_to_dict(m.tool_result)["args"]["n"]) for m in results)
                resp.text, resp.finish_reason = f"the tools said {total}", "stop"
            return resp
        return llm_service_pb2.GenerateResponse(
            text=f"answer to: {request.prompt[:40]}",
            provider="test",
            model=request.model or "test-model",
            usage=llm_service_pb2.Usage(input_tokens=11, output_tokens=7),
            cost_usd=0.0001,
        )


@dataclass
class Stack:
    """The running runtime and what tests use to reach it."""

    settings: Settings
    log: EventLog
    stub: pb_grpc.AgentServiceStub
    tools: ToolBehaviour
    model: TestModel
    stop: asyncio.Event
    task: asyncio.Task[None]
    channel: grpc.aio.Channel
    servers: list[grpc.aio.Server]
    extra: list[tuple[asyncio.Event, asyncio.Task[None]]] = field(default_factory=list)

    async def wait_status(self, execution_id: str, statuses: set[str], timeout: float = 15) -> pb.Execution:
        """Poll GetExecution until the status is one of `statuses`."""
        async with asyncio.timeout(timeout):
            while True:
                r = await self.stub.GetExecution(pb.GetExecutionRequest(execution_id=execution_id))
                if pb.ExecutionStatus.Name(r.execution.status) in statuses:
                    return r.execution
                await asyncio.sleep(0.02)

    async def execute(self, type_: str, action: str, input: dict[str, Any], **kw: Any) -> pb.ExecuteResponse:
        """Submit one execution."""
        req = pb.ExecuteRequest(type=type_, action=action, **kw)
        dict_to_struct(input, req.input)
        return await self.stub.Execute(req)

    def worker_process(self, **env: str) -> subprocess.Popen[bytes]:
        """A worker in its own process (`python -m services.runtime worker`), for crash tests."""
        s = self.settings
        base = {
            "NATS_URL": s.nats_url,
            "DATABASE_URL": s.database_url,
            "STREAM_NAME": s.stream_name,
            "SUBJECT_PREFIX": s.subject_prefix,
            "RUNTIME_SCHEMA": s.runtime_schema,
            "TOOLS_ADDR": s.tools_addr,
            "LLM_ADDR": s.llm_addr,
            "AGENT_MODULES": s.agent_modules,
            "WORKER_CONSUMER": s.worker_consumer,
            "WORKER_ACK_WAIT_S": str(s.worker_ack_wait_s),
            "WORKER_HEARTBEAT_S": str(s.worker_heartbeat_s),
            "LOG_LEVEL": "WARNING",
        }
        return subprocess.Popen(
            [sys.executable, "-m", "services.runtime", "worker"], env={**os.environ, **base, **env}
        )

    async def start_worker(self, **overrides: Any) -> tuple[asyncio.Event, asyncio.Task[None]]:
        """Another worker-only runtime on the same stream."""
        s = self.settings.model_copy(update={"runtime_role": "worker", **overrides})
        stop = asyncio.Event()
        ready = asyncio.Event()
        task = asyncio.create_task(serve(s, stop, ready=ready))
        await asyncio.wait_for(ready.wait(), 20)
        self.extra.append((stop, task))
        return stop, task


def _port(server: grpc.aio.Server) -> int:
    return server.add_insecure_port("127.0.0.1:0")


@contextlib.asynccontextmanager
async def runtime_stack(
    eventlog: EventLog, database_url: str, schema: str, **overrides: Any
) -> AsyncIterator[Stack]:
    """Start tools, model and runtime; yield a Stack; stop everything."""
    behaviour = ToolBehaviour()
    model = TestModel()
    tools_server = grpc.aio.server()
    tool_service_pb2_grpc.add_ToolServiceServicer_to_server(TestTools(behaviour), tools_server)
    tools_port = _port(tools_server)
    llm_server = grpc.aio.server()
    llm_service_pb2_grpc.add_LlmServiceServicer_to_server(model, llm_server)
    llm_port = _port(llm_server)
    await tools_server.start()
    await llm_server.start()
    from deploy.local.servers import free_port

    runtime_port = free_port()
    settings = Settings(
        nats_url=eventlog.url,
        database_url=database_url,
        stream_name=eventlog.stream,
        subject_prefix=eventlog.prefix,
        runtime_schema=schema,
        runtime_addr=f"127.0.0.1:{runtime_port}",
        tools_addr=f"127.0.0.1:{tools_port}",
        llm_addr=f"127.0.0.1:{llm_port}",
        agent_modules="services.runtime.tests.agents:ProbeAgent",
        worker_consumer=f"w-{eventlog.prefix}",
        shutdown_grace_s=0.5,
        **overrides,
    )
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop, ready=ready))
    await asyncio.wait_for(ready.wait(), 20)
    channel = internal_channel(settings.runtime_addr, ADMIN)
    stack = Stack(
        settings,
        eventlog,
        pb_grpc.AgentServiceStub(channel),
        behaviour,
        model,
        stop,
        task,
        channel,
        [tools_server, llm_server],
    )
    try:
        yield stack
    finally:
        for s, t in stack.extra:
            s.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t, 10)
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        await channel.close()
        for srv in stack.servers:
            await srv.stop(0)
