"""Schedules: validation, idempotency, cancel, list; two scheduler replicas against a real runtime fire
each occurrence once; missed-occurrence policies after downtime."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from labs.agents.v1 import agent_service_pb2 as apb

from labs_core.errors import InvalidArgument, NotFound, PermissionDenied
from labs_core.eventlog import EventLog
from labs_core.testing import internal_auth, unique
from services.runtime.tests.harness import Stack, runtime_stack
from services.tools.domain.schedules import Fire, Skip, plan, request_id
from services.tools.service_layer.schedules import RuntimeSubmitter, Scheduler
from services.tools.tests.ops_fixtures import OpsStack, ops_stack

pytestmark = pytest.mark.timeout(60)
MIN = 60 * 1_000_000_000


@dataclass
class Both:
    tools: OpsStack
    runtime: Stack


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def both(nats_url: str, database_url: str) -> AsyncIterator[Both]:
    tag = unique("c")
    log = await EventLog.connect(nats_url, stream=tag.upper(), prefix=tag)
    await log.ensure_stream()
    try:
        async with (
            ops_stack(log, database_url, unique("s_"), size=0) as tools,
            runtime_stack(log, database_url, unique("r_")) as runtime,
        ):
            yield Both(tools, runtime)
    finally:
        await log.js.delete_stream(log.stream)
        await log.close()


def _args(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "cron": "* * * * *",
        "timezone": "Europe/Paris",
        "agent_type": "MARKET",
        "action": "find_listings",
        "input": {"category": "electronics", "limit": 2},
    }
    return {**base, **kw}


async def _occurrences(tools: OpsStack, schedule_id: str, expect: int) -> list[dict[str, object]]:
    async with asyncio.timeout(10):
        while True:
            out = await tools.call("list_schedules", {"schedule_id": schedule_id}, agent="SCHEDULER")
            s = out["schedules"][0]
            if s["fired_count"] + s["skipped_count"] >= expect:
                listed = await tools.call("list_schedules", {"occurrences": 50}, agent="SCHEDULER")
                return next(x for x in listed["schedules"] if x["schedule_id"] == schedule_id)["occurrences"]
            await asyncio.sleep(0.05)


async def test_bad_cron_and_timezone_name_their_field(both: Both) -> None:
    t = both.tools
    for args, field in (
        (_args(cron="61 * * * *"), "arguments.cron"),
        (_args(cron="* * * *  x"), "arguments.cron"),
        (_args(cron="every minute"), "arguments.cron"),
        (_args(timezone="Mars/Olympus_Mons"), "arguments.timezone"),
    ):
        with pytest.raises(InvalidArgument) as info:
            await t.call("schedule_task", args, agent="SCHEDULER", key=unique("k"))
        assert info.value.field == field
    with pytest.raises(InvalidArgument) as info:
        await t.call("schedule_task", _args(missed_policy="sometimes"), agent="SCHEDULER", key="k")
    assert info.value.field == "arguments.missed_policy"
    with pytest.raises(PermissionDenied):
        await t.call("schedule_task", _args(agent_type="ADMIN", action="query"), agent="SCHEDULER", key="k")


async def test_create_is_idempotent_cancel_twice_is_harmless(both: Both) -> None:
    t = both.tools
    key = unique("k")
    first = await t.call("schedule_task", _args(cron="0 9 * * 1-5"), agent="SCHEDULER", key=key)
    again = await t.call("schedule_task", _args(cron="0 9 * * 1-5"), agent="SCHEDULER", key=key)
    sid = first["schedule"]["schedule_id"]
    assert first["created"] is True and again["created"] is False and again["schedule"]["schedule_id"] == sid
    nxt = [datetime.fromisoformat(x) for x in first["schedule"]["next_occurrences"]]
    paris = [n.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris")) for n in nxt]
    assert all(p.hour == 9 and p.minute == 0 and p.weekday() < 5 for p in paris)
    c1 = await t.call("cancel_scheduled_task", {"schedule_id": sid}, agent="SCHEDULER", key="c1")
    c2 = await t.call("cancel_scheduled_task", {"schedule_id": sid}, agent="SCHEDULER", key="c2")
    assert (c1["already_cancelled"], c2["already_cancelled"]) == (False, True)
    assert "already cancelled" in c2["message"]
    listed = await t.call("list_schedules", {"status": "cancelled"}, agent="SCHEDULER")
    assert sid in [s["schedule_id"] for s in listed["schedules"]]
    with pytest.raises(NotFound):
        await t.call("cancel_scheduled_task", {"schedule_id": "nope"}, agent="SCHEDULER", key="c3")


async def test_two_replicas_fire_each_occurrence_once(both: Both) -> None:
    t, rt = both.tools, both.runtime
    made = await t.call("schedule_task", _args(missed_policy="all"), agent="SCHEDULER", key=unique("k"))
    sid = made["schedule"]["schedule_id"]
    later = time.time_ns() + 2 * MIN + MIN // 2

    def clock() -> int:
        return later

    submitters = [RuntimeSubmitter(rt.settings.runtime_addr, internal_auth()) for _ in range(2)]
    replicas = [
        Scheduler(t.eventlog, t.pool, s, clock_ns=clock, name=f"replica-{i}")
        for i, s in enumerate(submitters)
    ]
    try:
        fired = await asyncio.gather(*(r.tick() for r in replicas))
        assert fired[0] == fired[1] and fired[0] in (2, 3)
        due = fired[0]
        occ = await _occurrences(t, sid, due)
        assert len(occ) == due
        ids = {o["execution_id"] for o in occ}
        assert len(ids) == due and "" not in ids
        for o in occ:
            assert o["request_id"] == request_id(sid, datetime.fromisoformat(str(o["occurrence_at"])))
        # One ExecutionRequested per occurrence, whatever the replicas did.
        requested = await rt.log.pending_count([f"{rt.log.prefix}.execution.*.requested"], 1)
        assert requested >= due
        for eid in ids:
            hist = await rt.log.read_aggregate("execution", str(eid))
            assert [h.event.WhichOneof("payload") for h in hist].count("execution_requested") == 1
            done = await rt.wait_status(str(eid), {"COMPLETED", "FAILED"}, timeout=20)
            assert apb.ExecutionStatus.Name(done.status) == "COMPLETED", done.error
        # A second pass changes nothing; after cancel, later occurrences never fire.
        assert sum(await asyncio.gather(*(r.tick() for r in replicas))) == 0
        await t.call("cancel_scheduled_task", {"schedule_id": sid}, agent="SCHEDULER", key="c")
        later += 5 * MIN
        assert sum(await asyncio.gather(*(r.tick() for r in replicas))) == 0
    finally:
        for s in submitters:
            await s.close()


async def test_missed_occurrences_follow_the_policy(both: Both) -> None:
    t, rt = both.tools, both.runtime
    sids = {}
    for policy in ("latest", "none"):
        made = await t.call("schedule_task", _args(missed_policy=policy), agent="SCHEDULER", key=unique("k"))
        sids[policy] = made["schedule"]["schedule_id"]
    # The scheduler was "down" for ten minutes; grace 0 makes every occurrence late.
    later = time.time_ns() + 10 * MIN + MIN // 2
    submit = RuntimeSubmitter(rt.settings.runtime_addr, internal_auth())
    try:
        sched = Scheduler(t.eventlog, t.pool, submit, clock_ns=lambda: later, grace_s=0)
        await sched.tick()
        latest = await _occurrences(t, sids["latest"], 10)
        assert len(latest) == 1 and int(str(latest[0]["skipped_before"])) >= 9
        assert await _occurrences(t, sids["none"], 10) == []
        got = await t.call("list_schedules", {"schedule_id": sids["none"]}, agent="SCHEDULER")
        s = got["schedules"][0]
        assert s["fired_count"] == 0 and s["skipped_count"] >= 10
    finally:
        for sid in sids.values():
            await t.call("cancel_scheduled_task", {"schedule_id": sid}, agent="SCHEDULER", key="c")
        await submit.close()


def test_plan_policies() -> None:
    now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    due = [now - timedelta(minutes=m, seconds=30) for m in (3, 2, 1, 0)]
    g = timedelta(seconds=60)
    assert plan(due, now, "latest", g) == [Fire(due[-1], 3)]
    assert plan(due, now, "all", g) == [Fire(d) for d in due]
    assert plan(due, now, "none", g) == [Fire(due[-1], 3)]
    assert plan(due[:2], now, "none", g) == [Skip(due[1], 2)]
    assert plan([], now, "latest", g) == []


async def test_occurrences_run_as_the_creator_via_scheduler(both: Both) -> None:
    """Issue 12 finding 3: a schedule ran as actor `scheduler` with no role, so whatever it named
    ran unchecked. Each occurrence now runs with its creator's identity and role, recorded as
    "<creator> via scheduler", and the runtime checks that role as it checks any caller's."""
    from labs.events.v1 import schedule_pb2

    from labs_core.eventlog import new_event
    from labs_core.ids import derived_id
    from labs_core.structs import dict_to_struct

    t, rt = both.tools, both.runtime
    made = await t.call("schedule_task", _args(), agent="SCHEDULER", key=unique("k"))
    sid = made["schedule"]["schedule_id"]
    # An operator's ADMIN schedule cannot be made through the tool; one in the log (written
    # before this check, or by hand) must not run ADMIN either: the runtime refuses the role.
    forged = derived_id("schedule", unique("forged"))
    payload = schedule_pb2.ScheduleCreated(
        schedule_id=forged, cron="* * * * *", timezone="UTC", agent_type="ADMIN", action="query"
    )
    dict_to_struct({"sql": "SELECT 1"}, payload.input)
    env = new_event("schedule", forged, actor="mallory", actor_role="operator", schedule_created=payload)
    r = await t.eventlog.append(env, expected_sequence=0)
    await t.ops.schedules.projector.wait_for(r.sequence, 5)
    later = time.time_ns() + MIN + MIN // 2
    submit = RuntimeSubmitter(rt.settings.runtime_addr, internal_auth())
    try:
        sched = Scheduler(t.eventlog, t.pool, submit, clock_ns=lambda: later, grace_s=0)
        await sched.tick()
        (ok,) = await _occurrences(t, sid, 1)
        requested = (await rt.log.read_aggregate("execution", str(ok["execution_id"])))[0].event
        assert (requested.actor, requested.actor_role) == ("test-operator via scheduler", "operator")
        (refused,) = await _occurrences(t, forged, 1)
        assert refused["execution_id"] == "" and "PERMISSION_DENIED" in str(refused["error"])
        assert "executions.admin" in str(refused["error"])
    finally:
        for s in (sid, forged):
            await t.call("cancel_scheduled_task", {"schedule_id": s}, agent="ADMIN", key="c")
        await submit.close()
