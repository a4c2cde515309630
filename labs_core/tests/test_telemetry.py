"""/metrics on every service, scraped over HTTP after real traffic (services started by their serve())."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import aiohttp
import grpc
import pytest
from labs.agents.v1 import agent_service_pb2 as pb
from prometheus_client.parser import text_string_to_metric_families

from labs_core import telemetry
from labs_core.eventlog import EventLog
from labs_core.testing import unique
from services.runtime.tests.harness import runtime_stack

pytestmark = pytest.mark.timeout(60)


async def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics page, keyed by (name, labels)."""
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    return {
        (smp.name, frozenset(smp.labels.items())): smp.value
        for fam in text_string_to_metric_families(text)
        for smp in fam.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sample with exactly these labels (KeyError when absent)."""
    return samples[(name, frozenset(labels.items()))]


@contextlib.asynccontextmanager
async def served(
    serve: Callable[..., Coroutine[Any, Any, None]], settings: Any, name: str
) -> AsyncIterator[int]:
    """Run a service's serve() until the block ends; yield its /metrics port."""
    telemetry.bound_ports.pop(name, None)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        async with asyncio.timeout(20):
            while name not in telemetry.bound_ports:
                if task.done():
                    await task
                await asyncio.sleep(0.02)
        yield telemetry.bound_ports[name]
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_runtime_metrics_after_traffic(
    eventlog: EventLog, database_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RUNTIME_METRICS_HTTP_PORT", "0")
    telemetry.bound_ports.pop("runtime", None)
    async with runtime_stack(eventlog, database_url, schema) as st:
        port = telemetry.bound_ports["runtime"]
        before = await scrape(port)
        svc = "labs.agents.v1.AgentService"

        def handled(s: dict[Any, float], method: str, code: str) -> float:
            return s.get(
                (
                    "labs_grpc_server_handled_total",
                    frozenset({"grpc_service": svc, "grpc_method": method, "grpc_code": code}.items()),
                ),
                0.0,
            )

        r = await st.execute("MARKET", "analyze_market", {"category": "electronics"})
        await st.wait_status(r.execution_id, {"COMPLETED"})
        with pytest.raises(grpc.aio.AioRpcError):
            await st.stub.GetExecution(
                pb.GetExecutionRequest(execution_id="00000000-0000-7000-8000-000000000000")
            )
        events = [
            m
            async for m in st.stub.FollowExecutionEvents(
                pb.FollowExecutionEventsRequest(execution_id=r.execution_id)
            )
        ]
        after = await scrape(port)
        assert handled(after, "Execute", "OK") == handled(before, "Execute", "OK") + 1
        assert handled(after, "GetExecution", "NOT_FOUND") == handled(before, "GetExecution", "NOT_FOUND") + 1
        assert handled(after, "FollowExecutionEvents", "OK") >= 1
        assert (
            value(after, "labs_grpc_server_handling_seconds_count", grpc_service=svc, grpc_method="Execute")
            >= 1
        )
        last = events[-1].event.sequence
        proj = {"projection": "runtime.executions", "schema": schema}
        async with asyncio.timeout(5):
            while value(after, "labs_projection_checkpoint", **proj) < last:
                after = await scrape(port)
        assert value(after, "labs_projection_lag_events", **proj) == 0
        assert value(after, "labs_projection_lag_seconds_count", **proj) >= 1
        assert value(after, "labs_projection_events_applied_total", **proj) >= len(events)
        assert value(after, "labs_eventlog_last_sequence") >= last
        assert value(after, "labs_worker_executions_running") == 0
        done = ("labs_executions_finished_total", frozenset({"status": "COMPLETED"}.items()))
        assert after[done] >= before.get(done, 0) + 1
        assert value(
            after, "labs_eventlog_append_seconds_count", aggregate_type="execution", result="ok"
        ) >= len(events)
        assert value(after, "labs_execution_attempts_started_total") >= 1
        assert ("process_resident_memory_bytes", frozenset()) in after


async def test_metrics_tools_llm_and_gateway_serve_metrics(
    eventlog: EventLog, database_url: str, monkeypatch: pytest.MonkeyPatch
):
    from services.gateway.bootstrap import serve as gateway_serve
    from services.gateway.config import Settings as GatewaySettings
    from services.llm.bootstrap import serve as llm_serve
    from services.llm.config import Settings as LlmSettings
    from services.metrics.bootstrap import serve as metrics_serve
    from services.metrics.config import Settings as MetricsSettings
    from services.tools.bootstrap import serve as tools_serve
    from services.tools.config import Settings as ToolsSettings

    for name in ("metrics", "tools", "llm", "gateway"):
        monkeypatch.setenv(f"{name.upper()}_METRICS_HTTP_PORT", "0")
    common: dict[str, Any] = dict(
        nats_url=eventlog.url,
        database_url=database_url,
        stream_name=eventlog.stream,
        subject_prefix=eventlog.prefix,
    )
    cases: list[tuple[str, Callable[..., Coroutine[Any, Any, None]], Any, str]] = [
        (
            "metrics",
            metrics_serve,
            MetricsSettings(**common, metrics_schema=unique("m_"), metrics_addr="127.0.0.1:0"),
            "metrics.execution_rollups",
        ),
        (
            "tools",
            tools_serve,
            ToolsSettings(**common, tools_schema=unique("t_"), tools_addr="127.0.0.1:0", catalogue_size=5),
            "tools.listings",
        ),
        ("llm", llm_serve, LlmSettings(**common, llm_addr="127.0.0.1:0"), ""),
        (
            "gateway",
            gateway_serve,
            GatewaySettings(**common, gateway_grpc_addr="127.0.0.1:0", http_port=0),
            "",
        ),
    ]
    for name, serve, settings, projection in cases:
        async with served(serve, settings, name) as port:
            samples = await scrape(port)
            assert ("process_cpu_seconds_total", frozenset()) in samples, name
            async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
                families = {f.name for f in text_string_to_metric_families(await r.text())}
            assert {
                "labs_grpc_server_handled",
                "labs_grpc_server_handling_seconds",
                "labs_eventlog_append_seconds",
                "labs_projection_checkpoint",
                "labs_worker_executions_running",
            } <= families, name
            if projection:
                async with asyncio.timeout(10):
                    while not any(
                        n == "labs_projection_checkpoint" and ("projection", projection) in lbl
                        for n, lbl in samples
                    ):
                        await asyncio.sleep(0.05)
                        samples = await scrape(port)


async def test_metrics_server_answers_only_metrics_and_drops_garbage() -> None:
    import asyncio

    from labs_core import telemetry

    async with telemetry.serving() as port:

        async def ask(raw: bytes) -> bytes:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(raw)
            await w.drain()
            data = await r.read()
            w.close()
            return data

        ok = await ask(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 OK") and b"labs_grpc_server_handled_total" in ok
        assert (await ask(b"GET /other HTTP/1.1\r\n\r\n")).startswith(b"HTTP/1.1 404")
        assert await ask(b"garbage\r\n\r\n") == b""
