"""The event log: one JetStream stream, protobuf envelopes, idempotent and concurrency-checked appends."""

from labs_core.eventlog.codec import event_type, new_event, subject_for
from labs_core.eventlog.log import AppendResult, EventLog, Hurry, StoredEvent

__all__ = ["AppendResult", "EventLog", "Hurry", "StoredEvent", "event_type", "new_event", "subject_for"]
