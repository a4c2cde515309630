from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CATEGORY_UNSPECIFIED: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_VALIDATION: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_PERMISSION: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_TOOL_UNAVAILABLE: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_MODEL_UNAVAILABLE: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_TIMEOUT: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_WORKER_LOST: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_TOOL_ERROR: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_INTERNAL: _ClassVar[ErrorCategory]
    ERROR_CATEGORY_BUDGET: _ClassVar[ErrorCategory]

class CallOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALL_OUTCOME_UNSPECIFIED: _ClassVar[CallOutcome]
    CALL_OUTCOME_OK: _ClassVar[CallOutcome]
    CALL_OUTCOME_ERROR: _ClassVar[CallOutcome]
    CALL_OUTCOME_CANCELLED: _ClassVar[CallOutcome]
ERROR_CATEGORY_UNSPECIFIED: ErrorCategory
ERROR_CATEGORY_VALIDATION: ErrorCategory
ERROR_CATEGORY_PERMISSION: ErrorCategory
ERROR_CATEGORY_TOOL_UNAVAILABLE: ErrorCategory
ERROR_CATEGORY_MODEL_UNAVAILABLE: ErrorCategory
ERROR_CATEGORY_TIMEOUT: ErrorCategory
ERROR_CATEGORY_WORKER_LOST: ErrorCategory
ERROR_CATEGORY_TOOL_ERROR: ErrorCategory
ERROR_CATEGORY_INTERNAL: ErrorCategory
ERROR_CATEGORY_BUDGET: ErrorCategory
CALL_OUTCOME_UNSPECIFIED: CallOutcome
CALL_OUTCOME_OK: CallOutcome
CALL_OUTCOME_ERROR: CallOutcome
CALL_OUTCOME_CANCELLED: CallOutcome

class PhaseTimings(_message.Message):
    __slots__ = ("initialize_us", "preprocess_us", "execute_us", "postprocess_us", "shutdown_us")
    INITIALIZE_US_FIELD_NUMBER: _ClassVar[int]
    PREPROCESS_US_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_US_FIELD_NUMBER: _ClassVar[int]
    POSTPROCESS_US_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_US_FIELD_NUMBER: _ClassVar[int]
    initialize_us: int
    preprocess_us: int
    execute_us: int
    postprocess_us: int
    shutdown_us: int
    def __init__(self, initialize_us: _Optional[int] = ..., preprocess_us: _Optional[int] = ..., execute_us: _Optional[int] = ..., postprocess_us: _Optional[int] = ..., shutdown_us: _Optional[int] = ...) -> None: ...

class ExecutionRequested(_message.Message):
    __slots__ = ("agent_type", "action", "input", "request_id", "task_id", "timeout_ms", "max_tokens", "max_cost_usd")
    AGENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_COST_USD_FIELD_NUMBER: _ClassVar[int]
    agent_type: str
    action: str
    input: _struct_pb2.Struct
    request_id: str
    task_id: str
    timeout_ms: int
    max_tokens: int
    max_cost_usd: float
    def __init__(self, agent_type: _Optional[str] = ..., action: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ..., task_id: _Optional[str] = ..., timeout_ms: _Optional[int] = ..., max_tokens: _Optional[int] = ..., max_cost_usd: _Optional[float] = ...) -> None: ...

class ExecutionStarted(_message.Message):
    __slots__ = ("attempt", "worker_id")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    worker_id: str
    def __init__(self, attempt: _Optional[int] = ..., worker_id: _Optional[str] = ...) -> None: ...

class ToolCallCompleted(_message.Message):
    __slots__ = ("step", "tool", "arguments", "result", "duration_us", "outcome", "error_message", "idempotency_key", "attempt")
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    step: int
    tool: str
    arguments: _struct_pb2.Struct
    result: _struct_pb2.Struct
    duration_us: int
    outcome: CallOutcome
    error_message: str
    idempotency_key: str
    attempt: int
    def __init__(self, step: _Optional[int] = ..., tool: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., duration_us: _Optional[int] = ..., outcome: _Optional[_Union[CallOutcome, str]] = ..., error_message: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class ModelCallCompleted(_message.Message):
    __slots__ = ("step", "provider", "model", "tokens_in", "tokens_out", "cost_usd", "duration_us", "outcome", "text", "attempt", "error_message", "tool_calls")
    STEP_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOKENS_IN_FIELD_NUMBER: _ClassVar[int]
    TOKENS_OUT_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    step: int
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    duration_us: int
    outcome: CallOutcome
    text: str
    attempt: int
    error_message: str
    tool_calls: _containers.RepeatedCompositeFieldContainer[ModelToolCall]
    def __init__(self, step: _Optional[int] = ..., provider: _Optional[str] = ..., model: _Optional[str] = ..., tokens_in: _Optional[int] = ..., tokens_out: _Optional[int] = ..., cost_usd: _Optional[float] = ..., duration_us: _Optional[int] = ..., outcome: _Optional[_Union[CallOutcome, str]] = ..., text: _Optional[str] = ..., attempt: _Optional[int] = ..., error_message: _Optional[str] = ..., tool_calls: _Optional[_Iterable[_Union[ModelToolCall, _Mapping]]] = ...) -> None: ...

class ModelToolCall(_message.Message):
    __slots__ = ("id", "name", "arguments")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    arguments: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AttemptFailed(_message.Message):
    __slots__ = ("attempt", "category", "message", "retry_delay_ms", "will_retry", "phases")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    WILL_RETRY_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    category: ErrorCategory
    message: str
    retry_delay_ms: int
    will_retry: bool
    phases: PhaseTimings
    def __init__(self, attempt: _Optional[int] = ..., category: _Optional[_Union[ErrorCategory, str]] = ..., message: _Optional[str] = ..., retry_delay_ms: _Optional[int] = ..., will_retry: _Optional[bool] = ..., phases: _Optional[_Union[PhaseTimings, _Mapping]] = ...) -> None: ...

class ExecutionCompleted(_message.Message):
    __slots__ = ("output", "attempt", "phases")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    output: _struct_pb2.Struct
    attempt: int
    phases: PhaseTimings
    def __init__(self, output: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., attempt: _Optional[int] = ..., phases: _Optional[_Union[PhaseTimings, _Mapping]] = ...) -> None: ...

class ExecutionFailed(_message.Message):
    __slots__ = ("category", "message", "attempt", "phases")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    category: ErrorCategory
    message: str
    attempt: int
    phases: PhaseTimings
    def __init__(self, category: _Optional[_Union[ErrorCategory, str]] = ..., message: _Optional[str] = ..., attempt: _Optional[int] = ..., phases: _Optional[_Union[PhaseTimings, _Mapping]] = ...) -> None: ...

class ExecutionTimedOut(_message.Message):
    __slots__ = ("attempt", "timeout_ms")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    timeout_ms: int
    def __init__(self, attempt: _Optional[int] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class CancellationRequested(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class ExecutionCancelled(_message.Message):
    __slots__ = ("reason", "attempt")
    REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    reason: str
    attempt: int
    def __init__(self, reason: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class MetricUpdated(_message.Message):
    __slots__ = ("name", "delta", "step", "attempt")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    name: str
    delta: float
    step: int
    attempt: int
    def __init__(self, name: _Optional[str] = ..., delta: _Optional[float] = ..., step: _Optional[int] = ..., attempt: _Optional[int] = ...) -> None: ...

class MemoryWritten(_message.Message):
    __slots__ = ("key", "value", "step", "attempt")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: _struct_pb2.Value
    step: int
    attempt: int
    def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., step: _Optional[int] = ..., attempt: _Optional[int] = ...) -> None: ...
