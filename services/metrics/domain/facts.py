"""The execution facts the metrics projection consumes, as plain frozen values.

The mapper turns stored protobuf envelopes into these; everything downstream (the rollup batch,
its tests) works with them and never sees protobuf.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

#: Agent type used when an execution's request was never seen (e.g. a stream trimmed at the start).
UNKNOWN_AGENT = "UNKNOWN"
#: Error category recorded for an execution that ran past its deadline.
TIMEOUT_CATEGORY = "TIMEOUT"


class FinalStatus(enum.StrEnum):
    """How an execution ended: one terminal event each."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


@dataclass(frozen=True, slots=True)
class Fact:
    """Something that happened to one execution, at `at_ns` (event time), stored at `sequence`."""

    execution_id: str
    sequence: int
    at_ns: int


@dataclass(frozen=True, slots=True)
class Requested(Fact):
    """An execution was requested for an agent type."""

    agent_type: str


@dataclass(frozen=True, slots=True)
class ToolCalled(Fact):
    """A tool call finished; `error` when its outcome was an error."""

    tool: str
    error: bool


@dataclass(frozen=True, slots=True)
class ModelCalled(Fact):
    """A model call finished with its token counts and cost."""

    tokens_in: int
    tokens_out: int
    cost_usd: Decimal


@dataclass(frozen=True, slots=True)
class AttemptFailed(Fact):
    """An attempt failed; `will_retry` when another attempt follows."""

    category: str
    message: str
    will_retry: bool


@dataclass(frozen=True, slots=True)
class Finished(Fact):
    """The execution's terminal event; `category`/`message` describe a failure or timeout."""

    status: FinalStatus
    category: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class MetricUpdated(Fact):
    """An agent moved one of its own counters by `delta`."""

    name: str
    delta: Decimal
