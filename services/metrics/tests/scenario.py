"""A known mix of execution events and the figures GetMetrics must report for them.

The expectations are computed here from the raw records, independently of the service's code:
plain filtering by event time, sums, nearest-rank percentiles.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from labs.events.v1 import envelope_pb2, execution_pb2, llm_pb2

from labs_core.eventlog import EventLog, new_event

NOW = datetime(2031, 3, 14, 12, 34, 56, 789000, tzinfo=UTC)
AGENTS = ("MARKET", "ANALYTICS", "CONTENT")
TOOLS = ("get_listings", "analyze_market_price", "generate_report", "send_notification")
FAILURES = {
    "TOOL_UNAVAILABLE": execution_pb2.ERROR_CATEGORY_TOOL_UNAVAILABLE,
    "VALIDATION": execution_pb2.ERROR_CATEGORY_VALIDATION,
    "MODEL_UNAVAILABLE": execution_pb2.ERROR_CATEGORY_MODEL_UNAVAILABLE,
}
METRICS = ("items_processed", "listings_scanned")
# Windows of NOW, worked out by hand: (start, end, bucket seconds).
WINDOWS = {
    "1h": (datetime(2031, 3, 14, 11, 35, tzinfo=UTC), datetime(2031, 3, 14, 12, 35, tzinfo=UTC), 60),
    "24h": (datetime(2031, 3, 13, 12, 45, tzinfo=UTC), datetime(2031, 3, 14, 12, 45, tzinfo=UTC), 900),
    "7d": (datetime(2031, 3, 7, 13, 0, tzinfo=UTC), datetime(2031, 3, 14, 13, 0, tzinfo=UTC), 3600),
    "30d": (datetime(2031, 2, 12, 13, 0, tzinfo=UTC), datetime(2031, 3, 14, 13, 0, tzinfo=UTC), 86400),
}
TERMINALS = {"execution_completed", "execution_failed", "execution_timed_out", "execution_cancelled"}
STATUS_OF = {
    "execution_completed": "COMPLETED",
    "execution_failed": "FAILED",
    "execution_timed_out": "TIMED_OUT",
    "execution_cancelled": "CANCELLED",
}
NS = 1_000_000_000


def ns(at: datetime) -> int:
    """Unix nanoseconds of a datetime (microsecond precision)."""
    return (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


@dataclass
class Record:
    """One event of the scenario as the test sees it."""

    execution_id: str
    agent: str  # the agent the metrics must attribute it to ("UNKNOWN" when never requested)
    kind: str
    at_ns: int
    data: dict[str, Any] = field(default_factory=dict)
    sequence: int = 0
    counted: bool = True  # False for a duplicate terminal event


def _payload(r: Record) -> dict[str, Any]:
    d = r.data
    if r.kind == "execution_requested":
        return {r.kind: execution_pb2.ExecutionRequested(agent_type=r.agent, action="run")}
    if r.kind == "execution_started":
        return {r.kind: execution_pb2.ExecutionStarted(attempt=1, worker_id="w1")}
    if r.kind == "tool_call_completed":
        outcome = {
            "OK": execution_pb2.CALL_OUTCOME_OK,
            "ERROR": execution_pb2.CALL_OUTCOME_ERROR,
            "CANCELLED": execution_pb2.CALL_OUTCOME_CANCELLED,
        }[d["outcome"]]
        return {r.kind: execution_pb2.ToolCallCompleted(tool=d["tool"], duration_us=1234, outcome=outcome)}
    if r.kind == "model_call_completed":
        return {
            r.kind: execution_pb2.ModelCallCompleted(
                provider="offline", model="m", tokens_in=d["tin"], tokens_out=d["tout"], cost_usd=d["cost"]
            )
        }
    if r.kind == "model_call_recorded":
        return {
            r.kind: llm_pb2.ModelCallRecorded(
                provider="offline",
                model="m",
                input_tokens=d["tin"],
                output_tokens=d["tout"],
                estimated=d["outcome"] == "cancelled",
                cost_usd=d["cost"],
                outcome=d["outcome"],
            )
        }
    if r.kind == "attempt_failed":
        return {
            r.kind: execution_pb2.AttemptFailed(
                attempt=1, category=FAILURES[d["category"]], message=d["message"], will_retry=d["will_retry"]
            )
        }
    if r.kind == "execution_completed":
        return {r.kind: execution_pb2.ExecutionCompleted(attempt=1)}
    if r.kind == "execution_failed":
        return {
            r.kind: execution_pb2.ExecutionFailed(
                category=FAILURES[d["category"]], message=d["message"], attempt=1
            )
        }
    if r.kind == "execution_timed_out":
        return {r.kind: execution_pb2.ExecutionTimedOut(attempt=1, timeout_ms=d["timeout_ms"])}
    if r.kind == "execution_cancelled":
        return {r.kind: execution_pb2.ExecutionCancelled(reason="client asked", attempt=1)}
    if r.kind == "metric_updated":
        return {r.kind: execution_pb2.MetricUpdated(name=d["name"], delta=d["delta"])}
    raise AssertionError(r.kind)


def envelope(r: Record) -> envelope_pb2.Event:
    """The stored event of a record (an llm call: its own aggregate, correlated to the execution)."""
    if r.kind == "model_call_recorded":
        return new_event(
            "llmcall", r.data["call_id"], correlation_id=r.execution_id, occurred_at_ns=r.at_ns, **_payload(r)
        )
    return new_event("execution", r.execution_id, occurred_at_ns=r.at_ns, **_payload(r))


def build(seed: int = 11) -> list[Record]:
    """The scenario: executions spread over 40 days before NOW, of every outcome."""
    rng = random.Random(seed)
    now_ns = ns(NOW)
    out: list[Record] = []
    # Ages in minutes: a dense last hour, then the day, the week, the month, and outside the month.
    ages = (
        [rng.uniform(1, 58) for _ in range(30)]
        + [rng.uniform(60, 1400) for _ in range(25)]
        + [rng.uniform(1500, 9900) for _ in range(15)]
        + [rng.uniform(10200, 42000) for _ in range(10)]
        + [rng.uniform(44000, 57000) for _ in range(5)]
    )
    for i, age in enumerate(ages):
        xid = f"x{i:03d}"
        agent = AGENTS[i % len(AGENTS)]
        start = now_ns - int(age * 60 * NS) - rng.randint(0, 999_999)
        # Latency: log-uniform from 3 ms to 100 s, and one over the histogram's last bound (90 min).
        latency_ns = int(math.exp(rng.uniform(math.log(3e6), math.log(1e11))))
        if i == 40:
            latency_ns = 90 * 60 * NS + 123
        orphan = i == 7  # its request was never seen: attributed to UNKNOWN, no latency
        who = "UNKNOWN" if orphan else agent
        if not orphan:
            out.append(Record(xid, who, "execution_requested", start))
        out.append(Record(xid, who, "execution_started", start + 1000))
        t = start + 2000
        step = max(1, latency_ns // 10)
        for n in range(rng.randint(0, 3)):
            t += rng.randint(1, step)
            cost = round(rng.uniform(0, 0.01), rng.choice([4, 6, 9]))
            usage = {"tin": rng.randint(0, 4000), "tout": rng.randint(0, 900), "cost": cost}
            outcome = rng.choices(["ok", "error", "cancelled"], [8, 1, 1])[0]
            # The llm service records the call (the source of the metrics) ...
            out.append(
                Record(
                    xid, who, "model_call_recorded", t, {**usage, "outcome": outcome, "call_id": f"c{i}-{n}"}
                )
            )
            if outcome == "ok":
                # ... then the runtime records its result in the execution's history (not counted
                # again by the metrics), with figures that differ, so a double count would show.
                out.append(
                    Record(xid, who, "model_call_completed", t + 1, {"tin": 1, "tout": 1, "cost": 0.5})
                )
        if i % 9 == 0:
            # A model call made outside any execution: attributed to UNKNOWN.
            out.append(
                Record(
                    "",
                    "UNKNOWN",
                    "model_call_recorded",
                    t,
                    {"tin": 10, "tout": 5, "cost": 0.001, "outcome": "ok", "call_id": f"free{i}"},
                )
            )
        for _ in range(rng.randint(0, 3)):
            t += rng.randint(1, step)
            outcome = rng.choices(["OK", "ERROR", "CANCELLED"], [6, 3, 1])[0]
            out.append(
                Record(xid, who, "tool_call_completed", t, {"tool": rng.choice(TOOLS), "outcome": outcome})
            )
        if rng.random() < 0.3:
            t += rng.randint(1, step)
            cat = rng.choice(list(FAILURES))
            out.append(
                Record(
                    xid,
                    who,
                    "attempt_failed",
                    t,
                    {"category": cat, "message": f"{cat.lower()} in {xid}", "will_retry": True},
                )
            )
        for _ in range(rng.randint(0, 2)):
            t += rng.randint(1, step)
            delta = rng.choice([1.0, 2.5, 0.1, 0.7, -1.0, 3.0])
            out.append(Record(xid, who, "metric_updated", t, {"name": rng.choice(METRICS), "delta": delta}))
        end = max(t + 1, start + latency_ns)
        kind = rng.choices(
            ["execution_completed", "execution_failed", "execution_timed_out", "execution_cancelled", None],
            [50, 25, 10, 10, 5],
        )[0]
        if kind is None:
            continue  # still running: counted nowhere but in its tool, model and metric events
        data: dict[str, Any] = {}
        if kind == "execution_failed":
            cat = rng.choice(list(FAILURES))
            # The final attempt's own AttemptFailed (will_retry false) must not be counted twice.
            out.append(
                Record(
                    xid,
                    who,
                    "attempt_failed",
                    end - 1,
                    {"category": cat, "message": "final", "will_retry": False},
                )
            )
            data = {"category": cat, "message": f"{cat.lower()} ended {xid}"}
        if kind == "execution_timed_out":
            data = {"timeout_ms": 30000}
        out.append(Record(xid, who, kind, end, data))
        if i == 3:
            # A second terminal event (should never happen): it must not be counted.
            out.append(Record(xid, who, "execution_completed", end + 5, {}, counted=False))
    return out


async def append_all(log: EventLog, records: list[Record]) -> int:
    """Append every record in order, noting its sequence; returns the last sequence."""
    last = 0
    for r in records:
        r.sequence = last = (await log.append(envelope(r))).sequence
    return last


def _in(r: Record, start: datetime, end: datetime) -> bool:
    return ns(start) <= r.at_ns < ns(end)


def latencies_ns(records: list[Record]) -> dict[str, int]:
    """Latency of each finished execution whose request was seen."""
    requested = {r.execution_id: r.at_ns for r in records if r.kind == "execution_requested"}
    return {
        r.execution_id: r.at_ns - requested[r.execution_id]
        for r in records
        if r.kind in TERMINALS and r.counted and r.execution_id in requested
    }


@dataclass
class Expected:
    """The figures of one agent type (or all) over one time range."""

    by_status: dict[str, int]
    executions: int
    success_rate: float
    latencies_ms: list[float]
    mean_ms: float
    tokens_in: int
    tokens_out: int
    cost_usd: float
    errors: list[tuple[str, int, str]]
    tools: list[tuple[str, int, int, float]]
    custom: dict[str, float]

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the latencies."""
        ordered = sorted(self.latencies_ms)
        return ordered[math.ceil(q * len(ordered)) - 1] if ordered else 0.0


def expected(records: list[Record], start: datetime, end: datetime, agent: str | None = None) -> Expected:
    """What GetMetrics must say for [start, end), of one agent or of all."""
    lat = latencies_ns(records)
    rs = [r for r in records if _in(r, start, end) and r.counted and (agent is None or r.agent == agent)]
    terminal = [r for r in rs if r.kind in TERMINALS]
    by_status = {
        s: sum(1 for r in terminal if STATUS_OF[r.kind] == s)
        for s in ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")
    }
    n = len(terminal)
    lats = [lat[r.execution_id] for r in terminal if r.execution_id in lat]
    models = [r for r in rs if r.kind == "model_call_recorded"]
    errs: dict[str, list[Record]] = defaultdict(list)
    for r in rs:
        if r.kind == "execution_failed":
            errs[r.data["category"]].append(r)
        elif r.kind == "execution_timed_out":
            errs["TIMEOUT"].append(r)
        elif r.kind == "attempt_failed" and r.data["will_retry"]:
            errs[r.data["category"]].append(r)
    errors = []
    for cat, lst in errs.items():
        latest = max(lst, key=lambda r: r.sequence)
        example = latest.data.get("message") or f"timed out after {latest.data['timeout_ms']} ms"
        errors.append((cat, len(lst), example))
    errors.sort(key=lambda e: (-e[1], e[0]))
    tools: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rs:
        if r.kind == "tool_call_completed":
            tools[r.data["tool"]][0] += 1
            tools[r.data["tool"]][1] += r.data["outcome"] == "ERROR"
    custom: dict[str, Decimal] = defaultdict(Decimal)
    for r in rs:
        if r.kind == "metric_updated":
            custom[r.data["name"]] += Decimal(repr(r.data["delta"]))
    return Expected(
        by_status=by_status,
        executions=n,
        success_rate=by_status["COMPLETED"] / n if n else 0.0,
        latencies_ms=[x / 1e6 for x in lats],
        mean_ms=sum(lats) / len(lats) / 1e6 if lats else 0.0,
        tokens_in=sum(r.data["tin"] for r in models),
        tokens_out=sum(r.data["tout"] for r in models),
        cost_usd=float(sum((Decimal(repr(r.data["cost"])) for r in models), Decimal(0))),
        errors=errors,
        tools=sorted(((t, c, e, e / c) for t, (c, e) in tools.items()), key=lambda t: (-t[1], t[0])),
        custom={k: float(v) for k, v in custom.items()},
    )


def agents_in(records: list[Record], start: datetime, end: datetime) -> list[str]:
    """Agent types with anything counted in [start, end)."""
    return sorted(
        {
            r.agent
            for r in records
            if _in(r, start, end)
            and r.counted
            and r.kind not in ("execution_requested", "execution_started", "model_call_completed")
            and not (r.kind == "attempt_failed" and not r.data["will_retry"])
        }
    )
