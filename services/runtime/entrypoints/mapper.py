"""The runtime's one translator between protobuf messages and its domain/read-model values."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from google.protobuf import struct_pb2, timestamp_pb2
from labs.agents.v1 import agent_service_pb2 as pb

from labs_core.auth import Identity
from labs_core.structs import dict_to_struct, struct_to_dict
from services.runtime.handlers.commands import ExecuteCommand
from services.runtime.handlers.queries import AgentView, ExecutionView, HistoryPage, HistoryQuery


def _ts(dt: datetime | None, out: timestamp_pb2.Timestamp) -> None:
    if dt is not None:
        out.FromDatetime(dt)


def _json_into(text: str | None, out: struct_pb2.Struct) -> None:
    if text:
        value = json.loads(text)
        if isinstance(value, dict):
            dict_to_struct(value, out)


def _ms(a: datetime | None, b: datetime | None) -> float:
    return (b - a).total_seconds() * 1000 if a and b else 0.0


def execute_command(req: pb.ExecuteRequest, caller: Identity, traceparent: str) -> ExecuteCommand:
    """ExecuteRequest -> ExecuteCommand."""
    return ExecuteCommand(
        agent_type=req.type,
        action=req.action.strip(),
        input=struct_to_dict(req.input),
        request_id=req.request_id,
        timeout_ms=req.timeout_ms,
        max_tokens=req.max_tokens,
        max_cost_usd=req.max_cost_usd,
        actor=caller.actor,
        role=caller.role,
        traceparent=traceparent,
    )


def execution(v: ExecutionView) -> pb.Execution:
    """A read-model row and its calls -> Execution."""
    r = v.row
    e = pb.Execution(
        execution_id=r["execution_id"],
        task_id=r["task_id"],
        agent_type=r["agent_type"],
        action=r["action"],
        status=r["status"],
        attempts=r["attempts"],
        request_id=r["request_id"],
        submitted_by=r["submitted_by"],
        cost_usd=r["cost_usd"],
        version=r["version"],
        duration_ms=_ms(r["started_at"], r["finished_at"]),
    )
    _json_into(r["input"], e.input)
    if r["output_seq"] is not None:
        e.output.CopyFrom(v.payloads[r["output_seq"]].execution_completed.output)
    if r["error_category"] and r["status"] not in ("COMPLETED",):
        e.error.category, e.error.message = r["error_category"], r["error_message"] or ""
        e.error.attempt = r["error_attempt"] or 0
    _ts(r["queued_at"], e.queued_at)
    _ts(r["started_at"], e.started_at)
    _ts(r["finished_at"], e.finished_at)
    e.token_usage.input, e.token_usage.output = r["tokens_in"], r["tokens_out"]
    e.token_usage.total = r["tokens_in"] + r["tokens_out"]
    for t in v.tool_calls:
        tc = e.tool_calls.add(
            step=t["step"],
            tool=t["tool"],
            duration_ms=t["duration_us"] / 1000,
            outcome=t["outcome"],
            error_message=t["error_message"],
            attempt=t["attempt"],
        )
        call = v.payloads[t["seq"]].tool_call_completed
        tc.arguments.CopyFrom(call.arguments)
        if call.HasField("result"):
            tc.result.CopyFrom(call.result)
    for m in v.model_calls:
        e.model_calls.add(
            step=m["step"],
            provider=m["provider"],
            model=m["model"],
            tokens_in=m["tokens_in"],
            tokens_out=m["tokens_out"],
            cost_usd=m["cost_usd"],
            duration_ms=m["duration_us"] / 1000,
            outcome=m["outcome"],
            attempt=m["attempt"],
        )
    for a in v.failed_attempts:
        fa = e.failed_attempts.add(
            attempt=a["attempt"],
            error_category=a["category"],
            error_message=a["message"],
            retry_delay_ms=a["retry_delay_ms"],
        )
        _ts(a["failed_at"], fa.failed_at)
    if r["cancel_requested_at"] is not None:
        _ts(r["cancel_requested_at"], e.cancellation.requested_at)
        e.cancellation.requested_by = r["cancel_requested_by"] or ""
        e.cancellation.reason = r["cancel_reason"] or ""
    if r["phases"]:
        p = json.loads(r["phases"])
        e.phases.CopyFrom(pb.Phases(**{k: float(v) for k, v in p.items()}))
    return e


def history_query(req: pb.ListExecutionHistoryRequest) -> HistoryQuery:
    """ListExecutionHistoryRequest -> HistoryQuery."""
    return HistoryQuery(
        agent=req.agent,
        statuses=[pb.ExecutionStatus.Name(s) for s in req.status],
        start=req.start_time.ToDatetime(tzinfo=UTC) if req.HasField("start_time") else None,
        end=req.end_time.ToDatetime(tzinfo=UTC) if req.HasField("end_time") else None,
        page_size=req.page_size,
        page_token=req.page_token,
        limit=req.limit,
        offset=req.offset,
    )


def history(page: HistoryPage) -> pb.ListExecutionHistoryResponse:
    """HistoryPage -> ListExecutionHistoryResponse."""
    out = pb.ListExecutionHistoryResponse(next_page_token=page.next_page_token, total_size=page.total)
    for r in page.rows:
        s = out.executions.add(
            execution_id=r["execution_id"],
            action=r["action"],
            status=r["status"],
            duration_ms=_ms(r["queued_at"], r["finished_at"]),
            attempts=r["attempts"],
            error_category=(r["error_category"] or "") if r["status"] != "COMPLETED" else "",
            error_message=(r["error_message"] or "") if r["status"] != "COMPLETED" else "",
            tokens=r["tokens_in"] + r["tokens_out"],
            cost_usd=r["cost_usd"],
            tool_calls=r["tool_call_count"],
        )
        _ts(r["queued_at"], s.queued_at)
        _ts(r["finished_at"], s.finished_at)
    sm = page.summary
    out.summary.executions = sm["executions"]
    out.summary.success_rate = sm["success_rate"]
    out.summary.p50_ms, out.summary.p95_ms, out.summary.p99_ms = sm["p50_ms"], sm["p95_ms"], sm["p99_ms"]
    for err in sm["top_errors"]:
        out.summary.top_errors.add(category=err["category"], count=err["n"], example=err["example"] or "")
    for d in sm["trend"]:
        out.summary.trend.add(
            day=d["day"], executions=d["executions"], success_rate=d["success_rate"], p50_ms=d["p50_ms"]
        )
    return out


def agents(views: list[AgentView]) -> pb.ListAgentsResponse:
    """AgentViews -> ListAgentsResponse."""
    out = pb.ListAgentsResponse()
    for v in views:
        r = v.row
        a = out.agents.add(
            type=r["agent_type"],
            version=r["version"],
            description=r["description"],
            actions=list(r["actions"]),
            allowed_tools=list(r["allowed_tools"]),
            timeout_ms=r["timeout_ms"],
            max_timeout_ms=r["max_timeout_ms"],
        )
        a.retry.max_attempts, a.retry.initial_delay_ms = r["max_attempts"], r["initial_delay_ms"]
        a.retry.max_delay_ms, a.retry.jitter = r["max_delay_ms"], r["jitter"]
        a.availability.workers_online = v.workers_online
        a.availability.executions_running = v.running
        a.availability.queue_depth = v.queue_depth
    return out
