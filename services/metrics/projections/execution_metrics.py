"""The metrics projection: execution events -> rollups, one upsert statement per table per batch."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import asyncpg

from labs_core.eventlog import StoredEvent
from labs_core.projector import Projection, unnest_columns
from services.metrics.domain.facts import Fact, FinalStatus
from services.metrics.domain.rollups import ExecutionState, RollupBatch
from services.metrics.mapper import LLM_CALL, to_fact

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

_UPSERT_EXECUTIONS = """
INSERT INTO executions AS t (execution_id, agent_type, requested_ns, status, finished_ns)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[])
ON CONFLICT (execution_id) DO UPDATE SET
  agent_type = EXCLUDED.agent_type, requested_ns = EXCLUDED.requested_ns,
  status = EXCLUDED.status, finished_ns = EXCLUDED.finished_ns
"""

_UPSERT_AGENTS = """
INSERT INTO agent_rollups AS t (grain_s, bucket, agent_type, completed, failed, cancelled, timed_out,
  latency_count, latency_sum_ns, latency_min_ns, latency_max_ns, tokens_in, tokens_out, cost_usd, model_calls)
SELECT * FROM unnest($1::int[], $2::timestamptz[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
  $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[],
  $14::numeric[], $15::bigint[])
ON CONFLICT (grain_s, bucket, agent_type) DO UPDATE SET
  completed = t.completed + EXCLUDED.completed,
  failed = t.failed + EXCLUDED.failed,
  cancelled = t.cancelled + EXCLUDED.cancelled,
  timed_out = t.timed_out + EXCLUDED.timed_out,
  latency_count = t.latency_count + EXCLUDED.latency_count,
  latency_sum_ns = t.latency_sum_ns + EXCLUDED.latency_sum_ns,
  latency_min_ns = LEAST(t.latency_min_ns, EXCLUDED.latency_min_ns),
  latency_max_ns = GREATEST(t.latency_max_ns, EXCLUDED.latency_max_ns),
  tokens_in = t.tokens_in + EXCLUDED.tokens_in,
  tokens_out = t.tokens_out + EXCLUDED.tokens_out,
  cost_usd = t.cost_usd + EXCLUDED.cost_usd,
  model_calls = t.model_calls + EXCLUDED.model_calls
"""

_UPSERT_HISTOGRAM = """
INSERT INTO latency_histogram AS t (grain_s, bucket, agent_type, le_index, count)
SELECT * FROM unnest($1::int[], $2::timestamptz[], $3::text[], $4::smallint[], $5::bigint[])
ON CONFLICT (grain_s, bucket, agent_type, le_index) DO UPDATE SET count = t.count + EXCLUDED.count
"""

_UPSERT_TOOLS = """
INSERT INTO tool_rollups AS t (grain_s, bucket, agent_type, tool, calls, errors)
SELECT * FROM unnest($1::int[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
ON CONFLICT (grain_s, bucket, agent_type, tool) DO UPDATE SET
  calls = t.calls + EXCLUDED.calls, errors = t.errors + EXCLUDED.errors
"""

_UPSERT_ERRORS = """
INSERT INTO error_rollups AS t (grain_s, bucket, agent_type, category, failures, retries, example, example_seq)
SELECT * FROM unnest($1::int[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
  $7::text[], $8::bigint[])
ON CONFLICT (grain_s, bucket, agent_type, category) DO UPDATE SET
  failures = t.failures + EXCLUDED.failures,
  retries = t.retries + EXCLUDED.retries,
  example = CASE WHEN EXCLUDED.example_seq > t.example_seq THEN EXCLUDED.example ELSE t.example END,
  example_seq = GREATEST(t.example_seq, EXCLUDED.example_seq)
"""

_UPSERT_METRICS = """
INSERT INTO custom_metric_rollups AS t (grain_s, bucket, agent_type, name, value, updates)
SELECT * FROM unnest($1::int[], $2::timestamptz[], $3::text[], $4::text[], $5::numeric[], $6::bigint[])
ON CONFLICT (grain_s, bucket, agent_type, name) DO UPDATE SET
  value = t.value + EXCLUDED.value, updates = t.updates + EXCLUDED.updates
"""


#: Last subject tokens of the execution events the rollups use (every kind `to_fact` maps).
EXECUTION_TYPES = (
    "requested",
    "tool_call_completed",
    "attempt_failed",
    "completed",
    "failed",
    "timed_out",
    "cancelled",
    "metric_updated",
)


class ExecutionMetrics(Projection):
    """Rollups of execution events (statuses, latency, tools, errors, custom metrics) and of the llm
    service's call events (tokens, cost, model calls)."""

    name = "metrics.execution_rollups"
    migrations = MIGRATIONS
    # Nobody waits on the rollups (they are read per minute bucket): a live batch waits up to
    # 50 ms for more events, which at 50 executions/s folds ~12 events per transaction instead
    # of one or two.
    linger_s = 0.05
    tables = {
        "executions": ["execution_id"],
        "agent_rollups": ["grain_s", "bucket", "agent_type"],
        "latency_histogram": ["grain_s", "bucket", "agent_type", "le_index"],
        "tool_rollups": ["grain_s", "bucket", "agent_type", "tool"],
        "error_rollups": ["grain_s", "bucket", "agent_type", "category"],
        "custom_metric_rollups": ["grain_s", "bucket", "agent_type", "name"],
    }

    def __init__(self, prefix: str, *, lock_scope: str = "") -> None:
        # Only the event types `to_fact` turns into facts: the others (started, the runtime's
        # copy of model calls, cancellation requests, memory writes) are not read at all.
        self.subjects = [f"{prefix}.execution.*.{t}" for t in EXECUTION_TYPES] + [
            f"{prefix}.{LLM_CALL}.*.model_call_recorded"
        ]
        self.lock_scope = lock_scope

    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        """Fold the batch in memory, then write each table with one statement."""
        facts = [f for f in map(to_fact, events) if f is not None]
        if not facts:
            return
        batch = RollupBatch(await self._load_states(conn, facts))
        batch.add_all(facts)
        await self._write(conn, batch)

    @staticmethod
    async def _load_states(conn: asyncpg.Connection, facts: Sequence[Fact]) -> dict[str, ExecutionState]:
        ids = sorted({f.execution_id for f in facts})
        rows = await conn.fetch(
            "SELECT execution_id, agent_type, requested_ns, status, finished_ns FROM executions "
            "WHERE execution_id = ANY($1::text[])",
            ids,
        )
        return {
            r["execution_id"]: ExecutionState(
                r["agent_type"],
                r["requested_ns"],
                FinalStatus(r["status"]) if r["status"] is not None else None,
                r["finished_ns"],
            )
            for r in rows
        }

    @staticmethod
    async def _write(conn: asyncpg.Connection, batch: RollupBatch) -> None:
        if batch.changed:
            states = [(xid, batch.states[xid]) for xid in sorted(batch.changed)]
            await conn.execute(
                _UPSERT_EXECUTIONS,
                *unnest_columns(
                    (
                        (
                            xid,
                            s.agent_type,
                            s.requested_ns,
                            s.status.value if s.status else None,
                            s.finished_ns,
                        )
                        for xid, s in states
                    ),
                    5,
                ),
            )
        if batch.agents:
            await conn.execute(
                _UPSERT_AGENTS,
                *unnest_columns(
                    (
                        (
                            *key,
                            c.completed,
                            c.failed,
                            c.cancelled,
                            c.timed_out,
                            c.latency_count,
                            c.latency_sum_ns,
                            c.latency_min_ns,
                            c.latency_max_ns,
                            c.tokens_in,
                            c.tokens_out,
                            c.cost_usd,
                            c.model_calls,
                        )
                        for key, c in batch.agents.items()
                    ),
                    15,
                ),
            )
        if batch.histogram:
            await conn.execute(
                _UPSERT_HISTOGRAM, *unnest_columns(((*key, n) for key, n in batch.histogram.items()), 5)
            )
        if batch.tools:
            await conn.execute(
                _UPSERT_TOOLS,
                *unnest_columns(((*key, t.calls, t.errors) for key, t in batch.tools.items()), 6),
            )
        if batch.errors:
            await conn.execute(
                _UPSERT_ERRORS,
                *unnest_columns(
                    (
                        (*key, e.failures, e.retries, e.example, e.example_seq)
                        for key, e in batch.errors.items()
                    ),
                    8,
                ),
            )
        if batch.metrics:
            await conn.execute(
                _UPSERT_METRICS,
                *unnest_columns(((*key, m.value, m.updates) for key, m in batch.metrics.items()), 6),
            )
