"""Appends an execution's events with optimistic concurrency and keeps its folded state current."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
from collections import deque
from typing import Any

from labs.events.v1 import envelope_pb2

from labs_core import tracing
from labs_core.errors import ConcurrencyConflict, EventLogUnavailable
from labs_core.eventlog import EventLog, new_event
from services.runtime.domain.state import ExecutionState, fold


def compact_msg_id(execution_id: str, step_key: str) -> str:
    """A short, deterministic Nats-Msg-Id for one step of one execution (stored with each event)."""
    digest = hashlib.blake2b(f"{execution_id}:{step_key}".encode(), digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class Recorder:
    """The single writer of one execution's events within one attempt.

    Decisions (start, retry, terminal outcome) expect the aggregate's last sequence as this worker
    knows it, so a concurrent write (a cancellation, another worker after a redelivery) surfaces
    as ConcurrencyConflict and the caller re-reads and decides again. Message ids make a retried
    append a no-op.

    Records of what already happened (a tool or model call, a metric or memory write) are written
    behind: folded into the state at once (budgets see a model call's tokens immediately) and
    appended in order by a background writer while the agent goes on, so a step costs the agent
    no round trip to the log. Every record is stored before the next decision is appended (a
    decision waits for them), and a record that could not be stored fails the agent's next call
    or the decision. A worker lost with records still in flight loses only those: the next attempt
    replays what was stored and calls again what was not, with the same idempotency keys.
    """

    def __init__(self, log: EventLog, state: ExecutionState, *, actor: str, traceparent: str = "") -> None:
        self.log = log
        self.state = state
        self.actor = actor
        self.traceparent = traceparent
        self._behind: deque[tuple[str, envelope_pb2.Event]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._resync = False

    def _event(self, payload: dict[str, Any]) -> envelope_pb2.Event:
        # The current span (this attempt's, or a tool call's) when tracing is on.
        traceparent = tracing.current_traceparent() or self.traceparent
        return new_event(
            "execution", self.state.execution_id, actor=self.actor, traceparent=traceparent, **payload
        )

    async def append(self, msg_id: str, **payload: Any) -> int:
        """Append one decision of the execution, after every record before it; returns its sequence."""
        await self.flush()
        ev = self._event(payload)
        r = await self.log.append(
            ev,
            msg_id=compact_msg_id(self.state.execution_id, msg_id),
            expected_sequence=self.state.last_sequence,
        )
        if r.duplicate:
            # Written before (a retried append after a crash): resync from the log.
            await self.refresh()
        else:
            self.state.apply_stored(r.sequence, ev)
        return r.sequence

    def record(self, msg_id: str, **payload: Any) -> None:
        """Record something that happened: folded into the state now, stored in order behind.

        Appended unconditionally (no expected sequence): the fact stands whoever else is writing,
        and the next decision still detects the other writer. Raises the failure of an earlier
        record, if one could not be stored.
        """
        if self._failure is not None:
            raise self._failure
        ev = self._event(payload)
        self.state.apply_stored(self.state.last_sequence, ev)  # its sequence comes with the ack
        self._behind.append((compact_msg_id(self.state.execution_id, msg_id), ev))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_behind(), name=f"record {self.state.execution_id}")

    async def _write_behind(self) -> None:
        while self._behind:
            msg_id, ev = self._behind[0]
            try:
                r = await self.log.append(ev, msg_id=msg_id)
            except asyncio.CancelledError:
                self._failure = EventLogUnavailable(f"record {msg_id} was not stored: the writer was stopped")
                self._behind.clear()
                raise
            except Exception as e:
                self._failure = e
                self._behind.clear()
                return
            self._behind.popleft()
            if r.duplicate:
                self._resync = True  # stored by an earlier attempt: the log knows the sequence
            else:
                self.state.last_sequence = max(self.state.last_sequence, r.sequence)

    async def flush(self) -> None:
        """Wait until every record is stored; raise the failure of one that could not be."""
        if self._writer is not None:
            await asyncio.wait({self._writer})  # it returns its failure in _failure, never raises it
            self._writer = None
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
        if self._resync:
            self._resync = False
            await self._reread()

    async def refresh(self) -> ExecutionState:
        """Re-read the execution from the log (after a conflict), once its records are stored."""
        with contextlib.suppress(Exception):
            await self.flush()  # the re-read must include them; a failed one is simply not there
        return await self._reread()

    async def _reread(self) -> ExecutionState:
        events = await self.log.read_aggregate("execution", self.state.execution_id)
        fresh = fold(self.state.execution_id, events)
        self.state.__dict__.update(fresh.__dict__)
        return self.state


__all__ = ["ConcurrencyConflict", "Recorder"]
