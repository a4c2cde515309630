"""The metrics projection reads exactly the events that carry a fact, by subject."""

from __future__ import annotations

from labs.events.v1 import envelope_pb2

from labs_core.eventlog import StoredEvent, subject_for
from labs_core.eventlog.log import SubjectMatcher
from services.metrics.mapper import LLM_CALL, to_fact
from services.metrics.projections.execution_metrics import ExecutionMetrics


def test_subjects_are_the_event_types_that_become_facts() -> None:
    matches = SubjectMatcher(ExecutionMetrics("p").subjects)
    payloads = envelope_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields
    assert len(payloads) > 12
    read = set()
    for aggregate in ("execution", LLM_CALL, "listing"):
        for field in payloads:
            ev = envelope_pb2.Event(aggregate_type=aggregate, aggregate_id="a1", correlation_id="x1")
            getattr(ev, field.name).SetInParent()
            subject = subject_for("p", ev)
            has_fact = to_fact(StoredEvent(1, subject, ev)) is not None
            assert matches(subject) == has_fact, (aggregate, field.name)
            if has_fact:
                read.add(field.name)
    assert "execution_requested" in read and "model_call_recorded" in read
    assert "model_call_completed" not in read and "execution_started" not in read
