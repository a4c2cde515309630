"""The one translation layer: stored protobuf events -> facts, and the report -> GetMetricsResponse."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal

from google.protobuf import timestamp_pb2
from labs.agents.v1 import agent_service_pb2 as pb
from labs.events.v1 import execution_pb2

from labs_core.eventlog import StoredEvent
from services.metrics.domain.facts import (
    TIMEOUT_CATEGORY,
    AttemptFailed,
    Fact,
    FinalStatus,
    Finished,
    MetricUpdated,
    ModelCalled,
    Requested,
    ToolCalled,
)
from services.metrics.domain.report import AgentMetrics, MetricsReport

_CATEGORY_PREFIX = "ERROR_CATEGORY_"
#: Aggregate type of the llm service's call events.
LLM_CALL = "llmcall"


def category_name(value: int) -> str:
    """`ERROR_CATEGORY_TOOL_UNAVAILABLE` -> `TOOL_UNAVAILABLE`; unknown numbers keep their number."""
    try:
        name = execution_pb2.ErrorCategory.Name(value)
    except ValueError:
        return f"CATEGORY_{value}"
    return name.removeprefix(_CATEGORY_PREFIX)


def _decimal(x: float) -> Decimal:
    # The shortest repr of the float, so that sums are exact and independent of batching.
    return Decimal(repr(x)) if math.isfinite(x) else Decimal(0)


def to_fact(stored: StoredEvent) -> Fact | None:
    """The fact an execution or llm event carries, or None for events the metrics do not use."""
    ev = stored.event
    kind = ev.WhichOneof("payload")
    at_ns = ev.occurred_at.seconds * 1_000_000_000 + ev.occurred_at.nanos
    if ev.aggregate_type == LLM_CALL:
        if kind != "model_call_recorded":
            return None
        # Model usage comes from the llm service's own record of each call (exactly one per
        # call: streamed, cancelled, failed and fallback calls included), attributed to the
        # execution that made it through the correlation id.
        m = ev.model_call_recorded
        return ModelCalled(
            ev.correlation_id,
            stored.sequence,
            at_ns,
            tokens_in=m.input_tokens,
            tokens_out=m.output_tokens,
            cost_usd=_decimal(m.cost_usd),
        )
    if ev.aggregate_type != "execution":
        return None
    base = (ev.aggregate_id, stored.sequence, at_ns)
    if kind == "execution_requested":
        # Agent types are upper-case names; normalised here so the agent_type filter always matches.
        return Requested(*base, agent_type=ev.execution_requested.agent_type.strip().upper())
    if kind == "tool_call_completed":
        t = ev.tool_call_completed
        return ToolCalled(*base, tool=t.tool, error=t.outcome == execution_pb2.CALL_OUTCOME_ERROR)
    # model_call_completed (the runtime's copy, kept for durable replay and the execution view)
    # is not counted: the llm service's ModelCallRecorded is the source of model usage.
    if kind == "attempt_failed":
        a = ev.attempt_failed
        return AttemptFailed(
            *base, category=category_name(a.category), message=a.message, will_retry=a.will_retry
        )
    if kind == "execution_completed":
        return Finished(*base, status=FinalStatus.COMPLETED)
    if kind == "execution_failed":
        f = ev.execution_failed
        return Finished(
            *base, status=FinalStatus.FAILED, category=category_name(f.category), message=f.message
        )
    if kind == "execution_timed_out":
        t2 = ev.execution_timed_out
        message = f"timed out after {t2.timeout_ms} ms" if t2.timeout_ms else "timed out"
        return Finished(*base, status=FinalStatus.TIMED_OUT, category=TIMEOUT_CATEGORY, message=message)
    if kind == "execution_cancelled":
        return Finished(*base, status=FinalStatus.CANCELLED, message=ev.execution_cancelled.reason)
    if kind == "metric_updated":
        u = ev.metric_updated
        return MetricUpdated(*base, name=u.name, delta=_decimal(u.delta))
    return None


def _timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(at)
    return ts


def _agent_metrics(a: AgentMetrics) -> pb.AgentMetrics:
    return pb.AgentMetrics(
        agent_type=a.agent_type,
        executions_by_status=a.executions_by_status,
        executions=a.executions,
        success_rate=a.success_rate,
        latency=pb.Latency(
            p50_ms=a.latency.p50_ms,
            p95_ms=a.latency.p95_ms,
            p99_ms=a.latency.p99_ms,
            mean_ms=a.latency.mean_ms,
        ),
        tokens_in=a.tokens_in,
        tokens_out=a.tokens_out,
        cost_usd=a.cost_usd,
        top_errors=[
            pb.ErrorCount(category=e.category, count=e.count, example=e.example) for e in a.top_errors
        ],
        tools=[
            pb.ToolStats(tool=t.tool, calls=t.calls, errors=t.errors, error_rate=t.error_rate)
            for t in a.tools
        ],
        custom_metrics=a.custom_metrics,
        series=[
            pb.MetricsBucket(
                start=_timestamp(p.start),
                executions=p.executions,
                completed=p.completed,
                failed=p.failed,
                p95_ms=p.p95_ms,
                tokens=p.tokens,
                cost_usd=p.cost_usd,
            )
            for p in a.series
        ],
    )


def to_response(report: MetricsReport) -> pb.GetMetricsResponse:
    """The protobuf answer of GetMetrics."""
    resp = pb.GetMetricsResponse(
        period=report.period.name,
        window_start=_timestamp(report.window.start),
        window_end=_timestamp(report.window.end),
        bucket_seconds=report.period.bucket_seconds,
        total=_agent_metrics(report.total),
        agents=[_agent_metrics(a) for a in report.agents],
    )
    if report.queue is not None:
        resp.queue.CopyFrom(pb.QueueDepth(pending=report.queue.pending, in_flight=report.queue.in_flight))
    return resp
