"""Recording each proxy call as a ModelCallRecorded event on the event log (and a test double)."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from labs.events.v1 import llm_pb2

from labs_core.errors import EventLogUnavailable
from labs_core.eventlog import EventLog, new_event
from labs_core.tracing import current_traceparent
from services.llm.domain.model import CallRecord, clamp_u32

log = logging.getLogger(__name__)

AGGREGATE = "llmcall"
ACTOR = "llm"


class CallRecorder(Protocol):
    """Where the proxy records its calls."""

    async def record(self, call: CallRecord) -> None:
        """Record `call` (idempotent per call id)."""
        ...


class EventLogRecorder:
    """Appends one `llmcall` event per call; the message id is the call id, so a retry is a no-op."""

    def __init__(self, eventlog: EventLog, *, attempts: int = 5, backoff_s: float = 0.2) -> None:
        self._log = eventlog
        self._attempts = attempts
        self._backoff_s = backoff_s

    async def record(self, call: CallRecord) -> None:
        """Append the event, retrying while the log is unavailable; give up loudly after that."""
        event = new_event(
            AGGREGATE,
            call.call_id,
            correlation_id=call.execution_id,
            actor=ACTOR,
            # The recording task runs in the caller's context: the call's own span.
            traceparent=current_traceparent(),
            model_call_recorded=to_event(call),
        )
        for attempt in range(1, self._attempts + 1):
            try:
                await self._log.append(event, msg_id=f"{AGGREGATE}:{call.call_id}")
                return
            except EventLogUnavailable:
                if attempt == self._attempts:
                    log.exception("llm: call %s could not be recorded", call.call_id)
                    return
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))


class DiscardRecorder:
    """Records nothing: a proxy built without an event log (benchmarks, tools)."""

    async def record(self, call: CallRecord) -> None:
        """Drop `call`."""


class MemoryRecorder:
    """Keeps the records in a list (unit tests of the proxy)."""

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []

    async def record(self, call: CallRecord) -> None:
        """Keep `call`."""
        self.calls.append(call)


def to_event(call: CallRecord) -> llm_pb2.ModelCallRecorded:
    """CallRecord -> ModelCallRecorded (protobuf)."""
    return llm_pb2.ModelCallRecorded(
        provider=call.provider,
        model=call.model,
        requested_model=call.requested_model,
        input_tokens=clamp_u32(call.usage.input_tokens),
        output_tokens=clamp_u32(call.usage.output_tokens),
        estimated=call.usage.estimated,
        cost_usd=call.cost_usd,
        latency_us=clamp_u32(call.latency_us),
        outcome=call.outcome,
        error=call.error,
        fallbacks=list(call.fallbacks),
        streamed=call.streamed,
        finish_reason=call.finish_reason,
        tool_calls=call.tool_calls,
        attempts=call.attempts,
    )
