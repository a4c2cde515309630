"""NATS JetStream header names used by the log."""

MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
# Since nats-server 2.11: the subject filter (wildcards allowed) the expectation applies to.
EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT = "Nats-Expected-Last-Subject-Sequence-Subject"
# JetStream API error code for a failed expected-sequence check.
ERR_WRONG_LAST_SEQUENCE = 10071
