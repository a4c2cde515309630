"""The set-based executions projection: any batch size gives the same tables, and the right values."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

from google.protobuf import struct_pb2
from labs.events.v1 import envelope_pb2
from labs.events.v1 import execution_pb2 as x

from labs_core.eventlog import EventLog, new_event
from labs_core.migrations import migrate
from labs_core.projector import Projector, diff, read_checkpoint, rebuild
from labs_core.testing import interleave
from services.runtime.projections.executions import MIGRATIONS, ExecutionsProjection

T0 = 1_700_000_000_000_000_000


def _ev(xid: str, t: int, actor: str = "w", **payload: Any) -> envelope_pb2.Event:
    return new_event("execution", xid, actor=actor, occurred_at_ns=T0 + t * 1_000_000, **payload)


def workload(n: int, rng: random.Random) -> list[envelope_pb2.Event]:
    """Executions going through every path, with their events interleaved."""
    flows = []
    for i in range(n):
        xid, t, evs = f"x{i:04d}", i * 10, []
        req = x.ExecutionRequested(agent_type=rng.choice(["MARKET", "PROBE"]), action="a", task_id=f"t{i}")
        req.input.update({"i": i})
        evs.append(_ev(xid, t, actor=f"user{i % 3}", execution_requested=req))
        kind = i % 7
        if kind == 6:  # cancelled while queued
            evs.append(
                _ev(xid, t + 1, actor="op", execution_cancelled=x.ExecutionCancelled(reason="changed"))
            )
            flows.append(evs)
            continue
        evs.append(_ev(xid, t + 2, execution_started=x.ExecutionStarted(attempt=1, worker_id="w1")))
        tc = x.ToolCallCompleted(
            step=1, tool="get_listings", duration_us=500, outcome=x.CALL_OUTCOME_OK, attempt=1
        )
        tc.arguments.update({"q": i})
        tc.result.update({"n": i * 2})
        evs.append(_ev(xid, t + 3, tool_call_completed=tc))
        if kind in (1, 2):  # a retry
            evs.append(
                _ev(
                    xid,
                    t + 4,
                    attempt_failed=x.AttemptFailed(
                        attempt=1,
                        category=x.ERROR_CATEGORY_TOOL_UNAVAILABLE,
                        message="down",
                        retry_delay_ms=1000,
                        will_retry=True,
                    ),
                )
            )
            evs.append(_ev(xid, t + 5, execution_started=x.ExecutionStarted(attempt=2, worker_id="w2")))
        evs.append(
            _ev(
                xid,
                t + 6,
                model_call_completed=x.ModelCallCompleted(
                    step=2,
                    provider="offline",
                    model="m",
                    tokens_in=10 + i,
                    tokens_out=5,
                    cost_usd=0.001 * i,
                    outcome=x.CALL_OUTCOME_OK,
                    attempt=1,
                ),
            )
        )
        mv = struct_pb2.Value(string_value=f"v{i}")
        evs.append(
            _ev(xid, t + 7, memory_written=x.MemoryWritten(key=f"k{i % 4}", value=mv, step=3, attempt=1))
        )
        evs.append(_ev(xid, t + 7, metric_updated=x.MetricUpdated(name="m", delta=1, step=4, attempt=1)))
        if kind in (0, 1):
            done = x.ExecutionCompleted(attempt=1, phases=x.PhaseTimings(execute_us=1234))
            done.output.update({"ok": True, "i": i})
            evs.append(_ev(xid, t + 8, execution_completed=done))
        elif kind == 2:
            evs.append(
                _ev(
                    xid,
                    t + 8,
                    execution_failed=x.ExecutionFailed(
                        category=x.ERROR_CATEGORY_TOOL_ERROR, message="bad", attempt=2
                    ),
                )
            )
        elif kind == 3:
            evs.append(_ev(xid, t + 8, execution_timed_out=x.ExecutionTimedOut(attempt=1, timeout_ms=3000)))
        elif kind == 4:
            evs.append(
                _ev(xid, t + 8, actor="op", cancellation_requested=x.CancellationRequested(reason="stop"))
            )
            evs.append(_ev(xid, t + 9, execution_cancelled=x.ExecutionCancelled(reason="ignored", attempt=1)))
        else:
            evs.append(
                _ev(
                    xid,
                    t + 8,
                    execution_failed=x.ExecutionFailed(
                        category=x.ERROR_CATEGORY_BUDGET, message="budget", attempt=1
                    ),
                )
            )
        flows.append(evs)
    return interleave(flows, rng)


async def test_batched_equals_one_at_a_time_and_values_are_right(
    eventlog: EventLog, database_url: str, pg, schema
):
    rng = random.Random(7)
    for ev in workload(70, rng):
        await eventlog.append(ev)
    proj = ExecutionsProjection(eventlog.prefix)
    one, many = f"{schema}_one", f"{schema}_many"
    n1 = await rebuild(eventlog, database_url, proj, one, batch_size=1)
    t = time.perf_counter()
    n2 = await rebuild(eventlog, database_url, proj, many, batch_size=1000)
    rate = n2 / (time.perf_counter() - t)
    assert n1 == n2 > 450
    assert await diff(database_url, proj, one, many) == []
    rows = {r["execution_id"]: r for r in await pg.fetch(f"SELECT * FROM {many}.executions")}
    assert len(rows) == 70
    assert rows["x0000"]["status"] == "COMPLETED" and rows["x0000"]["error_category"] is None
    assert rows["x0001"]["status"] == "COMPLETED" and rows["x0001"]["attempts"] == 2
    assert rows["x0001"]["error_category"] is None  # cleared by the completion
    assert rows["x0002"]["status"] == "FAILED" and rows["x0002"]["error_category"] == "TOOL_ERROR"
    assert rows["x0003"]["status"] == "TIMED_OUT" and rows["x0003"]["error_category"] == "TIMEOUT"
    assert rows["x0004"]["status"] == "CANCELLED" and rows["x0004"]["cancel_reason"] == "stop"
    assert rows["x0004"]["cancel_requested_by"] == "op"
    assert rows["x0005"]["status"] == "BUDGET_EXCEEDED"
    assert rows["x0006"]["status"] == "CANCELLED" and rows["x0006"]["attempts"] == 0
    assert rows["x0006"]["cancel_reason"] == "changed" and rows["x0006"]["submitted_by"] == "user0"
    assert rows["x0010"]["tokens_in"] == 20 and rows["x0010"]["tool_call_count"] == 1
    assert rows["x0008"]["started_at"] < rows["x0008"]["finished_at"]
    # Large payloads stay in the log: the rows point at the events that hold them.
    for xid, want in (("x0000", {"ok": True, "i": 0}), ("x0007", {"ok": True, "i": 7})):
        done = (await eventlog.read_at([rows[xid]["output_seq"]]))[rows[xid]["output_seq"]].event
        assert done.aggregate_id == xid and dict(done.execution_completed.output) == want
    assert rows["x0002"]["output_seq"] is None and rows["x0006"]["output_seq"] is None
    calls = await pg.fetch(f"SELECT execution_id, seq FROM {many}.tool_calls")
    got = await eventlog.read_at([c["seq"] for c in calls])
    assert len(calls) == len(got) == 60  # every execution but the ones cancelled while queued
    for c in calls:
        tc = got[c["seq"]].event
        assert tc.aggregate_id == c["execution_id"]
        assert dict(tc.tool_call_completed.arguments) == {"q": int(c["execution_id"][1:])}
    mem = {
        (r["agent_type"], r["key"]): r["value"] for r in await pg.fetch(f"SELECT * FROM {many}.agent_memory")
    }
    # The last write of each key per agent type, by log order.
    assert len(mem) <= 8 and all(v.startswith('"v') for v in mem.values())
    print(f"rebuild: {n2} events at {rate:,.0f} events/s (batch 1000)")


async def test_float_sums_do_not_depend_on_batching(
    eventlog: EventLog, database_url: str, pg, schema
) -> None:
    """Several model calls of one execution in one batch add their costs in log order onto the
    stored value, as one event per batch would (float addition is not associative)."""
    rng = random.Random(3)
    flows = []
    for i in range(12):
        xid = f"f{i}"
        evs = [_ev(xid, 0, execution_requested=x.ExecutionRequested(agent_type="PROBE", action="a"))]
        for k in range(8):
            cost = rng.choice([0.1, 0.2, 0.3, 1e-17, 1 / 3, 0.7]) * (k + 1)
            m = x.ModelCallCompleted(step=k, tokens_in=1, tokens_out=1, cost_usd=cost, attempt=1)
            evs.append(_ev(xid, k + 1, model_call_completed=m))
        flows.append(evs)
    for k in range(9):
        for f in flows:
            await eventlog.append(f[k])
    proj = ExecutionsProjection(eventlog.prefix)
    await rebuild(eventlog, database_url, proj, f"{schema}_1", batch_size=1)
    for size in (5, 13, 1000):
        await rebuild(eventlog, database_url, proj, f"{schema}_{size}", batch_size=size)
        assert await diff(database_url, proj, f"{schema}_1", f"{schema}_{size}") == [], size
    costs = await pg.fetch(f"SELECT cost_usd FROM {schema}_1.executions")
    assert len(costs) == 12 and all(r["cost_usd"] > 0 for r in costs)


async def test_upgrading_to_payloads_in_the_log_replays_the_projection(
    eventlog: EventLog, database_url: str, pg, schema, tmp_path
) -> None:
    """Migration 0004 drops the copied payloads, which only the log can fill in again: the tables
    are emptied and the checkpoint removed, and the projector replays from sequence 1 to the same
    tables a fresh rebuild gives."""
    for ev in workload(14, random.Random(5)):
        await eventlog.append(ev)
    old = tmp_path / "migrations"
    old.mkdir()
    for f in sorted(MIGRATIONS.glob("*.sql"))[:3]:
        (old / f.name).write_text(f.read_text())
    live = f"{schema}_live"
    await migrate(pg, live, old)
    await pg.execute(
        f"INSERT INTO {live}.executions (execution_id, task_id, agent_type, action, input, status, output, "
        "queued_at, version) VALUES ('x0000', 't0', 'MARKET', 'a', '{}', 'COMPLETED', '{\"old\": 1}', now(), 9)"
    )
    await pg.execute(
        f"INSERT INTO {live}.projection_checkpoints (projection, last_sequence) VALUES ('runtime.executions', 9)"
    )
    assert await migrate(pg, live, MIGRATIONS) == ["0004_payloads_in_the_log"]
    assert await pg.fetchval(f"SELECT count(*) FROM {live}.executions") == 0
    assert await read_checkpoint(pg, live, "runtime.executions") == 0

    proj = ExecutionsProjection(eventlog.prefix)
    projector = Projector(eventlog, database_url, live, proj)
    task = asyncio.create_task(projector.run())
    try:
        assert await projector.wait_for(await eventlog.last_sequence(), 10)
    finally:
        projector.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await rebuild(eventlog, database_url, proj, f"{schema}_fresh")
    assert await diff(database_url, proj, live, f"{schema}_fresh") == []
    assert await pg.fetchval(f"SELECT count(*) FROM {live}.executions WHERE output_seq IS NOT NULL") == 4
