"""Read models of schedules (and their occurrences) and of tools registered at run time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from labs_core.eventlog import StoredEvent
from labs_core.projector import Projection
from labs_core.structs import struct_to_dict
from services.tools.projections.listings import MIGRATIONS, ns_to_datetime


def _at(stored: StoredEvent) -> datetime:
    ts = stored.event.occurred_at
    return ns_to_datetime(ts.seconds * 1_000_000_000 + ts.nanos)


def _ts(ts: object) -> datetime:
    seconds = getattr(ts, "seconds", 0)
    return datetime.fromtimestamp(seconds, tz=UTC)


class SchedulesProjection(Projection):
    """schedules + schedule_occurrences from the schedule aggregate's events."""

    name = "tools.schedules"
    tables = {"schedules": ["id"], "schedule_occurrences": ["schedule_id", "occurrence_at"]}
    migrations = MIGRATIONS

    def __init__(self, prefix: str, schema: str = "tools") -> None:
        self.subjects = [f"{prefix}.schedule.>"]
        self.schema = schema

    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        """One statement per event, in order (schedules change rarely)."""
        for stored in events:
            ev = stored.event
            kind = ev.WhichOneof("payload")
            if kind == "schedule_created":
                c = ev.schedule_created
                await conn.execute(
                    """INSERT INTO schedules (id, cron, timezone, agent_type, action, input, missed_policy,
                                              description, created_by, status, created_at, creator, creator_role)
                       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, 'active', $10, $11, $12)
                       ON CONFLICT (id) DO NOTHING""",
                    c.schedule_id or ev.aggregate_id,
                    c.cron,
                    c.timezone,
                    c.agent_type,
                    c.action,
                    json.dumps(struct_to_dict(c.input), sort_keys=True),
                    c.missed_policy or "latest",
                    c.description,
                    c.created_by,
                    _at(stored),
                    ev.actor,
                    ev.actor_role,
                )
            elif kind == "schedule_cancelled":
                x = ev.schedule_cancelled
                await conn.execute(
                    "UPDATE schedules SET status = 'cancelled', cancelled_at = $2, cancel_reason = $3 "
                    "WHERE id = $1 AND status <> 'cancelled'",
                    x.schedule_id or ev.aggregate_id,
                    _at(stored),
                    x.reason,
                )
            elif kind == "schedule_occurrence_fired":
                f = ev.schedule_occurrence_fired
                sid = f.schedule_id or ev.aggregate_id
                occ = _ts(f.occurrence_at)
                inserted = await conn.fetchval(
                    """INSERT INTO schedule_occurrences (schedule_id, occurrence_at, execution_id, request_id,
                                                        fired_at, skipped_before, error)
                       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING 1""",
                    sid,
                    occ,
                    f.execution_id,
                    f.request_id,
                    _at(stored),
                    f.skipped_before,
                    f.error,
                )
                if inserted:
                    await conn.execute(
                        """UPDATE schedules SET fired_count = fired_count + 1,
                                  skipped_count = skipped_count + $3,
                                  last_occurrence_at = GREATEST(last_occurrence_at, $2)
                           WHERE id = $1""",
                        sid,
                        occ,
                        f.skipped_before,
                    )
            elif kind == "schedule_occurrences_skipped":
                s = ev.schedule_occurrences_skipped
                await conn.execute(
                    """UPDATE schedules SET skipped_count = skipped_count + $3,
                              last_occurrence_at = GREATEST(last_occurrence_at, $2)
                       WHERE id = $1 AND (last_occurrence_at IS NULL OR last_occurrence_at < $2)""",
                    s.schedule_id or ev.aggregate_id,
                    _ts(s.up_to),
                    s.count,
                )


class RemoteToolsProjection(Projection):
    """remote_tools from ToolRegistered / ToolRetired."""

    name = "tools.remote_tools"
    tables = {"remote_tools": ["name"]}
    migrations = MIGRATIONS

    def __init__(self, prefix: str, schema: str = "tools") -> None:
        self.subjects = [f"{prefix}.tool.>"]
        self.schema = schema

    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        """Upsert on registration, mark retired on retirement."""
        for stored in events:
            ev = stored.event
            kind = ev.WhichOneof("payload")
            if kind == "tool_registered":
                r = ev.tool_registered
                definition = {
                    "name": r.name,
                    "version": r.version,
                    "description": r.description,
                    "category": r.category,
                    "parameters": struct_to_dict(r.parameters),
                    "result": struct_to_dict(r.result),
                    "side_effects": r.side_effects,
                    "extra_agent_types": sorted(r.extra_agent_types),
                    "timeout_s": r.timeout_s or None,
                    "max_concurrency": r.max_concurrency or None,
                }
                await conn.execute(
                    """INSERT INTO remote_tools (name, definition, address, status, registered_at, last_sequence)
                       VALUES ($1, $2::jsonb, $3, 'active', $4, $5)
                       ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition,
                         address = EXCLUDED.address, status = 'active', registered_at = EXCLUDED.registered_at,
                         retired_at = NULL, retire_reason = '', last_sequence = EXCLUDED.last_sequence""",
                    r.name,
                    json.dumps(definition, sort_keys=True),
                    r.address,
                    _at(stored),
                    stored.sequence,
                )
            elif kind == "tool_retired":
                t = ev.tool_retired
                await conn.execute(
                    "UPDATE remote_tools SET status = 'retired', retired_at = $2, retire_reason = $3, "
                    "last_sequence = $4 WHERE name = $1",
                    t.name,
                    _at(stored),
                    t.reason,
                    stored.sequence,
                )
