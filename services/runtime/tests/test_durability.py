"""Crash and flow-control tests: a worker SIGKILLed mid-execution, and the per-worker limit."""

from __future__ import annotations

import asyncio
import os
import signal

from labs.agents.v1 import agent_service_pb2 as pb

from labs_core.eventlog import EventLog
from services.runtime.tests.harness import runtime_stack

TERMINAL = {"execution_completed", "execution_failed", "execution_timed_out", "execution_cancelled"}


async def test_worker_killed_mid_execution_is_finished_by_another_without_repeating_side_effects(
    eventlog: EventLog, database_url: str, schema: str
) -> None:
    async with runtime_stack(
        eventlog, database_url, schema, runtime_role="api", worker_ack_wait_s=2.0, worker_heartbeat_s=0.5
    ) as st:
        a = st.worker_process()
        try:
            # Step 1 is recorded quickly; step 2 performs its effect, then answers slowly.
            r = await st.execute(
                "PROBE", "call", {"tool": "side_effect", "args": {"seconds": 1.5}, "times": 2}
            )
            key1, key2 = f"{r.execution_id}:1", f"{r.execution_id}:2"
            async with asyncio.timeout(20):
                while key2 not in st.tools.side_effect_calls:
                    await asyncio.sleep(0.02)
            os.kill(a.pid, signal.SIGKILL)
            a.wait(10)
        finally:
            if a.poll() is None:
                a.kill()
        b = st.worker_process()
        try:
            e = await st.wait_status(r.execution_id, {"COMPLETED", "FAILED"}, timeout=30)
        finally:
            b.send_signal(signal.SIGTERM)
            b.wait(15)
        assert pb.ExecutionStatus.Name(e.status) == "COMPLETED", e.error
        assert st.tools.side_effects == {key1: 1, key2: 1}  # each effect happened once
        assert st.tools.side_effect_calls[key1] == 1  # step 1 was replayed from the log, not re-invoked
        assert st.tools.side_effect_calls[key2] == 2  # step 2 was re-invoked with the same key
        events = await eventlog.read_aggregate("execution", r.execution_id)
        kinds = [x.event.WhichOneof("payload") for x in events]
        assert sum(k in TERMINAL for k in kinds) == 1
        failed = [x.event.attempt_failed for x in events if x.event.HasField("attempt_failed")]
        assert [f.category for f in failed] == [6]  # ERROR_CATEGORY_WORKER_LOST
        assert e.attempts == 2


async def test_one_worker_runs_at_most_ten_at_once(
    eventlog: EventLog, database_url: str, schema: str
) -> None:
    async with runtime_stack(eventlog, database_url, schema) as st:
        ids = [
            (await st.execute("PROBE", "call", {"tool": "slow", "args": {"seconds": 0.4}})).execution_id
            for _ in range(25)
        ]
        for x in ids:
            e = await st.wait_status(x, {"COMPLETED", "FAILED"}, timeout=30)
            assert pb.ExecutionStatus.Name(e.status) == "COMPLETED"
        assert st.tools.max_in_flight_slow == 10


async def _wait_event(eventlog: EventLog, xid: str, kind: str, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while True:
            events = await eventlog.read_aggregate("execution", xid)
            if any(x.event.HasField(kind) for x in events):
                return
            await asyncio.sleep(0.02)


async def test_a_retry_survives_a_worker_restart(eventlog: EventLog, database_url: str, schema: str) -> None:
    async with runtime_stack(
        eventlog, database_url, schema, runtime_role="api", worker_ack_wait_s=2.0, worker_heartbeat_s=0.5
    ) as st:
        st.tools.flaky_failures = 1
        a = st.worker_process()
        try:
            r = await st.execute("PROBE", "call", {"tool": "flaky"})
            await _wait_event(eventlog, r.execution_id, "attempt_failed")
            os.kill(a.pid, signal.SIGKILL)  # the retry now waits in the broker, not in a process
            a.wait(10)
        finally:
            if a.poll() is None:
                a.kill()
        b = st.worker_process()
        try:
            e = await st.wait_status(r.execution_id, {"COMPLETED", "FAILED"}, timeout=30)
        finally:
            b.send_signal(signal.SIGTERM)
            b.wait(15)
        assert pb.ExecutionStatus.Name(e.status) == "COMPLETED" and e.attempts == 2
        assert [f.retry_delay_ms for f in e.failed_attempts] == [1000]


async def test_a_cancel_survives_a_worker_restart(eventlog: EventLog, database_url: str, schema: str) -> None:
    async with runtime_stack(
        eventlog, database_url, schema, runtime_role="api", worker_ack_wait_s=2.0, worker_heartbeat_s=0.5
    ) as st:
        a = st.worker_process()
        try:
            r = await st.execute("PROBE", "call", {"tool": "slow", "args": {"seconds": 30}})
            await _wait_event(eventlog, r.execution_id, "execution_started")
            os.kill(a.pid, signal.SIGKILL)
            a.wait(10)
        finally:
            if a.poll() is None:
                a.kill()
        # Nobody runs it now: the request is recorded and waits for whoever picks the message up.
        c = await st.stub.CancelExecution(
            pb.CancelExecutionRequest(execution_id=r.execution_id, reason="stop")
        )
        assert c.cancellation_requested and c.status == pb.RUNNING
        b = st.worker_process()
        try:
            e = await st.wait_status(r.execution_id, {"CANCELLED", "COMPLETED", "FAILED"}, timeout=30)
        finally:
            b.send_signal(signal.SIGTERM)
            b.wait(15)
        assert pb.ExecutionStatus.Name(e.status) == "CANCELLED" and e.cancellation.reason == "stop"
        kinds = [
            x.event.WhichOneof("payload") for x in await eventlog.read_aggregate("execution", r.execution_id)
        ]
        assert sum(k in TERMINAL for k in kinds) == 1 and kinds.count("execution_started") == 1
