"""Tools A read models from the log: executions (user metrics, agents report), collections,
notifications. Deterministic: every time comes from an event's occurred_at.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from labs.events.v1 import envelope_pb2

from labs_core.eventlog import StoredEvent
from labs_core.projector import Projection, sum_in_order, unnest_columns
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


@dataclass(slots=True)
class _Changes:
    """What a batch's events do to one activity_executions row, applied one at a time in log order.

    Counters are deltas; float sums keep their terms in log order (float addition is not
    associative, and the row must not depend on how the log was cut into batches).
    """

    started_at: datetime | None = None  # the first start's time
    started: bool = False
    ended: tuple[str, datetime] | None = None  # the first terminal event
    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    costs: list[float] = field(default_factory=list)
    proxy_calls: int = 0
    proxy_tokens_in: int = 0
    proxy_tokens_out: int = 0
    proxy_costs: list[float] = field(default_factory=list)

    def add(self, ev: envelope_pb2.Event, kind: str) -> None:
        if kind == "model_call_recorded":
            m = ev.model_call_recorded
            self.proxy_calls += 1
            self.proxy_tokens_in += m.input_tokens
            self.proxy_tokens_out += m.output_tokens
            self.proxy_costs.append(m.cost_usd)
        elif kind == "execution_started":
            self.started = True
            if self.started_at is None:
                self.started_at = ns_to_datetime(occurred_ns(ev))
        elif kind == "model_call_completed":
            mc = ev.model_call_completed
            self.model_calls += 1
            self.tokens_in += mc.tokens_in
            self.tokens_out += mc.tokens_out
            self.costs.append(mc.cost_usd)
        elif self.ended is None:  # a terminal event: the first one wins
            self.ended = (TERMINAL[kind], ns_to_datetime(occurred_ns(ev)))

    def status(self, ended_before: bool, status_before: str) -> str:
        if ended_before:
            return status_before
        if self.ended is not None:
            return self.ended[0]
        return "running" if self.started else status_before


class _ExecutionFold:
    """The batch's execution and model-call events per execution, written as one insert (rows the
    batch creates, with their later events applied) and one update (rows that existed), each
    exactly as applying the events one statement at a time in log order would leave them."""

    def __init__(self) -> None:
        #: Per execution: the first request in the batch, and the changes before and after it.
        self.requests: dict[str, envelope_pb2.Event] = {}
        self.before: dict[str, _Changes] = {}
        self.after: dict[str, _Changes] = {}

    def add(self, ev: envelope_pb2.Event, kind: str) -> None:
        eid = ev.correlation_id if kind == "model_call_recorded" else ev.aggregate_id
        if kind == "execution_requested":
            self.requests.setdefault(eid, ev)
            return
        side = self.after if eid in self.requests else self.before
        ch = side.get(eid)
        if ch is None:
            ch = side[eid] = _Changes()
        ch.add(ev, kind)

    async def write(self, conn: asyncpg.Connection) -> None:
        inserted: set[str] = set()
        if self.requests:
            rows = []
            for eid, ev in self.requests.items():
                r = ev.execution_requested
                ch = self.after.get(eid) or _Changes()
                rows.append(
                    (
                        eid,
                        ev.actor or "anonymous",
                        r.agent_type.upper(),
                        r.action,
                        ns_to_datetime(occurred_ns(ev)),
                        ch.status(False, "queued"),
                        ch.started_at,
                        ch.ended[1] if ch.ended else None,
                        ch.model_calls,
                        ch.tokens_in,
                        ch.tokens_out,
                        sum_in_order(0.0, ch.costs),
                        ch.proxy_calls,
                        ch.proxy_tokens_in,
                        ch.proxy_tokens_out,
                        sum_in_order(0.0, ch.proxy_costs),
                    )
                )
            got = await conn.fetch(_INSERT, *unnest_columns(rows, 16))
            inserted = {r["execution_id"] for r in got}
        # Rows that existed before the batch: everything the batch did to them, in order (an id
        # requested again in the batch is such a row when its insert found it there).
        # The events before the request of a row the batch inserted found no row: they are dropped.
        changes = {eid: ch for eid, ch in self.before.items() if eid not in inserted}
        for eid, ch in self.after.items():
            if eid not in inserted:
                prior = changes.get(eid)
                changes[eid] = ch if prior is None else _merge(prior, ch)
        if not changes:
            return
        # Float sums of several terms are added onto the stored value here, in order.
        several = [eid for eid, ch in changes.items() if len(ch.costs) > 1 or len(ch.proxy_costs) > 1]
        stored = (
            {
                r["execution_id"]: (r["cost_usd"], r["proxy_cost_usd"])
                for r in await conn.fetch(
                    "SELECT execution_id, cost_usd, proxy_cost_usd FROM activity_executions "
                    "WHERE execution_id = ANY($1::text[])",
                    several,
                )
            }
            if several
            else {}
        )
        rows2 = []
        for eid, ch in changes.items():
            if eid in several and eid not in stored:
                continue  # no row: the update would change nothing
            base = stored.get(eid)
            rows2.append(
                (
                    eid,
                    ch.started,
                    ch.started_at,
                    ch.ended[0] if ch.ended else None,
                    ch.ended[1] if ch.ended else None,
                    ch.model_calls,
                    ch.tokens_in,
                    ch.tokens_out,
                    *_cost(ch.costs, base[0] if base else None),
                    ch.proxy_calls,
                    ch.proxy_tokens_in,
                    ch.proxy_tokens_out,
                    *_cost(ch.proxy_costs, base[1] if base else None),
                )
            )
        if rows2:
            await conn.execute(_UPDATE, *unnest_columns(rows2, 15))


def _cost(terms: list[float], stored: float | None) -> tuple[float | None, bool]:
    """(value, absolute) for a float column: the new value when the stored one is known, the one
    term to add, or None when there is nothing to add."""
    if stored is not None:
        return sum_in_order(stored, terms), True
    return (terms[0] if terms else None), False


def _merge(a: _Changes, b: _Changes) -> _Changes:
    """`a` then `b`."""
    return _Changes(
        started_at=a.started_at or b.started_at,
        started=a.started or b.started,
        ended=a.ended or b.ended,
        model_calls=a.model_calls + b.model_calls,
        tokens_in=a.tokens_in + b.tokens_in,
        tokens_out=a.tokens_out + b.tokens_out,
        costs=a.costs + b.costs,
        proxy_calls=a.proxy_calls + b.proxy_calls,
        proxy_tokens_in=a.proxy_tokens_in + b.proxy_tokens_in,
        proxy_tokens_out=a.proxy_tokens_out + b.proxy_tokens_out,
        proxy_costs=a.proxy_costs + b.proxy_costs,
    )


_INSERT = """
INSERT INTO activity_executions (execution_id, actor, agent_type, action, requested_at, status, started_at,
  ended_at, model_calls, tokens_in, tokens_out, cost_usd, proxy_calls, proxy_tokens_in, proxy_tokens_out,
  proxy_cost_usd)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
  $7::timestamptz[], $8::timestamptz[], $9::int[], $10::bigint[], $11::bigint[], $12::float8[], $13::int[],
  $14::bigint[], $15::bigint[], $16::float8[])
ON CONFLICT (execution_id) DO NOTHING
RETURNING execution_id
"""

# The statements the events used to be, folded: a start sets started_at if unset and the status
# to running unless ended; the first terminal event ends a row not ended yet; sums add up.
_UPDATE = """
UPDATE activity_executions a SET
  status = CASE WHEN a.ended_at IS NOT NULL THEN a.status
                WHEN u.end_status IS NOT NULL THEN u.end_status
                WHEN u.started THEN 'running' ELSE a.status END,
  started_at = coalesce(a.started_at, u.started_at),
  ended_at = coalesce(a.ended_at, u.ended_at),
  model_calls = a.model_calls + u.model_calls,
  tokens_in = a.tokens_in + u.tokens_in,
  tokens_out = a.tokens_out + u.tokens_out,
  cost_usd = CASE WHEN u.cost_abs THEN u.cost ELSE coalesce(a.cost_usd + u.cost, a.cost_usd) END,
  proxy_calls = a.proxy_calls + u.proxy_calls,
  proxy_tokens_in = a.proxy_tokens_in + u.proxy_tokens_in,
  proxy_tokens_out = a.proxy_tokens_out + u.proxy_tokens_out,
  proxy_cost_usd = CASE WHEN u.proxy_cost_abs THEN u.proxy_cost
                        ELSE coalesce(a.proxy_cost_usd + u.proxy_cost, a.proxy_cost_usd) END
FROM unnest($1::text[], $2::bool[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::int[], $7::bigint[],
  $8::bigint[], $9::float8[], $10::bool[], $11::int[], $12::bigint[], $13::bigint[], $14::float8[], $15::bool[])
  AS u(execution_id, started, started_at, end_status, ended_at, model_calls, tokens_in, tokens_out, cost, cost_abs,
       proxy_calls, proxy_tokens_in, proxy_tokens_out, proxy_cost, proxy_cost_abs)
WHERE a.execution_id = u.execution_id
"""


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
    # Only the collection and notification tools wait on this projection (read-your-writes), and
    # their wait hands a lingering batch over at once (Projector.wait_for); otherwise a live batch
    # waits up to 50 ms for more events: a few transactions per second instead of one per event.
    linger_s = 0.05

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
