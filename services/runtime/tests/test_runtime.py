"""The runtime against real NATS, PostgreSQL and real gRPC tool/model servers."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from labs.agents.v1 import agent_service_pb2 as pb

from labs_core.errors import EventLogUnavailable
from labs_core.eventlog import EventLog
from labs_core.ids import uuid7
from labs_core.projector import Projector
from labs_core.structs import struct_to_dict
from services.runtime.handlers.queries import Presence, Queries
from services.runtime.projections.executions import ExecutionsProjection
from services.runtime.tests.harness import runtime_stack


def _violations(e: grpc.aio.AioRpcError) -> list[str]:
    st = rpc_status.from_call(e)
    out = []
    for d in st.details if st else []:
        br = error_details_pb2.BadRequest()
        if d.Unpack(br):
            out += [v.field for v in br.field_violations]
    return out


async def test_market_analysis_end_to_end_and_read_your_writes(
    eventlog: EventLog, database_url: str, schema: str
):
    async with runtime_stack(eventlog, database_url, schema) as st:
        r = await st.execute("MARKET", "analyze_market", {"category": "electronics"})
        assert r.status == pb.QUEUED and r.execution_id and r.task_id
        first = await st.stub.GetExecution(pb.GetExecutionRequest(execution_id=r.execution_id))
        assert first.execution.execution_id == r.execution_id  # never 404 right after the POST
        e = await st.wait_status(r.execution_id, {"COMPLETED", "FAILED"})
        assert pb.ExecutionStatus.Name(e.status) == "COMPLETED", e.error
        assert [t.tool for t in e.tool_calls] == ["analyze_market_price", "get_listings"]
        assert all(t.outcome == "OK" for t in e.tool_calls)
        assert e.output["category"] == "electronics" and str(e.output["summary"]).startswith("answer to:")
        # The payloads come from the recorded events: the same values the agent saw and returned.
        stats = struct_to_dict(e.tool_calls[0].result)
        assert struct_to_dict(e.tool_calls[0].arguments) == {"category": "electronics", "window_days": 30}
        assert struct_to_dict(e.output)["stats"] == stats
        assert e.token_usage.input == 11 and e.token_usage.output == 7 and e.token_usage.total == 18
        assert len(e.model_calls) == 1 and e.attempts == 1
        assert e.queued_at.seconds and e.started_at.seconds and e.finished_at.seconds
        kinds = [
            x.event.WhichOneof("payload") for x in await eventlog.read_aggregate("execution", r.execution_id)
        ]
        assert kinds == [
            "execution_requested",
            "execution_started",
            "tool_call_completed",
            "tool_call_completed",
            "model_call_completed",
            "metric_updated",
            "execution_completed",
        ]


async def test_request_id_is_idempotent(eventlog: EventLog, database_url: str, schema: str):
    async with runtime_stack(eventlog, database_url, schema, runtime_role="api") as st:
        a = await st.execute("MARKET", "analyze_market", {"category": "books"}, request_id="req-1")
        b = await st.execute("MARKET", "analyze_market", {"category": "books"}, request_id="req-1")
        assert a.execution_id == b.execution_id and a.task_id == b.task_id
        events = await eventlog.read_aggregate("execution", a.execution_id)
        assert [x.event.WhichOneof("payload") for x in events] == ["execution_requested"]
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await st.execute("MARKET", "analyze_market", {"category": "toys"}, request_id="req-1")
        assert ei.value.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("type_", "action", "input", "field"),
    [
        ("NOPE", "x", {}, "type"),
        ("", "x", {}, "type"),
        # Spellings some layer might fold into ADMIN are refused, never interpreted.
        (" ADMIN", "query", {"sql": "SELECT 1"}, "type"),
        ("ADMIN\t", "query", {"sql": "SELECT 1"}, "type"),
        ("ADMIN\u00a0", "query", {"sql": "SELECT 1"}, "type"),
        ("\u3000admin", "query", {"sql": "SELECT 1"}, "type"),
        ("market", "analyze_market", {"category": "electronics"}, "type"),
        ("MARKET", "fly", {}, "action"),
        ("MARKET", "analyze_market", {}, "input"),
        ("MARKET", "analyze_market", {"category": 5}, "input.category"),
        ("MARKET", "analyze_market", {"category": "x", "window_days": 0}, "input.window_days"),
    ],
)
async def test_bad_requests_name_the_field(eventlog, database_url, schema, type_, action, input, field):
    async with runtime_stack(eventlog, database_url, schema, runtime_role="api") as st:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await st.execute(type_, action, input)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in _violations(ei.value)
        # Nothing was appended for the refused request.
        assert await eventlog.pending_count([f"{eventlog.prefix}.execution.>"]) == 0


async def test_get_unknown_is_not_found(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema, runtime_role="api") as st:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await st.stub.GetExecution(pb.GetExecutionRequest(execution_id=uuid7()))
        assert ei.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("bad_id", ["*", ">", "a.b", "nope", "01234567-89ab-cdef-0123-456789ABCDEF", " x"])
async def test_an_id_that_is_not_issued_is_refused_by_every_rpc_before_the_log(
    eventlog, database_url, schema, bad_id
):
    async with runtime_stack(eventlog, database_url, schema, runtime_role="api") as st:
        done = await st.execute("MARKET", "analyze_market", {"category": "electronics"})
        assert done.execution_id
        calls = [
            lambda: st.stub.GetExecution(pb.GetExecutionRequest(execution_id=bad_id)),
            lambda: st.stub.CancelExecution(pb.CancelExecutionRequest(execution_id=bad_id)),
            lambda: st.stub.ListExecutionEvents(pb.ListExecutionEventsRequest(execution_id=bad_id)),
        ]
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as ei:
                await call()
            assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, ei.value.details()
            assert "execution_id" in _violations(ei.value)
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            async for _ in st.stub.FollowExecutionEvents(
                pb.FollowExecutionEventsRequest(execution_id=bad_id)
            ):
                pass
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        # Only the one real request is in the log: the wildcard cancelled nothing.
        cancels = [f"{eventlog.prefix}.execution.*.{t}" for t in ("cancellation_requested", "cancelled")]
        assert await eventlog.pending_count(cancels) == 0


async def test_cancel_queued_then_cancel_again_is_failed_precondition(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema, runtime_role="api") as st:
        r = await st.execute("MARKET", "analyze_market", {"category": "books"})
        c = await st.stub.CancelExecution(
            pb.CancelExecutionRequest(execution_id=r.execution_id, reason="changed mind")
        )
        assert c.status == pb.CANCELLED
        e = await st.wait_status(r.execution_id, {"CANCELLED"})
        assert e.cancellation.reason == "changed mind" and e.attempts == 0
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await st.stub.CancelExecution(pb.CancelExecutionRequest(execution_id=r.execution_id))
        assert ei.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        # A worker arriving later never starts it.
        await st.start_worker()
        await asyncio.sleep(0.5)
        kinds = [
            x.event.WhichOneof("payload") for x in await eventlog.read_aggregate("execution", r.execution_id)
        ]
        assert kinds == ["execution_requested", "execution_cancelled"]


async def test_cancel_running_interrupts_the_tool_within_a_second(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema) as st:
        r = await st.execute("PROBE", "call", {"tool": "slow", "args": {"seconds": 20}})
        await st.wait_status(r.execution_id, {"RUNNING"})
        await asyncio.sleep(0.2)
        t = time.monotonic()
        c = await st.stub.CancelExecution(pb.CancelExecutionRequest(execution_id=r.execution_id))
        assert c.cancellation_requested
        e = await st.wait_status(r.execution_id, {"CANCELLED"}, timeout=5)
        assert time.monotonic() - t < 1.0
        await asyncio.sleep(0.1)
        assert st.tools.slow_cancelled == 1  # the gRPC call was cancelled at the tool too
        assert pb.ExecutionStatus.Name(e.status) == "CANCELLED"


async def test_retry_with_backoff_then_success(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema) as st:
        st.tools.flaky_failures = 2
        r = await st.execute("PROBE", "call", {"tool": "flaky"})
        e = await st.wait_status(r.execution_id, {"COMPLETED", "FAILED"}, timeout=20)
        assert pb.ExecutionStatus.Name(e.status) == "COMPLETED"
        assert e.attempts == 3
        assert [a.error_category for a in e.failed_attempts] == ["TOOL_UNAVAILABLE", "TOOL_UNAVAILABLE"]
        assert [a.retry_delay_ms for a in e.failed_attempts] == [1000, 2000]
        events = await eventlog.read_aggregate("execution", r.execution_id)
        starts = [
            x.event.occurred_at.ToNanoseconds() for x in events if x.event.HasField("execution_started")
        ]
        assert (starts[1] - starts[0]) / 1e9 >= 1.0 and (starts[2] - starts[1]) / 1e9 >= 2.0


async def test_timeout_ends_timed_out(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema) as st:
        r = await st.execute("PROBE", "call", {"tool": "slow", "args": {"seconds": 5}}, timeout_ms=500)
        e = await st.wait_status(r.execution_id, {"TIMED_OUT", "COMPLETED", "FAILED"}, timeout=10)
        assert pb.ExecutionStatus.Name(e.status) == "TIMED_OUT"
        assert e.error.category == "TIMEOUT"


async def test_token_budget_stops_with_budget_exceeded(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema) as st:
        r = await st.execute("PROBE", "think", {}, max_tokens=10)
        e = await st.wait_status(r.execution_id, {"BUDGET_EXCEEDED", "COMPLETED", "FAILED"})
        assert pb.ExecutionStatus.Name(e.status) == "BUDGET_EXCEEDED"
        assert st.model.calls == 1 and e.token_usage.total == 18


async def test_history_and_agents(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema) as st:
        ids = [
            (await st.execute("PROBE", "call", {"tool": "echo", "args": {"i": i}})).execution_id
            for i in range(7)
        ]
        for x in ids:
            await st.wait_status(x, {"COMPLETED"})
        seen: list[str] = []
        token = ""
        while True:
            page = await st.stub.ListExecutionHistory(
                pb.ListExecutionHistoryRequest(agent="PROBE", page_size=3, page_token=token)
            )
            seen += [x.execution_id for x in page.executions]
            token = page.next_page_token
            if not token:
                break
        assert sorted(seen) == sorted(ids) and len(seen) == 7
        assert seen == sorted(ids, reverse=True)  # newest first (UUIDv7 ids sort by time)
        assert page.summary.executions == 7 and page.summary.success_rate == 1.0
        off = await st.stub.ListExecutionHistory(
            pb.ListExecutionHistoryRequest(agent="PROBE", limit=2, offset=5)
        )
        assert [x.execution_id for x in off.executions] == seen[5:7]
        await asyncio.sleep(0.2)  # the worker answers the API's presence ping
        agents = await st.stub.ListAgents(pb.ListAgentsRequest())
        by_type = {a.type: a for a in agents.agents}
        assert {"MARKET", "PROBE"} <= set(by_type)
        assert "get_listings" in by_type["MARKET"].allowed_tools
        assert by_type["PROBE"].availability.workers_online >= 1


async def test_health(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema, runtime_role="api") as st:
        h = await st.stub.Health(pb.HealthRequest())
        assert h.status == "ok" and {c.name for c in h.components} == {"nats", "db"}
        h2 = await st.stub.Health(pb.HealthRequest(component="db"))
        assert [c.name for c in h2.components] == ["db"]


async def test_memory_lasts_across_executions_and_is_not_rewritten_on_retry(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema) as st:
        st.tools.flaky_failures = 1
        r = await st.execute(
            "PROBE", "remember", {"key": "favourite", "value": {"colour": "teal", "n": 3}, "fail_after": True}
        )
        e = await st.wait_status(r.execution_id, {"COMPLETED", "FAILED"}, timeout=20)
        assert pb.ExecutionStatus.Name(e.status) == "COMPLETED" and e.attempts == 2
        assert struct_to_dict(e.output)["recalled"]["colour"] == "teal"
        events = await eventlog.read_aggregate("execution", r.execution_id)
        writes = [x.event.memory_written for x in events if x.event.HasField("memory_written")]
        assert len(writes) == 1 and writes[0].key == "favourite"  # the retry replayed it
        r2 = await st.execute("PROBE", "recall", {"key": "favourite"})
        e2 = await st.wait_status(r2.execution_id, {"COMPLETED", "FAILED"})
        assert struct_to_dict(e2.output)["value"] == {"colour": "teal", "n": 3}
        r3 = await st.execute("PROBE", "recall", {"key": "unknown"})
        e3 = await st.wait_status(r3.execution_id, {"COMPLETED", "FAILED"})
        assert e3.output["value"] == "nothing"


async def test_autonomous_mode_calls_two_tools_then_answers(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema) as st:
        r = await st.execute("PROBE", "auto", {"goal": "add up what echo says"})
        e = await st.wait_status(r.execution_id, {"COMPLETED", "FAILED"})
        assert pb.ExecutionStatus.Name(e.status) == "COMPLETED", e.error
        out = struct_to_dict(e.output)
        assert out["answer"] == "the tools said 3" and out["stopped"] == "answered" and out["turns"] == 2
        assert [t.tool for t in e.tool_calls] == ["echo", "echo"] and len(e.model_calls) == 2
        # The second model turn saw the conversation: goal, the assistant's calls, two results.
        roles = [m.role for m in st.model.requests[-1].messages]
        assert roles == ["user", "assistant", "tool", "tool"]
        assert {t.name for t in st.model.requests[-1].tools} == {"echo", "flaky"}
        events = await eventlog.read_aggregate("execution", r.execution_id)
        first_model = next(
            x.event.model_call_completed for x in events if x.event.HasField("model_call_completed")
        )
        assert [c.name for c in first_model.tool_calls] == ["echo", "echo"]  # recorded for replay


async def test_autonomous_mode_validates_its_input(eventlog, database_url, schema):
    async with runtime_stack(eventlog, database_url, schema, runtime_role="api") as st:
        with pytest.raises(grpc.aio.AioRpcError) as ei:
            await st.execute("PROBE", "auto", {"max_steps": 3})
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "input" in _violations(ei.value)


async def test_only_an_admin_cancels_an_admin_execution(eventlog: EventLog) -> None:
    from labs.events.v1 import execution_pb2

    from labs_core.errors import PermissionDenied
    from labs_core.eventlog import new_event
    from labs_core.ids import derived_id
    from services.runtime.domain.registry import AgentRegistry
    from services.runtime.handlers.commands import CancelCommand, Commands

    cmds = Commands(eventlog, AgentRegistry())
    adm1, adm2 = derived_id("adm-1"), derived_id("adm-2")
    for xid in (adm1, adm2):
        req = execution_pb2.ExecutionRequested(agent_type="ADMIN", action="query")
        await eventlog.append(new_event("execution", xid, execution_requested=req), expected_sequence=0)
    with pytest.raises(PermissionDenied):
        await cmds.cancel(CancelCommand(adm1, role="operator"))
    assert (await cmds.cancel(CancelCommand(adm1, actor="root", role="admin"))).status == "CANCELLED"
    cancelled = (await eventlog.read_aggregate("execution", adm1))[-1].event
    assert (cancelled.actor, cancelled.actor_role) == ("root", "admin")
    # No role is no authority: nobody is trusted for being inside.
    with pytest.raises(PermissionDenied):
        await cmds.cancel(CancelCommand(adm2))


async def test_a_read_model_pointing_at_another_executions_event_is_refused(
    eventlog: EventLog, database_url: str, schema: str, pg
) -> None:
    """GetExecution reads the output from the log at the sequence the read model keeps; if that
    event is not this execution's (a read model built from another log), it says so instead of
    answering with another execution's data."""
    async with runtime_stack(eventlog, database_url, schema) as st:
        a = await st.execute("MARKET", "analyze_market", {"category": "electronics"})
        b = await st.execute("MARKET", "analyze_market", {"category": "electronics", "window_days": 7})
        for x in (a, b):
            await st.wait_status(x.execution_id, {"COMPLETED"})
        await pg.execute(
            f"UPDATE {schema}.executions SET output_seq = "
            f"(SELECT output_seq FROM {schema}.executions WHERE execution_id = $2) WHERE execution_id = $1",
            a.execution_id,
            b.execution_id,
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await st.stub.GetExecution(pb.GetExecutionRequest(execution_id=a.execution_id))
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert a.execution_id in (err.value.details() or "")


async def test_without_the_log_the_execution_view_says_the_log_is_unavailable(
    eventlog: EventLog, database_url: str, schema: str
) -> None:
    """The output and tool-call payloads are read from the log: with no connection to it, the
    view is refused as unavailable, naming the execution and the log, not answered without them."""
    async with runtime_stack(eventlog, database_url, schema) as st:
        r = await st.execute("MARKET", "analyze_market", {"category": "electronics"})
        await st.wait_status(r.execution_id, {"COMPLETED"})
    closed = await EventLog.connect(eventlog.url, stream=eventlog.stream, prefix=eventlog.prefix)
    await closed.close()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        queries = Queries(
            pool,
            schema,
            closed,
            Projector(closed, database_url, schema, ExecutionsProjection(closed.prefix)),
            Presence(),
        )
        with pytest.raises(EventLogUnavailable) as err:
            await queries.get_execution(r.execution_id)
        assert r.execution_id in str(err.value) and "event log" in str(err.value)
    finally:
        await pool.close()


async def test_the_runtime_checks_the_callers_role_and_runs_with_it(eventlog, database_url, schema):
    """Issue 12 finding 3: the runtime did not check roles on Execute, and an execution's tool
    calls carried no caller. Now an operator cannot run ADMIN here either (not only at the
    gateway), a caller with the secret but no role runs nothing, and the worker calls tools as the
    requester, with its role and the services' secret."""
    from labs.agents.v1 import agent_service_pb2_grpc as pb_grpc

    from labs_core.auth import Identity
    from labs_core.testing import internal_channel

    async with runtime_stack(eventlog, database_url, schema) as st:
        addr = st.settings.runtime_addr
        for identity, code in (
            (Identity("ops", "operator"), "PERMISSION_DENIED"),
            (None, "PERMISSION_DENIED"),
        ):
            async with internal_channel(addr, identity) as ch:
                req = pb.ExecuteRequest(type="ADMIN", action="query")
                req.input.update({"sql": "SELECT 1"})
                with pytest.raises(grpc.aio.AioRpcError) as ei:
                    await pb_grpc.AgentServiceStub(ch).Execute(req, timeout=10)
                assert ei.value.code().name == code, identity
        async with internal_channel(addr, Identity("ops", "operator")) as ch:
            req = pb.ExecuteRequest(type="PROBE", action="call")
            req.input.update({"tool": "echo", "args": {"n": 1}})
            r = await pb_grpc.AgentServiceStub(ch).Execute(req, timeout=10)
        e = await st.wait_status(r.execution_id, {"COMPLETED", "FAILED"})
        assert pb.ExecutionStatus.Name(e.status) == "COMPLETED", e.error
        first = (await eventlog.read_aggregate("execution", r.execution_id))[0].event
        assert (first.actor, first.actor_role) == ("ops", "operator")
        assert st.tools.callers[-1] == ("ops", "operator", True)
