"""An execution's state folded from its events (pure: no clock, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2
from labs.events.v1 import envelope_pb2, execution_pb2

from labs_core.eventlog import StoredEvent
from labs_core.structs import struct_to_dict

QUEUED = "QUEUED"
RUNNING = "RUNNING"
RETRYING = "RETRYING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
TIMED_OUT = "TIMED_OUT"
BUDGET_EXCEEDED = "BUDGET_EXCEEDED"

TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED, TIMED_OUT, BUDGET_EXCEEDED})


def category_name(value: int) -> str:
    """ErrorCategory enum value -> its short name ("TOOL_UNAVAILABLE")."""
    return execution_pb2.ErrorCategory.Name(value).removeprefix("ERROR_CATEGORY_")


def category_value(name: str) -> str:
    """Short category name -> the ErrorCategory enum value's full name (protobuf accepts names)."""
    full = f"ERROR_CATEGORY_{name}"
    execution_pb2.ErrorCategory.Value(full)  # raises ValueError for an unknown name
    return full


@dataclass
class RecordedToolCall:
    """A tool call already in the history, replayed instead of re-invoked (converted on replay only)."""

    tool: str
    result: struct_pb2.Struct


@dataclass
class RecordedModelCall:
    """A model call already in the history, replayed instead of re-asked."""

    model: str
    provider: str
    text: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    tool_calls: tuple[tuple[str, str, dict[str, Any]], ...] = ()


@dataclass
class ExecutionState:
    """Everything the write side needs to decide what to do next with an execution."""

    execution_id: str
    agent_type: str = ""
    action: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    task_id: str = ""
    request_id: str = ""
    actor: str = ""
    #: The role the execution was requested with: its tool and model calls run with it.
    role: str = ""
    timeout_ms: int = 0
    max_tokens: int = 0
    max_cost_usd: float = 0.0
    status: str = QUEUED
    attempt: int = 0
    attempt_open: bool = False
    cancel_requested: bool = False
    cancel_reason: str = ""
    last_sequence: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    tool_calls: dict[int, RecordedToolCall] = field(default_factory=dict)
    model_calls: dict[int, RecordedModelCall] = field(default_factory=dict)
    metric_steps: set[int] = field(default_factory=set)
    memory_steps: set[int] = field(default_factory=set)

    @property
    def terminal(self) -> bool:
        """Whether the execution has ended."""
        return self.status in TERMINAL

    def apply(self, se: StoredEvent) -> None:
        """Fold one stored event in."""
        self.apply_stored(se.sequence, se.event)

    def apply_stored(self, sequence: int, ev: envelope_pb2.Event) -> None:
        """Fold in an event known to be stored at `sequence`."""
        self.last_sequence = sequence
        kind = ev.WhichOneof("payload")
        if kind == "execution_requested":
            p = ev.execution_requested
            self.agent_type, self.action, self.input = p.agent_type, p.action, struct_to_dict(p.input)
            self.task_id, self.request_id, self.actor = p.task_id, p.request_id, ev.actor
            self.role = ev.actor_role
            self.timeout_ms, self.max_tokens, self.max_cost_usd = p.timeout_ms, p.max_tokens, p.max_cost_usd
        elif kind == "execution_started":
            self.status, self.attempt, self.attempt_open = RUNNING, ev.execution_started.attempt, True
        elif kind == "tool_call_completed":
            t = ev.tool_call_completed
            if t.outcome == execution_pb2.CALL_OUTCOME_OK:
                self.tool_calls[t.step] = RecordedToolCall(t.tool, t.result)
        elif kind == "model_call_completed":
            m = ev.model_call_completed
            if m.outcome == execution_pb2.CALL_OUTCOME_OK:
                self.model_calls[m.step] = RecordedModelCall(
                    m.model,
                    m.provider,
                    m.text,
                    m.tokens_in,
                    m.tokens_out,
                    m.cost_usd,
                    tuple((c.id, c.name, struct_to_dict(c.arguments)) for c in m.tool_calls),
                )
                self.tokens += m.tokens_in + m.tokens_out
                self.cost_usd += m.cost_usd
        elif kind == "metric_updated":
            self.metric_steps.add(ev.metric_updated.step)
        elif kind == "memory_written":
            self.memory_steps.add(ev.memory_written.step)
        elif kind == "attempt_failed":
            self.attempt_open = False
            self.status = RETRYING if ev.attempt_failed.will_retry else self.status
        elif kind == "cancellation_requested":
            self.cancel_requested, self.cancel_reason = True, ev.cancellation_requested.reason
        elif kind == "execution_completed":
            self.status, self.attempt_open = COMPLETED, False
        elif kind == "execution_failed":
            self.status, self.attempt_open = FAILED, False
        elif kind == "execution_timed_out":
            self.status, self.attempt_open = TIMED_OUT, False
        elif kind == "execution_cancelled":
            self.status, self.attempt_open = CANCELLED, False


def fold(execution_id: str, events: Iterable[StoredEvent]) -> ExecutionState:
    """The state after all `events` (in order)."""
    state = ExecutionState(execution_id)
    for se in events:
        state.apply(se)
    return state
