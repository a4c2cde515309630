"""Envelope construction and the subject naming scheme.

Subjects are `<prefix>.<aggregate_type>.<aggregate_id>.<type>` where <type> is the payload's
field name with the aggregate's own prefix dropped: `agents.execution.<id>.requested`,
`agents.execution.<id>.tool_call_completed`, `agents.listing.<id>.created`.
"""

from __future__ import annotations

import re
import time
from typing import Any

from labs.events.v1 import envelope_pb2

from labs_core.errors import InvalidArgument
from labs_core.ids import uuid7

SCHEMA_VERSION = 1
#: One literal NATS subject token: printable ASCII without '.', '*', '>' or white space.
_TOKEN = re.compile(r"[!-)+-\-/-=?-~]{1,200}")


def event_type(event: envelope_pb2.Event) -> str:
    """The event's type: the name of the payload field that is set (e.g. `execution_requested`)."""
    kind = event.WhichOneof("payload")
    if kind is None:
        raise ValueError("event has no payload")
    return kind


def subject_token(aggregate_type: str, kind: str) -> str:
    """The last subject token for a payload kind within an aggregate type."""
    prefix = aggregate_type + "_"
    return kind[len(prefix) :] if kind.startswith(prefix) else kind


def subject_id(aggregate_id: str) -> str:
    """`aggregate_id` if it is one literal subject token; InvalidArgument otherwise.

    An id with '.', '*', '>' or white space in it would name other aggregates' subjects (a
    wildcard reads every execution's events), so it never becomes part of a subject.
    """
    if not aggregate_id or not _TOKEN.fullmatch(aggregate_id):
        raise InvalidArgument("aggregate_id", f"{aggregate_id!r} is not a valid id")
    return aggregate_id


def subject_for(prefix: str, event: envelope_pb2.Event) -> str:
    """The subject an event is appended to."""
    return f"{prefix}.{event.aggregate_type}.{subject_id(event.aggregate_id)}.{subject_token(event.aggregate_type, event_type(event))}"


def aggregate_filter(prefix: str, aggregate_type: str, aggregate_id: str) -> str:
    """The subject filter matching every event of one aggregate."""
    return f"{prefix}.{aggregate_type}.{subject_id(aggregate_id)}.>"


def new_event(
    aggregate_type: str,
    aggregate_id: str,
    *,
    correlation_id: str = "",
    causation_id: str = "",
    actor: str = "",
    actor_role: str = "",
    traceparent: str = "",
    occurred_at_ns: int | None = None,
    **payload: Any,
) -> envelope_pb2.Event:
    """A new envelope with a fresh id and time; pass exactly one payload as `kind=message`."""
    if len(payload) != 1:
        raise ValueError("exactly one payload is required")
    ((kind, message),) = payload.items()
    ev = envelope_pb2.Event(
        event_id=uuid7(),
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        correlation_id="" if correlation_id == aggregate_id else correlation_id,
        causation_id=causation_id,
        actor=actor,
        actor_role=actor_role,
        traceparent=traceparent,
        schema_version=SCHEMA_VERSION,
    )
    ns = occurred_at_ns if occurred_at_ns is not None else time.time_ns()
    ev.occurred_at.seconds, ev.occurred_at.nanos = divmod(ns, 1_000_000_000)
    getattr(ev, kind).CopyFrom(message)
    return ev
