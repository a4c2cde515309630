"""Appends an execution's events with optimistic concurrency and keeps its folded state current."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from labs_core import tracing
from labs_core.errors import ConcurrencyConflict
from labs_core.eventlog import EventLog, new_event
from services.runtime.domain.state import ExecutionState, fold


def compact_msg_id(execution_id: str, step_key: str) -> str:
    """A short, deterministic Nats-Msg-Id for one step of one execution (stored with each event)."""
    digest = hashlib.blake2b(f"{execution_id}:{step_key}".encode(), digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Recorder:
    """The single writer of one execution's events within one attempt.

    Every append expects the aggregate's last sequence as this worker knows it, so a concurrent
    write (a cancellation, another worker after a redelivery) surfaces as ConcurrencyConflict
    and the caller re-reads and decides again. Message ids make a retried append a no-op.
    """

    def __init__(self, log: EventLog, state: ExecutionState, *, actor: str, traceparent: str = "") -> None:
        self.log = log
        self.state = state
        self.actor = actor
        self.traceparent = traceparent

    async def append(self, msg_id: str, *, decision: bool = True, **payload: Any) -> int:
        """Append one event of the execution; returns its sequence.

        A decision (start, retry, terminal outcome) expects the aggregate's last sequence as this
        worker knows it, so a concurrent writer makes it fail with ConcurrencyConflict. A record
        of something that already happened (a tool or model call, a metric or memory write) is
        appended unconditionally: the fact stands whoever else is writing, and the next decision
        still detects the other writer.
        """
        # The current span (this attempt's, or a tool call's) when tracing is on.
        traceparent = tracing.current_traceparent() or self.traceparent
        ev = new_event(
            "execution", self.state.execution_id, actor=self.actor, traceparent=traceparent, **payload
        )
        r = await self.log.append(
            ev,
            msg_id=compact_msg_id(self.state.execution_id, msg_id),
            expected_sequence=self.state.last_sequence if decision else None,
        )
        if r.duplicate:
            # Written before (a retried append after a crash): resync from the log.
            await self.refresh()
        else:
            self.state.apply_stored(r.sequence, ev)
        return r.sequence

    async def refresh(self) -> ExecutionState:
        """Re-read the execution from the log (after a conflict)."""
        events = await self.log.read_aggregate("execution", self.state.execution_id)
        fresh = fold(self.state.execution_id, events)
        self.state.__dict__.update(fresh.__dict__)
        return self.state


__all__ = ["ConcurrencyConflict", "Recorder"]
