"""The recorder: decisions with optimistic concurrency, records written behind in order."""

from __future__ import annotations

import pytest
from labs.events.v1 import execution_pb2

from labs_core.errors import ConcurrencyConflict, EventLogUnavailable
from labs_core.eventlog import EventLog, new_event
from services.runtime.domain.state import ExecutionState, fold
from services.runtime.worker.recorder import Recorder


async def _requested(log: EventLog, xid: str) -> Recorder:
    ev = new_event(
        "execution",
        xid,
        execution_requested=execution_pb2.ExecutionRequested(agent_type="MARKET", action="analyze_market"),
    )
    r = await log.append(ev, expected_sequence=0)
    state = ExecutionState(xid)
    state.apply_stored(r.sequence, ev)
    return Recorder(log, state, actor="worker:test")


def _tool(step: int) -> execution_pb2.ToolCallCompleted:
    return execution_pb2.ToolCallCompleted(
        step=step, tool="get_listings", attempt=1, outcome=execution_pb2.CALL_OUTCOME_OK
    )


async def test_records_are_stored_in_order_before_the_next_decision(eventlog: EventLog) -> None:
    rec = await _requested(eventlog, "x-order")
    await rec.append("1:started", execution_started=execution_pb2.ExecutionStarted(attempt=1, worker_id="w"))
    for step in (1, 2, 3):
        rec.record(f"1:tool:{step}", tool_call_completed=_tool(step))
    # Folded at once: a replay lookup or a budget check sees them before they are stored.
    assert sorted(rec.state.tool_calls) == [1, 2, 3]
    seq = await rec.append("completed", execution_completed=execution_pb2.ExecutionCompleted(attempt=1))

    stored = await eventlog.read_aggregate("execution", "x-order")
    kinds = [e.event.WhichOneof("payload") for e in stored]
    assert kinds == ["execution_requested", "execution_started"] + ["tool_call_completed"] * 3 + [
        "execution_completed"
    ]
    assert [e.event.tool_call_completed.step for e in stored[2:5]] == [1, 2, 3]
    assert stored[-1].sequence == seq == rec.state.last_sequence
    assert fold("x-order", stored).tool_calls.keys() == rec.state.tool_calls.keys()


async def test_a_decision_still_detects_another_writer_after_records(eventlog: EventLog) -> None:
    rec = await _requested(eventlog, "x-race")
    await rec.append("1:started", execution_started=execution_pb2.ExecutionStarted(attempt=1, worker_id="w"))
    rec.record("1:tool:1", tool_call_completed=_tool(1))
    await rec.flush()
    # A cancellation lands from elsewhere.
    await eventlog.append(
        new_event(
            "execution", "x-race", cancellation_requested=execution_pb2.CancellationRequested(reason="stop")
        ),
    )
    with pytest.raises(ConcurrencyConflict):
        await rec.append("completed", execution_completed=execution_pb2.ExecutionCompleted(attempt=1))
    state = await rec.refresh()
    assert state.cancel_requested and 1 in state.tool_calls


async def test_a_record_that_could_not_be_stored_fails_the_next_call_and_the_decision(
    eventlog: EventLog,
) -> None:
    rec = await _requested(eventlog, "x-lost")
    await eventlog.js.delete_stream(eventlog.stream)  # the log is gone: nothing can be stored
    rec.record("1:tool:1", tool_call_completed=_tool(1))
    with pytest.raises(EventLogUnavailable):
        await rec.flush()
    await eventlog.ensure_stream()  # back, but the lost record is not silently skipped:
    rec.record("1:tool:2", tool_call_completed=_tool(2))
    await rec.flush()
    stored = await eventlog.read_aggregate("execution", "x-lost")
    assert [e.event.tool_call_completed.step for e in stored] == [2]
