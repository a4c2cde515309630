"""The runtime's read models: executions with their tool and model calls, and the agents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from labs.events.v1 import envelope_pb2, execution_pb2

from labs_core.eventlog import StoredEvent
from labs_core.projector import Projection, sum_in_order, unnest_columns
from labs_core.structs import struct_json, value_json
from services.runtime.domain.state import category_name

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

_OUTCOME = {
    execution_pb2.CALL_OUTCOME_OK: "OK",
    execution_pb2.CALL_OUTCOME_ERROR: "ERROR",
    execution_pb2.CALL_OUTCOME_CANCELLED: "CANCELLED",
}


def _at(ev: envelope_pb2.Event) -> datetime:
    return datetime.fromtimestamp(ev.occurred_at.seconds + ev.occurred_at.nanos / 1e9, tz=UTC)


def _phases(p: execution_pb2.PhaseTimings) -> str:
    return json.dumps(
        {
            "initialize_ms": p.initialize_us / 1000,
            "preprocess_ms": p.preprocess_us / 1000,
            "execute_ms": p.execute_us / 1000,
            "postprocess_ms": p.postprocess_us / 1000,
            "shutdown_ms": p.shutdown_us / 1000,
        }
    )


class ExecutionsProjection(Projection):
    """executions, tool_calls, model_calls, failed_attempts and agents tables."""

    name = "runtime.executions"
    tables = {
        "executions": ["execution_id"],
        "tool_calls": ["execution_id", "attempt", "step"],
        "model_calls": ["execution_id", "attempt", "step"],
        "failed_attempts": ["execution_id", "attempt"],
        "agents": ["agent_type"],
        "agent_memory": ["agent_type", "key"],
    }
    migrations = MIGRATIONS
    # Clients poll an execution's status: a request, a retry, a cancellation and every outcome are
    # applied at once. The steps in between (started, tool and model calls, metrics, memory)
    # may wait up to 20 ms for the rest of the attempt, which usually ends the batch with its
    # terminal event: about two transactions per execution instead of seven. Read-your-writes
    # waits (Projector.wait_for) never wait for the linger.
    linger_s = 0.02
    urgent_types = frozenset(
        {
            "requested",
            "attempt_failed",
            "cancellation_requested",
            "completed",
            "failed",
            "timed_out",
            "cancelled",
        }
    )

    def __init__(self, prefix: str) -> None:
        self.subjects = [f"{prefix}.execution.>", f"{prefix}.agent.>"]

    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        """Fold the batch in memory, then write it with a few set-based statements."""
        b = _Batch()
        for se in events:
            b.add(se.sequence, se.event)
        await b.write(conn)


_NEW_COLS = (
    "execution_id",
    "task_id",
    "agent_type",
    "action",
    "input",
    "queued_at",
    "request_id",
    "submitted_by",
    "timeout_ms",
    "max_tokens",
    "max_cost_usd",
    "version",
)
_NEW_TYPES = (
    "text",
    "text",
    "text",
    "text",
    "text",
    "timestamptz",
    "text",
    "text",
    "int",
    "bigint",
    "float8",
    "bigint",
)


#: Event types whose time no table keeps.
_UNTIMED = frozenset({"tool_call_completed", "model_call_completed", "metric_updated"})
_NO_TIME = datetime.min.replace(tzinfo=UTC)

#: Columns a batch's patch fills in a row that is new in the same batch (after _NEW_COLS).
_MERGED_COLS = (
    "status",
    "attempts",
    "started_at",
    "finished_at",
    "output_seq",
    "error_category",
    "error_message",
    "error_attempt",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "tool_call_count",
    "cancel_requested_at",
    "cancel_requested_by",
    "cancel_reason",
    "phases",
)
_MERGED_TYPES = (
    "text",
    "int",
    "timestamptz",
    "timestamptz",
    "bigint",
    "text",
    "text",
    "int",
    "bigint",
    "bigint",
    "float8",
    "int",
    "timestamptz",
    "text",
    "text",
    "text",
)
_JSON_COLS = frozenset({"input", "phases"})


@dataclass
class _Patch:
    """What a batch changes in one executions row, in the per-event statements' own semantics."""

    version: int = 0
    status: str | None = None
    attempts: int | None = None
    started_at: datetime | None = None  # the first start wins (coalesce)
    finished_at: datetime | None = None
    #: The sequence of the ExecutionCompleted event, whose output GetExecution reads from the log.
    output_seq: int | None = None
    error_set: bool = False
    error_category: str | None = None
    error_message: str | None = None
    error_attempt: int | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    costs: list[float] = field(default_factory=list)  # the terms of cost_usd, in log order
    cost_abs: bool = False  # cost_usd is the row's new value (not a term to add)
    tool_calls: int = 0
    cancel_set: bool = False  # CancellationRequested sets the cancel fields
    cancel_at: datetime | None = None
    cancel_by: str | None = None
    cancel_reason: str | None = None
    cancel_fb_at: datetime | None = None  # ExecutionCancelled only fills them when empty
    cancel_fb_by: str | None = None
    cancel_fb_reason: str | None = None
    phases: str | None = None

    def onto_new(self, row: tuple[object, ...]) -> tuple[object, ...]:
        """A new row (the _NEW_COLS of a request) with this patch applied, as `UPDATE` in `_update`
        would apply it to the row just inserted (status QUEUED, counters 0, the rest NULL)."""
        return (
            *row[:-1],
            self.version,
            self.status if self.status is not None else "QUEUED",
            self.attempts if self.attempts is not None else 0,
            self.started_at,
            self.finished_at,
            self.output_seq,
            self.error_category if self.error_set else None,
            self.error_message if self.error_set else None,
            self.error_attempt if self.error_set else None,
            self.tokens_in,
            self.tokens_out,
            0.0 + self.cost_usd,
            self.tool_calls,
            self.cancel_at if self.cancel_set else self.cancel_fb_at,
            self.cancel_by if self.cancel_set else self.cancel_fb_by,
            self.cancel_reason if self.cancel_set else self.cancel_fb_reason,
            self.phases,
        )

    def error(self, category: str | None, message: str | None, attempt: int | None) -> None:
        self.error_set, self.error_category, self.error_message, self.error_attempt = (
            True,
            category,
            message,
            attempt,
        )


class _Batch:
    """One batch of events folded into rows and patches."""

    def __init__(self) -> None:
        self.new: list[tuple[object, ...]] = []
        self.patches: dict[str, _Patch] = {}
        self.tools: list[tuple[object, ...]] = []
        self.models: list[tuple[object, ...]] = []
        self.failed: list[tuple[object, ...]] = []
        self.memory: list[tuple[object, ...]] = []
        self.agents: list[tuple[int, envelope_pb2.Event]] = []

    def _patch(self, xid: str, seq: int) -> _Patch:
        p = self.patches.get(xid)
        if p is None:
            p = self.patches[xid] = _Patch()
        p.version = seq
        return p

    def add(self, seq: int, ev: envelope_pb2.Event) -> None:
        kind = ev.WhichOneof("payload")
        xid = ev.aggregate_id
        # Call events carry no time the tables keep: skip the conversion for them.
        at = _at(ev) if kind not in _UNTIMED else _NO_TIME
        if kind == "execution_requested":
            r = ev.execution_requested
            self.new.append(
                (
                    xid,
                    r.task_id,
                    r.agent_type,
                    r.action,
                    struct_json(r.input),
                    at,
                    r.request_id,
                    ev.actor,
                    r.timeout_ms,
                    r.max_tokens,
                    r.max_cost_usd,
                    seq,
                )
            )
        elif kind == "agent_registered":
            self.agents.append((seq, ev))
        elif kind == "execution_started":
            p = self._patch(xid, seq)
            p.status, p.attempts = "RUNNING", ev.execution_started.attempt
            p.started_at = p.started_at or at
        elif kind == "tool_call_completed":
            t = ev.tool_call_completed
            self.tools.append(
                (
                    xid,
                    t.attempt,
                    t.step,
                    t.tool,
                    seq,
                    t.duration_us,
                    _OUTCOME.get(t.outcome, "?"),
                    t.error_message,
                )
            )
            self._patch(xid, seq).tool_calls += 1
        elif kind == "model_call_completed":
            m = ev.model_call_completed
            self.models.append(
                (
                    xid,
                    m.attempt,
                    m.step,
                    m.provider,
                    m.model,
                    m.tokens_in,
                    m.tokens_out,
                    m.cost_usd,
                    m.duration_us,
                    _OUTCOME.get(m.outcome, "?"),
                )
            )
            p = self._patch(xid, seq)
            p.tokens_in += m.tokens_in
            p.tokens_out += m.tokens_out
            p.cost_usd += m.cost_usd
            p.costs.append(m.cost_usd)
        elif kind == "attempt_failed":
            a = ev.attempt_failed
            cat = category_name(a.category)
            self.failed.append((xid, a.attempt, cat, a.message, a.retry_delay_ms, at))
            p = self._patch(xid, seq)
            if a.will_retry:
                p.status = "RETRYING"
            p.error(cat, a.message, a.attempt)
        elif kind == "cancellation_requested":
            p = self._patch(xid, seq)
            p.cancel_set, p.cancel_at, p.cancel_by = True, at, ev.actor
            p.cancel_reason = ev.cancellation_requested.reason
        elif kind == "execution_completed":
            d = ev.execution_completed
            p = self._patch(xid, seq)
            p.status, p.finished_at, p.phases = "COMPLETED", at, _phases(d.phases)
            p.output_seq = seq
            p.error(None, None, None)
        elif kind == "execution_failed":
            f = ev.execution_failed
            cat = category_name(f.category)
            p = self._patch(xid, seq)
            p.status = "BUDGET_EXCEEDED" if cat == "BUDGET" else "FAILED"
            p.finished_at, p.phases = at, _phases(f.phases)
            p.error(cat, f.message, f.attempt)
        elif kind == "execution_timed_out":
            t2 = ev.execution_timed_out
            p = self._patch(xid, seq)
            p.status, p.finished_at = "TIMED_OUT", at
            p.error("TIMEOUT", f"attempt ran past {t2.timeout_ms} ms", t2.attempt)
        elif kind == "execution_cancelled":
            p = self._patch(xid, seq)
            p.status, p.finished_at = "CANCELLED", at
            if p.cancel_set:
                # Requested earlier in this batch: the fields are set already (coalesce keeps them).
                p.cancel_reason = (
                    p.cancel_reason if p.cancel_reason is not None else ev.execution_cancelled.reason
                )
            else:
                p.cancel_fb_at, p.cancel_fb_by = at, ev.actor
                p.cancel_fb_reason = ev.execution_cancelled.reason
        elif kind == "memory_written":
            mw = ev.memory_written
            self.memory.append((xid, mw.key, value_json(mw.value), at, seq))
            self._patch(xid, seq)
        elif kind == "metric_updated":
            self._patch(xid, seq)

    async def write(self, c: asyncpg.Connection) -> None:
        if self.new:
            await self._insert_new(c)
        if self.tools:
            await c.execute(
                "INSERT INTO tool_calls (execution_id, attempt, step, tool, seq, duration_us, outcome, error_message) "
                "SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::bigint[], $6::bigint[], "
                "$7::text[], $8::text[]) ON CONFLICT DO NOTHING",
                *unnest_columns(self.tools, 8),
            )
        if self.models:
            await c.execute(
                "INSERT INTO model_calls (execution_id, attempt, step, provider, model, tokens_in, tokens_out, "
                "cost_usd, duration_us, outcome) SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], "
                "$5::text[], $6::bigint[], $7::bigint[], $8::float8[], $9::bigint[], $10::text[]) ON CONFLICT DO NOTHING",
                *unnest_columns(self.models, 10),
            )
        if self.failed:
            await c.execute(
                "INSERT INTO failed_attempts (execution_id, attempt, category, message, retry_delay_ms, failed_at) "
                "SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::timestamptz[]) "
                "ON CONFLICT DO NOTHING",
                *unnest_columns(self.failed, 6),
            )
        if self.patches:
            await self._update(c)
        if self.memory:
            await c.execute(
                "INSERT INTO agent_memory (agent_type, key, value, execution_id, updated_at, version) "
                "SELECT DISTINCT ON (e.agent_type, u.k) e.agent_type, u.k, u.v::jsonb, u.x, u.at, u.seq "
                "FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[]) AS u(x, k, v, at, seq) "
                "JOIN executions e ON e.execution_id = u.x ORDER BY e.agent_type, u.k, u.seq DESC "
                "ON CONFLICT (agent_type, key) DO UPDATE SET value = EXCLUDED.value, "
                "execution_id = EXCLUDED.execution_id, updated_at = EXCLUDED.updated_at, version = EXCLUDED.version "
                "WHERE agent_memory.version < EXCLUDED.version",
                *unnest_columns(self.memory, 5),
            )
        for seq, ev in self.agents:
            await _agent_registered(c, seq, ev)

    async def _insert_new(self, c: asyncpg.Connection) -> None:
        """Insert the batch's new executions with the batch's own changes to them already applied
        (one row written instead of an insert and an update). A request whose id exists already
        inserts nothing, and its patch still goes through `_update`, as before."""
        rows: dict[str, tuple[object, ...]] = {}
        for row in self.new:
            xid = str(row[0])
            if xid not in rows:  # a second request of one id in the batch conflicts with the first
                p = self.patches.get(xid)
                rows[xid] = p.onto_new(row) if p is not None else (*row, *_QUEUED)
        cols = (*_NEW_COLS, *_MERGED_COLS)
        types = (*_NEW_TYPES, *_MERGED_TYPES)
        args = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(types))
        sel = ", ".join(f"u.{col}::jsonb" if col in _JSON_COLS else f"u.{col}" for col in cols)
        names = ", ".join(cols)
        inserted = await c.fetch(
            f"INSERT INTO executions ({names}) SELECT {sel} FROM unnest({args}) AS u({names}) "
            "ON CONFLICT DO NOTHING RETURNING execution_id",
            *unnest_columns(list(rows.values()), len(cols)),
        )
        for r in inserted:
            self.patches.pop(r["execution_id"], None)

    async def _update(self, c: asyncpg.Connection) -> None:
        ids = list(self.patches)
        ps = [self.patches[x] for x in ids]
        # Several costs of one execution are added onto the stored value in log order, as one
        # event at a time would (float addition is not associative: a+(b+c) may differ).
        several = [x for x, p in zip(ids, ps, strict=True) if len(p.costs) > 1]
        if several:
            for r in await c.fetch(
                "SELECT execution_id, cost_usd FROM executions WHERE execution_id = ANY($1::text[])", several
            ):
                p = self.patches[r["execution_id"]]
                p.cost_usd, p.cost_abs = sum_in_order(r["cost_usd"], p.costs), True

        def col(name: str) -> list[object]:
            return [getattr(p, name) for p in ps]

        await c.execute(
            """
            UPDATE executions e SET
              status = coalesce(u.status, e.status),
              attempts = coalesce(u.attempts, e.attempts),
              started_at = coalesce(e.started_at, u.started_at),
              finished_at = coalesce(u.finished_at, e.finished_at),
              output_seq = coalesce(u.output_seq, e.output_seq),
              error_category = CASE WHEN u.error_set THEN u.error_category ELSE e.error_category END,
              error_message = CASE WHEN u.error_set THEN u.error_message ELSE e.error_message END,
              error_attempt = CASE WHEN u.error_set THEN u.error_attempt ELSE e.error_attempt END,
              tokens_in = e.tokens_in + u.tokens_in,
              tokens_out = e.tokens_out + u.tokens_out,
              cost_usd = CASE WHEN u.cost_abs THEN u.cost_usd ELSE e.cost_usd + u.cost_usd END,
              tool_call_count = e.tool_call_count + u.tool_calls,
              cancel_requested_at = CASE WHEN u.cancel_set THEN u.cancel_at
                                         ELSE coalesce(e.cancel_requested_at, u.cancel_fb_at) END,
              cancel_requested_by = CASE WHEN u.cancel_set THEN u.cancel_by
                                         ELSE coalesce(e.cancel_requested_by, u.cancel_fb_by) END,
              cancel_reason = CASE WHEN u.cancel_set THEN u.cancel_reason
                                   ELSE coalesce(e.cancel_reason, u.cancel_fb_reason) END,
              phases = coalesce(u.phases::jsonb, e.phases),
              version = u.version
            FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::timestamptz[], $6::timestamptz[], $7::bigint[],
                        $8::bool[], $9::text[], $10::text[], $11::int[], $12::bigint[], $13::bigint[], $14::float8[],
                        $15::int[], $16::bool[], $17::timestamptz[], $18::text[], $19::text[], $20::timestamptz[],
                        $21::text[], $22::text[], $23::text[], $24::bool[])
              AS u(execution_id, version, status, attempts, started_at, finished_at, output_seq, error_set,
                   error_category, error_message, error_attempt, tokens_in, tokens_out, cost_usd, tool_calls,
                   cancel_set, cancel_at, cancel_by, cancel_reason, cancel_fb_at, cancel_fb_by, cancel_fb_reason,
                   phases, cost_abs)
            WHERE e.execution_id = u.execution_id
            """,
            ids,
            col("version"),
            col("status"),
            col("attempts"),
            col("started_at"),
            col("finished_at"),
            col("output_seq"),
            col("error_set"),
            col("error_category"),
            col("error_message"),
            col("error_attempt"),
            col("tokens_in"),
            col("tokens_out"),
            col("cost_usd"),
            col("tool_calls"),
            col("cancel_set"),
            col("cancel_at"),
            col("cancel_by"),
            col("cancel_reason"),
            col("cancel_fb_at"),
            col("cancel_fb_by"),
            col("cancel_fb_reason"),
            col("phases"),
            col("cost_abs"),
        )


#: The _MERGED_COLS of a new execution no event of its batch changed.
_QUEUED = ("QUEUED", 0, None, None, None, None, None, None, 0, 0, 0.0, 0, None, None, None, None)


async def _agent_registered(c: asyncpg.Connection, seq: int, ev: envelope_pb2.Event) -> None:
    r = ev.agent_registered
    await c.execute(
        "INSERT INTO agents (agent_type, version, description, actions, allowed_tools, timeout_ms, "
        "max_timeout_ms, max_attempts, initial_delay_ms, max_delay_ms, jitter, definition_hash, registered_at) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT (agent_type) DO UPDATE SET "
        "version = EXCLUDED.version, description = EXCLUDED.description, actions = EXCLUDED.actions, "
        "allowed_tools = EXCLUDED.allowed_tools, timeout_ms = EXCLUDED.timeout_ms, "
        "max_timeout_ms = EXCLUDED.max_timeout_ms, max_attempts = EXCLUDED.max_attempts, "
        "initial_delay_ms = EXCLUDED.initial_delay_ms, max_delay_ms = EXCLUDED.max_delay_ms, "
        "jitter = EXCLUDED.jitter, definition_hash = EXCLUDED.definition_hash, "
        "registered_at = EXCLUDED.registered_at WHERE agents.version < EXCLUDED.version",
        r.agent_type,
        r.version,
        r.description,
        list(r.actions),
        list(r.allowed_tools),
        r.timeout_ms,
        r.max_timeout_ms,
        r.retry.max_attempts,
        r.retry.initial_delay_ms,
        r.retry.max_delay_ms,
        r.retry.jitter,
        r.definition_hash,
        _at(ev),
    )
