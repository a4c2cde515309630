"""Stored events -> the public ExecutionEvent (payload in the proto3 JSON mapping)."""

from __future__ import annotations

from google.protobuf import json_format
from labs.agents.v1 import agent_service_pb2 as pb

from labs_core.eventlog import StoredEvent
from services.runtime.handlers.audit import EventPage, encode_page_token


def trace_id(traceparent: str) -> str:
    """The trace id of a W3C traceparent (`00-<32 hex>-<16 hex>-<2 hex>`), or "" when malformed."""
    parts = traceparent.split("-")
    if len(parts) >= 4 and len(parts[1]) == 32 and parts[1] != "0" * 32:
        try:
            int(parts[1], 16)
        except ValueError:
            return ""
        return parts[1]
    return ""


def execution_event(stored: StoredEvent, out: pb.ExecutionEvent | None = None) -> pb.ExecutionEvent:
    """One stored event as the API's ExecutionEvent."""
    ev = stored.event
    kind = ev.WhichOneof("payload") or ""
    item = out if out is not None else pb.ExecutionEvent()
    item.sequence = stored.sequence
    item.time.CopyFrom(ev.occurred_at)
    item.type = kind
    if kind:
        item.payload.update(json_format.MessageToDict(getattr(ev, kind)))
    item.actor = ev.actor
    item.trace_id = trace_id(ev.traceparent)
    item.subject = stored.subject
    item.event_id = ev.event_id
    item.causation_id = ev.causation_id
    item.schema_version = ev.schema_version
    return item


def event_page(page: EventPage) -> pb.ListExecutionEventsResponse:
    """A page of events as ListExecutionEventsResponse."""
    resp = pb.ListExecutionEventsResponse(
        next_from_sequence=page.next_from_sequence,
        next_page_token=encode_page_token(page.next_from_sequence) if page.next_from_sequence else "",
        finished=page.finished,
    )
    for stored in page.events:
        execution_event(stored, resp.events.add())
    return resp
