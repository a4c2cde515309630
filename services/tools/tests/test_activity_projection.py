"""The set-based activity projection equals applying each event on its own, for any batch size."""

from __future__ import annotations

import random
from typing import Any

import asyncpg
from labs.events.v1 import envelope_pb2, llm_pb2
from labs.events.v1 import execution_pb2 as x

from labs_core.eventlog import EventLog, new_event
from labs_core.migrations import migrate
from labs_core.projector import diff, rebuild
from labs_core.testing import interleave
from services.tools.adapters.listing_events import occurred_ns
from services.tools.projections.activity import TERMINAL, ActivityProjection
from services.tools.projections.listings import ns_to_datetime

T0 = 1_700_000_000_000_000_000


def _ev(xid: str, t: int, actor: str = "u", **payload: Any) -> envelope_pb2.Event:
    return new_event("execution", xid, actor=actor, occurred_at_ns=T0 + t * 1_000_000, **payload)


def _llm(call: str, xid: str, t: int, tin: int, cost: float) -> envelope_pb2.Event:
    rec = llm_pb2.ModelCallRecorded(provider="p", model="m", input_tokens=tin, output_tokens=2, cost_usd=cost)
    return new_event(
        "llmcall", call, correlation_id=xid, occurred_at_ns=T0 + t * 1_000_000, model_call_recorded=rec
    )


def _mc(xid: str, t: int, tin: int, cost: float) -> envelope_pb2.Event:
    return _ev(xid, t, model_call_completed=x.ModelCallCompleted(tokens_in=tin, tokens_out=3, cost_usd=cost))


def workload(n: int, rng: random.Random) -> list[envelope_pb2.Event]:
    """Executions with several events each, out-of-order and duplicate events among them."""
    flows: list[list[envelope_pb2.Event]] = []
    for i in range(n):
        xid, t = f"x{i:03d}", i * 20
        req = _ev(
            xid,
            t,
            actor="" if i % 5 == 0 else f"user{i % 3}",
            execution_requested=x.ExecutionRequested(agent_type="market", action="a"),
        )
        evs: list[envelope_pb2.Event] = []
        if i % 4 == 1:  # events before the request change nothing
            evs += [
                _llm(f"early{i}", xid, t, 5, 0.5),
                _ev(xid, t, execution_started=x.ExecutionStarted(attempt=1)),
            ]
        evs.append(req)
        evs.append(_ev(xid, t + 1, execution_started=x.ExecutionStarted(attempt=1)))
        for k in range(i % 4):
            evs.append(_mc(xid, t + 2 + k, 10 + k, 0.1 * (k + 1) + i / 7))
            evs.append(_llm(f"c{i}-{k}", xid, t + 2 + k, 11 + k, 0.3 / (k + 1) + i / 9))
        if i % 6 == 2:  # a retry: started again
            evs.append(_ev(xid, t + 8, execution_started=x.ExecutionStarted(attempt=2)))
        terminal: list[tuple[str, Any]] = [
            ("execution_completed", x.ExecutionCompleted()),
            ("execution_failed", x.ExecutionFailed(message="bad")),
            ("execution_timed_out", x.ExecutionTimedOut(timeout_ms=5)),
            ("execution_cancelled", x.ExecutionCancelled(reason="r")),
        ]
        kind, msg = terminal[i % 4]
        evs.append(_ev(xid, t + 9, **{kind: msg}))
        if i % 3 == 0:  # a second terminal event and a late start: the first end stays
            k2, m2 = terminal[(i + 1) % 4]
            evs += [
                _ev(xid, t + 10, **{k2: m2}),
                _ev(xid, t + 11, execution_started=x.ExecutionStarted(attempt=3)),
            ]
            evs.append(_llm(f"late{i}", xid, t + 12, 1, 0.01))
        if i % 7 == 3:  # a second request of the same id
            evs.append(
                _ev(xid, t + 13, actor="other", execution_requested=x.ExecutionRequested(agent_type="x"))
            )
        flows.append(evs)
    flows.append([_ev("ghost", 1, execution_started=x.ExecutionStarted(attempt=1)), _mc("ghost", 2, 1, 1.0)])
    flows.append([_llm("nobody", "", 3, 1, 1.0), _llm("unknown", "nope", 3, 1, 1.0)])
    return interleave(flows, rng)


async def _one_by_one(conn: asyncpg.Connection, events: list[envelope_pb2.Event]) -> None:
    """The reference: each event as its own statement, as the projection used to apply them."""
    for ev in events:
        kind = ev.WhichOneof("payload")
        at = ns_to_datetime(occurred_ns(ev))
        eid = ev.aggregate_id
        if kind == "model_call_recorded":
            if ev.correlation_id:
                m = ev.model_call_recorded
                await conn.execute(
                    "UPDATE activity_executions SET proxy_calls = proxy_calls + 1, "
                    "proxy_tokens_in = proxy_tokens_in + $2, proxy_tokens_out = proxy_tokens_out + $3, "
                    "proxy_cost_usd = proxy_cost_usd + $4 WHERE execution_id = $1",
                    ev.correlation_id,
                    m.input_tokens,
                    m.output_tokens,
                    m.cost_usd,
                )
        elif kind == "execution_requested":
            r = ev.execution_requested
            await conn.execute(
                "INSERT INTO activity_executions (execution_id, actor, agent_type, action, status, requested_at) "
                "VALUES ($1, $2, $3, $4, 'queued', $5) ON CONFLICT (execution_id) DO NOTHING",
                eid,
                ev.actor or "anonymous",
                r.agent_type.upper(),
                r.action,
                at,
            )
        elif kind == "execution_started":
            await conn.execute(
                "UPDATE activity_executions SET started_at = COALESCE(started_at, $2), "
                "status = CASE WHEN ended_at IS NULL THEN 'running' ELSE status END WHERE execution_id = $1",
                eid,
                at,
            )
        elif kind == "model_call_completed":
            m2 = ev.model_call_completed
            await conn.execute(
                "UPDATE activity_executions SET model_calls = model_calls + 1, tokens_in = tokens_in + $2, "
                "tokens_out = tokens_out + $3, cost_usd = cost_usd + $4 WHERE execution_id = $1",
                eid,
                m2.tokens_in,
                m2.tokens_out,
                m2.cost_usd,
            )
        elif kind in TERMINAL:
            await conn.execute(
                "UPDATE activity_executions SET status = $2, ended_at = $3 WHERE execution_id = $1 AND ended_at IS NULL",
                eid,
                TERMINAL[kind],
                at,
            )


async def test_any_batch_size_equals_one_statement_per_event(
    eventlog: EventLog, database_url: str, pg: asyncpg.Connection, schema: str
) -> None:
    events = workload(60, random.Random(5))
    for ev in events:
        await eventlog.append(ev)
    proj = ActivityProjection(eventlog.prefix, schema)
    ref = f"{schema}_ref"
    await migrate(pg, ref, proj.migrations)
    await pg.execute(f'SET search_path TO "{ref}"')
    async with pg.transaction():
        await _one_by_one(pg, events)
    rows = {r["execution_id"]: r for r in await pg.fetch("SELECT * FROM activity_executions")}
    # The reference itself has what the workload means.
    assert len(rows) == 60 and "ghost" not in rows and "nope" not in rows
    assert rows["x000"]["actor"] == "anonymous" and rows["x003"]["actor"] == "user0"
    assert rows["x003"]["agent_type"] == "MARKET" and rows["x003"]["model_calls"] == 3
    assert rows["x001"]["proxy_calls"] == 1  # the call recorded before the request is not counted
    assert rows["x003"]["status"] == "cancelled" and rows["x006"]["status"] == "timed_out"  # first end wins
    assert rows["x002"]["started_at"] < rows["x002"]["ended_at"]
    for size in (1, 7, 40, 5000):
        scratch = f"{schema}_b{size}"
        applied = await rebuild(eventlog, database_url, proj, scratch, batch_size=size)
        assert applied == len(events)
        assert await diff(database_url, proj, ref, scratch) == [], size
