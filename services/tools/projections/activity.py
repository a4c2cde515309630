"""Tools A read models from the log: executions (user metrics, agents report), collections,
notifications. Deterministic: every time comes from an event's occurred_at.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

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
        """Apply each event in order (the volume is one row per execution step)."""
        for stored in events:
            ev = stored.event
            kind = ev.WhichOneof("payload") or ""
            at = ns_to_datetime(occurred_ns(ev))
            if ev.aggregate_type == "execution":
                await self._execution(conn, ev, kind, at)
            elif ev.aggregate_type == COLLECTION:
                await self._collection(conn, ev, at)
            elif ev.aggregate_type == NOTIFICATION:
                await self._notification(conn, ev, kind, at, stored.sequence)
            elif kind == "model_call_recorded" and ev.correlation_id:
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

    async def _execution(
        self, conn: asyncpg.Connection, ev: envelope_pb2.Event, kind: str, at: object
    ) -> None:
        eid = ev.aggregate_id
        if kind == "execution_requested":
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
            m = ev.model_call_completed
            await conn.execute(
                "UPDATE activity_executions SET model_calls = model_calls + 1, tokens_in = tokens_in + $2, "
                "tokens_out = tokens_out + $3, cost_usd = cost_usd + $4 WHERE execution_id = $1",
                eid,
                m.tokens_in,
                m.tokens_out,
                m.cost_usd,
            )
        elif kind in TERMINAL:
            await conn.execute(
                "UPDATE activity_executions SET status = $2, ended_at = $3 WHERE execution_id = $1 AND ended_at IS NULL",
                eid,
                TERMINAL[kind],
                at,
            )

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
