"""The runtime's read models: executions with their tool and model calls, and the agents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from labs.events.v1 import envelope_pb2, execution_pb2

from labs_core.eventlog import StoredEvent
from labs_core.projector import Projection
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

    def __init__(self, prefix: str) -> None:
        self.subjects = [f"{prefix}.execution.>", f"{prefix}.agent.>"]

    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        for se in events:
            await self._apply_one(conn, se.sequence, se.event)

    async def _apply_one(self, c: asyncpg.Connection, seq: int, ev: envelope_pb2.Event) -> None:
        kind = ev.WhichOneof("payload")
        xid = ev.aggregate_id
        at = _at(ev)
        if kind == "execution_requested":
            p = ev.execution_requested
            await c.execute(
                "INSERT INTO executions (execution_id, task_id, agent_type, action, input, status, queued_at, "
                "request_id, submitted_by, timeout_ms, max_tokens, max_cost_usd, version) "
                "VALUES ($1,$2,$3,$4,$5,'QUEUED',$6,$7,$8,$9,$10,$11,$12) ON CONFLICT DO NOTHING",
                xid,
                p.task_id,
                p.agent_type,
                p.action,
                struct_json(p.input),
                at,
                p.request_id,
                ev.actor,
                p.timeout_ms,
                p.max_tokens,
                p.max_cost_usd,
                seq,
            )
        elif kind == "execution_started":
            await c.execute(
                "UPDATE executions SET status = 'RUNNING', attempts = $2, started_at = coalesce(started_at, $3), "
                "version = $4 WHERE execution_id = $1",
                xid,
                ev.execution_started.attempt,
                at,
                seq,
            )
        elif kind == "tool_call_completed":
            t = ev.tool_call_completed
            await c.execute(
                "INSERT INTO tool_calls (execution_id, attempt, step, tool, arguments, result, duration_us, outcome, "
                "error_message) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING",
                xid,
                t.attempt,
                t.step,
                t.tool,
                struct_json(t.arguments),
                struct_json(t.result) if t.HasField("result") else None,
                t.duration_us,
                _OUTCOME.get(t.outcome, "?"),
                t.error_message,
            )
            await c.execute(
                "UPDATE executions SET tool_call_count = tool_call_count + 1, version = $2 WHERE execution_id = $1",
                xid,
                seq,
            )
        elif kind == "model_call_completed":
            m = ev.model_call_completed
            await c.execute(
                "INSERT INTO model_calls (execution_id, attempt, step, provider, model, tokens_in, tokens_out, "
                "cost_usd, duration_us, outcome) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT DO NOTHING",
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
            await c.execute(
                "UPDATE executions SET tokens_in = tokens_in + $2, tokens_out = tokens_out + $3, "
                "cost_usd = cost_usd + $4, version = $5 WHERE execution_id = $1",
                xid,
                m.tokens_in,
                m.tokens_out,
                m.cost_usd,
                seq,
            )
        elif kind == "attempt_failed":
            a = ev.attempt_failed
            await c.execute(
                "INSERT INTO failed_attempts (execution_id, attempt, category, message, retry_delay_ms, failed_at) "
                "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING",
                xid,
                a.attempt,
                category_name(a.category),
                a.message,
                a.retry_delay_ms,
                at,
            )
            await c.execute(
                "UPDATE executions SET status = CASE WHEN $2 THEN 'RETRYING' ELSE status END, "
                "error_category = $3, error_message = $4, error_attempt = $5, version = $6 WHERE execution_id = $1",
                xid,
                a.will_retry,
                category_name(a.category),
                a.message,
                a.attempt,
                seq,
            )
        elif kind == "cancellation_requested":
            await c.execute(
                "UPDATE executions SET cancel_requested_at = $2, cancel_requested_by = $3, cancel_reason = $4, "
                "version = $5 WHERE execution_id = $1",
                xid,
                at,
                ev.actor,
                ev.cancellation_requested.reason,
                seq,
            )
        elif kind == "execution_completed":
            d = ev.execution_completed
            await c.execute(
                "UPDATE executions SET status = 'COMPLETED', output = $2, finished_at = $3, phases = $4, "
                "error_category = NULL, error_message = NULL, error_attempt = NULL, version = $5 "
                "WHERE execution_id = $1",
                xid,
                struct_json(d.output),
                at,
                _phases(d.phases),
                seq,
            )
        elif kind == "execution_failed":
            f = ev.execution_failed
            cat = category_name(f.category)
            await c.execute(
                "UPDATE executions SET status = $2, error_category = $3, error_message = $4, error_attempt = $5, "
                "finished_at = $6, phases = $7, version = $8 WHERE execution_id = $1",
                xid,
                "BUDGET_EXCEEDED" if cat == "BUDGET" else "FAILED",
                cat,
                f.message,
                f.attempt,
                at,
                _phases(f.phases),
                seq,
            )
        elif kind == "execution_timed_out":
            t2 = ev.execution_timed_out
            await c.execute(
                "UPDATE executions SET status = 'TIMED_OUT', error_category = 'TIMEOUT', error_message = $2, "
                "error_attempt = $3, finished_at = $4, version = $5 WHERE execution_id = $1",
                xid,
                f"attempt ran past {t2.timeout_ms} ms",
                t2.attempt,
                at,
                seq,
            )
        elif kind == "execution_cancelled":
            await c.execute(
                "UPDATE executions SET status = 'CANCELLED', finished_at = $2, "
                "cancel_reason = coalesce(cancel_reason, $3), cancel_requested_at = coalesce(cancel_requested_at, $2), "
                "cancel_requested_by = coalesce(cancel_requested_by, $4), version = $5 WHERE execution_id = $1",
                xid,
                at,
                ev.execution_cancelled.reason,
                ev.actor,
                seq,
            )
        elif kind == "memory_written":
            mw = ev.memory_written
            await c.execute(
                "INSERT INTO agent_memory (agent_type, key, value, execution_id, updated_at, version) "
                "SELECT agent_type, $2, $3::jsonb, $1, $4, $5 FROM executions WHERE execution_id = $1 "
                "ON CONFLICT (agent_type, key) DO UPDATE SET value = EXCLUDED.value, "
                "execution_id = EXCLUDED.execution_id, updated_at = EXCLUDED.updated_at, version = EXCLUDED.version "
                "WHERE agent_memory.version < EXCLUDED.version",
                xid,
                mw.key,
                value_json(mw.value),
                at,
                seq,
            )
            await c.execute("UPDATE executions SET version = $2 WHERE execution_id = $1", xid, seq)
        elif kind == "metric_updated":
            await c.execute("UPDATE executions SET version = $2 WHERE execution_id = $1", xid, seq)
        elif kind == "agent_registered":
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
                at,
            )
