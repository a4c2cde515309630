"""Tools A read models from the log: executions (user metrics, agents report), collections,
notifications. Deterministic: every time comes from an event's occurred_at.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from labs.events.v1 import envelope_pb2

from labs_core.eventlog import StoredEvent
from labs_core.projector import Projection
from services.tools.adapters.collection_events import COLLECTION, NOTIFICATION, collection_event
from services.tools.adapters.listing_events import occurred_ns
from services.tools.domain.collections import CollectionCreated, ItemsAdded, ItemsRemoved, Reordered
from services.tools.projections.listings import MIGRATIONS, ns_to_datetime

#: Execution event types (last subject token) this read model needs.
EXECUTION_TYPES = (
    "requested",
    "started",
    "model_call_completed",
    "completed",
    "failed",
    "timed_out",
    "cancelled",
)
#: The model proxy's aggregate: one ModelCallRecorded per call, correlated to its execution.
LLM_CALL = "llmcall"
TERMINAL = {
    "execution_completed": "completed",
    "execution_failed": "failed",
    "execution_timed_out": "timed_out",
    "execution_cancelled": "cancelled",
}


def activity_subjects(prefix: str) -> list[str]:
    """The subject filters of every event this projection reads."""
    return [f"{prefix}.execution.*.{t}" for t in EXECUTION_TYPES] + [
        f"{prefix}.{COLLECTION}.>",
        f"{prefix}.{NOTIFICATION}.>",
        f"{prefix}.{LLM_CALL}.*.model_call_recorded",
    ]


_EXECUTION_KINDS = frozenset({"execution_requested", "execution_started", "model_call_completed", *TERMINAL})
#: activity_executions columns a later event changes, in the order _Row keeps them.
_MUTABLE = (
    "status",
    "started_at",
    "ended_at",
    "model_calls",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "proxy_calls",
    "proxy_tokens_in",
    "proxy_tokens_out",
    "proxy_cost_usd",
)
_MUTABLE_TYPES = (
    "text",
    "timestamptz",
    "timestamptz",
    "int",
    "bigint",
    "bigint",
    "float8",
    "int",
    "bigint",
    "bigint",
    "float8",
)


@dataclass(slots=True)
class _Row:
    """One activity_executions row as the batch leaves it."""

    status: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    proxy_calls: int = 0
    proxy_tokens_in: int = 0
    proxy_tokens_out: int = 0
    proxy_cost_usd: float = 0.0
    #: (actor, agent_type, action, requested_at) when the batch creates the row.
    new: tuple[str, str, str, datetime] | None = None
    changed: bool = False

    def mutable(self) -> tuple[object, ...]:
        return tuple(getattr(self, c) for c in _MUTABLE)


class _ExecutionFold:
    """The batch's execution events folded into rows, exactly as applying them one at a time in
    log order would leave them: an event of an execution with no row yet changes nothing, and
    sums are added in log order onto the stored value (float sums do not depend on batching)."""

    def __init__(self) -> None:
        self.events: list[tuple[envelope_pb2.Event, str]] = []

    def add(self, ev: envelope_pb2.Event, kind: str) -> None:
        self.events.append((ev, kind))

    async def write(self, conn: asyncpg.Connection) -> None:
        if not self.events:
            return
        ids = sorted(
            {
                ev.correlation_id if kind == "model_call_recorded" else ev.aggregate_id
                for ev, kind in self.events
            }
        )
        rows: dict[str, _Row] = {
            r["execution_id"]: _Row(*(r[c] for c in _MUTABLE))
            for r in await conn.fetch(
                f"SELECT execution_id, {', '.join(_MUTABLE)} FROM activity_executions "
                "WHERE execution_id = ANY($1::text[])",
                ids,
            )
        }
        for ev, kind in self.events:
            if kind == "model_call_recorded":
                row = rows.get(ev.correlation_id)
                if row is not None:
                    m = ev.model_call_recorded
                    row.proxy_calls += 1
                    row.proxy_tokens_in += m.input_tokens
                    row.proxy_tokens_out += m.output_tokens
                    row.proxy_cost_usd += m.cost_usd
                    row.changed = True
                continue
            eid = ev.aggregate_id
            row = rows.get(eid)
            if kind == "execution_requested":
                if row is None:
                    r = ev.execution_requested
                    at = ns_to_datetime(occurred_ns(ev))
                    rows[eid] = _Row(
                        "queued", new=(ev.actor or "anonymous", r.agent_type.upper(), r.action, at)
                    )
                continue
            if row is None:
                continue
            if kind == "execution_started":
                if row.started_at is None:
                    row.started_at = ns_to_datetime(occurred_ns(ev))
                if row.ended_at is None:
                    row.status = "running"
            elif kind == "model_call_completed":
                mc = ev.model_call_completed
                row.model_calls += 1
                row.tokens_in += mc.tokens_in
                row.tokens_out += mc.tokens_out
                row.cost_usd += mc.cost_usd
            elif row.ended_at is None:  # a terminal event: the first one wins
                row.status, row.ended_at = TERMINAL[kind], ns_to_datetime(occurred_ns(ev))
            row.changed = True
        new = [(eid, *r.new, *r.mutable()) for eid, r in rows.items() if r.new is not None]
        if new:
            cols = ("execution_id", "actor", "agent_type", "action", "requested_at", *_MUTABLE)
            types = ("text", "text", "text", "text", "timestamptz", *_MUTABLE_TYPES)
            await conn.execute(
                f"INSERT INTO activity_executions ({', '.join(cols)}) SELECT * FROM unnest("
                + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(types))
                + ") ON CONFLICT (execution_id) DO NOTHING",
                *_columns(new, len(cols)),
            )
        changed = [(eid, *r.mutable()) for eid, r in rows.items() if r.new is None and r.changed]
        if changed:
            sets = ", ".join(f"{c} = u.{c}" for c in _MUTABLE)
            keyed: tuple[str, ...] = ("text", *_MUTABLE_TYPES)
            await conn.execute(
                f"UPDATE activity_executions a SET {sets} FROM unnest("
                + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(keyed))
                + f") AS u(execution_id, {', '.join(_MUTABLE)}) WHERE a.execution_id = u.execution_id",
                *_columns(changed, len(keyed)),
            )


def _columns(rows: Sequence[tuple[object, ...]], width: int) -> list[list[object]]:
    """Rows as `width` column lists (for unnest)."""
    return [[r[i] for r in rows] for i in range(width)]


class ActivityProjection(Projection):
    """activity_executions, collections + collection_items, notifications."""

    name = "tools.activity"
    tables = {
        "activity_executions": ["execution_id"],
        "collections": ["id"],
        "collection_items": ["collection_id", "item_id"],
        "notifications": ["id"],
    }
    migrations = MIGRATIONS

    def __init__(self, prefix: str, schema: str = "tools") -> None:
        self.subjects = activity_subjects(prefix)
        self.schema = schema

    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        """Fold the batch's execution and model-call events per execution in memory (one read of
        the rows they touch, one insert and one update); collections and notifications (a few
        events per user action) are applied event by event."""
        executions = _ExecutionFold()
        for stored in events:
            ev = stored.event
            kind = ev.WhichOneof("payload") or ""
            if ev.aggregate_type == "execution":
                if kind in _EXECUTION_KINDS:
                    executions.add(ev, kind)
            elif ev.aggregate_type == COLLECTION:
                await self._collection(conn, ev, ns_to_datetime(occurred_ns(ev)))
            elif ev.aggregate_type == NOTIFICATION:
                await self._notification(conn, ev, kind, ns_to_datetime(occurred_ns(ev)), stored.sequence)
            elif kind == "model_call_recorded" and ev.correlation_id:
                executions.add(ev, kind)
        await executions.write(conn)

    async def _collection(self, conn: asyncpg.Connection, env: envelope_pb2.Event, at: object) -> None:
        ev = collection_event(env)
        if ev is None:
            return
        cid = ev.collection_id
        if isinstance(ev, CollectionCreated):
            await conn.execute(
                "INSERT INTO collections (id, name, owner, description, created_at, updated_at, version) "
                "VALUES ($1, $2, $3, $4, $5, $5, 1) ON CONFLICT (id) DO NOTHING",
                cid,
                ev.name,
                ev.owner,
                ev.description,
                at,
            )
            return
        if isinstance(ev, ItemsAdded):
            base = await conn.fetchval(
                "SELECT COALESCE(MAX(position), 0) FROM collection_items WHERE collection_id = $1", cid
            )
            await conn.executemany(
                "INSERT INTO collection_items (collection_id, item_id, title, score, position, attributes, added_at) "
                "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT DO NOTHING",
                [
                    (
                        cid,
                        i.item_id,
                        i.title,
                        i.score,
                        base + n,
                        json.dumps(dict(sorted(i.attributes.items()))),
                        at,
                    )
                    for n, i in enumerate(ev.items, 1)
                ],
            )
        elif isinstance(ev, ItemsRemoved):
            await conn.execute(
                "DELETE FROM collection_items WHERE collection_id = $1 AND item_id = ANY($2::text[])",
                cid,
                list(ev.item_ids),
            )
        elif isinstance(ev, Reordered):
            await conn.execute(
                "UPDATE collection_items c SET position = u.n FROM unnest($2::text[]) WITH ORDINALITY AS u(id, n) "
                "WHERE c.collection_id = $1 AND c.item_id = u.id",
                cid,
                list(ev.item_ids),
            )
            await conn.execute("UPDATE collections SET ranked_by = $2 WHERE id = $1", cid, ev.ranked_by)
        await conn.execute(
            "UPDATE collections SET updated_at = $2, version = version + 1 WHERE id = $1", cid, at
        )

    async def _notification(
        self, conn: asyncpg.Connection, ev: envelope_pb2.Event, kind: str, at: object, seq: int
    ) -> None:
        nid = ev.aggregate_id
        if kind == "notification_sent":
            s = ev.notification_sent
            in_app = s.channel == "in_app"
            await conn.execute(
                "INSERT INTO notifications (id, channel, recipient, subject, body, endpoint, status, created_at, "
                "delivered_at, sequence) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
                nid,
                s.channel,
                s.recipient,
                s.subject,
                s.body,
                s.endpoint,
                "delivered" if in_app else "pending",
                at,
                at if in_app else None,
                seq,
            )
        elif kind == "notification_delivered":
            d = ev.notification_delivered
            await conn.execute(
                "UPDATE notifications SET status = 'delivered', attempts = $2, status_code = $3, error = '', "
                "delivered_at = $4 WHERE id = $1",
                nid,
                d.attempts,
                d.status_code,
                at,
            )
        elif kind == "notification_delivery_failed":
            f = ev.notification_delivery_failed
            await conn.execute(
                "UPDATE notifications SET status = 'failed', attempts = $2, status_code = $3, error = $4 WHERE id = $1",
                nid,
                f.attempts,
                f.status_code,
                f.error,
            )
