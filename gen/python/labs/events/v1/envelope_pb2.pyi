import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from labs.events.v1 import agent_pb2 as _agent_pb2
from labs.events.v1 import collection_pb2 as _collection_pb2
from labs.events.v1 import execution_pb2 as _execution_pb2
from labs.events.v1 import listing_pb2 as _listing_pb2
from labs.events.v1 import schedule_pb2 as _schedule_pb2
from labs.events.v1 import tool_registry_pb2 as _tool_registry_pb2
from labs.events.v1 import notification_pb2 as _notification_pb2
from labs.events.v1 import llm_pb2 as _llm_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Event(_message.Message):
    __slots__ = ("event_id", "aggregate_type", "aggregate_id", "occurred_at", "correlation_id", "causation_id", "actor", "traceparent", "tracestate", "schema_version", "actor_role", "execution_requested", "execution_started", "tool_call_completed", "model_call_completed", "attempt_failed", "execution_completed", "execution_failed", "execution_timed_out", "cancellation_requested", "execution_cancelled", "metric_updated", "memory_written", "agent_registered", "listing_created", "listing_price_changed", "listing_status_changed", "schedule_created", "schedule_cancelled", "schedule_occurrence_fired", "schedule_occurrences_skipped", "tool_registered", "tool_retired", "listing_deleted", "listing_batch_processed", "collection_created", "collection_item_added", "collection_item_removed", "collection_reordered", "notification_sent", "notification_delivered", "notification_delivery_failed", "model_call_recorded")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_TYPE_FIELD_NUMBER: _ClassVar[int]
    AGGREGATE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TRACESTATE_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ROLE_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_STARTED_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    MODEL_CALL_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FAILED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FAILED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    METRIC_UPDATED_FIELD_NUMBER: _ClassVar[int]
    MEMORY_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    AGENT_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    LISTING_CREATED_FIELD_NUMBER: _ClassVar[int]
    LISTING_PRICE_CHANGED_FIELD_NUMBER: _ClassVar[int]
    LISTING_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_CREATED_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_OCCURRENCE_FIRED_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_OCCURRENCES_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    TOOL_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    TOOL_RETIRED_FIELD_NUMBER: _ClassVar[int]
    LISTING_DELETED_FIELD_NUMBER: _ClassVar[int]
    LISTING_BATCH_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_CREATED_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ITEM_ADDED_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ITEM_REMOVED_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_REORDERED_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_SENT_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_DELIVERED_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_DELIVERY_FAILED_FIELD_NUMBER: _ClassVar[int]
    MODEL_CALL_RECORDED_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: _timestamp_pb2.Timestamp
    correlation_id: str
    causation_id: str
    actor: str
    traceparent: str
    tracestate: str
    schema_version: int
    actor_role: str
    execution_requested: _execution_pb2.ExecutionRequested
    execution_started: _execution_pb2.ExecutionStarted
    tool_call_completed: _execution_pb2.ToolCallCompleted
    model_call_completed: _execution_pb2.ModelCallCompleted
    attempt_failed: _execution_pb2.AttemptFailed
    execution_completed: _execution_pb2.ExecutionCompleted
    execution_failed: _execution_pb2.ExecutionFailed
    execution_timed_out: _execution_pb2.ExecutionTimedOut
    cancellation_requested: _execution_pb2.CancellationRequested
    execution_cancelled: _execution_pb2.ExecutionCancelled
    metric_updated: _execution_pb2.MetricUpdated
    memory_written: _execution_pb2.MemoryWritten
    agent_registered: _agent_pb2.AgentRegistered
    listing_created: _listing_pb2.ListingCreated
    listing_price_changed: _listing_pb2.ListingPriceChanged
    listing_status_changed: _listing_pb2.ListingStatusChanged
    schedule_created: _schedule_pb2.ScheduleCreated
    schedule_cancelled: _schedule_pb2.ScheduleCancelled
    schedule_occurrence_fired: _schedule_pb2.ScheduleOccurrenceFired
    schedule_occurrences_skipped: _schedule_pb2.ScheduleOccurrencesSkipped
    tool_registered: _tool_registry_pb2.ToolRegistered
    tool_retired: _tool_registry_pb2.ToolRetired
    listing_deleted: _listing_pb2.ListingDeleted
    listing_batch_processed: _schedule_pb2.ListingBatchProcessed
    collection_created: _collection_pb2.CollectionCreated
    collection_item_added: _collection_pb2.CollectionItemAdded
    collection_item_removed: _collection_pb2.CollectionItemRemoved
    collection_reordered: _collection_pb2.CollectionReordered
    notification_sent: _notification_pb2.NotificationSent
    notification_delivered: _notification_pb2.NotificationDelivered
    notification_delivery_failed: _notification_pb2.NotificationDeliveryFailed
    model_call_recorded: _llm_pb2.ModelCallRecorded
    def __init__(self, event_id: _Optional[str] = ..., aggregate_type: _Optional[str] = ..., aggregate_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., correlation_id: _Optional[str] = ..., causation_id: _Optional[str] = ..., actor: _Optional[str] = ..., traceparent: _Optional[str] = ..., tracestate: _Optional[str] = ..., schema_version: _Optional[int] = ..., actor_role: _Optional[str] = ..., execution_requested: _Optional[_Union[_execution_pb2.ExecutionRequested, _Mapping]] = ..., execution_started: _Optional[_Union[_execution_pb2.ExecutionStarted, _Mapping]] = ..., tool_call_completed: _Optional[_Union[_execution_pb2.ToolCallCompleted, _Mapping]] = ..., model_call_completed: _Optional[_Union[_execution_pb2.ModelCallCompleted, _Mapping]] = ..., attempt_failed: _Optional[_Union[_execution_pb2.AttemptFailed, _Mapping]] = ..., execution_completed: _Optional[_Union[_execution_pb2.ExecutionCompleted, _Mapping]] = ..., execution_failed: _Optional[_Union[_execution_pb2.ExecutionFailed, _Mapping]] = ..., execution_timed_out: _Optional[_Union[_execution_pb2.ExecutionTimedOut, _Mapping]] = ..., cancellation_requested: _Optional[_Union[_execution_pb2.CancellationRequested, _Mapping]] = ..., execution_cancelled: _Optional[_Union[_execution_pb2.ExecutionCancelled, _Mapping]] = ..., metric_updated: _Optional[_Union[_execution_pb2.MetricUpdated, _Mapping]] = ..., memory_written: _Optional[_Union[_execution_pb2.MemoryWritten, _Mapping]] = ..., agent_registered: _Optional[_Union[_agent_pb2.AgentRegistered, _Mapping]] = ..., listing_created: _Optional[_Union[_listing_pb2.ListingCreated, _Mapping]] = ..., listing_price_changed: _Optional[_Union[_listing_pb2.ListingPriceChanged, _Mapping]] = ..., listing_status_changed: _Optional[_Union[_listing_pb2.ListingStatusChanged, _Mapping]] = ..., schedule_created: _Optional[_Union[_schedule_pb2.ScheduleCreated, _Mapping]] = ..., schedule_cancelled: _Optional[_Union[_schedule_pb2.ScheduleCancelled, _Mapping]] = ..., schedule_occurrence_fired: _Optional[_Union[_schedule_pb2.ScheduleOccurrenceFired, _Mapping]] = ..., schedule_occurrences_skipped: _Optional[_Union[_schedule_pb2.ScheduleOccurrencesSkipped, _Mapping]] = ..., tool_registered: _Optional[_Union[_tool_registry_pb2.ToolRegistered, _Mapping]] = ..., tool_retired: _Optional[_Union[_tool_registry_pb2.ToolRetired, _Mapping]] = ..., listing_deleted: _Optional[_Union[_listing_pb2.ListingDeleted, _Mapping]] = ..., listing_batch_processed: _Optional[_Union[_schedule_pb2.ListingBatchProcessed, _Mapping]] = ..., collection_created: _Optional[_Union[_collection_pb2.CollectionCreated, _Mapping]] = ..., collection_item_added: _Optional[_Union[_collection_pb2.CollectionItemAdded, _Mapping]] = ..., collection_item_removed: _Optional[_Union[_collection_pb2.CollectionItemRemoved, _Mapping]] = ..., collection_reordered: _Optional[_Union[_collection_pb2.CollectionReordered, _Mapping]] = ..., notification_sent: _Optional[_Union[_notification_pb2.NotificationSent, _Mapping]] = ..., notification_delivered: _Optional[_Union[_notification_pb2.NotificationDelivered, _Mapping]] = ..., notification_delivery_failed: _Optional[_Union[_notification_pb2.NotificationDeliveryFailed, _Mapping]] = ..., model_call_recorded: _Optional[_Union[_llm_pb2.ModelCallRecorded, _Mapping]] = ...) -> None: ...
