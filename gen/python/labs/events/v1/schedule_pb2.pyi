import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScheduleCreated(_message.Message):
    __slots__ = ("schedule_id", "cron", "timezone", "agent_type", "action", "input", "missed_policy", "created_by", "description")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    AGENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    MISSED_POLICY_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    cron: str
    timezone: str
    agent_type: str
    action: str
    input: _struct_pb2.Struct
    missed_policy: str
    created_by: str
    description: str
    def __init__(self, schedule_id: _Optional[str] = ..., cron: _Optional[str] = ..., timezone: _Optional[str] = ..., agent_type: _Optional[str] = ..., action: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., missed_policy: _Optional[str] = ..., created_by: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ScheduleCancelled(_message.Message):
    __slots__ = ("schedule_id", "reason")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    reason: str
    def __init__(self, schedule_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ScheduleOccurrenceFired(_message.Message):
    __slots__ = ("schedule_id", "occurrence_at", "execution_id", "request_id", "skipped_before", "error")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRENCE_AT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    occurrence_at: _timestamp_pb2.Timestamp
    execution_id: str
    request_id: str
    skipped_before: int
    error: str
    def __init__(self, schedule_id: _Optional[str] = ..., occurrence_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., execution_id: _Optional[str] = ..., request_id: _Optional[str] = ..., skipped_before: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class ScheduleOccurrencesSkipped(_message.Message):
    __slots__ = ("schedule_id", "up_to", "count")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    up_to: _timestamp_pb2.Timestamp
    count: int
    def __init__(self, schedule_id: _Optional[str] = ..., up_to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class ListingBatchProcessed(_message.Message):
    __slots__ = ("batch_id", "batch_key", "operation", "result")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_KEY_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    batch_key: str
    operation: str
    result: _struct_pb2.Struct
    def __init__(self, batch_id: _Optional[str] = ..., batch_key: _Optional[str] = ..., operation: _Optional[str] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
