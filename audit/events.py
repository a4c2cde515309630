"""Stored events as plain JSON objects (the export format, also what `story` reads)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format

from labs_core.eventlog import StoredEvent


def event_time(stored: StoredEvent) -> datetime:
    """When the event happened (the writer's clock), as an aware datetime."""
    ts = stored.event.occurred_at
    return datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=UTC)


def payload(stored: StoredEvent) -> dict[str, Any]:
    """The payload in the proto3 JSON mapping (lowerCamelCase keys, enum names)."""
    kind = stored.event.WhichOneof("payload")
    return json_format.MessageToDict(getattr(stored.event, kind)) if kind else {}


def trace_id(traceparent: str) -> str:
    """The trace id of a W3C traceparent, or ""."""
    parts = traceparent.split("-")
    return parts[1] if len(parts) >= 4 and len(parts[1]) == 32 else ""


def to_json(stored: StoredEvent) -> dict[str, Any]:
    """One event as an export line: sequence, subject, time, type, payload and the envelope's ids."""
    ev = stored.event
    return {
        "sequence": stored.sequence,
        "subject": stored.subject,
        "time": event_time(stored).isoformat().replace("+00:00", "Z"),
        "type": ev.WhichOneof("payload") or "",
        "payload": payload(stored),
        "aggregate_type": ev.aggregate_type,
        "aggregate_id": ev.aggregate_id,
        "event_id": ev.event_id,
        "actor": ev.actor,
        "trace_id": trace_id(ev.traceparent),
        "causation_id": ev.causation_id,
        "correlation_id": ev.correlation_id,
        "schema_version": ev.schema_version,
    }
