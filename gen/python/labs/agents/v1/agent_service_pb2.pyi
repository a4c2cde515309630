import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from labs.api.v1 import routing_pb2 as _routing_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExecutionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_STATUS_UNSPECIFIED: _ClassVar[ExecutionStatus]
    QUEUED: _ClassVar[ExecutionStatus]
    RUNNING: _ClassVar[ExecutionStatus]
    RETRYING: _ClassVar[ExecutionStatus]
    COMPLETED: _ClassVar[ExecutionStatus]
    FAILED: _ClassVar[ExecutionStatus]
    CANCELLED: _ClassVar[ExecutionStatus]
    TIMED_OUT: _ClassVar[ExecutionStatus]
    BUDGET_EXCEEDED: _ClassVar[ExecutionStatus]
EXECUTION_STATUS_UNSPECIFIED: ExecutionStatus
QUEUED: ExecutionStatus
RUNNING: ExecutionStatus
RETRYING: ExecutionStatus
COMPLETED: ExecutionStatus
FAILED: ExecutionStatus
CANCELLED: ExecutionStatus
TIMED_OUT: ExecutionStatus
BUDGET_EXCEEDED: ExecutionStatus

class ExecuteRequest(_message.Message):
    __slots__ = ("type", "action", "input", "request_id", "timeout_ms", "max_tokens", "max_cost_usd")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_COST_USD_FIELD_NUMBER: _ClassVar[int]
    type: str
    action: str
    input: _struct_pb2.Struct
    request_id: str
    timeout_ms: int
    max_tokens: int
    max_cost_usd: float
    def __init__(self, type: _Optional[str] = ..., action: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ..., timeout_ms: _Optional[int] = ..., max_tokens: _Optional[int] = ..., max_cost_usd: _Optional[float] = ...) -> None: ...

class ExecuteResponse(_message.Message):
    __slots__ = ("execution_id", "task_id", "status")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    task_id: str
    status: ExecutionStatus
    def __init__(self, execution_id: _Optional[str] = ..., task_id: _Optional[str] = ..., status: _Optional[_Union[ExecutionStatus, str]] = ...) -> None: ...

class GetExecutionRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class GetExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: Execution
    def __init__(self, execution: _Optional[_Union[Execution, _Mapping]] = ...) -> None: ...

class TokenUsage(_message.Message):
    __slots__ = ("input", "output", "total")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    input: int
    output: int
    total: int
    def __init__(self, input: _Optional[int] = ..., output: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class ExecutionError(_message.Message):
    __slots__ = ("category", "message", "attempt")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    category: str
    message: str
    attempt: int
    def __init__(self, category: _Optional[str] = ..., message: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("step", "tool", "arguments", "result", "duration_ms", "outcome", "error_message", "attempt")
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOOL_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    step: int
    tool: str
    arguments: _struct_pb2.Struct
    result: _struct_pb2.Struct
    duration_ms: float
    outcome: str
    error_message: str
    attempt: int
    def __init__(self, step: _Optional[int] = ..., tool: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., duration_ms: _Optional[float] = ..., outcome: _Optional[str] = ..., error_message: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class ModelCall(_message.Message):
    __slots__ = ("step", "provider", "model", "tokens_in", "tokens_out", "cost_usd", "duration_ms", "outcome", "attempt")
    STEP_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TOKENS_IN_FIELD_NUMBER: _ClassVar[int]
    TOKENS_OUT_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    step: int
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    duration_ms: float
    outcome: str
    attempt: int
    def __init__(self, step: _Optional[int] = ..., provider: _Optional[str] = ..., model: _Optional[str] = ..., tokens_in: _Optional[int] = ..., tokens_out: _Optional[int] = ..., cost_usd: _Optional[float] = ..., duration_ms: _Optional[float] = ..., outcome: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("attempt", "error_category", "error_message", "retry_delay_ms", "failed_at")
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ERROR_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    attempt: int
    error_category: str
    error_message: str
    retry_delay_ms: int
    failed_at: _timestamp_pb2.Timestamp
    def __init__(self, attempt: _Optional[int] = ..., error_category: _Optional[str] = ..., error_message: _Optional[str] = ..., retry_delay_ms: _Optional[int] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Cancellation(_message.Message):
    __slots__ = ("requested_at", "requested_by", "reason")
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    requested_at: _timestamp_pb2.Timestamp
    requested_by: str
    reason: str
    def __init__(self, requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Phases(_message.Message):
    __slots__ = ("initialize_ms", "preprocess_ms", "execute_ms", "postprocess_ms", "shutdown_ms")
    INITIALIZE_MS_FIELD_NUMBER: _ClassVar[int]
    PREPROCESS_MS_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_MS_FIELD_NUMBER: _ClassVar[int]
    POSTPROCESS_MS_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_MS_FIELD_NUMBER: _ClassVar[int]
    initialize_ms: float
    preprocess_ms: float
    execute_ms: float
    postprocess_ms: float
    shutdown_ms: float
    def __init__(self, initialize_ms: _Optional[float] = ..., preprocess_ms: _Optional[float] = ..., execute_ms: _Optional[float] = ..., postprocess_ms: _Optional[float] = ..., shutdown_ms: _Optional[float] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ("execution_id", "task_id", "agent_type", "action", "input", "status", "output", "error", "attempts", "queued_at", "started_at", "finished_at", "duration_ms", "token_usage", "cost_usd", "tool_calls", "model_calls", "cancellation", "request_id", "failed_attempts", "phases", "submitted_by", "version")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_USAGE_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    MODEL_CALLS_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    FAILED_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_BY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    task_id: str
    agent_type: str
    action: str
    input: _struct_pb2.Struct
    status: ExecutionStatus
    output: _struct_pb2.Struct
    error: ExecutionError
    attempts: int
    queued_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    duration_ms: float
    token_usage: TokenUsage
    cost_usd: float
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCall]
    model_calls: _containers.RepeatedCompositeFieldContainer[ModelCall]
    cancellation: Cancellation
    request_id: str
    failed_attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    phases: Phases
    submitted_by: str
    version: int
    def __init__(self, execution_id: _Optional[str] = ..., task_id: _Optional[str] = ..., agent_type: _Optional[str] = ..., action: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[_Union[ExecutionStatus, str]] = ..., output: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[_Union[ExecutionError, _Mapping]] = ..., attempts: _Optional[int] = ..., queued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[float] = ..., token_usage: _Optional[_Union[TokenUsage, _Mapping]] = ..., cost_usd: _Optional[float] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCall, _Mapping]]] = ..., model_calls: _Optional[_Iterable[_Union[ModelCall, _Mapping]]] = ..., cancellation: _Optional[_Union[Cancellation, _Mapping]] = ..., request_id: _Optional[str] = ..., failed_attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., phases: _Optional[_Union[Phases, _Mapping]] = ..., submitted_by: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class CancelExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "reason")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    reason: str
    def __init__(self, execution_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelExecutionResponse(_message.Message):
    __slots__ = ("execution_id", "status", "cancellation_requested")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    status: ExecutionStatus
    cancellation_requested: bool
    def __init__(self, execution_id: _Optional[str] = ..., status: _Optional[_Union[ExecutionStatus, str]] = ..., cancellation_requested: _Optional[bool] = ...) -> None: ...

class ListExecutionHistoryRequest(_message.Message):
    __slots__ = ("agent", "status", "start_time", "end_time", "page_size", "page_token", "limit", "offset")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    agent: str
    status: _containers.RepeatedScalarFieldContainer[ExecutionStatus]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    limit: int
    offset: int
    def __init__(self, agent: _Optional[str] = ..., status: _Optional[_Iterable[_Union[ExecutionStatus, str]]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class ExecutionSummary(_message.Message):
    __slots__ = ("execution_id", "action", "status", "queued_at", "finished_at", "duration_ms", "attempts", "error_category", "error_message", "tokens", "cost_usd", "tool_calls")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_CATEGORY_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    action: str
    status: ExecutionStatus
    queued_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    duration_ms: float
    attempts: int
    error_category: str
    error_message: str
    tokens: int
    cost_usd: float
    tool_calls: int
    def __init__(self, execution_id: _Optional[str] = ..., action: _Optional[str] = ..., status: _Optional[_Union[ExecutionStatus, str]] = ..., queued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[float] = ..., attempts: _Optional[int] = ..., error_category: _Optional[str] = ..., error_message: _Optional[str] = ..., tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., tool_calls: _Optional[int] = ...) -> None: ...

class ErrorCount(_message.Message):
    __slots__ = ("category", "count", "example")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_FIELD_NUMBER: _ClassVar[int]
    category: str
    count: int
    example: str
    def __init__(self, category: _Optional[str] = ..., count: _Optional[int] = ..., example: _Optional[str] = ...) -> None: ...

class DayTrend(_message.Message):
    __slots__ = ("day", "executions", "success_rate", "p50_ms")
    DAY_FIELD_NUMBER: _ClassVar[int]
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    day: str
    executions: int
    success_rate: float
    p50_ms: float
    def __init__(self, day: _Optional[str] = ..., executions: _Optional[int] = ..., success_rate: _Optional[float] = ..., p50_ms: _Optional[float] = ...) -> None: ...

class HistorySummary(_message.Message):
    __slots__ = ("executions", "success_rate", "p50_ms", "p95_ms", "p99_ms", "top_errors", "trend")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    TOP_ERRORS_FIELD_NUMBER: _ClassVar[int]
    TREND_FIELD_NUMBER: _ClassVar[int]
    executions: int
    success_rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    top_errors: _containers.RepeatedCompositeFieldContainer[ErrorCount]
    trend: _containers.RepeatedCompositeFieldContainer[DayTrend]
    def __init__(self, executions: _Optional[int] = ..., success_rate: _Optional[float] = ..., p50_ms: _Optional[float] = ..., p95_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ..., top_errors: _Optional[_Iterable[_Union[ErrorCount, _Mapping]]] = ..., trend: _Optional[_Iterable[_Union[DayTrend, _Mapping]]] = ...) -> None: ...

class ListExecutionHistoryResponse(_message.Message):
    __slots__ = ("executions", "next_page_token", "summary", "total_size")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[ExecutionSummary]
    next_page_token: str
    summary: HistorySummary
    total_size: int
    def __init__(self, executions: _Optional[_Iterable[_Union[ExecutionSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., summary: _Optional[_Union[HistorySummary, _Mapping]] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = ("period", "agent_type")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    AGENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    period: str
    agent_type: str
    def __init__(self, period: _Optional[str] = ..., agent_type: _Optional[str] = ...) -> None: ...

class Latency(_message.Message):
    __slots__ = ("p50_ms", "p95_ms", "p99_ms", "mean_ms")
    P50_MS_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    P99_MS_FIELD_NUMBER: _ClassVar[int]
    MEAN_MS_FIELD_NUMBER: _ClassVar[int]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    def __init__(self, p50_ms: _Optional[float] = ..., p95_ms: _Optional[float] = ..., p99_ms: _Optional[float] = ..., mean_ms: _Optional[float] = ...) -> None: ...

class ToolStats(_message.Message):
    __slots__ = ("tool", "calls", "errors", "error_rate")
    TOOL_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    tool: str
    calls: int
    errors: int
    error_rate: float
    def __init__(self, tool: _Optional[str] = ..., calls: _Optional[int] = ..., errors: _Optional[int] = ..., error_rate: _Optional[float] = ...) -> None: ...

class MetricsBucket(_message.Message):
    __slots__ = ("start", "executions", "completed", "failed", "p95_ms", "tokens", "cost_usd")
    START_FIELD_NUMBER: _ClassVar[int]
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    P95_MS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    executions: int
    completed: int
    failed: int
    p95_ms: float
    tokens: int
    cost_usd: float
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., executions: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., p95_ms: _Optional[float] = ..., tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ...) -> None: ...

class AgentMetrics(_message.Message):
    __slots__ = ("agent_type", "executions_by_status", "executions", "success_rate", "latency", "tokens_in", "tokens_out", "cost_usd", "top_errors", "tools", "custom_metrics", "series")
    class ExecutionsByStatusEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class CustomMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    AGENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXECUTIONS_BY_STATUS_FIELD_NUMBER: _ClassVar[int]
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_FIELD_NUMBER: _ClassVar[int]
    TOKENS_IN_FIELD_NUMBER: _ClassVar[int]
    TOKENS_OUT_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    TOP_ERRORS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_METRICS_FIELD_NUMBER: _ClassVar[int]
    SERIES_FIELD_NUMBER: _ClassVar[int]
    agent_type: str
    executions_by_status: _containers.ScalarMap[str, int]
    executions: int
    success_rate: float
    latency: Latency
    tokens_in: int
    tokens_out: int
    cost_usd: float
    top_errors: _containers.RepeatedCompositeFieldContainer[ErrorCount]
    tools: _containers.RepeatedCompositeFieldContainer[ToolStats]
    custom_metrics: _containers.ScalarMap[str, float]
    series: _containers.RepeatedCompositeFieldContainer[MetricsBucket]
    def __init__(self, agent_type: _Optional[str] = ..., executions_by_status: _Optional[_Mapping[str, int]] = ..., executions: _Optional[int] = ..., success_rate: _Optional[float] = ..., latency: _Optional[_Union[Latency, _Mapping]] = ..., tokens_in: _Optional[int] = ..., tokens_out: _Optional[int] = ..., cost_usd: _Optional[float] = ..., top_errors: _Optional[_Iterable[_Union[ErrorCount, _Mapping]]] = ..., tools: _Optional[_Iterable[_Union[ToolStats, _Mapping]]] = ..., custom_metrics: _Optional[_Mapping[str, float]] = ..., series: _Optional[_Iterable[_Union[MetricsBucket, _Mapping]]] = ...) -> None: ...

class QueueDepth(_message.Message):
    __slots__ = ("pending", "in_flight")
    PENDING_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    pending: int
    in_flight: int
    def __init__(self, pending: _Optional[int] = ..., in_flight: _Optional[int] = ...) -> None: ...

class GetMetricsResponse(_message.Message):
    __slots__ = ("period", "window_start", "window_end", "bucket_seconds", "total", "agents", "queue")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    WINDOW_END_FIELD_NUMBER: _ClassVar[int]
    BUCKET_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    period: str
    window_start: _timestamp_pb2.Timestamp
    window_end: _timestamp_pb2.Timestamp
    bucket_seconds: int
    total: AgentMetrics
    agents: _containers.RepeatedCompositeFieldContainer[AgentMetrics]
    queue: QueueDepth
    def __init__(self, period: _Optional[str] = ..., window_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., window_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bucket_seconds: _Optional[int] = ..., total: _Optional[_Union[AgentMetrics, _Mapping]] = ..., agents: _Optional[_Iterable[_Union[AgentMetrics, _Mapping]]] = ..., queue: _Optional[_Union[QueueDepth, _Mapping]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_attempts", "initial_delay_ms", "max_delay_ms", "jitter")
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    JITTER_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    initial_delay_ms: int
    max_delay_ms: int
    jitter: float
    def __init__(self, max_attempts: _Optional[int] = ..., initial_delay_ms: _Optional[int] = ..., max_delay_ms: _Optional[int] = ..., jitter: _Optional[float] = ...) -> None: ...

class Availability(_message.Message):
    __slots__ = ("workers_online", "executions_running", "queue_depth")
    WORKERS_ONLINE_FIELD_NUMBER: _ClassVar[int]
    EXECUTIONS_RUNNING_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    workers_online: int
    executions_running: int
    queue_depth: int
    def __init__(self, workers_online: _Optional[int] = ..., executions_running: _Optional[int] = ..., queue_depth: _Optional[int] = ...) -> None: ...

class Agent(_message.Message):
    __slots__ = ("type", "version", "description", "actions", "allowed_tools", "timeout_ms", "max_timeout_ms", "retry", "availability")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    RETRY_FIELD_NUMBER: _ClassVar[int]
    AVAILABILITY_FIELD_NUMBER: _ClassVar[int]
    type: str
    version: int
    description: str
    actions: _containers.RepeatedScalarFieldContainer[str]
    allowed_tools: _containers.RepeatedScalarFieldContainer[str]
    timeout_ms: int
    max_timeout_ms: int
    retry: RetryPolicy
    availability: Availability
    def __init__(self, type: _Optional[str] = ..., version: _Optional[int] = ..., description: _Optional[str] = ..., actions: _Optional[_Iterable[str]] = ..., allowed_tools: _Optional[_Iterable[str]] = ..., timeout_ms: _Optional[int] = ..., max_timeout_ms: _Optional[int] = ..., retry: _Optional[_Union[RetryPolicy, _Mapping]] = ..., availability: _Optional[_Union[Availability, _Mapping]] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    def __init__(self, agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ("component",)
    COMPONENT_FIELD_NUMBER: _ClassVar[int]
    component: str
    def __init__(self, component: _Optional[str] = ...) -> None: ...

class ComponentHealth(_message.Message):
    __slots__ = ("name", "status", "latency_ms", "message")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    status: str
    latency_ms: float
    message: str
    def __init__(self, name: _Optional[str] = ..., status: _Optional[str] = ..., latency_ms: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("status", "components")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    status: str
    components: _containers.RepeatedCompositeFieldContainer[ComponentHealth]
    def __init__(self, status: _Optional[str] = ..., components: _Optional[_Iterable[_Union[ComponentHealth, _Mapping]]] = ...) -> None: ...

class ExecutionEvent(_message.Message):
    __slots__ = ("sequence", "time", "type", "payload", "actor", "trace_id", "subject", "event_id", "causation_id", "schema_version")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSATION_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time: _timestamp_pb2.Timestamp
    type: str
    payload: _struct_pb2.Struct
    actor: str
    trace_id: str
    subject: str
    event_id: str
    causation_id: str
    schema_version: int
    def __init__(self, sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., type: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., actor: _Optional[str] = ..., trace_id: _Optional[str] = ..., subject: _Optional[str] = ..., event_id: _Optional[str] = ..., causation_id: _Optional[str] = ..., schema_version: _Optional[int] = ...) -> None: ...

class ListExecutionEventsRequest(_message.Message):
    __slots__ = ("execution_id", "from_sequence", "page_size", "page_token")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    from_sequence: int
    page_size: int
    page_token: str
    def __init__(self, execution_id: _Optional[str] = ..., from_sequence: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExecutionEventsResponse(_message.Message):
    __slots__ = ("events", "next_from_sequence", "next_page_token", "finished")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_FROM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[ExecutionEvent]
    next_from_sequence: int
    next_page_token: str
    finished: bool
    def __init__(self, events: _Optional[_Iterable[_Union[ExecutionEvent, _Mapping]]] = ..., next_from_sequence: _Optional[int] = ..., next_page_token: _Optional[str] = ..., finished: _Optional[bool] = ...) -> None: ...

class FollowExecutionEventsRequest(_message.Message):
    __slots__ = ("execution_id", "from_sequence")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    from_sequence: int
    def __init__(self, execution_id: _Optional[str] = ..., from_sequence: _Optional[int] = ...) -> None: ...

class FollowExecutionEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: ExecutionEvent
    def __init__(self, event: _Optional[_Union[ExecutionEvent, _Mapping]] = ...) -> None: ...
