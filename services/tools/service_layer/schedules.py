"""Schedules: create, cancel, list (event-sourced), and the scheduler that fires due occurrences.

The scheduler submits each occurrence to the runtime's public AgentService.Execute as the
schedule's creator — the actor and role that created it (ScheduleCreated's envelope), recorded
as "<creator> via scheduler" — never as itself, so a schedule can do only what its creator may;
with request_id ``schedule:<schedule_id>:<occurrence UTC ISO>``; the runtime derives the execution id
from it and appends with expected sequence 0, so any number of scheduler replicas firing the
same occurrence make one execution. The firing is then recorded (ScheduleOccurrenceFired, with a
message id derived from the same pair, so replicas record it once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import grpc
from labs.events.v1 import schedule_pb2

from labs_core import grpcutil
from labs_core.auth import Identity, InternalAuth, acting_as
from labs_core.errors import AlreadyExists, ConcurrencyConflict, NotFound
from labs_core.eventlog import EventLog, new_event
from labs_core.ids import derived_id
from labs_core.projector import Projector
from labs_core.structs import dict_to_struct, struct_to_dict
from services.tools.domain.errors import ProjectionLagging
from services.tools.domain.schedules import (
    Fire,
    Skip,
    check_cron,
    check_timezone,
    iso_utc,
    next_occurrences,
    occurrences_after,
    plan,
    request_id,
)

log = logging.getLogger(__name__)
AGGREGATE = "schedule"

#: Submits one execution: (agent_type, action, input, request_id, as whom) -> execution id.
Submit = Callable[[str, str, dict[str, Any], str, Identity | None], Awaitable[str]]


class SubmitRefused(Exception):
    """The runtime refused the request for good (bad type/action/input): recorded, not retried."""


def _dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


def _row_json(r: asyncpg.Record, now: datetime) -> dict[str, Any]:
    after = max(now, r["last_occurrence_at"] or r["created_at"])
    upcoming = (
        [iso_utc(t) for t in next_occurrences(r["cron"], r["timezone"], after, 3)]
        if r["status"] == "active"
        else []
    )
    return {
        "schedule_id": r["id"],
        "cron": r["cron"],
        "timezone": r["timezone"],
        "agent_type": r["agent_type"],
        "action": r["action"],
        "input": json.loads(r["input"]),
        "missed_policy": r["missed_policy"],
        "description": r["description"],
        "status": r["status"],
        "created_at": r["created_at"].isoformat(),
        "cancelled_at": r["cancelled_at"].isoformat() if r["cancelled_at"] else None,
        "last_occurrence_at": iso_utc(r["last_occurrence_at"]) if r["last_occurrence_at"] else None,
        "fired_count": r["fired_count"],
        "skipped_count": r["skipped_count"],
        "next_occurrences": upcoming,
    }


@dataclass(frozen=True, slots=True)
class NewSchedule:
    """What schedule_task asks for (already validated)."""

    cron: str
    timezone: str
    agent_type: str
    action: str
    input: dict[str, Any]
    missed_policy: str = "latest"
    description: str = ""


class ScheduleService:
    """The schedule aggregate on the log and its read model."""

    def __init__(
        self,
        eventlog: EventLog,
        pool: asyncpg.Pool,
        projector: Projector,
        *,
        read_wait_s: float = 5.0,
        clock_ns: Callable[[], int] = time.time_ns,
        actor: str = "tools",
    ) -> None:
        self.log = eventlog
        self.pool = pool
        self.projector = projector
        self.read_wait_s = read_wait_s
        self.clock_ns = clock_ns
        self.actor = actor

    async def _visible(self, sequence: int) -> None:
        if not await self.projector.wait_for(sequence, self.read_wait_s):
            raise ProjectionLagging("the schedule change was recorded but is not readable yet; retry")

    async def get(self, schedule_id: str) -> dict[str, Any] | None:
        """One schedule as the read model has it."""
        r = await self.pool.fetchrow("SELECT * FROM schedules WHERE id = $1", schedule_id)
        return None if r is None else _row_json(r, _dt(self.clock_ns()))

    async def create(
        self,
        new: NewSchedule,
        *,
        idempotency_key: str,
        created_by: str,
        creator: Identity,
        correlation_id: str = "",
    ) -> dict[str, Any]:
        """Append ScheduleCreated once per idempotency key; answer the schedule and its next occurrences."""
        cron = check_cron(new.cron)
        check_timezone(new.timezone)
        schedule_id = derived_id("schedule", idempotency_key)
        payload = schedule_pb2.ScheduleCreated(
            schedule_id=schedule_id,
            cron=cron,
            timezone=new.timezone,
            agent_type=new.agent_type,
            action=new.action,
            missed_policy=new.missed_policy,
            created_by=created_by,
            description=new.description,
        )
        dict_to_struct(new.input, payload.input)
        # The creator is the event's actor: the occurrences run with its identity and role.
        env = new_event(
            AGGREGATE,
            schedule_id,
            actor=creator.actor,
            actor_role=creator.role,
            correlation_id=correlation_id,
            schedule_created=payload,
        )
        try:
            r = await self.log.append(
                env, msg_id=derived_id("schedule_created", schedule_id), expected_sequence=0
            )
            sequence, created = r.sequence, not r.duplicate
        except ConcurrencyConflict:
            history = await self.log.read_aggregate(AGGREGATE, schedule_id)
            sequence, created = history[0].sequence, False
            first = history[0].event.schedule_created
            if (first.cron, first.timezone, first.agent_type, first.action, struct_to_dict(first.input)) != (
                cron,
                new.timezone,
                new.agent_type,
                new.action,
                struct_to_dict(payload.input),
            ):
                raise AlreadyExists(
                    f"idempotency key {idempotency_key!r} was used for a different schedule"
                ) from None
        await self._visible(sequence)
        found = await self.get(schedule_id)
        if found is None:
            raise ProjectionLagging(f"schedule {schedule_id} is not in the read model")
        return {"schedule": found, "created": created}

    async def cancel(self, schedule_id: str, *, reason: str = "", correlation_id: str = "") -> dict[str, Any]:
        """Append ScheduleCancelled; cancelling a cancelled schedule changes nothing and says so."""
        for _ in range(3):
            history = await self.log.read_aggregate(AGGREGATE, schedule_id)
            if not history:
                raise NotFound(f"no schedule {schedule_id!r}")
            done = next((h for h in history if h.event.WhichOneof("payload") == "schedule_cancelled"), None)
            if done is not None:
                await self._visible(done.sequence)
                return {
                    "schedule_id": schedule_id,
                    "cancelled": True,
                    "already_cancelled": True,
                    "message": "the schedule was already cancelled",
                }
            env = new_event(
                AGGREGATE,
                schedule_id,
                actor=self.actor,
                correlation_id=correlation_id,
                schedule_cancelled=schedule_pb2.ScheduleCancelled(schedule_id=schedule_id, reason=reason),
            )
            try:
                r = await self.log.append(
                    env,
                    msg_id=derived_id("schedule_cancelled", schedule_id),
                    expected_sequence=history[-1].sequence,
                )
            except ConcurrencyConflict:
                continue  # an occurrence was recorded meanwhile: look again
            await self._visible(r.sequence)
            return {
                "schedule_id": schedule_id,
                "cancelled": True,
                "already_cancelled": r.duplicate,
                "message": "the schedule was already cancelled" if r.duplicate else "cancelled",
            }
        raise ConcurrencyConflict(f"schedule/{schedule_id}", 0, "kept changing; retry")

    async def list(
        self, *, status: str = "", agent_type: str = "", limit: int = 50, occurrences: int = 0
    ) -> dict[str, Any]:
        """Schedules, newest first, optionally with their latest fired occurrences."""
        rows = await self.pool.fetch(
            """SELECT * FROM schedules WHERE ($1 = '' OR status = $1) AND ($2 = '' OR agent_type = $2)
               ORDER BY created_at DESC, id LIMIT $3""",
            status,
            agent_type,
            limit,
        )
        now = _dt(self.clock_ns())
        out = [_row_json(r, now) for r in rows]
        if occurrences and out:
            occ = await self.pool.fetch(
                """SELECT * FROM (SELECT o.*, row_number() OVER (PARTITION BY schedule_id ORDER BY occurrence_at DESC) n
                   FROM schedule_occurrences o WHERE schedule_id = ANY($1::text[])) x WHERE n <= $2
                   ORDER BY occurrence_at DESC""",
                [s["schedule_id"] for s in out],
                occurrences,
            )
            by: dict[str, list[dict[str, Any]]] = {}
            for o in occ:
                by.setdefault(o["schedule_id"], []).append(
                    {
                        "occurrence_at": iso_utc(o["occurrence_at"]),
                        "execution_id": o["execution_id"],
                        "request_id": o["request_id"],
                        "skipped_before": o["skipped_before"],
                        "error": o["error"],
                    }
                )
            for s in out:
                s["occurrences"] = by.get(s["schedule_id"], [])
        total = await self.pool.fetchval(
            "SELECT count(*) FROM schedules WHERE ($1 = '' OR status = $1) AND ($2 = '' OR agent_type = $2)",
            status,
            agent_type,
        )
        return {"schedules": out, "total": int(total)}


class Scheduler:
    """Fires due occurrences of active schedules, every `tick_s`; safe to run in several replicas."""

    def __init__(
        self,
        eventlog: EventLog,
        pool: asyncpg.Pool,
        submit: Submit,
        *,
        tick_s: float = 1.0,
        grace_s: float = 60.0,
        clock_ns: Callable[[], int] = time.time_ns,
        name: str = "scheduler",
    ) -> None:
        self.log = eventlog
        self.pool = pool
        self.submit = submit
        self.tick_s = tick_s
        self.grace = timedelta(seconds=grace_s)
        self.clock_ns = clock_ns
        self.name = name
        #: schedule id -> latest occurrence this instance handled (the read model may lag behind it).
        self._handled: dict[str, datetime] = {}
        self.fired = 0
        self._stopped = False

    async def run(self) -> None:
        """Tick until stopped; a failed tick is logged and retried on the next one."""
        while not self._stopped:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: tick failed", self.name)
            await asyncio.sleep(self.tick_s)

    def stop(self) -> None:
        """End `run` after the current tick."""
        self._stopped = True

    async def tick(self) -> int:
        """One pass over the active schedules; returns how many occurrences it submitted."""
        now = _dt(self.clock_ns())
        rows = await self.pool.fetch("SELECT * FROM schedules WHERE status = 'active' ORDER BY id")
        fired = 0
        for r in rows:
            anchor = r["last_occurrence_at"] or r["created_at"]
            mine = self._handled.get(r["id"])
            if mine is not None and mine > anchor:
                anchor = mine
            due = occurrences_after(r["cron"], r["timezone"], anchor, until=now)
            for step in plan(due, now, r["missed_policy"], self.grace):
                if not await self._still_active(r["id"]):
                    break
                if isinstance(step, Skip):
                    await self._skip(r["id"], step)
                    self._handled[r["id"]] = step.up_to
                else:
                    await self._fire(r, step)
                    self._handled[r["id"]] = step.occurrence
                    fired += 1
        self.fired += fired
        return fired

    async def _still_active(self, schedule_id: str) -> bool:
        # The log, not the read model: a cancel that just returned must stop the next occurrence.
        last = await self.log.last_on_subject(f"{self.log.prefix}.{AGGREGATE}.{schedule_id}.cancelled")
        return last is None

    async def _skip(self, schedule_id: str, step: Skip) -> None:
        payload = schedule_pb2.ScheduleOccurrencesSkipped(schedule_id=schedule_id, count=step.count)
        payload.up_to.FromDatetime(step.up_to)
        env = new_event(AGGREGATE, schedule_id, actor=self.name, schedule_occurrences_skipped=payload)
        await self.log.append(env, msg_id=derived_id("schedule_skipped", schedule_id, iso_utc(step.up_to)))

    async def _fire(self, r: asyncpg.Record, step: Fire) -> None:
        rid = request_id(r["id"], step.occurrence)
        error = ""
        try:
            creator = Identity(r["creator"], r["creator_role"]) if r["creator_role"] else None
            execution_id = await self.submit(
                r["agent_type"],
                r["action"],
                json.loads(r["input"]),
                rid,
                creator.via_scheduler() if creator is not None else None,
            )
        except SubmitRefused as e:
            execution_id, error = "", str(e)
        payload = schedule_pb2.ScheduleOccurrenceFired(
            schedule_id=r["id"],
            execution_id=execution_id,
            request_id=rid,
            skipped_before=step.skipped_before,
            error=error,
        )
        payload.occurrence_at.FromDatetime(step.occurrence)
        env = new_event(
            AGGREGATE,
            r["id"],
            actor=self.name,
            correlation_id=execution_id,
            schedule_occurrence_fired=payload,
        )
        await self.log.append(env, msg_id=derived_id("schedule_fired", r["id"], iso_utc(step.occurrence)))
        log.info(
            "%s: schedule %s occurrence %s -> %s",
            self.name,
            r["id"],
            iso_utc(step.occurrence),
            execution_id or error,
        )


class RuntimeSubmitter:
    """Submits occurrences to the runtime's public AgentService.Execute over gRPC."""

    _PERMANENT = (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
    )

    def __init__(self, address: str, auth: InternalAuth, *, timeout_s: float = 10.0) -> None:
        from labs.agents.v1 import agent_service_pb2_grpc

        self.channel = grpcutil.channel(address, auth=auth)
        self.stub = agent_service_pb2_grpc.AgentServiceStub(self.channel)
        self.timeout_s = timeout_s

    async def __call__(
        self, agent_type: str, action: str, input: dict[str, Any], rid: str, identity: Identity | None
    ) -> str:
        """Execute(type, action, input, request_id) as `identity` -> execution id; SubmitRefused
        for a permanent refusal (a schedule without a creator role is refused by the runtime)."""
        from labs.agents.v1 import agent_service_pb2

        req = agent_service_pb2.ExecuteRequest(type=agent_type, action=action, request_id=rid)
        dict_to_struct(input, req.input)
        try:
            with acting_as(identity):
                resp = await self.stub.Execute(req, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as e:
            if e.code() in self._PERMANENT:
                raise SubmitRefused(f"{e.code().name}: {e.details()}") from e
            raise
        return str(resp.execution_id)

    async def close(self) -> None:
        """Close the channel."""
        with contextlib.suppress(Exception):
            await self.channel.close()
