"""The metrics report: figures per agent type and in total, assembled from rollup rows.

The reader hands over rows already summed per (agent type, series bucket) or per (agent type,
name); this module only adds them up across buckets and agents and derives rates and
percentiles, so its cost depends on the number of rows, never on the number of executions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.metrics.domain.facts import FinalStatus
from services.metrics.domain.histogram import percentile
from services.metrics.domain.periods import Period, Window
from services.metrics.domain.rollups import AgentCell, ErrorCell, ToolCell

#: How many error categories a report lists per agent type.
TOP_ERRORS = 10


@dataclass(frozen=True, slots=True)
class SeriesRow:
    """Rollups of one agent type summed over one series bucket."""

    agent_type: str
    start: datetime
    cell: AgentCell


@dataclass(frozen=True, slots=True)
class HistogramRow:
    """Latency histogram count of one agent type, series bucket and histogram bucket."""

    agent_type: str
    start: datetime
    index: int
    count: int


@dataclass(frozen=True, slots=True)
class ErrorRow:
    """One agent type's errors of one category over the window, with its latest example."""

    agent_type: str
    category: str
    failures: int
    retries: int
    example: str
    example_seq: int


@dataclass(frozen=True, slots=True)
class ToolRow:
    """One agent type's calls of one tool over the window."""

    agent_type: str
    tool: str
    calls: int
    errors: int


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One agent type's custom metric over the window: the sum of its deltas."""

    agent_type: str
    name: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class RollupRows:
    """Everything the reader found for one window."""

    series: Sequence[SeriesRow] = ()
    histogram: Sequence[HistogramRow] = ()
    errors: Sequence[ErrorRow] = ()
    tools: Sequence[ToolRow] = ()
    metrics: Sequence[MetricRow] = ()


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency figures in milliseconds (percentiles estimated from the histogram, mean exact)."""

    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """Errors of one category: failed executions plus retried attempts, and the latest message."""

    category: str
    count: int
    example: str


@dataclass(frozen=True, slots=True)
class ToolStats:
    """Calls of one tool."""

    tool: str
    calls: int
    errors: int
    error_rate: float


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket of the time series; `failed` counts FAILED and TIMED_OUT executions."""

    start: datetime
    executions: int
    completed: int
    failed: int
    p95_ms: float
    tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class AgentMetrics:
    """Figures of one agent type, or of all when `agent_type` is empty."""

    agent_type: str
    executions_by_status: dict[str, int]
    executions: int
    success_rate: float
    latency: Latency
    tokens_in: int
    tokens_out: int
    cost_usd: float
    top_errors: list[ErrorStats]
    tools: list[ToolStats]
    custom_metrics: dict[str, float]
    series: list[SeriesPoint]


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Messages of the worker consumer not yet delivered, and delivered but not yet acknowledged."""

    pending: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class MetricsReport:
    """The answer of GetMetrics; `queue` is None when the queue could not be read."""

    period: Period
    window: Window
    total: AgentMetrics
    agents: list[AgentMetrics]
    queue: QueueDepth | None


def _latency(cell: AgentCell, counts: dict[int, int]) -> Latency:
    if cell.latency_count == 0 or cell.latency_min_ns is None or cell.latency_max_ns is None:
        return Latency()
    lo, hi = cell.latency_min_ns / 1e6, cell.latency_max_ns / 1e6
    return Latency(
        p50_ms=percentile(counts, 0.50, lo, hi),
        p95_ms=percentile(counts, 0.95, lo, hi),
        p99_ms=percentile(counts, 0.99, lo, hi),
        mean_ms=cell.latency_sum_ns / cell.latency_count / 1e6,
    )


@dataclass
class _Accumulator:
    """Sums of one agent type (or of all) while the rows are read."""

    series: defaultdict[datetime, AgentCell] = field(default_factory=lambda: defaultdict(AgentCell))
    histogram: defaultdict[datetime, defaultdict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    errors: defaultdict[str, ErrorCell] = field(default_factory=lambda: defaultdict(ErrorCell))
    tools: defaultdict[str, ToolCell] = field(default_factory=lambda: defaultdict(ToolCell))
    metrics: defaultdict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def figures(self, agent_type: str, starts: Sequence[datetime]) -> AgentMetrics:
        window = AgentCell()
        counts: defaultdict[int, int] = defaultdict(int)
        series: list[SeriesPoint] = []
        for start in starts:
            cell = self.series.get(start, AgentCell())
            hist: dict[int, int] = self.histogram.get(start, {})
            window.merge(cell)
            for index, n in hist.items():
                counts[index] += n
            series.append(
                SeriesPoint(
                    start=start,
                    executions=cell.executions,
                    completed=cell.completed,
                    failed=cell.failed + cell.timed_out,
                    p95_ms=_latency(cell, dict(hist)).p95_ms,
                    tokens=cell.tokens_in + cell.tokens_out,
                    cost_usd=float(cell.cost_usd),
                )
            )
        errors = sorted(
            (ErrorStats(cat, e.failures + e.retries, e.example) for cat, e in self.errors.items()),
            key=lambda e: (-e.count, e.category),
        )
        tools = sorted(
            (
                ToolStats(name, t.calls, t.errors, t.errors / t.calls if t.calls else 0.0)
                for name, t in self.tools.items()
            ),
            key=lambda t: (-t.calls, t.tool),
        )
        return AgentMetrics(
            agent_type=agent_type,
            executions_by_status={
                FinalStatus.COMPLETED.value: window.completed,
                FinalStatus.FAILED.value: window.failed,
                FinalStatus.CANCELLED.value: window.cancelled,
                FinalStatus.TIMED_OUT.value: window.timed_out,
            },
            executions=window.executions,
            success_rate=window.completed / window.executions if window.executions else 0.0,
            latency=_latency(window, dict(counts)),
            tokens_in=window.tokens_in,
            tokens_out=window.tokens_out,
            cost_usd=float(window.cost_usd),
            top_errors=errors[:TOP_ERRORS],
            tools=tools,
            custom_metrics={name: float(v) for name, v in sorted(self.metrics.items())},
            series=series,
        )


def build_report(
    period: Period, window: Window, rows: RollupRows, queue: QueueDepth | None, *, agent_type: str = ""
) -> MetricsReport:
    """Assemble the report of one window from its rollup rows (all agents, or only `agent_type`)."""
    starts = [window.start + i * period.bucket for i in range(period.buckets)]
    names = {
        r.agent_type
        for group in (rows.series, rows.histogram, rows.errors, rows.tools, rows.metrics)
        for r in group
    }
    if agent_type:
        names = {agent_type}
    per_agent = {name: _Accumulator() for name in names}
    total = _Accumulator()

    def targets(name: str) -> list[_Accumulator]:
        acc = per_agent.get(name)
        return [total] if acc is None else [acc, total]

    for s in rows.series:
        for acc in targets(s.agent_type):
            acc.series[s.start].merge(s.cell)
    for h in rows.histogram:
        for acc in targets(h.agent_type):
            acc.histogram[h.start][h.index] += h.count
    for e in rows.errors:
        for acc in targets(e.agent_type):
            cell = acc.errors[e.category]
            cell.failures += e.failures
            cell.retries += e.retries
            cell.remember(e.example, e.example_seq)
    for t in rows.tools:
        for acc in targets(t.agent_type):
            tool = acc.tools[t.tool]
            tool.calls += t.calls
            tool.errors += t.errors
    for m in rows.metrics:
        for acc in targets(m.agent_type):
            acc.metrics[m.name] += m.value
    return MetricsReport(
        period=period,
        window=window,
        total=total.figures("", starts),
        agents=[per_agent[name].figures(name, starts) for name in sorted(per_agent)],
        queue=queue,
    )
