"""Aggregation of a batch of execution facts into rollup deltas, before one upsert per table.

Pure and deterministic: the deltas depend only on the facts and on what the projection remembers
about each execution (its agent type, request time and terminal status), never on the clock.
Every rollup cell is a sum, a min/max, or "the example with the highest sequence", so applying
the log in batches of any size gives the same rows (which is what the audit rebuild checks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from services.metrics.domain.facts import (
    TIMEOUT_CATEGORY,
    UNKNOWN_AGENT,
    AttemptFailed,
    Fact,
    FinalStatus,
    Finished,
    MetricUpdated,
    ModelCalled,
    Requested,
    ToolCalled,
)
from services.metrics.domain.histogram import bucket_index
from services.metrics.domain.periods import GRAINS_S, floor_to_grain

AgentKey = tuple[int, datetime, str]
HistogramKey = tuple[int, datetime, str, int]
NamedKey = tuple[int, datetime, str, str]


def _least(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _greatest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass(slots=True)
class ExecutionState:
    """What the projection remembers of one execution to attribute later events."""

    agent_type: str
    requested_ns: int | None
    status: FinalStatus | None = None
    finished_ns: int | None = None


@dataclass(slots=True)
class AgentCell:
    """Per agent type and time bucket: final statuses, latency, tokens, cost, model calls."""

    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    timed_out: int = 0
    latency_count: int = 0
    latency_sum_ns: int = 0
    latency_min_ns: int | None = None
    latency_max_ns: int | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = field(default_factory=Decimal)
    model_calls: int = 0

    def count(self, status: FinalStatus) -> None:
        """Count one execution that ended with `status`."""
        if status is FinalStatus.COMPLETED:
            self.completed += 1
        elif status is FinalStatus.FAILED:
            self.failed += 1
        elif status is FinalStatus.CANCELLED:
            self.cancelled += 1
        else:
            self.timed_out += 1

    @property
    def executions(self) -> int:
        """Executions that ended, whatever their status."""
        return self.completed + self.failed + self.cancelled + self.timed_out

    def merge(self, other: AgentCell) -> None:
        """Add another cell's figures to this one."""
        self.completed += other.completed
        self.failed += other.failed
        self.cancelled += other.cancelled
        self.timed_out += other.timed_out
        self.latency_count += other.latency_count
        self.latency_sum_ns += other.latency_sum_ns
        self.latency_min_ns = _least(self.latency_min_ns, other.latency_min_ns)
        self.latency_max_ns = _greatest(self.latency_max_ns, other.latency_max_ns)
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out
        self.cost_usd += other.cost_usd
        self.model_calls += other.model_calls

    def observe_latency(self, latency_ns: int) -> None:
        """Add one execution's latency."""
        self.latency_count += 1
        self.latency_sum_ns += latency_ns
        self.latency_min_ns = _least(self.latency_min_ns, latency_ns)
        self.latency_max_ns = _greatest(self.latency_max_ns, latency_ns)


@dataclass(slots=True)
class ToolCell:
    """Per agent type, tool and time bucket: calls and errors."""

    calls: int = 0
    errors: int = 0


@dataclass(slots=True)
class ErrorCell:
    """Per agent type, error category and time bucket.

    `failures` counts executions that ended with this category (failed, or timed out); `retries`
    counts attempts that failed with it and were retried. The example is the latest message.
    """

    failures: int = 0
    retries: int = 0
    example: str = ""
    example_seq: int = 0

    def remember(self, message: str, sequence: int) -> None:
        """Keep `message` as the example if it is the most recent one."""
        if sequence > self.example_seq:
            self.example, self.example_seq = message, sequence


@dataclass(slots=True)
class MetricCell:
    """Per agent type, custom metric name and time bucket: the sum of deltas."""

    value: Decimal = field(default_factory=Decimal)
    updates: int = 0


class RollupBatch:
    """Folds facts into rollup deltas; `states` is updated in place and `changed` names what moved."""

    def __init__(self, states: Mapping[str, ExecutionState], grains: Iterable[int] = GRAINS_S) -> None:
        self.states: dict[str, ExecutionState] = dict(states)
        self.changed: set[str] = set()
        self.grains = tuple(grains)
        self.agents: dict[AgentKey, AgentCell] = {}
        self.histogram: dict[HistogramKey, int] = {}
        self.tools: dict[NamedKey, ToolCell] = {}
        self.errors: dict[NamedKey, ErrorCell] = {}
        self.metrics: dict[NamedKey, MetricCell] = {}

    def add_all(self, facts: Iterable[Fact]) -> None:
        """Fold facts in log order."""
        for fact in facts:
            self.add(fact)

    def add(self, fact: Fact) -> None:
        """Fold one fact."""
        if isinstance(fact, Requested):
            self._requested(fact)
        elif isinstance(fact, Finished):
            self._finished(fact)
        elif isinstance(fact, ModelCalled):
            for key in self._keys(fact):
                cell = self._agent(key)
                cell.tokens_in += fact.tokens_in
                cell.tokens_out += fact.tokens_out
                cell.cost_usd += fact.cost_usd
                cell.model_calls += 1
        elif isinstance(fact, ToolCalled):
            for g, b, agent in self._keys(fact):
                tool = self.tools.setdefault((g, b, agent, fact.tool), ToolCell())
                tool.calls += 1
                tool.errors += int(fact.error)
        elif isinstance(fact, AttemptFailed):
            # A final attempt's error is counted by the terminal event, so only retried ones here.
            if fact.will_retry:
                for g, b, agent in self._keys(fact):
                    err = self.errors.setdefault((g, b, agent, fact.category), ErrorCell())
                    err.retries += 1
                    err.remember(fact.message, fact.sequence)
        elif isinstance(fact, MetricUpdated):
            for g, b, agent in self._keys(fact):
                metric = self.metrics.setdefault((g, b, agent, fact.name), MetricCell())
                metric.value += fact.delta
                metric.updates += 1

    def agent_of(self, execution_id: str) -> str:
        """The agent type an execution was requested for (UNKNOWN_AGENT if never seen)."""
        state = self.states.get(execution_id)
        return state.agent_type if state is not None else UNKNOWN_AGENT

    def _keys(self, fact: Fact) -> list[AgentKey]:
        agent = self.agent_of(fact.execution_id)
        return [(g, floor_to_grain(fact.at_ns, g), agent) for g in self.grains]

    def _agent(self, key: AgentKey) -> AgentCell:
        cell = self.agents.get(key)
        if cell is None:
            cell = self.agents[key] = AgentCell()
        return cell

    def _requested(self, fact: Requested) -> None:
        if fact.execution_id in self.states:
            return  # a repeated request changes nothing: the first one fixed agent and time
        self.states[fact.execution_id] = ExecutionState(fact.agent_type or UNKNOWN_AGENT, fact.at_ns)
        self.changed.add(fact.execution_id)

    def _finished(self, fact: Finished) -> None:
        state = self.states.get(fact.execution_id)
        if state is None:
            state = self.states[fact.execution_id] = ExecutionState(UNKNOWN_AGENT, None)
        elif state.status is not None:
            return  # one terminal event per execution: a second one is not counted again
        state.status, state.finished_ns = fact.status, fact.at_ns
        self.changed.add(fact.execution_id)
        latency_ns = None if state.requested_ns is None else max(0, fact.at_ns - state.requested_ns)
        for g, b, agent in self._keys(fact):
            cell = self._agent((g, b, agent))
            cell.count(fact.status)
            if latency_ns is not None:
                cell.observe_latency(latency_ns)
                hkey = (g, b, agent, bucket_index(latency_ns / 1e6))
                self.histogram[hkey] = self.histogram.get(hkey, 0) + 1
            if fact.status in (FinalStatus.FAILED, FinalStatus.TIMED_OUT):
                default = TIMEOUT_CATEGORY if fact.status is FinalStatus.TIMED_OUT else "UNSPECIFIED"
                category = fact.category or default
                err = self.errors.setdefault((g, b, agent, category), ErrorCell())
                err.failures += 1
                err.remember(fact.message, fact.sequence)
