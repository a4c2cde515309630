"""Audit API against the real runtime: history pages, events from the log, live follow and resume."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from labs.agents.v1 import agent_service_pb2 as pb

from labs_core.eventlog import EventLog
from services.runtime.tests.harness import runtime_stack

pytestmark = pytest.mark.timeout(60)


async def test_history_pages_over_250_executions_lose_and_repeat_nothing(
    eventlog: EventLog, database_url: str, schema: str
):
    async with runtime_stack(eventlog, database_url, schema, runtime_role="api") as st:
        ids = []
        for i in range(250):
            r = await st.execute("MARKET", "analyze_market", {"category": f"c{i % 7}"})
            ids.append(r.execution_id)
        await st.wait_status(ids[-1], {"QUEUED"})
        seen: list[str] = []
        token = ""
        pages = 0
        while True:
            page = await st.stub.ListExecutionHistory(
                pb.ListExecutionHistoryRequest(agent="MARKET", page_size=37, page_token=token)
            )
            seen += [e.execution_id for e in page.executions]
            pages += 1
            token = page.next_page_token
            if not token:
                break
        assert pages == 7 and len(seen) == 250 and set(seen) == set(ids)
        # limit/offset (the seed's clients) cover the same rows exactly once as well.
        by_offset: list[str] = []
        for off in range(0, 250, 100):
            page = await st.stub.ListExecutionHistory(
                pb.ListExecutionHistoryRequest(agent="MARKET", limit=100, offset=off)
            )
            by_offset += [e.execution_id for e in page.executions]
        assert by_offset == seen


async def test_list_execution_events_pages_from_the_log_and_404(
    eventlog: EventLog, database_url: str, schema: str
):
    async with runtime_stack(eventlog, database_url, schema) as st:
        r = await st.execute("MARKET", "analyze_market", {"category": "electronics"})
        await st.wait_status(r.execution_id, {"COMPLETED"})
        full = await st.stub.ListExecutionEvents(pb.ListExecutionEventsRequest(execution_id=r.execution_id))
        stored = await eventlog.read_aggregate("execution", r.execution_id)
        assert [e.sequence for e in full.events] == [s.sequence for s in stored]
        assert full.events[0].type == "execution_requested"
        assert full.events[-1].type == "execution_completed" and full.finished
        assert full.next_from_sequence == 0 and full.next_page_token == ""
        first = full.events[0]
        assert first.actor == "test-admin" and first.payload["agentType"] == "MARKET"
        assert first.payload["input"]["category"] == "electronics" and first.time.seconds > 0
        tool = next(e for e in full.events if e.type == "tool_call_completed")
        assert tool.payload["outcome"] == "CALL_OUTCOME_OK" and "durationUs" in tool.payload
        # Pages of 2, by token and by sequence: the same events, none twice.
        got: list[int] = []
        token = ""
        while True:
            page = await st.stub.ListExecutionEvents(
                pb.ListExecutionEventsRequest(execution_id=r.execution_id, page_size=2, page_token=token)
            )
            assert len(page.events) <= 2
            got += [e.sequence for e in page.events]
            token = page.next_page_token
            if not token:
                break
        assert got == [e.sequence for e in full.events]
        tail = await st.stub.ListExecutionEvents(
            pb.ListExecutionEventsRequest(execution_id=r.execution_id, from_sequence=got[3], page_size=2)
        )
        assert [e.sequence for e in tail.events] == got[3:5] and tail.next_from_sequence == got[5]
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await st.stub.ListExecutionEvents(
                pb.ListExecutionEventsRequest(execution_id="00000000-0000-7000-8000-000000000000")
            )
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await st.stub.ListExecutionEvents(
                pb.ListExecutionEventsRequest(execution_id=r.execution_id, page_size=5000)
            )
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "page_size" in (e.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await st.stub.ListExecutionEvents(
                pb.ListExecutionEventsRequest(execution_id=r.execution_id, page_token="garbage")
            )
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_follow_resumes_after_a_disconnect_losing_and_repeating_nothing(
    eventlog: EventLog, database_url: str, schema: str
):
    async with runtime_stack(eventlog, database_url, schema) as st:
        r = await st.execute("PROBE", "call", {"tool": "slow", "args": {"seconds": 0.15}, "times": 6})
        xid = r.execution_id
        first: list[pb.ExecutionEvent] = []
        call = st.stub.FollowExecutionEvents(pb.FollowExecutionEventsRequest(execution_id=xid))
        async for msg in call:
            first.append(msg.event)
            if len(first) == 3:
                break
        call.cancel()  # the client goes away mid-execution
        assert [e.type for e in first][:2] == ["execution_requested", "execution_started"]
        rest: list[pb.ExecutionEvent] = []
        resumed = st.stub.FollowExecutionEvents(
            pb.FollowExecutionEventsRequest(execution_id=xid, from_sequence=first[-1].sequence + 1)
        )
        async with asyncio.timeout(20):
            async for msg in resumed:  # ends by itself after the terminal event
                rest.append(msg.event)
        assert rest[-1].type == "execution_completed"
        full = await st.stub.ListExecutionEvents(pb.ListExecutionEventsRequest(execution_id=xid))
        union = [e.sequence for e in first + rest]
        assert union == [e.sequence for e in full.events] and len(set(union)) == len(union)
        assert [e.type for e in first + rest] == [e.type for e in full.events]
        # Following a finished execution replays it and ends; past its end there is nothing.
        replay = [
            m.event.sequence
            async for m in st.stub.FollowExecutionEvents(pb.FollowExecutionEventsRequest(execution_id=xid))
        ]
        assert replay == union
        past = [
            m
            async for m in st.stub.FollowExecutionEvents(
                pb.FollowExecutionEventsRequest(execution_id=xid, from_sequence=union[-1] + 1)
            )
        ]
        assert past == []
        with pytest.raises(grpc.aio.AioRpcError) as e:
            async for _ in st.stub.FollowExecutionEvents(
                pb.FollowExecutionEventsRequest(execution_id="00000000-0000-7000-8000-000000000000")
            ):
                pass
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
