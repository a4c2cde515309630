"""An execution's story, told from its events in the log alone (no read model)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from audit.events import event_time, payload
from labs_core.eventlog import StoredEvent

_TERMINAL = {
    "execution_completed": "COMPLETED",
    "execution_failed": "FAILED",
    "execution_timed_out": "TIMED_OUT",
    "execution_cancelled": "CANCELLED",
}


def _j(value: Any, width: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def _enum(value: Any, prefix: str) -> str:
    text = str(value or "UNSPECIFIED")
    return text[len(prefix) :] if text.startswith(prefix) else text


def _ms(us: Any) -> str:
    return f"{int(us or 0) / 1000:.1f} ms"


@dataclass
class _Totals:
    attempts: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    outcome: str = "not finished"


def _line(kind: str, p: dict[str, Any], actor: str, t: _Totals) -> str:
    """What one event says, in words; updates the totals."""
    if kind == "execution_requested":
        limits = [f"timeout {p['timeoutMs']} ms"] if p.get("timeoutMs") else []
        limits += [f"max {p['maxTokens']} tokens"] if p.get("maxTokens") else []
        limits += [f"max ${p['maxCostUsd']}"] if p.get("maxCostUsd") else []
        extra = f" ({', '.join(limits)})" if limits else ""
        rid = f", request id {p['requestId']}" if p.get("requestId") else ""
        return (
            f"requested by {actor or 'unknown'}: {p.get('agentType')}.{p.get('action')} "
            f"input {_j(p.get('input', {}))}{extra}{rid}"
        )
    if kind == "execution_started":
        t.attempts = max(t.attempts, int(p.get("attempt", 1)))
        return f"attempt {p.get('attempt', 1)} started on worker {p.get('workerId', '?')}"
    if kind == "tool_call_completed":
        t.tool_calls += 1
        outcome = _enum(p.get("outcome"), "CALL_OUTCOME_")
        if outcome != "OK":
            t.tool_errors += 1
        err = f": {p['errorMessage']}" if p.get("errorMessage") else ""
        key = f" [idempotency key {p['idempotencyKey']}]" if p.get("idempotencyKey") else ""
        return (
            f"tool {p.get('tool')} (step {p.get('step')}) {outcome} in {_ms(p.get('durationUs'))}{err}; "
            f"args {_j(p.get('arguments', {}), 100)}{key}"
        )
    if kind == "model_call_completed":
        t.model_calls += 1
        t.tokens_in += int(p.get("tokensIn", 0))
        t.tokens_out += int(p.get("tokensOut", 0))
        t.cost_usd += float(p.get("costUsd", 0.0))
        err = f": {p['errorMessage']}" if p.get("errorMessage") else ""
        return (
            f"model {p.get('provider', '?')}/{p.get('model', '?')} (step {p.get('step')}) "
            f"{_enum(p.get('outcome'), 'CALL_OUTCOME_')} in {_ms(p.get('durationUs'))}: "
            f"{p.get('tokensIn', 0)} tokens in, {p.get('tokensOut', 0)} out, ${float(p.get('costUsd', 0.0)):.6f}{err}"
        )
    if kind == "metric_updated":
        return f"metric {p.get('name')} += {p.get('delta', 0)}"
    if kind == "memory_written":
        return f"memory {p.get('key')} := {_j(p.get('value'), 100)}"
    if kind == "attempt_failed":
        cat = _enum(p.get("category"), "ERROR_CATEGORY_")
        if p.get("willRetry"):
            t.retries += 1
            then = f"retry in {p.get('retryDelayMs', 0)} ms"
        else:
            then = "no retry"
        return f"attempt {p.get('attempt')} failed ({cat}): {p.get('message', '')}; {then}"
    if kind == "cancellation_requested":
        return f"cancellation requested by {actor or 'unknown'}: {p.get('reason', '')}"
    if kind in _TERMINAL:
        t.outcome = _TERMINAL[kind]
        if kind == "execution_completed":
            return f"COMPLETED (attempt {p.get('attempt', '?')}), output {_j(p.get('output', {}))}"
        if kind == "execution_failed":
            return (
                f"FAILED ({_enum(p.get('category'), 'ERROR_CATEGORY_')}, attempt {p.get('attempt', '?')}): "
                f"{p.get('message', '')}"
            )
        if kind == "execution_timed_out":
            return f"TIMED OUT after {p.get('timeoutMs', '?')} ms (attempt {p.get('attempt', '?')})"
        return f"CANCELLED (attempt {p.get('attempt', 0) or 'none started'}): {p.get('reason', '')}"
    return f"{kind} {_j(p)}"


def tell(execution_id: str, events: Sequence[StoredEvent]) -> list[str]:
    """The story as lines: a header, one line per event with its offset and sequence, a summary."""
    if not events:
        return [f"execution {execution_id}: no events in the log"]
    t = _Totals()
    t0 = event_time(events[0])
    lines = [f"execution {execution_id}", f"  started the record at {t0.isoformat().replace('+00:00', 'Z')}"]
    for stored in events:
        kind = stored.event.WhichOneof("payload") or "?"
        offset = (event_time(stored) - t0).total_seconds()
        lines.append(
            f"  +{offset:9.3f}s  #{stored.sequence:<8} {_line(kind, payload(stored), stored.event.actor, t)}"
        )
    span = (event_time(events[-1]) - t0).total_seconds()
    lines.append(
        f"  outcome: {t.outcome} after {t.attempts} attempt(s), {t.retries} retr{'y' if t.retries == 1 else 'ies'}, "
        f"{span:.3f} s recorded; {t.tool_calls} tool call(s) ({t.tool_errors} not OK), "
        f"{t.model_calls} model call(s), tokens {t.tokens_in} in / {t.tokens_out} out, cost ${t.cost_usd:.6f}"
    )
    return lines
